"""The on-disk cache folder (compiled engines, parsed rules) and atomic writes into it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    override = os.environ.get("LEAKWARDEN_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leakwarden"


def write_atomic(path: Path, data: bytes) -> None:
    """Write a cache file atomically, readable by its owner only. A cache that cannot be written
    is not an error: the next start rebuilds it."""
    from leakwarden.fsutil import write_atomic as _write

    try:
        _write(path, data, mode=0o600)
    except OSError:
        pass

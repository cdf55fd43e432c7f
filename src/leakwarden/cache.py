"""The on-disk cache folder (compiled engines, parsed rules) and atomic writes into it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    override = os.environ.get("LEAKWARDEN_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leakwarden"


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so a concurrent reader never sees half a file.

    A cache that cannot be written is not an error: the next start recompiles.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass

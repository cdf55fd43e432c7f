"""Safe file writes for remediation: atomic replace, kept permissions, private files for secrets."""

from __future__ import annotations

from pathlib import Path

from leakwarden.fsutil import write_atomic

__all__ = ["write_atomic", "write_private"]


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), atomically: for files that hold secrets."""
    write_atomic(path, data, mode=0o600)

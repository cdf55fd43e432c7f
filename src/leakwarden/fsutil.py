"""Safe file writes shared by reports, caches and fixes."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` via a temporary file beside `path` renamed over it, so readers see the old
    or the new content, never half; the file keeps its permission bits unless `mode` is given.

    NOTE: an existing non-regular file (/dev/null, /dev/stdout, a FIFO) is written in place:
    renaming over it would replace a device node with a plain file.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "wb") as fh:
            fh.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = st.st_mode & 0o7777 if st is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class NotRegularFile(OSError):
    """`open_regular` met a FIFO, a device or a socket."""


def open_regular(path: str | os.PathLike[str]) -> io.BufferedReader:
    """Open a regular file for reading. A FIFO, a character device or a socket is refused
    (NotRegularFile) before anything is read: reading one would block or never end. The open
    itself does not block on a FIFO (O_NONBLOCK, which changes nothing for a regular file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{os.fspath(path)}: not a regular file (a FIFO, device or socket)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise

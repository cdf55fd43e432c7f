"""Sources turn one kind of input into a stream of `Chunk`s with provenance; they know no rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from leakwarden.models import Chunk, Origin, ScanError

BLOCK_SIZE = 8 * 1024 * 1024
# Overlap between consecutive blocks of one large input, so a secret cut by a block edge is
# still seen whole (it must be shorter than this).
BLOCK_OVERLAP = 64 * 1024

OnError = Callable[[ScanError], None]


def is_binary(head: bytes) -> bool:
    """Content sniff: a NUL byte early on means binary (what git and grep decide too)."""
    return b"\x00" in head[:8192]


def chunks_from_stream(stream: BinaryIO, origin: Origin, first: bytes = b"") -> Iterator[Chunk]:
    """Split a stream into overlapping blocks, counting lines so locations stay exact."""
    buf = first
    offset = 0
    line = 1
    column = 1
    while True:
        need = BLOCK_SIZE + BLOCK_OVERLAP - len(buf)
        if need > 0:
            more = stream.read(need)
            buf += more
            eof = not more or len(buf) < BLOCK_SIZE + BLOCK_OVERLAP
        else:
            eof = False
        if eof:
            if buf or offset == 0:
                yield Chunk(buf, origin, base_line=line, base_offset=offset, base_column=column)
            return
        yield Chunk(buf, origin, base_line=line, base_offset=offset, base_column=column, own_end=BLOCK_SIZE)
        line += buf.count(b"\n", 0, BLOCK_SIZE)
        last_nl = buf.rfind(b"\n", 0, BLOCK_SIZE)
        column = BLOCK_SIZE - last_nl if last_nl >= 0 else column + BLOCK_SIZE
        buf = buf[BLOCK_SIZE:]
        offset += BLOCK_SIZE

"""Sources turn one kind of input into a stream of `Chunk`s with provenance; they know no rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Protocol

from leakwarden.models import Chunk, Origin, ScanError

BLOCK_SIZE = 8 * 1024 * 1024
# Overlap between consecutive blocks of one large input, so a secret cut by a block edge is
# still seen whole (it must be shorter than this).
BLOCK_OVERLAP = 64 * 1024

OnError = Callable[[ScanError], None]


class Reader(Protocol):
    """What the chunkers read from: a binary file, stdin, or a wrapper around one."""

    def read(self, n: int = -1, /) -> bytes: ...


def is_binary(head: bytes) -> bool:
    """Content sniff: a NUL byte early on means binary (what git and grep decide too)."""
    return b"\x00" in head[:8192]


# Byte-order marks, UTF-32 first (its little-endian mark starts with UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32", "utf-32-be"),
    (b"\xff\xfe", "utf-16", "utf-16-le"),
    (b"\xfe\xff", "utf-16", "utf-16-be"),
)


def text_encoding(head: bytes) -> tuple[str, str] | None:
    """(codec, name) when content that looks binary is UTF-16 or UTF-32 text (PowerShell's `>`,
    Windows tools): a byte-order mark, or BOM-less UTF-16 that is mostly ASCII, i.e. one of each
    pair of bytes is NUL (little-endian: the second). Only called on what `is_binary` rejects.
    NOTE: the BOM-less check reads at most 4 KiB and needs 64 bytes: a binary file whose every
    other byte is NUL and the others printable is rare and would only be scanned as text."""
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return codec, name
    sample = head[:4096]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 64:
        return None
    for zeros, chars, name in ((1, 0, "utf-16-le"), (0, 1, "utf-16-be")):
        high, low = sample[zeros::2], sample[chars::2]
        if high.count(0) < 0.9 * len(high) or low.count(0) > 0.02 * len(low):
            continue
        text = sum(1 for b in low if 32 <= b < 127 or b in (9, 10, 13))
        if text >= 0.9 * len(low):
            return name, name
    return None


class Transcoded:
    """A byte stream in another encoding read as UTF-8 (undecodable units become U+FFFD). Newlines
    survive transcoding, so line numbers stay right; columns and offsets count UTF-8 bytes."""

    def __init__(self, raw: Reader, codec: str, first: bytes = b"") -> None:
        import codecs

        self._raw = raw
        self._first = first
        self._decoder = codecs.getincrementaldecoder(codec)("replace")
        self._out = b""
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all when n < 0); fewer only at the end, as from a file."""
        while not self._eof and (n < 0 or len(self._out) < n):
            raw = self._first or self._raw.read(max(n, 1 << 16) if n >= 0 else -1)
            self._first = b""
            self._eof = not raw
            self._out += self._decoder.decode(raw, final=self._eof).encode("utf-8", "surrogatepass")
        if n < 0:
            data, self._out = self._out, b""
        else:
            data, self._out = self._out[:n], self._out[n:]
        return data


def blob_text(data: bytes) -> tuple[bytes, str | None] | None:
    """Content read whole (a git blob) as text to scan: itself, or UTF-16/32 text transcoded to
    UTF-8 with its encoding's name (as `text_chunks` does for streams); None when binary."""
    if not is_binary(data[:8192]):
        return data, None
    found = text_encoding(data[:8192])
    if found is None:
        return None
    codec, name = found
    return data.decode(codec, "replace").encode("utf-8", "surrogatepass"), name


def with_encoding(origin: Origin, name: str | None) -> Origin:
    """`origin` marked with the text encoding its content was transcoded from, if any."""
    return origin if name is None else replace(origin, extra=(*origin.extra, ("encoding", name)))


def text_chunks(stream: Reader, origin: Origin, head: bytes) -> Iterator[Chunk] | None:
    """Chunks of a stream whose first bytes `head` were read already: transcoded to UTF-8 (and
    the origin marked with its `encoding`) when it is UTF-16 or UTF-32 text; None when it is
    binary; plain chunks otherwise."""
    if not is_binary(head):
        return chunks_from_stream(stream, origin, head)
    found = text_encoding(head)
    if found is None:
        return None
    codec, name = found
    return chunks_from_stream(Transcoded(stream, codec, head), with_encoding(origin, name))


def chunks_from_stream(stream: Reader, origin: Origin, first: bytes = b"") -> Iterator[Chunk]:
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

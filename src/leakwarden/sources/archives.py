"""Archives (zip family, tar, gzip/bzip2/xz streams), walked recursively in memory, never extracted.

Every walk is bounded: nesting depth, member count, total inflated bytes and the compression
ratio of each stream (zip bombs), and an archive that contains itself is stopped (quines).
Member names are only labels: traversal names (`../../etc/passwd`, `/abs`) are reported as a
ScanError and shown sanitised; nothing is ever written to the filesystem.

Locations read `release.zip!/lib/app.jar!/config.properties`; compression layers are transparent
(`app.tar.gz!/etc/app.env`, `notes.txt.gz`).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Protocol

from leakwarden.fsutil import open_regular
from leakwarden.models import Chunk, Origin, ScanError
from leakwarden.sources import OnError, is_binary, text_chunks, text_encoding

# Extensions worth opening as archives during a path scan (content sniffing confirms them).
ARCHIVE_EXTENSIONS = (
    ".zip", ".jar", ".war", ".ear", ".aar", ".whl", ".egg", ".nupkg", ".apk", ".xpi", ".vsix",
    ".tar", ".tgz", ".tar.gz", ".tbz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".gem", ".crate",
    ".gz", ".bz2", ".xz", ".zst", ".tzst", ".tar.zst",
)
_ZIP_FAMILY = (".zip", ".jar", ".war", ".ear", ".aar", ".whl", ".egg", ".nupkg", ".apk", ".xpi", ".vsix")
# Member types that are never text: skip them without reading (nested archives are still opened).
_BINARY_MEMBER_EXT = frozenset(
    ".class .dex .so .dll .dylib .exe .o .a .pyc .pyo .pyd .png .jpg .jpeg .gif .ico .webp .woff .woff2"
    " .ttf .otf .mp3 .mp4 .wasm .bin .db .sqlite .pdf .jks .keystore .arsc".split()
)
_HEAD = 1024
_READ_BLOCK = 1 << 20
_LEAF_BLOCK = 64 * 1024
OriginFor = Callable[[str, "str | None"], Origin]


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds for one walk. The ratio check starts after `ratio_grace` inflated bytes."""

    max_depth: int = 8
    max_members: int = 200_000
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_grace: int = 1 << 20
    max_member_size: int = 25 * 1024 * 1024
    max_nested_in_memory: int = 512 * 1024 * 1024


class WalkLimitError(Exception):
    """The whole walk must stop (member count or total bytes exceeded)."""


class StreamLimitError(Exception):
    """One stream must stop (ratio too high, nested archive too big)."""


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Budget:
    """Counts members and inflated bytes across one top-level walk."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.inflated = 0

    def add_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise WalkLimitError(f"more than {self.limits.max_members} members; the rest was not scanned (raise --max-archive-members of `scan archive` or `scan image`)")

    def add_bytes(self, n: int) -> None:
        self.inflated += n
        if self.inflated > self.limits.max_total_bytes:
            raise WalkLimitError(
                f"more than {self.limits.max_total_bytes / 1e6:.0f} MB once decompressed; the rest was not scanned"
                " (possible decompression bomb; raise --max-archive-bytes of `scan archive` or `scan image`)"
            )


class _Counting:
    """Counts the compressed bytes a decompressor pulls, for the ratio check."""

    def __init__(self, inner: Readable) -> None:
        self.inner = inner
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.count += len(data)
        return data


class _Guarded:
    """Inflated output, checked against the budget and the compression ratio as it is read."""

    def __init__(self, inner: Readable, compressed: Callable[[], int], budget: Budget, label: str) -> None:
        self.inner = inner
        self.compressed = compressed
        self.budget = budget
        self.label = label
        self.produced = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while block := self.read(_READ_BLOCK):
                parts.append(block)
            return b"".join(parts)
        data = self.inner.read(n)
        self.produced += len(data)
        self.budget.add_bytes(len(data))
        limits = self.budget.limits
        if self.produced > limits.ratio_grace and self.produced > limits.max_ratio * max(self.compressed(), 1):
            raise StreamLimitError(
                f"compression ratio over {limits.max_ratio:.0f}:1 ({self.produced} bytes from {self.compressed()});"
                " not scanned (possible decompression bomb)"
            )
        return data


_TAR_HEADER_TYPES = {
    tarfile.XHDTYPE: "pax", tarfile.XGLTYPE: "pax global", tarfile.SOLARIS_XHDTYPE: "pax",
    tarfile.GNUTYPE_LONGNAME: "GNU long name", tarfile.GNUTYPE_LONGLINK: "GNU long link",
}
MAX_TAR_HEADER = 1 << 20


class BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads the body of a pax or GNU long-name header into memory whole, at whatever
    size the header declares: a few MB of gzip could make it hold gigabytes. Real ones are a
    few KB; past MAX_TAR_HEADER the tar is reported as corrupt instead."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        kind = _TAR_HEADER_TYPES.get(self.type)
        if kind is not None and self.size > MAX_TAR_HEADER:
            raise tarfile.ReadError(f"a {kind} header declares {self.size} bytes (over {MAX_TAR_HEADER // 1024} KiB); not read")
        return super()._proc_member(tarfile_)  # type: ignore[misc]


class Prefixed:
    """A stream with its already-sniffed head put back in front."""

    def __init__(self, head: bytes, inner: Readable) -> None:
        self.head = head
        self.inner = inner

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data, self.head = self.head + self.inner.read(), b""
            return data
        if self.head:
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.inner.read(n - len(data))
            return data
        return self.inner.read(n)


def sniff(head: bytes) -> str | None:
    """Archive kind from magic bytes: zip, tar, gzip, bzip2, xz, zstd, or None."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def has_archive_extension(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(ARCHIVE_EXTENSIONS)


def sanitize_member_name(raw: str) -> tuple[str, bool]:
    """A display-only name: no `..`, no leading `/` or drive, no control characters.

    Returns (clean name, whether the raw name tried to leave the archive root).
    """
    text = raw.replace("\\", "/")
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    parts = text.split("/")
    drive = len(parts[0]) == 2 and parts[0][1] == ":" and parts[0][0].isalpha()
    if drive:
        parts = parts[1:]
    escapes = drive or text.startswith("/") or ".." in parts
    clean = [p for p in parts if p not in ("", ".", "..")]
    return "/".join(clean) or "?", escapes


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return f"truncated: {exc}" if str(exc) else "truncated: the data ends early"
    if isinstance(exc, tarfile.ReadError):
        return f"truncated or corrupt tar: {exc}"
    if isinstance(exc, zipfile.BadZipFile):
        if "not a zip file" in str(exc):
            return "corrupt or truncated zip: its central directory is missing (is the file complete?)"
        return f"corrupt or truncated zip: {exc}"
    if isinstance(exc, zlib.error):
        return f"corrupt deflate/gzip data: {exc}"
    if isinstance(exc, lzma.LZMAError):
        return f"corrupt xz data: {exc}"
    if isinstance(exc, NotImplementedError):
        return f"unsupported: {exc}"
    return f"unreadable: {exc}"


# Errors that mean "this archive or member is damaged": reported, never raised.
DAMAGE_ERRORS = (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, NotImplementedError, ValueError, RuntimeError, IndexError)


def zstd_available() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


class _ZstdReader:
    """zstd frames as a readable stream; its errors become ValueError (reported as corrupt).

    The decoder's window is capped (128 MiB, zstd's default limit), so a frame cannot demand
    unbounded memory; output is bounded by the walker's budget like every other codec. The
    decoder ends quietly on a cut frame, so the output is checked against the size the first
    frame declares (and must not be empty).
    """

    def __init__(self, fh: Any) -> None:
        import zstandard

        self._error = zstandard.ZstdError
        self._fh = fh
        self._reader: Any = None
        self._declared = -1
        self._out = 0

    def _open(self) -> None:
        import zstandard

        head = self._fh.read(18)  # the longest frame header
        try:
            size = zstandard.get_frame_parameters(head).content_size
        except self._error as exc:
            raise ValueError(f"zstd: {exc}") from None
        self._declared = size if size not in (0, zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR) else -1
        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 27)
        source: Any = Prefixed(head, self._fh)  # file-like: read() is all the decoder calls
        self._reader = dctx.stream_reader(source, read_across_frames=True)

    def read(self, n: int = -1) -> bytes:
        if self._reader is None:
            self._open()
        try:
            data = self._reader.read(n)
        except self._error as exc:
            raise ValueError(f"zstd: {exc}") from None
        self._out += len(data)
        if not data and n != 0 and (self._out == 0 or self._out < self._declared):
            raise EOFError("zstd: compressed data is truncated")
        return bytes(data)


class ArchiveWalker:
    """Recursive walk over archive content, yielding text members as chunks.

    One walker keeps one budget: create a new walker for every top-level input.
    """

    def __init__(self, limits: ArchiveLimits, on_error: OnError) -> None:
        self.limits = limits
        self.on_error = on_error
        self.budget = Budget(limits)
        self._ancestors: list[str] = []

    # --- entry points ---------------------------------------------------------------------

    def walk_file(self, path: str | os.PathLike[str], display: str, origin_for: OriginFor) -> Iterator[Chunk]:
        """Walk an archive on disk; problems become ScanErrors naming `display`."""
        try:
            fh = open_regular(path)  # closed in finally (generator)
        except OSError as exc:
            self.on_error(ScanError(display, "unreadable", f"cannot open: {exc.strerror or exc}"))
            return
        try:
            yield from self.walk_top(fh, display, origin_for)
        finally:
            fh.close()

    def walk_top(self, stream: BinaryIO | IO[bytes], display: str, origin_for: OriginFor) -> Iterator[Chunk]:
        """Walk one top-level input; it stops cleanly when a walk-wide limit is hit."""
        try:
            yield from self.content(stream, display, 0, origin_for, seekable=True)
        except WalkLimitError as exc:
            self.on_error(ScanError(display, "limit", str(exc)))

    # --- recursion ------------------------------------------------------------------------

    def content(self, stream: Readable, display: str, depth: int, origin_for: OriginFor, *, seekable: bool = False, name: str | None = None) -> Iterator[Chunk]:
        """Scan one blob of content: an archive to open, or a text file to chunk."""
        name = name if name is not None else display
        try:
            head = stream.read(_HEAD)
            kind = sniff(head)
            if kind is not None and depth >= self.limits.max_depth:
                self.on_error(ScanError(display, "limit", f"{kind} nested deeper than {self.limits.max_depth} levels; not opened"))
            elif kind is None and name.lower().endswith(_ZIP_FAMILY):
                yield from self._prefixed_zip(head, stream, display, depth, origin_for, seekable, name)
            elif kind is None:
                yield from self._leaf(head, stream, display, origin_for, name)
            elif kind == "zip":
                yield from self._zip(head, stream, display, depth, origin_for, seekable)
            elif kind == "tar":
                yield from self.tar(Prefixed(head, stream), display, depth, origin_for)
            elif kind == "zstd" and not zstd_available():
                self.on_error(ScanError(display, "unsupported", "zstd-compressed content needs the `zstandard` package; not scanned"))
            else:
                inner = self.decompress(kind, Prefixed(head, stream), display)
                plain = name[: -len(os.path.splitext(name)[1])] if name.lower().endswith((".gz", ".bz2", ".xz", ".zst")) else name
                yield from self.content(inner, display, depth + 1, origin_for, name=plain)
        except StreamLimitError as exc:
            self.on_error(ScanError(display, "limit", str(exc)))
        except DAMAGE_ERRORS as exc:
            self.on_error(ScanError(display, "corrupt", describe_error(exc)))

    def decompress(self, kind: str, stream: Readable, display: str) -> _Guarded:
        counting: Any = _Counting(stream)  # a duck-typed file object for the decompressors
        raw: Readable
        if kind == "gzip":
            raw = gzip.GzipFile(fileobj=counting)
        elif kind == "bzip2":
            raw = bz2.BZ2File(counting)
        elif kind == "zstd":
            raw = _ZstdReader(counting)
        else:
            raw = lzma.LZMAFile(counting)
        return _Guarded(raw, lambda: counting.count, self.budget, display)

    def _leaf(self, head: bytes, stream: Readable, display: str, origin_for: OriginFor, name: str) -> Iterator[Chunk]:
        # UTF-16/32 text (a PowerShell `>` file in a zip, a layer) is transcoded, not skipped
        if os.path.splitext(name)[1].lower() in _BINARY_MEMBER_EXT or (is_binary(head) and text_encoding(head) is None):
            self.on_error(ScanError(display, "binary", "skipped: binary content"))
            return
        limit = self.limits.max_member_size
        # read in blocks: a truncated or damaged stream raises on the read that meets the damage
        # and drops what that read had, so what came before is kept and scanned, then reported
        parts, size, damage = [head], len(head), None
        try:
            while size <= limit and (block := stream.read(min(_LEAF_BLOCK, limit + 1 - size))):
                parts.append(block)
                size += len(block)
        except DAMAGE_ERRORS as exc:
            damage = exc
        data = b"".join(parts)
        if len(data) > limit:
            self.on_error(ScanError(display, "too-large", f"skipped: over the {limit / 1e6:.1f} MB member size limit"))
            return
        blob = "sha256:" + hashlib.sha256(data).hexdigest()
        chunks = text_chunks(io.BytesIO(data[len(head):]), origin_for(display, blob), head)
        if chunks is not None:
            yield from chunks
        if damage is not None:
            raise damage

    def _prefixed_zip(self, head: bytes, stream: Readable, display: str, depth: int, origin_for: OriginFor, seekable: bool, name: str) -> Iterator[Chunk]:
        """A zip-family name whose bytes do not start as a zip: a zip behind a prefix (a Spring
        Boot "fully executable" jar starts with its launch script) is opened, anything else is
        read as a plain file."""
        if seekable and hasattr(stream, "seek"):
            fileobj: Any = stream  # seekable: the file itself
            is_zip = zipfile.is_zipfile(fileobj)
            fileobj.seek(len(head))
            if is_zip:
                yield from self._zip(head, stream, display, depth, origin_for, seekable)
            else:
                yield from self._leaf(head, stream, display, origin_for, name)
            return
        cap = self.limits.max_nested_in_memory
        data = head + stream.read(cap + 1 - len(head))
        if len(data) <= cap and zipfile.is_zipfile(io.BytesIO(data)):
            yield from self._zip(b"", io.BytesIO(data), display, depth, origin_for, False)
        else:
            yield from self._leaf(data, io.BytesIO(), display, origin_for, name)

    def _member_name(self, raw: str, parent: str) -> str:
        clean, escapes = sanitize_member_name(raw)
        if escapes:
            self.on_error(
                ScanError(f"{parent}!/{clean}", "path-traversal", f"member name {raw!r} points outside the archive (path traversal); scanned under the sanitised name")
            )
        return clean

    def _zip(self, head: bytes, stream: Readable, display: str, depth: int, origin_for: OriginFor, seekable: bool) -> Iterator[Chunk]:
        if seekable and hasattr(stream, "seek"):
            fileobj: BinaryIO = stream  # type: ignore[assignment]
            fileobj.seek(0)
        else:
            cap = self.limits.max_nested_in_memory
            data = head + stream.read(cap + 1 - len(head))
            if len(data) > cap:
                raise StreamLimitError(f"nested zip larger than {cap / 1e6:.0f} MB; not opened")
            digest = hashlib.sha256(data).hexdigest()
            if digest in self._ancestors:
                self.on_error(ScanError(display, "limit", "archive contains itself (a zip quine); not opened again"))
                return
            self._ancestors.append(digest)
            fileobj = io.BytesIO(data)
        try:
            # zipfile parses the whole central directory first, some ten times its size in memory:
            # one far larger than the member limit needs is refused before that
            found = central_directory(fileobj)
            cap = max(self.limits.max_members * _CD_BYTES_PER_MEMBER, 1 << 20)
            if found is not None and found[0] > cap:
                self.on_error(ScanError(display, "limit", f"zip central directory of {found[0] / 1e6:.0f} MB is larger than {self.limits.max_members}"
                                        " members need; not opened (possible zip bomb; raise --max-archive-members of `scan archive` or `scan image`)"))
                return
            try:
                zf = zipfile.ZipFile(fileobj)
            except UnicodeDecodeError:
                # a name flagged UTF-8 that is not: read those names as cp437 (every byte is a
                # character there) instead of losing the whole archive
                flags = misflagged_names(fileobj)
                if not flags:
                    raise
                self.on_error(ScanError(display, "name", f"{len(flags[0])} member name(s) marked UTF-8 are not valid UTF-8; shown decoded as cp437"))
                zf = zipfile.ZipFile(_FlagMasked(fileobj, sorted(flags[0] + flags[1])))
            with zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    self.budget.add_member()
                    member = self._member_name(info.filename, display)
                    where = f"{display}!/{member}"
                    if info.flag_bits & 0x1:
                        self.on_error(ScanError(where, "encrypted", "password-protected zip member; cannot be scanned"))
                        continue
                    limits = self.limits
                    if info.file_size > limits.ratio_grace and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                        self.on_error(
                            ScanError(where, "limit", f"compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 over {limits.max_ratio:.0f}:1"
                                      f" ({info.file_size} bytes declared); not scanned (possible zip bomb)")
                        )
                        continue
                    try:
                        with zf.open(info) as fh:
                            guarded = _Guarded(fh, _constant(info.compress_size), self.budget, where)
                            yield from self.content(guarded, where, depth + 1, origin_for, name=member)
                    except StreamLimitError as exc:
                        self.on_error(ScanError(where, "limit", str(exc)))
                    except DAMAGE_ERRORS as exc:
                        self.on_error(ScanError(where, "corrupt", describe_error(exc)))
        finally:
            if not seekable or not hasattr(stream, "seek"):
                self._ancestors.pop()

    def tar(self, stream: Readable, display: str, depth: int, origin_for: OriginFor,
            on_member: Callable[[tarfile.TarInfo, str], bool] | None = None) -> Iterator[Chunk]:
        """Stream a tar; `on_member(info, clean_name)` may veto a member (image whiteouts)."""
        tf = tarfile.open(fileobj=stream, mode="r|", bufsize=256 * 1024, tarinfo=BoundedTarInfo)  # type: ignore[call-overload]
        try:
            for info in tf:
                self.budget.add_member()
                member = self._member_name(info.name, display)
                if on_member is not None and not on_member(info, member):
                    continue
                if not info.isreg():
                    continue
                where = f"{display}!/{member}" if on_member is None else _join(display, member)
                fh = tf.extractfile(info)
                if fh is None:
                    continue
                try:
                    yield from self.content(fh, where, depth + 1, origin_for, name=member)
                except StreamLimitError as exc:
                    self.on_error(ScanError(where, "limit", str(exc)))
        finally:
            tf.close()


_EOCD = struct.Struct("<4s4xHHIIH")  # signature, entries here, entries, CD size, CD offset, comment length
_CD_SCAN_LIMIT = 256 * 1024 * 1024
_CD_BYTES_PER_MEMBER = 256  # a central directory entry: 46 bytes, its name, extra fields, comment


def central_directory(fh: Any) -> tuple[int, int, int] | None:
    """(size, offset, bytes prepended to the archive) of a zip's central directory, from its end
    records (zip64 too); None when they cannot be found (zipfile reports why)."""
    fh.seek(0, 2)
    size = fh.tell()
    tail_len = min(size, _EOCD.size + 0xFFFF)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    eocd = size - tail_len + at
    _, _, _, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    end = eocd  # where the central directory ends (before a zip64 record, if any)
    if 0xFFFFFFFF in (cd_size, cd_offset) and eocd >= 20:
        fh.seek(eocd - 20)
        locator = fh.read(20)
        if locator[:4] == b"PK\x06\x07":
            (z64,) = struct.unpack_from("<Q", locator, 8)
            fh.seek(z64)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
                end = eocd - 20 - 56
    concat = end - cd_size - cd_offset  # bytes prepended to the archive (self-extractors)
    if concat < 0 or cd_offset + concat < 0:
        return None
    return cd_size, cd_offset, concat


def misflagged_names(fh: Any) -> tuple[list[int], list[int]] | None:
    """Where the UTF-8 flags (bit 11) of zip entries whose names are not valid UTF-8 sit: the
    file offsets of the flag's high byte in the central directory and in the local headers.
    None when the central directory cannot be found (zipfile reports why)."""
    found = central_directory(fh)
    if found is None or found[0] > _CD_SCAN_LIMIT:
        return None
    cd_size, cd_offset, concat = found
    fh.seek(cd_offset + concat)
    cd = fh.read(cd_size)
    central: list[int] = []
    local: list[int] = []
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
        (flags,) = struct.unpack_from("<H", cd, pos + 8)
        n, m, k = struct.unpack_from("<HHH", cd, pos + 28)
        (header,) = struct.unpack_from("<I", cd, pos + 42)
        if flags & 0x800:
            try:
                cd[pos + 46 : pos + 46 + n].decode("utf-8")
            except UnicodeDecodeError:
                central.append(cd_offset + concat + pos + 9)
                if header != 0xFFFFFFFF:  # a zip64 offset: that member alone stays unreadable
                    local.append(header + concat + 7)
        pos += 46 + n + m + k
    return (central, local) if central else None


class _FlagMasked:
    """A seekable file whose bytes at `offsets` read with bit 3 cleared (a zip flag's bit 11)."""

    def __init__(self, inner: Any, offsets: list[int]) -> None:
        self._inner = inner
        self._offsets = offsets

    def read(self, n: int = -1) -> bytes:
        from bisect import bisect_left

        pos = self._inner.tell()
        data = self._inner.read(n)
        i = bisect_left(self._offsets, pos)
        if i < len(self._offsets) and self._offsets[i] < pos + len(data):
            buf = bytearray(data)
            while i < len(self._offsets) and self._offsets[i] < pos + len(data):
                buf[self._offsets[i] - pos] &= 0xF7
                i += 1
            data = bytes(buf)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._inner.seek(offset, whence))

    def tell(self) -> int:
        return int(self._inner.tell())

    def seekable(self) -> bool:
        return True


def _constant(value: int) -> Callable[[], int]:
    return lambda: value


def _join(display: str, member: str) -> str:
    """Image paths are absolute in the image filesystem, not archive members."""
    return f"{display.rstrip('/')}/{member}"


def archive_origin(top: str, kind: str = "archive", **extra: str) -> OriginFor:
    """Origins for members of the archive `top`: the path is the `!/` chain."""
    def make(display: str, blob: str | None) -> Origin:
        fields = dict(extra)
        fields["archive"] = top
        if display != top and display.startswith(top + "!/"):
            fields["member"] = display[len(top) + 2 :]
        return Origin(kind, path=display, blob=blob, extra=tuple(sorted(fields.items())))

    return make


def archive_chunks(path: str | os.PathLike[str], display: str, limits: ArchiveLimits, on_error: OnError) -> Iterator[Chunk]:
    """Chunks of every text member of the archive at `path`, recursively."""
    walker = ArchiveWalker(limits, on_error)
    yield from walker.walk_file(path, display, archive_origin(display))

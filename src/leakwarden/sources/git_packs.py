"""Read a repository's pack files to learn which bytes of each blob version are new.

Git stores most versions of a file as a delta against another version: a list of "copy these
bytes of the base" and "insert these literal bytes" instructions. A secret that a version only
copies from its base is in the base too, so a history scan needs to match only what each delta
inserts (plus context), every blob stored whole, and then follow the found secrets down the
delta chains (see `git_delta_scan`). This module only walks pack files: it parses the `.idx`,
reads object headers and inflates delta instructions. Blob contents still come from
`git cat-file --batch`, which applies deltas in C.

NOTE: on sqlalchemy's history (277k objects, 4.5 GB of blob versions) the walk costs about
2.4 CPU-s in Python, split over the workers.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

OBJ_BLOB, OBJ_OFS_DELTA, OBJ_REF_DELTA = 3, 6, 7
# Changed regions closer than this are reported as one (the scanner widens each by about half).
MERGE_GAP = 4096


# Offset bytes after a copy opcode (bits 0-3 say which follow).
_OFFSET_BYTES = bytes(bin(op & 0x0F).count("1") for op in range(256))


class PackError(Exception):
    """A pack or index this module cannot read; the caller falls back to whole blobs."""


@dataclass(slots=True)
class PackIndex:
    """One pack's `.idx`: object ids and offsets, plus the pack order (objects by offset)."""

    pack: str
    count: int
    shas: bytes  # 20 bytes per object, sorted (index order)
    offsets: array[int]  # offset of each object, index order
    by_offset: array[int]  # offsets sorted ascending (pack order)
    position: array[int]  # index position of the k-th object in pack order
    fanout: tuple[int, ...]
    pack_size: int

    def sha_at(self, k: int) -> bytes:
        """Object id of the k-th object in pack order."""
        i = self.position[k]
        return self.shas[20 * i : 20 * i + 20]

    def offset_of(self, sha: bytes) -> int | None:
        lo = self.fanout[sha[0] - 1] if sha[0] else 0
        hi = self.fanout[sha[0]]
        shas = self.shas
        while lo < hi:
            mid = (lo + hi) // 2
            here = shas[20 * mid : 20 * mid + 20]
            if here < sha:
                lo = mid + 1
            elif here > sha:
                hi = mid
            else:
                return int(self.offsets[mid])
        return None

    def end_of(self, k: int) -> int:
        """Where the k-th object's data ends (the next object or the trailing checksum)."""
        return int(self.by_offset[k + 1]) if k + 1 < self.count else self.pack_size - 20


def read_index(pack: str) -> PackIndex:
    """Parse a version-2 `.idx` next to `pack`."""
    idx = pack[:-5] + ".idx"
    try:
        with open(idx, "rb") as fh:
            data = fh.read()
        pack_size = os.path.getsize(pack)
    except OSError as exc:
        raise PackError(f"{idx}: {exc.strerror or exc}") from exc
    if data[:8] != b"\xfftOc\x00\x00\x00\x02" or len(data) < 8 + 1024:
        raise PackError(f"{idx}: not a version-2 pack index")
    fanout = struct.unpack(">256I", data[8 : 8 + 1024])
    n = fanout[255]
    base = 8 + 1024
    off_at = base + 24 * n
    if len(data) < off_at + 4 * n + 40:
        raise PackError(f"{idx}: truncated")
    small = array("I")
    small.frombytes(data[off_at : off_at + 4 * n])
    if sys.byteorder == "little":
        small.byteswap()
    offsets = array("Q", small)
    big_at = off_at + 4 * n
    if any(o & 0x80000000 for o in small):
        for i, o in enumerate(small):
            if o & 0x80000000:
                j = big_at + 8 * (o & 0x7FFFFFFF)
                offsets[i] = struct.unpack(">Q", data[j : j + 8])[0]
    position = _reverse_index(pack, n)
    if position is not None:
        by_offset = array("Q", (offsets[i] for i in position))
    else:
        keys = [(o << 32) | i for i, o in enumerate(offsets)]
        keys.sort()
        by_offset = array("Q", (k >> 32 for k in keys))
        position = array("I", (k & 0xFFFFFFFF for k in keys))
        del keys
    if any(by_offset[k] >= by_offset[k + 1] for k in range(0, n - 1, max(1, n // 64))):
        raise PackError(f"{idx}: reverse index out of order")
    if n and (by_offset[0] < 12 or by_offset[-1] >= pack_size - 20):
        raise PackError(f"{idx}: offsets do not fit {os.path.basename(pack)}")
    return PackIndex(pack, n, data[base : base + 20 * n], offsets, by_offset, position, fanout, pack_size)


def _reverse_index(pack: str, n: int) -> array[int] | None:
    """Index positions in pack order from the `.rev` file newer gits write, if there is one."""
    try:
        with open(pack[:-5] + ".rev", "rb") as fh:
            raw = fh.read(12 + 4 * n)
    except OSError:
        return None
    if raw[:8] != b"RIDX\x00\x00\x00\x01" or len(raw) != 12 + 4 * n:
        return None
    position = array("I")
    position.frombytes(raw[12:])
    if sys.byteorder == "little":
        position.byteswap()
    return position


def delta_changes(delta: bytes, gap: int = MERGE_GAP) -> tuple[int, list[tuple[int, int]]]:
    """(target size, changed regions) of a git delta. A changed region covers inserted bytes
    and the points where two copies meet (the source jumps there: something was deleted or
    moved), or where the copies skip the source's start or end; regions closer than `gap` are
    merged. Offsets are in the target."""
    try:
        return _delta_changes(delta, gap)
    except IndexError:
        raise PackError("truncated delta") from None


def _copy_source(delta: bytes, pos: int) -> tuple[int, int]:
    """(source offset, size) of the copy opcode at `pos`."""
    op = delta[pos]
    p = pos + 1
    src = size = 0
    for i in range(4):
        if op & (1 << i):
            src |= delta[p] << (8 * i)
            p += 1
    for i in range(3):
        if op & (0x10 << i):
            size |= delta[p] << (8 * i)
            p += 1
    return src, size or 0x10000


def _delta_header(delta: bytes) -> tuple[int, int, int]:
    """(source size, target size, position of the first instruction) of a delta."""
    n = len(delta)
    pos = 0
    sizes = []
    for _ in range(2):
        value = shift = 0
        while pos < n:
            c = delta[pos]
            pos += 1
            value |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        sizes.append(value)
    return sizes[0], sizes[1], pos


def _target_size(delta: bytes) -> int:
    return _delta_header(delta)[1]


def _delta_changes(delta: bytes, gap: int) -> tuple[int, list[tuple[int, int]]]:
    n = len(delta)
    source, target, pos = _delta_header(delta)
    out: list[tuple[int, int]] = []
    lo = hi = -1
    at = 0
    # NOTE: where two copies meet, the copied source almost always jumps (a deletion or a move:
    # 99.8% on sqlalchemy), so every copy-after-copy is a seam and copy offsets need not be
    # decoded, except the first (a cut start) and the last (a cut end). That halves the walk.
    if pos < n and delta[pos] & 0x80 and _copy_source(delta, pos)[0] != 0:
        lo = hi = 0  # the first copy skips the source's start: a seam at the start
    last_copy = -1
    prev_copy = False
    offset_bytes = _OFFSET_BYTES
    while pos < n:
        op = delta[pos]
        if op & 0x80:
            p = pos + 1 + offset_bytes[op]
            size = 0
            if op & 0x70:
                if op & 0x10:
                    size = delta[p]
                    p += 1
                if op & 0x20:
                    size |= delta[p] << 8
                    p += 1
                if op & 0x40:
                    size |= delta[p] << 16
                    p += 1
            if p > n:
                raise PackError("truncated delta")
            if prev_copy:  # two copies meet: a seam
                if hi >= 0 and at - hi <= gap:
                    if at > hi:
                        hi = at
                else:
                    if hi >= 0:
                        out.append((lo, hi))
                    lo = hi = at
            prev_copy = True
            last_copy = pos
            at += size or 0x10000
            pos = p
        elif op:
            if hi >= 0 and at - hi <= gap:
                hi = at + op
            else:
                if hi >= 0:
                    out.append((lo, hi))
                lo, hi = at, at + op
            at += op
            pos += 1 + op
            prev_copy = False
        else:
            raise PackError("bad delta opcode 0")
    if pos != n or at != target:
        raise PackError("delta does not add up to its target size")
    if hi >= 0:
        out.append((lo, hi))
    if prev_copy and sum(_copy_source(delta, last_copy)) != source:  # the source's end was cut off
        if out and at - out[-1][1] <= gap:
            out[-1] = (out[-1][0], at)
        else:
            out.append((at, at))
    return target, out


@dataclass(slots=True)
class PackedBlob:
    oid: str
    size: int
    # Changed regions (target offsets) when stored as a delta; None when stored whole.
    changes: list[tuple[int, int]] | None
    base: str | None  # the delta base's object id
    offset: int = 0  # where it starts in its pack


class PackWalker:
    """Walk the blobs of one pack in pack order, within a byte range of the pack."""

    def __init__(self, index: PackIndex) -> None:
        self.index = index
        self.kinds = bytearray(index.count)  # resolved type per pack position (0: not yet)

    def _header(self, mm: mmap.mmap, off: int) -> tuple[int, int, int]:
        """(type, size, position after the header) of the object at `off`."""
        c = mm[off]
        kind = (c >> 4) & 7
        size = c & 15
        pos, shift = off + 1, 4
        while c & 0x80:
            c = mm[pos]
            pos += 1
            size |= (c & 0x7F) << shift
            shift += 7
        return kind, size, pos

    def _base(self, mm: mmap.mmap, off: int, kind: int, pos: int) -> tuple[int, int]:
        """(base offset, data position) of a delta object."""
        if kind == OBJ_OFS_DELTA:
            c = mm[pos]
            pos += 1
            rel = c & 0x7F
            while c & 0x80:
                c = mm[pos]
                pos += 1
                rel = ((rel + 1) << 7) | (c & 0x7F)
            if rel <= 0 or rel > off:
                raise PackError(f"bad delta base offset at {off}")
            return off - rel, pos
        base = self.index.offset_of(mm[pos : pos + 20])
        if base is None:
            raise PackError("delta base outside this pack")
        return base, pos + 20

    def _kind_at(self, mm: mmap.mmap, off: int) -> int:
        """The real type of the object at `off`, following delta bases (memoised)."""
        chain: list[int] = []
        by_offset = self.index.by_offset
        kind = 0
        while True:
            k = bisect_left(by_offset, off)
            if k >= self.index.count or by_offset[k] != off:
                raise PackError(f"no object at offset {off}")
            if self.kinds[k]:
                kind = self.kinds[k]
                break
            chain.append(k)
            t, _, pos = self._header(mm, off)
            if t in (OBJ_OFS_DELTA, OBJ_REF_DELTA):
                off, _ = self._base(mm, off, t, pos)
                if len(chain) > 10000:
                    raise PackError("delta chain too long")
                continue
            kind = t
            break
        for k in chain:
            self.kinds[k] = kind
        return kind

    def blobs(self, lo: int, hi: int, whole_below: int = 0) -> Iterator[PackedBlob]:
        """Blobs whose pack offset lies in [lo, hi), in pack order. Deltas of versions smaller
        than `whole_below` are reported as whole blobs (their instructions are not parsed)."""
        index = self.index
        with open(index.pack, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            start = bisect_left(index.by_offset, lo)
            for k in range(start, index.count):
                off = int(index.by_offset[k])
                if off >= hi:
                    break
                t, size, pos = self._header(mm, off)
                if t in (OBJ_OFS_DELTA, OBJ_REF_DELTA):
                    base_off, pos = self._base(mm, off, t, pos)
                    kind = self._kind_at(mm, base_off)
                    self.kinds[k] = kind
                    if kind != OBJ_BLOB:
                        continue
                    try:
                        delta = zlib.decompress(mm[pos : index.end_of(k)])
                    except zlib.error as exc:
                        raise PackError(f"corrupt delta at {off}: {exc}") from exc
                    target = _target_size(delta)
                    if target < whole_below:
                        yield PackedBlob(index.sha_at(k).hex(), target, None, None, off)
                        continue
                    target, changes = delta_changes(delta)
                    kb = bisect_left(index.by_offset, base_off)
                    yield PackedBlob(index.sha_at(k).hex(), target, changes, index.sha_at(kb).hex(), off)
                else:
                    self.kinds[k] = t
                    if t == OBJ_BLOB:
                        yield PackedBlob(index.sha_at(k).hex(), size, None, None, off)


def pack_paths(objects_dir: str) -> list[str]:
    """The repository's pack files, largest first (so byte slices start with the big one)."""
    folder = os.path.join(objects_dir, "pack")
    try:
        names = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".pack")]
    except OSError:
        return []
    found: list[tuple[int, str]] = []
    for p in names:
        try:
            if os.path.exists(p[:-5] + ".idx"):
                found.append((os.path.getsize(p), p))
        except OSError:  # removed meanwhile (a concurrent gc)
            continue
    return [p for _, p in sorted(found, key=lambda x: (-x[0], x[1]))]


def loose_objects(objects_dir: str) -> list[str]:
    """Object ids stored loose (one file per object under objects/xx/): SHA-1 or SHA-256."""
    out: list[str] = []
    try:
        entries = os.listdir(objects_dir)
    except OSError:
        return out
    for d in entries:
        if len(d) != 2:
            continue
        try:
            int(d, 16)
            names = os.listdir(os.path.join(objects_dir, d))
        except (ValueError, OSError):
            continue
        out.extend(d + n for n in names if len(n) in (38, 62))
    return out

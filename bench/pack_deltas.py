"""Measure how much blob text a delta-aware history scan would have to match.

    python bench/pack_deltas.py /path/to/repo.git [--context 256]

Walks every .pack of a repository once (offsets from the .idx, zlib per entry, no git process)
and reports, for blobs: bytes stored whole (non-delta), bytes the deltas insert, bytes the
deltas insert once each insert is widened by `--context` bytes on each side (the copied
neighbours a token spanning an insert/copy boundary needs), and the full size of every blob
version (what scanning whole blobs reads). Commits and trees are never inflated. This is the
measurement behind the "match only what each delta inserts" design in issue 3; not part of the
test suite, and not used by the scanner.
"""

from __future__ import annotations

import argparse
import glob
import mmap
import os
import struct
import sys
import time
import zlib

OBJ_BLOB, OBJ_OFS_DELTA, OBJ_REF_DELTA = 3, 6, 7


def read_idx(path: str) -> tuple[list[bytes], list[int]]:
    """Object ids and pack offsets from a version-2 .idx file."""
    data = open(path, "rb").read()
    if data[:8] != b"\xfftOc\x00\x00\x00\x02":
        raise ValueError(f"{path}: not a version-2 pack index")
    n = struct.unpack(">I", data[8 + 255 * 4 : 8 + 256 * 4])[0]
    base = 8 + 256 * 4
    shas = [data[base + 20 * i : base + 20 * i + 20] for i in range(n)]
    off_at = base + 20 * n + 4 * n
    big_at = off_at + 4 * n
    offsets = []
    for i in range(n):
        (o,) = struct.unpack(">I", data[off_at + 4 * i : off_at + 4 * i + 4])
        if o & 0x80000000:
            (o,) = struct.unpack(">Q", data[big_at + 8 * (o & 0x7FFFFFFF) : big_at + 8 * (o & 0x7FFFFFFF) + 8])
        offsets.append(o)
    return shas, offsets


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        c = buf[pos]
        pos += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return value, pos


def delta_inserts(delta: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(target size, [(target offset, length) of each insert]) of a git delta."""
    _, pos = _varint(delta, 0)
    target, pos = _varint(delta, pos)
    out: list[tuple[int, int]] = []
    at = 0
    n = len(delta)
    while pos < n:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            size = 0
            for bit in range(4):
                if op & (1 << bit):
                    pos += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    size |= delta[pos] << (8 * bit)
                    pos += 1
            at += size or 0x10000
        elif op:
            out.append((at, op))
            at += op
            pos += op
        else:
            raise ValueError("bad delta opcode 0")
    return target, out


def walk(pack: str, context: int) -> dict[str, int]:
    shas, offsets = read_idx(pack[:-5] + ".idx")
    by_sha = dict(zip(shas, offsets, strict=True))
    order = sorted(offsets)
    stats = dict(objects=len(order), whole_blobs=0, whole_bytes=0, delta_blobs=0, insert_bytes=0, widened_bytes=0, version_bytes=0, inflated_bytes=0)
    kind: dict[int, int] = {}
    pending: list[tuple[int, int, int]] = []  # ref deltas whose base comes later: (offset, end, base offset)
    with open(pack, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        end_of = {o: (order[i + 1] if i + 1 < len(order) else len(mm) - 20) for i, o in enumerate(order)}

        def blob_delta(pos: int, end: int) -> None:
            raw = zlib.decompressobj().decompress(mm[pos:end])
            stats["inflated_bytes"] += len(raw)
            target, inserts = delta_inserts(raw)
            stats["delta_blobs"] += 1
            stats["version_bytes"] += target
            stats["insert_bytes"] += sum(n for _, n in inserts)
            lo_prev = -1
            widened = 0
            for at, n in inserts:  # merge widened inserts that overlap
                lo, hi = max(0, at - context), min(target, at + n + context)
                lo = max(lo, lo_prev)
                widened += max(0, hi - lo)
                lo_prev = max(lo_prev, hi)
            stats["widened_bytes"] += widened

        for off in order:
            c = mm[off]
            t = (c >> 4) & 7
            size = c & 15
            pos, shift = off + 1, 4
            while c & 0x80:
                c = mm[pos]
                pos += 1
                size |= (c & 0x7F) << shift
                shift += 7
            if t == OBJ_OFS_DELTA:
                c = mm[pos]
                pos += 1
                rel = c & 0x7F
                while c & 0x80:
                    c = mm[pos]
                    pos += 1
                    rel = ((rel + 1) << 7) | (c & 0x7F)
                t = kind[off - rel]
                kind[off] = t
                if t == OBJ_BLOB:
                    blob_delta(pos, end_of[off])
            elif t == OBJ_REF_DELTA:
                base = by_sha[mm[pos : pos + 20]]
                if base in kind:
                    kind[off] = t = kind[base]
                    if t == OBJ_BLOB:
                        blob_delta(pos + 20, end_of[off])
                else:
                    pending.append((off, pos + 20, base))
            else:
                kind[off] = t
                if t == OBJ_BLOB:
                    stats["whole_blobs"] += 1
                    stats["whole_bytes"] += size
                    stats["version_bytes"] += size
        for off, pos, base in pending:  # thin chains of ref deltas; rare in local repositories
            if kind.get(base) == OBJ_BLOB:
                kind[off] = OBJ_BLOB
                blob_delta(pos, end_of[off])
    return stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--context", type=int, default=256)
    args = ap.parse_args()
    gitdir = args.repo if os.path.isdir(os.path.join(args.repo, "objects")) else os.path.join(args.repo, ".git")
    packs = sorted(glob.glob(os.path.join(gitdir, "objects", "pack", "*.pack")))
    if not packs:
        sys.exit("no packs")
    started, cpu = time.perf_counter(), time.process_time()
    total: dict[str, int] = {}
    for p in packs:
        for k, v in walk(p, args.context).items():
            total[k] = total.get(k, 0) + v
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    mb = lambda k: f"{total[k] / 1e6:,.1f} MB"  # noqa: E731
    print(f"{len(packs)} pack(s), {total['objects']:,} objects; walk {wall:.1f} s wall, {cpu:.1f} s CPU (Python, one core)")
    print(f"blob versions: {total['whole_blobs'] + total['delta_blobs']:,}  full size {mb('version_bytes')}")
    print(f"stored whole: {total['whole_blobs']:,} blobs, {mb('whole_bytes')}")
    print(f"deltas: {total['delta_blobs']:,}, inserted {mb('insert_bytes')}, widened by {args.context} B each side {mb('widened_bytes')}, delta bytes inflated {mb('inflated_bytes')}")
    scan = total["whole_bytes"] + total["widened_bytes"]
    print(f"a delta-aware scan would match {scan / 1e6:,.1f} MB = {scan / max(1, total['version_bytes']):.1%} of the full blob bytes")


if __name__ == "__main__":
    main()

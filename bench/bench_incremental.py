"""Incremental re-scan vs first scan, through the store's blob bookkeeping.

The git-history source is built on another branch, so this measures a folder scan keyed by
file content hash: each file's id is its git blob id (sha1 of "blob <size>\\0" + content),
exactly what `git hash-object` prints. A first scan reads and scans every blob, records the
findings and marks the blobs scanned under the ruleset hash; a re-scan asks the store which
blobs are new and scans only those. (A git source gets blob ids from the object database
without reading content, so its re-scan saves even the hashing measured here.)

    python bench/bench_incremental.py [--files 4000] [--kb 16] [--changed 1] [--store PATH|URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from leakwarden.api import build_detector  # noqa: E402
from leakwarden.config import Settings  # noqa: E402
from leakwarden.models import Origin, ScanResult  # noqa: E402
from leakwarden.pipeline import scan_chunks  # noqa: E402
from leakwarden.sources import chunks_from_stream  # noqa: E402
from leakwarden.store import open_store  # noqa: E402

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
WORDS = "def class return import self value config token user data path result error list".split()


def make_tree(root: Path, files: int, kb: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    for i in range(files):
        lines = []
        size = 0
        while size < kb * 1024:
            line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 12))) + f" = {rnd.randint(0, 10**6)}"
            lines.append(line)
            size += len(line) + 1
        if i % 97 == 0:
            lines.insert(rnd.randint(0, len(lines)), 'token = "cio' + "".join(rnd.choice(ALNUM) for _ in range(32)) + '"')
        folder = root / f"pkg{i % 40:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{i:05d}.py").write_text("\n".join(lines) + "\n")


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


LOOKUP_SECONDS: list[float] = []


def incremental_scan(root: Path, store, detector, ruleset_hash: str) -> tuple[int, int, int, float]:
    """Returns (blobs seen, blobs scanned, findings, seconds)."""
    started = time.perf_counter()
    contents: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*.py")):
        data = path.read_bytes()
        contents.setdefault(blob_id(data), (str(path.relative_to(root)), data))
    t0 = time.perf_counter()
    todo = store.filter_unscanned("bench-repo", list(contents), ruleset_hash)
    LOOKUP_SECONDS.append(time.perf_counter() - t0)
    result = ScanResult()
    for bid in todo:
        rel, data = contents[bid]
        import io

        scan_chunks(detector, chunks_from_stream(io.BytesIO(data), Origin("file", path=rel, blob=bid)), result)
    if result.findings:
        store.record_scan(result.findings, repository="bench-repo", source="bench")
    store.mark_scanned("bench-repo", todo, ruleset_hash)
    return len(contents), len(todo), len(result.findings), time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--kb", type=int, default=16)
    ap.add_argument("--changed", type=float, default=1.0, help="percent of files changed before the third scan")
    ap.add_argument("--store", default=None, help="store path or postgresql:// URL (default: a temp SQLite file)")
    ap.add_argument("--engine", default="auto")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        make_tree(root, args.files, args.kb)
        total_mb = sum(p.stat().st_size for p in root.rglob("*.py")) / 1e6
        detector = build_detector(Settings(engine=args.engine))
        store = open_store(args.store or os.path.join(tmp, "bench.db"))
        h = detector.ruleset.hash
        print(f"tree: {args.files} files, {total_mb:.1f} MB; engine {type(detector.matcher).__name__}; store {store.db.kind}")
        seen, scanned, found, first = incremental_scan(root, store, detector, h)
        print(f"first scan:      {scanned:5d}/{seen} blobs scanned, {found} findings, {first:.3f}s")
        seen, scanned, found, again = incremental_scan(root, store, detector, h)
        print(f"unchanged again: {scanned:5d}/{seen} blobs scanned, {found} findings, {again:.3f}s  ({100 * again / first:.1f}% of first)")
        print(f"  of which the store lookup of {seen} blob ids: {LOOKUP_SECONDS[-1]:.3f}s ({100 * LOOKUP_SECONDS[-1] / first:.1f}% of first);"
              " the rest is reading and hashing files, which a git source does not need")
        victims = sorted(root.rglob("*.py"))[:: max(1, int(100 / args.changed))] if args.changed > 0 else []
        for p in victims:
            p.write_text(p.read_text() + "# edited\n")
        seen, scanned, found, changed = incremental_scan(root, store, detector, h)
        print(f"{len(victims)} files edited: {scanned:5d}/{seen} blobs scanned, {found} findings, {changed:.3f}s  ({100 * changed / first:.1f}% of first)")
        seen, scanned, found, rules = incremental_scan(root, store, detector, h + "-new-rules")
        print(f"new ruleset:     {scanned:5d}/{seen} blobs scanned (everything again), {rules:.3f}s")
        store.close()


if __name__ == "__main__":
    main()

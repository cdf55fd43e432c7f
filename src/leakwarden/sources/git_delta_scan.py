"""Whole-history scan that matches only what each blob version changes, then follows secrets.

Most blob versions in a pack are deltas against another version. A finding in a version lies
either near bytes its delta inserted (or near a seam where the copied source jumps), or wholly
inside a run it copied from its base, where the base has the same bytes and the same context.
So each worker:
1. walks its stripes of the pack files (`git_packs.PackWalker`) and feeds the blob ids, in
   pack order, to its own `git cat-file --batch` (git applies the deltas, in C, with a warm
   delta-base cache);
2. scans blobs stored whole in full, and of each delta only its changed regions widened by at
   least `MARGIN` bytes and as many lines as any rule looks for context (`context_lines`), cut
   at line ends (`widen`); a delta whose regions cover most of it is scanned whole;
3. returns its findings, the raw text of each found secret per blob ("needles"), and the
   delta edges (version -> base) of the versions it scanned partly.
The parent then (`propagate`) rescans in full the versions whose base was never scanned
(binary or over the size limit), and walks down the delta edges from every blob with findings:
a version that contains one of its base's needles is scanned around each occurrence, so every
version holding a secret is found, and attribution still names the commit that first added it.

NOTE: measured on two cores: sqlalchemy's history (4.5 GB of blob versions) matches about 25%
of its bytes this way, in 21 CPU-s against 40 for every version in full; rails (5.8 GB) 43%, in
58 against 90 CPU-s. Git still inflates every version; the rest is matching and the pack walk.
The findings are the same as matching whole blobs (`bench/history_modes.py`).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from leakwarden.candidates import Detector
from leakwarden.errors import SourceError
from leakwarden.models import Chunk, Finding, Origin
from leakwarden.sources import blob_text, with_encoding
from leakwarden.sources.git_history import (
    BatchResult,
    BlobReader,
    _widen_pipe,
    git_error_line,
)
from leakwarden.sources.git_packs import (
    PackedBlob,
    PackError,
    PackWalker,
    loose_objects,
    pack_paths,
    read_index,
)
from leakwarden.sources.gitcmd import Git, finish_process, read_batch

MARGIN = 512
MIN_LINES = 8  # floor; the rules in use usually ask for more (see `context_lines`)
WHOLE_FRACTION = 0.6  # regions covering more than this of a version: scan it whole
MIN_NEEDLE = 8
# Versions this small are matched whole: their widened regions would cover them anyway (and
# their delta instructions need not be parsed: 7% of the pack walk on sqlalchemy).
WHOLE_BELOW = 4096


def objects_dir(git: Git) -> str | None:
    """The repository's object folder when its packs can be read directly, else None
    (alternates or a hook's quarantine put objects elsewhere, or object ids are not SHA-1,
    which is all `git_packs` reads: the caller scans whole blobs)."""
    if any(os.environ.get(v) for v in ("GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY")):
        return None
    fmt = git.run("rev-parse", "--show-object-format", check=False).stdout.strip()
    if fmt.startswith(b"sha") and fmt != b"sha1":  # sha256 (a git too old to say has only SHA-1)
        return None
    path = git.objects_path()
    if path is None or not os.path.isdir(os.path.join(path, "pack")):
        return None
    try:
        with open(os.path.join(path, "info", "alternates"), "rb") as fh:
            if fh.read().strip():
                return None
    except OSError:
        pass
    return path


def widen(data: bytes, changes: list[tuple[int, int]], min_lines: int = MIN_LINES) -> list[tuple[int, int]] | None:
    """Changed regions widened to whole lines with context on both sides, merged; None when
    they would cover most of the blob (then it is cheaper and simpler to scan it whole).

    Each side takes in at least `min_lines` lines (the farthest any rule looks for context or a
    paired value, see `context_lines`) and MARGIN bytes (a token cut by the change), doubling
    the byte reach until it holds enough lines. However long the lines: rules count context
    and pairs in lines, and a pair may lie any number of bytes away."""
    n = len(data)
    out: list[tuple[int, int]] = []
    count = data.count
    for a, b in changes:
        reach = MARGIN
        lo = max(0, a - reach)
        while lo and count(b"\n", lo, a) < min_lines:
            reach *= 2
            lo = max(0, a - reach)
        if lo:
            lo = data.rfind(b"\n", 0, lo) + 1
        reach = MARGIN
        hi = min(n, b + reach)
        while hi < n and count(b"\n", b, hi) < min_lines:
            reach *= 2
            hi = min(n, b + reach)
        if hi < n:
            e = data.find(b"\n", hi)
            hi = n if e < 0 else e + 1
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    if sum(h - lo for lo, h in out) > WHOLE_FRACTION * n:
        return None
    return out


def context_lines(detector: Detector) -> int:
    """How many lines around a change can decide a finding: the widest rule context or pairing."""
    widest = [r.context.within_lines for r in detector.ruleset.rules if r.context is not None]
    widest += [q.within_lines for r in detector.ruleset.rules for q in r.requires]
    return max([MIN_LINES, *widest]) + 1


def scan_regions(detector: Detector, data: bytes, regions: list[tuple[int, int]], origin: Origin) -> list[Finding]:
    """Scan line-aligned regions of a blob; findings keep the blob's own lines and offsets.

    NOTE: line numbers are fixed up only for regions with findings: counting the lines before
    every region cost 0.6 CPU-s per 2 GB of history."""
    found: list[Finding] = []
    for lo, hi in regions:
        fs = detector.scan(Chunk(data[lo:hi], origin, base_line=1, base_offset=lo))
        if fs:
            shift = data.count(b"\n", 0, lo)
            if shift:
                fs = [replace(f, location=replace(f.location, start_line=f.location.start_line + shift, end_line=f.location.end_line + shift)) for f in fs]
            found.extend(fs)
    return found


def needle_of(data: bytes, f: Finding) -> bytes | None:
    """The raw text of a finding in its blob (the encoded text for decoded findings)."""
    loc = f.location
    start = loc.offset
    if start < 0 or start >= len(data):
        return None
    ls = data.rfind(b"\n", 0, start) + 1
    for _ in range(loc.end_line - loc.start_line):
        nl = data.find(b"\n", ls if ls > start else start)
        if nl < 0:
            return None
        ls = nl + 1
    end = ls + loc.end_column - 1
    if end <= start or end > len(data):
        return None
    needle = data[start:end]
    return needle if len(needle) >= MIN_NEEDLE else None


@dataclass(slots=True)
class DeltaSliceResult(BatchResult):
    """A worker's `BatchResult` plus what the follow-up (`propagate`) needs."""

    needles: dict[str, set[bytes]] = field(default_factory=dict)
    edges: bytearray = field(default_factory=bytearray)  # 20-byte child id + 20-byte base id
    unscanned: set[str] = field(default_factory=set)  # binary or too large: never matched
    matched_bytes: int = 0


# Each worker takes every W-th of this many stripes per worker: packs put commits and trees
# first and big files' histories together, so contiguous halves would be uneven work.
STRIPES_PER_WORKER = 16


def _stripe_count(workers: int) -> int:
    return workers * STRIPES_PER_WORKER if workers > 1 else 1


def _stripes(k: int, workers: int, take: Callable[[], int] | None) -> Iterator[int]:
    """The stripes worker k scans, in increasing order: every `workers`-th one, or, with `take`
    (a counter shared by the workers), whichever comes next when this worker is free."""
    stripes = _stripe_count(workers)
    if take is None:
        yield from range(k, stripes, workers)
        return
    while 0 <= (j := take()) < stripes:
        yield j


def _slice_blobs(git: Git, objects: str, k: int, workers: int, take: Callable[[], int] | None = None, res: BatchResult | None = None) -> Iterator[PackedBlob]:
    """The blobs of worker k's stripes of all packs (and, for worker 0, the loose ones). Each
    blob's `offset` is turned into the pack bytes of the worker's share walked so far. Loose
    objects git cannot read are counted in `res.unreadable`."""
    packs = pack_paths(objects)
    sizes = [os.path.getsize(p) for p in packs]
    total = sum(sizes)
    stripes = _stripe_count(workers)
    many = len(packs) > 1
    seen: set[str] = set()
    walked = 0  # pack bytes of this worker's stripes done: `offset` becomes progress
    current: tuple[int, PackWalker] | None = None  # stripes only move forward: one index loaded
    for j in _stripes(k, workers, take):
        lo, hi = total * j // stripes, total * (j + 1) // stripes
        start = 0
        for i, (pack, size) in enumerate(zip(packs, sizes, strict=True)):
            a, b = max(lo - start, 0), min(hi - start, size)
            start += size
            if a >= b:
                continue
            if current is None or current[0] != i:
                current = (i, PackWalker(read_index(pack)))
            for blob in current[1].blobs(a, b, WHOLE_BELOW):
                if many:
                    if blob.oid in seen:
                        continue
                    seen.add(blob.oid)
                blob.offset = walked + blob.offset - a
                yield blob
            walked += b - a
    if k == 0:
        loose = loose_objects(objects)
        if loose:
            proc = git.run("cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize)", input="".join(f"{o}\n" for o in loose).encode(), check=False)
            if proc.returncode != 0:
                err = proc.stderr.decode("utf-8", "replace").strip()
                raise SourceError(f"git could not read objects: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}")
            for raw in proc.stdout.splitlines():
                parts = raw.split()
                if len(parts) == 2 and parts[1] == b"missing" and res is not None:
                    res.unreadable += 1  # a loose object git cannot parse
                elif len(parts) == 3 and parts[0] == b"blob":
                    yield PackedBlob(parts[1].decode(), int(parts[2]), None, None, walked)


class _SliceScanner:
    """What a worker does with each blob's content."""

    def __init__(self, detector: Detector, res: DeltaSliceResult, progress: Callable[[int, int, int], None] | None = None) -> None:
        self.detector = detector
        self.res = res
        self.min_lines = context_lines(detector)
        self.progress = progress
        self.secrets: set[str] = set()  # fingerprints found: the bar counts secrets, not copies

    def scan(self, blob: PackedBlob, name: str, data: bytes) -> None:
        res = self.res
        res.read.append(name)
        if self.progress is not None and len(res.read) % 64 == 0:
            self.progress(len(res.read), blob.offset, len(self.secrets))
        text = blob_text(data)
        if text is None:
            res.binary += 1
            res.unscanned.add(name)
            return
        data, encoding = text
        if encoding is not None:
            # UTF-16/32 text: matched whole once transcoded (the deltas count raw bytes), and
            # not followed down its delta chain: its children are rescanned whole (`propagate`)
            res.unscanned.add(name)
        res.blobs += 1
        res.scanned_bytes += len(data)
        origin = with_encoding(Origin("git", blob=name), encoding)
        regions = widen(data, blob.changes, self.min_lines) if blob.changes is not None and blob.base and encoding is None else None
        if regions is None:
            res.matched_bytes += len(data)
            found = self.detector.scan(Chunk(data, origin))
        else:
            res.matched_bytes += sum(h - lo for lo, h in regions)
            found = scan_regions(self.detector, data, regions, origin) if regions else []
            assert blob.base is not None
            res.edges += bytes.fromhex(name) + bytes.fromhex(blob.base)
        if found:
            self.secrets.update(f.fingerprint for f in found)
            res.findings.append((name, found))
            needles = {x for x in (needle_of(data, f) for f in found) if x}
            if needles:
                res.needles[name] = needles


def delta_slice(repo: str | None, detector: Detector, k: int, workers: int, max_size: int, progress: Callable[[int, int, int], None] | None = None,
                take: Callable[[], int] | None = None) -> DeltaSliceResult:
    """Worker k of `workers`: scan the blobs of its stripes of the packs, deltas by changed
    regions. Contents come from one `git cat-file --batch` fed the ids in pack order.
    `progress(blobs read, pack bytes walked, findings)` is called now and then. With `take`
    (the next stripe from a counter the workers share, see `_stripes`) a worker that finishes
    early goes on with the stripes still waiting instead of idling.

    NOTE: applying the deltas in this process instead (dulwich's compiled `apply_delta` and a
    128 MiB base cache) saved only 5% of the scan's CPU on sqlalchemy: not worth a dependency."""
    git = Git(repo)
    objects = objects_dir(git)
    if objects is None:
        raise PackError("pack files not readable directly")
    res = DeltaSliceResult([])
    scanner = _SliceScanner(detector, res, progress)
    taken: list[int] = []

    def counted() -> int:
        assert take is not None
        j = take()
        taken.append(j)
        return j

    _slice_through_git(git, objects, k, workers, max_size, scanner, counted if take is not None else None)
    if progress is not None:
        stripes = _stripe_count(workers)
        mine = taken if take is not None else range(k, stripes, workers)
        progress(len(res.read), _share(objects, stripes, mine), len(scanner.secrets))
    return res


def _share(objects: str, stripes: int, mine: Iterable[int]) -> int:
    """Pack bytes in the stripes `mine` (of `stripes`)."""
    total = sum(os.path.getsize(p) for p in pack_paths(objects))
    return sum(total * (j + 1) // stripes - total * j // stripes for j in mine if 0 <= j < stripes)


def _skip(blob: PackedBlob, max_size: int, res: DeltaSliceResult) -> bool:
    if blob.size == 0:
        return True
    if blob.size > max_size:
        res.too_large += 1
        res.largest = max(res.largest, blob.size)
        res.unscanned.add(blob.oid)
        return True
    return False


def _slice_through_git(git: Git, objects: str, k: int, workers: int, max_size: int, scanner: _SliceScanner, take: Callable[[], int] | None = None) -> None:
    """The worker's blobs read by one `git cat-file --batch`, fed their ids in pack order."""
    res = scanner.res
    reader = git.popen(["cat-file", "--batch"], stdin=subprocess.PIPE)
    _widen_pipe(reader.stdout)
    queue: deque[PackedBlob] = deque()
    failure: list[BaseException] = []

    def feed() -> None:
        sink = reader.stdin
        assert sink is not None
        try:
            for blob in _slice_blobs(git, objects, k, workers, take, res):
                if _skip(blob, max_size, res):
                    continue
                queue.append(blob)
                try:
                    sink.write(blob.oid.encode() + b"\n")
                except (BrokenPipeError, ValueError, OSError):
                    return  # git stopped: the reader reports why
        except BaseException as exc:  # noqa: BLE001 - a bad or vanished pack: the caller falls back
            failure.append(exc if isinstance(exc, PackError | SourceError) else PackError(f"reading packs: {exc}"))
        finally:
            try:
                sink.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    out = reader.stdout
    assert out is not None
    complete = False
    try:
        for raw_name, data in read_batch(out):
            blob = queue.popleft()
            if data is None:  # listed in a pack or loose, yet git cannot read it
                res.unscanned.add(blob.oid)
                res.unreadable += 1
                continue
            if raw_name.decode() != blob.oid:
                raise PackError("git returned objects out of order")
            scanner.scan(blob, blob.oid, data)
        complete = True
    finally:
        if not complete:
            reader.kill()
        feeder.join()
        err = finish_process(reader)
    if failure:
        raise failure[0]
    if complete and reader.returncode != 0:
        raise SourceError(f"git could not read objects: {err.splitlines()[-1] if err else 'exit ' + str(reader.returncode)}")
    res.git_error = git_error_line(err)


def propagate(git: Git, detector: Detector, parts: list[DeltaSliceResult], found: dict[str, list[Finding]]) -> tuple[int, set[str]]:
    """Complete the partial scans: rescan versions whose base was never matched, then follow
    each blob's secrets down its delta edges. Adds to `found`; returns (bytes matched, ids read)."""
    unscanned: set[bytes] = {bytes.fromhex(o) for p in parts for o in p.unscanned}
    needles: dict[bytes, set[bytes]] = {bytes.fromhex(o): n for p in parts for o, n in p.needles.items()}
    matched = 0
    read: set[str] = set()
    min_lines = context_lines(detector)
    # 1. versions copied from a base that was never matched: scan them whole.
    orphans = [c for c, b in _edges(parts) if b in unscanned] if unscanned else []
    if orphans:
        reader = BlobReader(git)
        try:
            for oid, raw in reader.read([o.hex() for o in orphans]):
                text = blob_text(raw) if raw is not None else None
                if text is None:
                    continue
                body, encoding = text
                read.add(oid)
                matched += len(body)
                fs = detector.scan(Chunk(body, with_encoding(Origin("git", blob=oid), encoding)))
                found.pop(oid, None)  # the whole blob's findings include those of its regions
                if fs:
                    found[oid] = fs
                    ns = {x for x in (needle_of(body, f) for f in fs) if x}
                    if ns:
                        needles.setdefault(bytes.fromhex(oid), set()).update(ns)
        finally:
            reader.close()
    if not needles:
        return matched, read
    # 2. the versions below a blob with findings, bases first (pack order; repeated for the
    # rare base that comes later).
    hot = set(needles)
    below: dict[bytes, bytes] = {}
    grew = True
    while grew:
        grew = False
        for child, base in _edges(parts):
            if (base in hot or base in below) and child not in below:
                below[child] = base
                grew = True
    if not below:
        return matched, read
    order = _bases_first(below)
    reader = BlobReader(git)
    try:
        for oid, data in reader.read([o.hex() for o in order]):
            if data is None:
                continue
            child = bytes.fromhex(oid)
            inherited = needles.get(below[child])
            if not inherited:
                continue
            hits = sorted({(p, len(nd)) for nd in inherited for p in _occurrences(data, nd)})
            if not hits:
                continue
            read.add(oid)
            regions = widen(data, [(p, p + n) for p, n in hits], min_lines) or [(0, len(data))]
            matched += sum(h - lo for lo, h in regions)
            # keep what starts at an occurrence; the rest of the regions was scanned in the base
            fs = [f for f in scan_regions(detector, data, regions, Origin("git", blob=oid)) if any(p <= f.location.offset < p + n for p, n in hits)]
            if not fs:
                continue
            known = {(f.rule_id, f.location.offset, f.secret.reveal()) for f in found.get(oid, ())}
            fresh = [f for f in fs if (f.rule_id, f.location.offset, f.secret.reveal()) not in known]
            if fresh:
                found.setdefault(oid, []).extend(fresh)
            ns = {x for x in (needle_of(data, f) for f in fs) if x}
            needles.setdefault(child, set()).update(ns)
    finally:
        reader.close()
    return matched, read


def _edges(parts: list[DeltaSliceResult]) -> Iterator[tuple[bytes, bytes]]:
    """(version, base) ids of the partly matched versions, in pack order."""
    for p in parts:
        e = p.edges
        for i in range(0, len(e), 40):
            yield bytes(e[i : i + 20]), bytes(e[i + 20 : i + 40])


def _bases_first(below: dict[bytes, bytes]) -> list[bytes]:
    """The children in an order where each comes after its base (when that is a child too)."""
    out: list[bytes] = []
    placed: set[bytes] = set()
    for child in below:
        chain: list[bytes] = []
        on_chain: set[bytes] = set()
        c: bytes | None = child
        while c is not None and c in below and c not in placed and c not in on_chain:  # a cycle only in a forged pack
            chain.append(c)
            on_chain.add(c)
            c = below[c]
        for x in reversed(chain):
            placed.add(x)
            out.append(x)
    return out


def _occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    p = data.find(needle)
    while p >= 0:
        yield p
        p = data.find(needle, p + 1)

"""Git history: scan every unique blob once, then attribute the few with findings to commits.

The flow, and why:
1. List blobs with `git cat-file --batch-all-objects --batch-check --unordered` (every object in
   the repository, in pack order, which keeps git's delta-base cache warm) or, for a range or a
   branch, `git rev-list --objects <revs>` piped into `cat-file --batch-check`. Each blob appears
   once, however many commits carry it. Blobs over the size cap are counted, not read.
2. A whole-repository scan reads the pack files' delta instructions (`git_delta_scan`): blobs
   stored whole are matched in full, each delta only where it changes its base (plus context),
   and found secrets are followed down the delta chains. Each worker process takes stripes of
   the packs and feeds their blob ids, in pack order, to its own `git cat-file --batch`, so
   git's delta-base cache stays warm and no blob bytes cross processes. When the packs cannot
   be read directly (alternates, a hook's quarantine, an incremental scan, `--whole-blobs`),
   every blob is matched whole: `stream_slice` gives each worker a contiguous slice of
   `git cat-file --batch-all-objects --unordered` (pack order). A range scan lists blobs with
   `git rev-list --objects` and sends batches of ids to workers. Binary blobs (a NUL byte
   early on) are skipped. Memory stays flat: nothing is kept per clean blob (the delta scan
   keeps 40 bytes per partly matched version, for step 2's follow-up).
3. Only for blobs with findings, one `git log -c --raw --find-object=...` pass finds the commits
   and paths that introduced them (merges included: `-c` lists a merge's path only when it
   differs from every parent, i.e. the merge itself introduced that content).
4. A partial clone's missing objects are counted beside the scan and reported (`git_partial`).
5. Occurrences of the same secret are grouped: one Finding per secret, located at its earliest
   introduction, with the other occurrences (commit, path, line) listed in `details` up to a cap.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from leakwarden.candidates import Detector
from leakwarden.errors import SourceError
from leakwarden.models import UNREADABLE_OBJECTS, Chunk, Finding, Origin, ScanError, ScanResult
from leakwarden.sources import blob_text, with_encoding
from leakwarden.sources.git_partial import MissingObjects, is_partial_clone
from leakwarden.sources.gitcmd import (
    COMMIT_FORMAT,
    CommitInfo,
    Git,
    finish_process,
    read_batch,
    unquote_path,
)

# Below this much blob data a process pool costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_OBJECTS = 4096
# Above this many blobs with findings, filter a full `git log --raw` in Python instead of
# passing one --find-object per blob (command-line length).
_FIND_OBJECT_MAX = 500


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    """What to scan. Empty `revs` means every object in the repository (all refs and more)."""

    revs: tuple[str, ...] = ()
    max_blob_size: int = 25 * 1024 * 1024
    occurrence_cap: int = 10
    jobs: int = 0
    exclude: tuple[str, ...] = ()
    # Blob ids known to be scanned already (incremental scans through the store): not read.
    skip_blobs: frozenset[str] = frozenset()
    # Match every blob version in full instead of only what each pack delta changes.
    whole_blobs: bool = False


@dataclass(slots=True)
class BlobsRead:
    """What `scan_history` read: blob ids read (binary ones included) and listed ones skipped."""

    read: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)


BlobRef = tuple[str, int, str]  # (object id, size, path hint or "")


# --- 1. listing ------------------------------------------------------------------------------


def list_blobs(git: Git, revs: tuple[str, ...]) -> Iterator[tuple[str, str, int, str]]:
    """Yield (type, object id, size, path hint) for each object to consider, streaming; the
    type is "missing" for an object git listed but could not read."""
    check = "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)"
    if not revs:
        proc = git.popen(["cat-file", "--batch-all-objects", "--unordered", check])
        procs = [proc]
    else:
        # allow-promisor: a partial clone's missing blobs are left out (and counted by
        # `git_partial`) instead of being fetched one by one from its remote by cat-file
        lister = git.popen(["rev-list", "--objects", "--missing=allow-promisor", "--filter=object:type=blob", *revs, "--"])
        proc = git.popen(["cat-file", check], stdin=lister.stdout)
        assert lister.stdout is not None
        lister.stdout.close()
        procs = [lister, proc]
    assert proc.stdout is not None
    complete = False
    try:
        for raw in proc.stdout:
            parts = raw.rstrip(b"\n").decode("utf-8", "surrogateescape").split(" ", 3)
            if len(parts) >= 2 and parts[1] == "missing":
                yield "missing", parts[0], 0, ""
                continue
            if len(parts) < 3:
                continue
            yield parts[0], parts[1], int(parts[2]), parts[3] if len(parts) > 3 else ""
        complete = True
    finally:
        errors = [finish_process(p) for p in reversed(procs)]
    if complete:
        for p, err in zip(reversed(procs), errors, strict=True):
            if p.returncode != 0:
                raise SourceError(f"git could not list objects: {err.splitlines()[-1] if err else 'exit ' + str(p.returncode)}")


# --- 2. reading and scanning -------------------------------------------------------------------


def _widen_pipe(stream: Any) -> None:
    """NOTE: a 1 MiB pipe (Linux; 64 KiB by default) halves the wake-ups between git and us."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError, ValueError, AttributeError):
        pass


class BlobReader:
    """A long-lived `git cat-file --batch`; a writer thread feeds ids so pipes never deadlock."""

    def __init__(self, git: Git) -> None:
        self.proc = git.popen(["cat-file", "--batch"], stdin=subprocess.PIPE)
        _widen_pipe(self.proc.stdout)

    def read(self, ids: list[str]) -> Iterator[tuple[str, bytes | None]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        payload = "".join(f"{i}\n" for i in ids).encode()
        stdin = self.proc.stdin

        def feed() -> None:
            try:
                stdin.write(payload)
                stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        out = self.proc.stdout
        for oid in ids:
            header = out.readline()
            if not header:
                raise SourceError("git cat-file stopped unexpectedly")
            fields = header.split()
            if len(fields) < 3 or fields[1] == b"missing":
                yield oid, None
                continue
            size = int(fields[2])
            data = out.read(size)
            out.read(1)  # the newline after the content; reading it apart avoids copying the blob
            yield oid, data
        writer.join()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        finish_process(self.proc)


@dataclass(slots=True)
class BatchResult:
    findings: list[tuple[str, list[Finding]]]
    scanned_bytes: int = 0
    blobs: int = 0
    binary: int = 0
    too_large: int = 0
    largest: int = 0
    read: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Objects git listed or was asked for but could not read (corrupt or missing), and the
    # first error git wrote while listing or reading (exit status 0: it skipped what it could
    # not read, e.g. a damaged pack index).
    unreadable: int = 0
    git_error: str = ""


def git_error_line(stderr: str) -> str:
    """The first `error:` or `fatal:` line git wrote, if any."""
    for line in stderr.splitlines():
        if line.startswith(("error:", "fatal:")):
            return line
    return ""


def report_unreadable(result: ScanResult, count: int, detail: str = "", what: str = "") -> None:
    """Objects that could not be read in a repository that should hold them: an error
    (kind `unreadable-objects`, the run exits 2 when nothing else was found), never silence."""
    if not count and not detail:
        return
    head = f"{count} object(s){what} could not be read (corrupt or missing) and were not scanned" if count else "git could not read some objects; what it skipped was not scanned"
    result.errors.append(ScanError("<git>", UNREADABLE_OBJECTS, f"{head}{f' ({detail})' if detail else ''}; check the repository with `git fsck`", incomplete=True))


def scan_batch(detector: Detector, reader: BlobReader, batch: list[BlobRef]) -> BatchResult:
    """Read and scan one batch of blobs; keep findings only, keyed by blob id."""
    hints = {oid: path for oid, _, path in batch}
    res = BatchResult([])
    for oid, data in reader.read([oid for oid, _, _ in batch]):
        if data is None:
            res.unreadable += 1
            continue
        res.read.append(oid)
        text = blob_text(data)
        if text is None:
            res.binary += 1
            continue
        data, encoding = text
        res.blobs += 1
        res.scanned_bytes += len(data)
        found = detector.scan(Chunk(data, with_encoding(Origin("git", path=hints.get(oid) or None, blob=oid), encoding)))
        if found:
            res.findings.append((oid, found))
    return res


_worker_detector: Detector | None = None
_worker_shared: Any = None  # delta scans: (progress counters per worker, next stripe to take)
_worker_readers: dict[str | None, BlobReader] = {}


def _init_worker(settings_blob: bytes, shared: Any = None) -> None:
    import pickle

    from leakwarden.api import build_detector

    global _worker_detector, _worker_shared
    _worker_shared = shared
    _worker_detector = build_detector(pickle.loads(settings_blob))
    # Wait for our `git cat-file` processes when the worker exits (no orphans left behind).
    from multiprocessing.util import Finalize

    Finalize(None, _close_readers, exitpriority=10)


def _close_readers() -> None:
    while _worker_readers:
        _, reader = _worker_readers.popitem()
        reader.close()


def _worker_scan(repo: str | None, batch: list[BlobRef]) -> BatchResult:
    assert _worker_detector is not None
    reader = _worker_readers.get(repo)
    if reader is None:
        reader = _worker_readers[repo] = BlobReader(Git(repo))
    return scan_batch(_worker_detector, reader, batch)


@dataclass(slots=True)
class _Listing:
    too_large: int = 0
    largest: int = 0
    total: int = 0
    skipped: set[str] = field(default_factory=set)
    unreadable: int = 0


def _batches(objects: Iterable[tuple[str, str, int, str]], max_size: int, listing: _Listing, skip: frozenset[str] = frozenset()) -> Iterator[list[BlobRef]]:
    batch: list[BlobRef] = []
    size = 0
    for kind, oid, n, path in objects:
        if kind == "missing":
            listing.unreadable += 1
            continue
        if kind != "blob" or n == 0:
            continue
        if oid in skip:
            listing.skipped.add(oid)
            continue
        if n > max_size:
            listing.too_large += 1
            listing.largest = max(listing.largest, n)
            continue
        listing.total += n
        batch.append((oid, n, path))
        size += n
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_OBJECTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# --- 2b. every object: one pack-ordered stream per worker -----------------------------------


def _feed_slice(lister: Any, sink: Any, lo: int, hi: int, max_size: int, res: BatchResult, skip: frozenset[bytes] = frozenset()) -> None:
    """Write the ids of the blobs whose cumulative byte position falls in [lo, hi) to `sink`
    (positions count only blobs not in `skip`, as `_blob_bytes` does)."""
    pos = 0
    try:
        for raw in lister.stdout:
            fields = raw.split()
            if len(fields) < 3:  # "<id> missing": listed but unreadable (a corrupt loose object)
                if lo == 0:
                    res.unreadable += 1
                continue
            kind, oid, n = fields[:3]
            if kind != b"blob":
                continue
            size = int(n)
            if size == 0:
                continue
            if size > max_size:
                if lo == 0:  # counted once, by the first slice
                    res.too_large += 1
                    res.largest = max(res.largest, size)
                continue
            if oid in skip:
                if lo == 0:
                    res.skipped.append(oid.decode())
                continue
            if pos >= hi:
                if lo == 0 and skip:
                    continue  # the first slice lists on, to report every skipped id
                break
            if pos >= lo:
                sink.write(oid + b"\n")
            pos += size
    except (BrokenPipeError, ValueError, OSError):
        pass
    finally:
        try:
            sink.close()
        except (BrokenPipeError, OSError):
            pass


def stream_slice(repo: str | None, detector: Detector, lo: int, hi: int, max_size: int, skip: frozenset[str] = frozenset()) -> BatchResult:
    """Scan the blobs whose cumulative size in pack order lies in [lo, hi).

    NOTE: pack order (`--batch-all-objects --unordered`) keeps git's delta-base cache warm:
    ~3 s to read all of sqlalchemy against ~17 s for the same blobs asked for in hash order.
    Each worker lists the objects itself (0.3 s), asks its own `cat-file --batch` for one
    contiguous slice of that order and scans it: no blob bytes travel between processes, git
    unpacks each blob once, and trees and commits are never inflated.
    """
    git = Git(repo)
    lister = git.popen(["cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objecttype) %(objectname) %(objectsize)"])
    reader = git.popen(["cat-file", "--batch"], stdin=subprocess.PIPE)
    _widen_pipe(reader.stdout)
    res = BatchResult([])
    skip_b = frozenset(s.encode() for s in skip)
    feeder = threading.Thread(target=_feed_slice, args=(lister, reader.stdin, lo, hi, max_size, res, skip_b), daemon=True)
    feeder.start()
    out = reader.stdout
    assert out is not None
    complete = False
    try:
        for raw_name, data in read_batch(out):
            if data is None:
                res.unreadable += 1
                continue
            size = len(data)
            name = raw_name.decode()
            res.read.append(name)
            text = blob_text(data)
            if text is None:
                res.binary += 1
                continue
            data, encoding = text
            res.blobs += 1
            res.scanned_bytes += size
            found = detector.scan(Chunk(data, with_encoding(Origin("git", blob=name), encoding)))
            if found:
                res.findings.append((name, found))
        complete = True
    finally:
        if not complete:
            reader.kill()
        feeder.join()
        stopped = lister.poll() is None
        if stopped:  # the feeder stops reading once its slice is written
            lister.kill()
        errors = [finish_process(p) for p in (reader, lister)]
    for proc, err, ok in ((reader, errors[0], True), (lister, errors[1], not stopped)):
        if complete and ok and proc.returncode != 0:
            raise SourceError(f"git could not read objects: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}")
    res.git_error = git_error_line(errors[1]) or git_error_line(errors[0])
    return res


def _worker_slice(repo: str | None, lo: int, hi: int, max_size: int, skip: frozenset[str] = frozenset()) -> BatchResult:
    assert _worker_detector is not None
    return stream_slice(repo, _worker_detector, lo, hi, max_size, skip)


def _blob_bytes(git: Git, max_size: int, skip: frozenset[str] = frozenset()) -> int:
    """Total size of the blobs a full-history scan reads (those in `skip` left out)."""
    proc = git.popen(["cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objecttype) %(objectsize) %(objectname)"])
    assert proc.stdout is not None
    total = 0
    for raw in proc.stdout:
        kind, _, rest = raw.partition(b" ")
        if kind == b"blob":
            n, _, oid = rest.partition(b" ")
            size = int(n)
            if size <= max_size and (not skip or oid.rstrip().decode() not in skip):
                total += size
    err = finish_process(proc)
    if proc.returncode != 0:
        raise SourceError(f"git could not list objects: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}")
    return total


def _in_pool(detector: Detector, workers: int, calls: list[tuple[Any, tuple[Any, ...]]], shared: Any = None, tick: Any = None) -> list[Any] | None:
    """Run `calls` in a process pool whose workers build this detector; None when no pool
    can start here (the caller then runs in this process). `shared` reaches each worker's
    `_worker_shared`; `tick()` runs every quarter second while the calls run."""
    import pickle
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    from leakwarden.api import current_settings

    blob = pickle.dumps(current_settings(detector))
    try:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(blob, shared))
    except (OSError, ValueError):
        return None
    with pool:
        futures = [pool.submit(fn, *args) for fn, args in calls]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
            if any(f.done() and f.exception() is not None for f in futures):
                break
            if tick is not None:
                tick()
        return [f.result() for f in futures]


def _count_parts(parts: list[Any], result: ScanResult, seen: BlobsRead, max_size: int) -> None:
    """Add the workers' counts to the result; one error line for blobs over the size limit."""
    too_large = largest = unreadable = 0
    git_error = ""
    for r in parts:
        unreadable += r.unreadable
        git_error = git_error or r.git_error
        result.stats.files += r.blobs
        result.stats.bytes += r.scanned_bytes
        result.stats.skipped += r.binary
        too_large += r.too_large
        largest = max(largest, r.largest)
        seen.read.update(r.read)
    if too_large:
        result.errors.append(ScanError("<git>", "too-large", f"skipped {too_large} blob(s) over the size limit of {max_size / 1e6:.1f} MB (largest {largest / 1e6:.1f} MB)"))
    report_unreadable(result, unreadable, git_error)


def _worker_delta_slice(repo: str | None, k: int, workers: int, max_size: int) -> Any:
    from leakwarden.sources.git_delta_scan import delta_slice

    assert _worker_detector is not None
    shared, next_stripe = _worker_shared

    def report(blobs: int, position: int, findings: int) -> None:
        shared[3 * k], shared[3 * k + 1], shared[3 * k + 2] = blobs, position, findings

    def take() -> int:
        with next_stripe.get_lock():
            j = int(next_stripe.value)
            next_stripe.value = j + 1
        return j

    return delta_slice(repo, _worker_detector, k, workers, max_size, report, take)


def _scan_by_deltas(git: Git, repo: str | None, detector: Detector, options: HistoryOptions, result: ScanResult, seen: BlobsRead) -> dict[str, list[Finding]] | None:
    """Every object, deltas matched by what they change (see `git_delta_scan`); None when the
    packs cannot be read directly (the caller then matches whole blobs)."""
    from leakwarden.sources.git_delta_scan import (
        DeltaSliceResult,
        delta_slice,
        objects_dir,
        propagate,
    )
    from leakwarden.sources.git_packs import PackError, pack_paths

    objects = objects_dir(git)
    if objects is None:
        return None
    workers = options.jobs or (os.cpu_count() or 1)
    try:
        packed = sum(os.path.getsize(p) for p in pack_paths(objects))
    except OSError:
        return None
    # Packs hold compressed deltas: a few MB of pack is already a long history.
    if packed < PARALLEL_MIN_BYTES // 8:
        workers = 1
    parts: list[DeltaSliceResult] = []
    from leakwarden import progress

    # Progress in pack bytes walked: known up front, unlike the blob bytes.
    bar = progress.start(getattr(detector, "settings", None), -1, packed, unit="blobs")
    try:
        if workers > 1:
            import multiprocessing

            shared = multiprocessing.Array("q", 3 * workers, lock=False)
            # NOTE: stripes handed out as workers free up: with a fixed share one worker had
            # finished 3 s before the other on rails.
            next_stripe = multiprocessing.Value("q", 0)

            def tick() -> None:
                bar.advance(items=sum(shared[0::3]) - bar.items, nbytes=sum(shared[1::3]) - bar.bytes, findings=sum(shared[2::3]))

            calls = [(_worker_delta_slice, (repo, k, workers, options.max_blob_size)) for k in range(workers)]
            parts = _in_pool(detector, workers, calls, (shared, next_stripe), tick) or []
        if not parts:

            def report(blobs: int, position: int, findings: int) -> None:
                bar.advance(items=blobs - bar.items, nbytes=position - bar.bytes, findings=findings)

            parts = [delta_slice(repo, detector, 0, 1, options.max_blob_size, report)]
    except PackError:
        return None
    finally:
        bar.close()
    _count_parts(parts, result, seen, options.max_blob_size)
    found: dict[str, list[Finding]] = {}
    for r in parts:
        for oid, fs in r.findings:
            if oid not in found:  # a blob in two packs is scanned by each slice holding it
                found[oid] = fs
    _, reread = propagate(git, detector, parts, found)
    seen.read.update(reread)
    return found


def _scan_all_objects(git: Git, repo: str | None, detector: Detector, options: HistoryOptions, result: ScanResult, seen: BlobsRead) -> dict[str, list[Finding]]:
    if not options.whole_blobs and not options.skip_blobs:
        by_deltas = _scan_by_deltas(git, repo, detector, options, result, seen)
        if by_deltas is not None:
            return by_deltas
    workers = options.jobs or (os.cpu_count() or 1)
    parts: list[BatchResult] = []
    skip = options.skip_blobs
    total = _blob_bytes(git, options.max_blob_size, skip) if workers > 1 else 0
    if workers > 1 and total >= PARALLEL_MIN_BYTES:
        # Contiguous slices of equal bytes; the last one runs to the end (objects added
        # since the count are scanned too).
        bounds = [total * k // workers for k in range(workers)] + [1 << 62]
        parts = _in_pool(detector, workers, [(_worker_slice, (repo, bounds[k], bounds[k + 1], options.max_blob_size, skip)) for k in range(workers)]) or []
    if not parts:
        parts = [stream_slice(repo, detector, 0, 1 << 62, options.max_blob_size, skip)]
    _count_parts(parts, result, seen, options.max_blob_size)
    found: dict[str, list[Finding]] = {}
    for r in parts:
        seen.skipped.update(r.skipped)
        for oid, fs in r.findings:
            found.setdefault(oid, []).extend(fs)
    return found


def _scan_blobs(git: Git, repo: str | None, detector: Detector, options: HistoryOptions, result: ScanResult, seen: BlobsRead) -> dict[str, list[Finding]]:
    listing = _Listing()
    batches = _batches(list_blobs(git, options.revs), options.max_blob_size, listing, options.skip_blobs)
    found: dict[str, list[Finding]] = {}

    def absorb(r: BatchResult) -> None:
        listing.unreadable += r.unreadable
        result.stats.files += r.blobs
        result.stats.bytes += r.scanned_bytes
        result.stats.skipped += r.binary
        seen.read.update(r.read)
        for oid, fs in r.findings:
            found.setdefault(oid, []).extend(fs)

    # Hold batches back until there is enough work to pay for a pool; small repositories and
    # hooks stay in this process.
    workers = options.jobs or (os.cpu_count() or 1)
    pending: list[list[BlobRef]] = []
    held = 0
    for b in batches:
        pending.append(b)
        held += sum(n for _, n, _ in b)
        if workers > 1 and held >= PARALLEL_MIN_BYTES:
            break
    if workers > 1 and held >= PARALLEL_MIN_BYTES:
        _scan_parallel(repo, detector, pending, batches, workers, absorb)
    else:
        reader = BlobReader(git)
        try:
            for b in pending:
                absorb(scan_batch(detector, reader, b))
        finally:
            reader.close()
    seen.skipped.update(listing.skipped)
    if listing.too_large:
        result.errors.append(
            ScanError("<git>", "too-large", f"skipped {listing.too_large} blob(s) over the size limit of {options.max_blob_size / 1e6:.1f} MB (largest {listing.largest / 1e6:.1f} MB)")
        )
    report_unreadable(result, listing.unreadable)
    return found


def _scan_parallel(repo: str | None, detector: Detector, first: list[list[BlobRef]], rest: Iterator[list[BlobRef]], workers: int, absorb: Any) -> None:
    import itertools
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from leakwarden.api import current_settings

    blob = pickle.dumps(current_settings(detector))
    try:
        pool: ProcessPoolExecutor | None = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(blob,))
    except (OSError, ValueError):
        pool = None
    if pool is None:
        reader = BlobReader(Git(repo))
        try:
            for b in itertools.chain(first, rest):
                absorb(scan_batch(detector, reader, b))
        finally:
            reader.close()
        return
    inflight: deque[Future[BatchResult]] = deque()
    with pool:
        for b in itertools.chain(first, rest):
            inflight.append(pool.submit(_worker_scan, repo, b))
            # Bounded in-flight work keeps memory flat however long the history is.
            while len(inflight) >= 3 * workers:
                absorb(inflight.popleft().result())
        while inflight:
            absorb(inflight.popleft().result())


# --- 3. attribution ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Introduction:
    commit: CommitInfo
    path: str
    reflog_only: bool = False


def attribute(git: Git, blobs: set[str], revs: tuple[str, ...], jobs: int = 0) -> dict[str, list[Introduction]]:
    """For each blob, the (commit, path) pairs where it was written, from one `git log` pass
    (split over `jobs` processes, default one per CPU up to 2, on long histories).

    NOTE: the pass diffs every commit's tree, one core's work: 6.3 s of rails' 35 s scan. Split,
    blocks of `git rev-list`'s commits go to `git log --no-walk --stdin` processes."""
    out: dict[str, list[Introduction]] = {b: [] for b in blobs}
    if not blobs:
        return out
    args = ["log", "-c", "--raw", "--root", "--no-abbrev", "--no-renames", "--no-ext-diff", f"--format=\x01{COMMIT_FORMAT}"]
    # NOTE: in a partial clone `--find-object` makes git prefetch each commit's missing blobs
    # from the promisor remote (one fetch per commit; the scan fails offline), though it only
    # compares ids: there the whole log is filtered here instead.
    if len(blobs) <= _FIND_OBJECT_MAX and not is_partial_clone(git):
        args += [f"--find-object={b}" for b in sorted(blobs)]
    jobs = jobs or min(2, os.cpu_count() or 1)
    if jobs > 1 and revs != ("--reflog",):
        _attribute_split(git, args, revs, out, jobs)
        return out
    proc = git.popen([*args, *(revs or ("--all",)), "--"])
    assert proc.stdout is not None
    _read_introductions(proc.stdout, out)
    _check_log(proc, finish_process(proc))
    return out


_ATTRIBUTE_BLOCK = 8192  # commits per `git log` process


def _attribute_split(git: Git, args: list[str], revs: tuple[str, ...], out: dict[str, list[Introduction]], jobs: int) -> None:
    """The `git log` pass over consecutive blocks of `git rev-list`'s commits, up to `jobs`
    processes at a time, each started as soon as its block is listed.

    NOTE: on rails, blocks of 8,192 commits cost 0.38 s and 125 MiB each; one walking `git log`
    holds 520 MiB. Smaller blocks cost more in all (2,048: 0.14 s each), and alternating blocks
    between two long-lived processes left them waiting for the whole listing."""
    lister = git.popen(["rev-list", *(revs or ("--all",)), "--"], stdin=subprocess.DEVNULL)
    assert lister.stdout is not None
    running: deque[tuple[subprocess.Popen[bytes], threading.Thread, dict[str, list[Introduction]]]] = deque()
    failures: list[tuple[subprocess.Popen[bytes], str]] = []

    def finish_oldest() -> None:
        proc, reader, part = running.popleft()
        reader.join()
        err = finish_process(proc)
        if proc.returncode != 0:
            failures.append((proc, err))
        for blob, found in part.items():
            out[blob].extend(found)

    def launch(block: list[bytes]) -> None:
        while len(running) >= jobs:
            finish_oldest()
        proc = git.popen([*args, "--no-walk=unsorted", "--stdin"], stdin=subprocess.PIPE)
        part: dict[str, list[Introduction]] = {b: [] for b in out}
        assert proc.stdout is not None and proc.stdin is not None
        reader = threading.Thread(target=_read_introductions, args=(proc.stdout, part), daemon=True)
        reader.start()
        running.append((proc, reader, part))
        try:
            proc.stdin.write(b"".join(block))
            proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # that git stopped: its exit status says why

    try:
        block: list[bytes] = []
        for line in lister.stdout:
            block.append(line)
            if len(block) >= _ATTRIBUTE_BLOCK:
                launch(block)
                block = []
        if block:  # never a process without commits: it would show HEAD
            launch(block)
        while running:
            finish_oldest()
    finally:
        for proc, _, _ in running:
            proc.kill()
        while running:
            finish_oldest()
        lister_err = finish_process(lister)
    _check_log(lister, lister_err)
    for proc, err in failures:
        _check_log(proc, err)


def tagged_objects(git: Git, intro: dict[str, list[Introduction]]) -> dict[str, tuple[str, str | None]]:
    """The blobs in no commit (no introduction in `intro`) that a tag names directly (a blob,
    or a tree holding it): the tag's ref name and the path inside a tagged tree."""
    out: dict[str, tuple[str, str | None]] = {}
    blobs = {oid for oid, where in intro.items() if not where}
    if not blobs:
        return out
    listed = git.text("for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)", "refs/tags", check=False)
    for line in listed.splitlines():
        oid, kind, peeled, peeled_kind, ref = (line.split(" ", 4) + [""] * 5)[:5]
        if kind == "tag":
            oid, kind = peeled, peeled_kind
        if kind == "blob" and oid in blobs:
            out.setdefault(oid, (ref, None))
        elif kind == "tree":
            tree = git.run("ls-tree", "-r", "-z", "--full-tree", oid, check=False).stdout
            for entry in tree.split(b"\0"):
                meta, _, path = entry.partition(b"\t")
                fields = meta.decode("ascii", "replace").split()
                if len(fields) == 3 and fields[1] == "blob" and fields[2] in blobs:
                    out.setdefault(fields[2], (ref, path.decode("utf-8", "surrogateescape")))
    return out


def _read_introductions(stream: Iterable[bytes], out: dict[str, list[Introduction]]) -> None:
    commit: CommitInfo | None = None
    for raw in stream:
        line = raw.rstrip(b"\n").decode("utf-8", "surrogateescape")
        if line.startswith("\x01"):
            commit = CommitInfo.parse(line[1:])
        elif line.startswith(":") and commit is not None:
            meta, _, path = line.partition("\t")
            fields = meta.lstrip(":").split()
            nshas = (len(fields) - 1) // 2
            new = fields[nshas * 2 - 1] if nshas else ""
            if new in out:
                out[new].append(Introduction(commit, unquote_path(path)))


def _check_log(proc: subprocess.Popen[bytes], err: str) -> None:
    if proc.returncode != 0 and "does not have any commits" not in err and "unknown revision" not in err:
        raise SourceError(f"git log failed: {err.splitlines()[-1] if err else proc.returncode}")


# --- 4. grouping ------------------------------------------------------------------------------


def _timestamp(date: str) -> float:
    try:
        return datetime.fromisoformat(date).timestamp()
    except ValueError:
        return float("inf")


def _when(commit: CommitInfo | None) -> float:
    return _timestamp(commit.date) if commit is not None else float("inf")


def _committed(where: Introduction | None) -> float:
    return _timestamp(where.commit.committed) if where is not None else float("inf")


def group_findings(found: dict[str, list[Finding]], intro: dict[str, list[Introduction]], detector: Detector, options: HistoryOptions, repository_uri: str | None,
                   tagged: dict[str, tuple[str, str | None]] | None = None) -> list[Finding]:
    """One Finding per secret at its earliest introduction; other occurrences in `details`.
    `tagged`: blobs in no commit that a tag names (see `tagged_objects`)."""
    import fnmatch

    from leakwarden.sources.files import gitignore_spec

    exclude = gitignore_spec(options.exclude) if options.exclude else None
    occurrences: dict[str, list[tuple[float, str, int, Finding, Introduction | None]]] = {}
    for oid, findings in found.items():
        intros: list[Introduction | None] = list(intro.get(oid, ())) or [None]
        if intros == [None] and tagged and oid in tagged:
            ref, inner = tagged[oid]
            findings = [replace(f, location=replace(f.location, path=inner or f.location.path, extra={**dict(f.location.extra), "tag": ref})) for f in findings]
        for f in findings:
            rule = detector.ruleset.by_id.get(f.rule_id)
            allow_paths = rule.allow.paths if rule is not None else ()
            for i in intros:
                path = i.path if i is not None else f.location.path
                if path and exclude is not None and exclude.match_file(path):
                    continue
                if path and allow_paths and any(fnmatch.fnmatch(path, p) for p in allow_paths):
                    continue
                occurrences.setdefault(f.fingerprint, []).append((_when(i.commit if i else None), path or "", f.location.start_line, f, i))
    out: list[Finding] = []
    for occ in occurrences.values():
        # Ties on author date, path and line (cherry-picks): the earliest committed first, then
        # the commit id, so the order git lists introductions in does not matter.
        occ.sort(key=lambda o: (o[0], o[1], o[2], _committed(o[4]), o[4].commit.sha if o[4] is not None else ""))
        _, _, _, first, where = occ[0]
        others = [
            {
                "commit": i.commit.sha if i else None,
                "path": i.path if i else f.location.path,
                "line": f.location.start_line,
                "blob": f.location.blob,
                **({"date": i.commit.date, "author": i.commit.author} if i else {}),
            }
            for _, _, _, f, i in occ[1 : 1 + options.occurrence_cap]
        ]
        out.append(_locate(first, where, repository_uri, len(occ), others))
    return out


def _locate(f: Finding, where: Introduction | None, repository_uri: str | None, count: int, others: list[dict[str, Any]]) -> Finding:
    extra: dict[str, Any] = dict(f.location.extra)
    if where is not None:
        extra.update(where.commit.extra())
        if where.reflog_only:
            extra["note"] = "only reachable from the reflog (history was rewritten)"
    elif "tag" in extra:
        extra["note"] = f"in no commit: the tag {extra['tag']} names it directly"
    else:
        extra["note"] = "in no commit reachable from a ref (reflog, stash or unreferenced object)"
    if repository_uri:
        extra["repository_uri"] = repository_uri
    loc = replace(
        f.location,
        path=where.path if where is not None else f.location.path,
        commit=where.commit.sha if where is not None else None,
        extra=extra,
    )
    details = dict(f.details)
    details["occurrence_count"] = count
    if others:
        details["other_occurrences"] = others
    return replace(f, location=loc, details=details)


# --- entry point ------------------------------------------------------------------------------


def check_object_store(git: Git, result: ScanResult) -> None:
    """What a whole-repository listing cannot show: packs git ignores (no `.idx` beside them)
    and blobs deleted outright. A missing object leaves no trace but in the trees naming it, so
    the trees of the loose commits (the recent ones, usually few; packs hold the rest, and a
    pack is read whole or fails loudly) are walked with `--missing=print`."""
    from leakwarden.sources.git_packs import loose_objects

    objects = git.objects_path()
    if objects is None:
        return
    try:
        names = os.listdir(os.path.join(objects, "pack"))
    except OSError:
        names = []
    orphans = sorted(n for n in names if n.startswith("pack-") and n.endswith(".pack") and n[:-5] + ".idx" not in names)
    if orphans:
        result.errors.append(ScanError(
            "<git>", UNREADABLE_OBJECTS,
            f"{len(orphans)} pack file(s) have no index and git ignores them ({', '.join(orphans[:3])}{', ...' if len(orphans) > 3 else ''}): "
            "their objects were not scanned; rebuild the index with `git index-pack` and check the repository with `git fsck`",
            incomplete=True,
        ))
    loose = loose_objects(objects)
    if not loose:
        return
    listed = git.run("cat-file", "--batch-check=%(objecttype) %(objectname)", input="".join(f"{o}\n" for o in loose).encode(), check=False)
    commits = [line.split()[1] for line in listed.stdout.splitlines() if line.startswith(b"commit ")]
    if listed.returncode != 0 or not commits:
        return  # the scan itself has reported what git could not list
    walk = git.run("rev-list", "--objects", "--missing=print", "--no-walk=unsorted", "--stdin", input=b"\n".join(commits) + b"\n", check=False)
    if walk.returncode != 0:
        err = walk.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"git could not walk the recent commits: {err.splitlines()[-1] if err else 'exit ' + str(walk.returncode)}")
    report_unreadable(result, sum(1 for line in walk.stdout.splitlines() if line.startswith(b"?")), what=" named by recent commits")


def scan_history(repo: str | None, detector: Detector, options: HistoryOptions, result: ScanResult) -> BlobsRead:
    """Scan the history of `repo` (None: the repository git finds from the environment).
    Returns the blob ids read and those skipped because `options.skip_blobs` named them."""
    seen = BlobsRead()
    git = Git(repo)
    if options.revs:
        for rev in options.revs:
            if rev.startswith("-"):
                raise SourceError(f"not a revision: {rev}")
            base = rev.lstrip("^")
            for part in (base.split("..", 1) if ".." in base else [base]):
                part = part.lstrip(".")
                if part and not part.startswith("-"):
                    git.resolve(part)
    missing = MissingObjects(git, options.revs) if is_partial_clone(git) else None
    try:
        if options.revs:
            found = _scan_blobs(git, repo, detector, options, result, seen)
        else:
            found = _scan_all_objects(git, repo, detector, options, result, seen)
            if missing is None:  # a partial clone's missing objects are counted by `missing`
                check_object_store(git, result)
    except BaseException:
        if missing is not None:
            missing.cancel()
        raise
    if missing is not None and (warning := missing.warning()) is not None:
        result.errors.append(warning)
    intro = attribute(git, set(found), options.revs)
    if not options.revs:
        # Rewritten history: a blob no ref reaches may still be named by the reflog.
        lost = {oid for oid, where in intro.items() if not where}
        try:
            from_reflog = attribute(git, lost, ("--reflog",)) if lost else {}
        except SourceError:
            from_reflog = {}
        for oid, where in from_reflog.items():
            intro[oid] = [Introduction(w.commit, w.path, reflog_only=True) for w in where]
    result.findings.extend(group_findings(found, intro, detector, options, git.repository_uri(), tagged_objects(git, intro)))
    return seen

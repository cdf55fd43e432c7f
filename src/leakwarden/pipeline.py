"""Wire the stages: chunks from a source → detector → findings, serially or over processes.

Workers each build their own Detector once (the Hyperscan database loads from the disk cache),
then scan whole files; only findings and errors travel back to the parent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from leakwarden import progress
from leakwarden.candidates import Detector
from leakwarden.models import Chunk, Finding, ScanError, ScanResult
from leakwarden.sources.files import FileOptions, file_chunks, iter_files

# Below this much data a process pool costs more than it saves (measured on 2 cores: a
# 27 MB tree scans in 0.59 s with two workers, 0.72 s in one process).
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_BATCH_BYTES = 4 * 1024 * 1024


def scan_chunk(detector: Detector, chunk: Chunk) -> list[Finding]:
    findings = detector.scan(chunk)
    if chunk.own_end is not None:
        limit = chunk.base_offset + chunk.own_end
        findings = [f for f in findings if f.location.offset < limit]
    return findings


def scan_chunks(detector: Detector, chunks: Iterable[Chunk], result: ScanResult) -> None:
    before = detector.allowed
    for chunk in chunks:
        result.stats.bytes += len(chunk.data) if chunk.own_end is None else chunk.own_end
        result.findings.extend(scan_chunk(detector, chunk))
    count_allowed(result, detector.allowed - before)


def count_allowed(result: ScanResult, n: int) -> None:
    """Count findings an inline `leakwarden:allow` dropped, for the report's summary."""
    if n:
        result.stats.suppressed["inline_allow"] = result.stats.suppressed.get("inline_allow", 0) + n


def record_error(result: ScanResult, error: ScanError) -> None:
    if error.kind == "binary":
        result.stats.skipped += 1
    else:
        result.errors.append(error)


def scan_files(detector: Detector, paths: Sequence[Path], options: FileOptions, result: ScanResult, jobs: int) -> None:
    """Scan files while the walk is still listing them.

    Files are buffered until PARALLEL_MIN_BYTES of them are known; then a process pool starts
    and batches go to it as the walk finds them, so workers scan while the parent still walks.
    Smaller inputs are scanned in this process.
    """

    def on_error(e: ScanError) -> None:
        record_error(result, e)

    workers = jobs or (os.cpu_count() or 1)
    pending: list[tuple[str, str, int]] = []
    pending_bytes = 0
    with progress.start(getattr(detector, "settings", None), 0, 0) as bar:
        files = iter_files(paths, options, on_error)
        for item in files:
            size = item[2]
            bar.expect(1, size)
            pending.append(item)
            if size <= options.max_file_size:
                pending_bytes += size
            if workers > 1 and pending_bytes >= PARALLEL_MIN_BYTES and len(pending) > 1:
                _scan_files_parallel(detector, pending, files, options, result, workers, bar)
                return
        for path, display, size in pending:
            result.stats.files += 1
            scan_chunks(detector, file_chunks(path, display, size, options, on_error), result)
            bar.advance(1, size, len(result.findings))


# --- process pool -------------------------------------------------------------------------

_worker_detector: Detector | None = None


def _init_worker(settings_blob: bytes | None) -> None:
    import pickle

    from leakwarden.api import build_detector

    global _worker_detector
    if settings_blob is not None:
        _worker_detector = build_detector(pickle.loads(settings_blob))


def _scan_batch(batch: list[tuple[str, str, int]], options: FileOptions) -> tuple[list[Finding], list[ScanError], int, int]:
    assert _worker_detector is not None
    findings: list[Finding] = []
    errors: list[ScanError] = []
    scanned = 0
    before = _worker_detector.allowed
    for path, display, size in batch:
        for chunk in file_chunks(path, display, size, options, errors.append):
            scanned += len(chunk.data) if chunk.own_end is None else chunk.own_end
            findings.extend(scan_chunk(_worker_detector, chunk))
    return findings, errors, scanned, _worker_detector.allowed - before


def _batches(files: Iterable[tuple[str, str, int]]) -> Iterator[list[tuple[str, str, int]]]:
    batch: list[tuple[str, str, int]] = []
    size = 0
    for item in files:
        batch.append(item)
        size += item[2]
        if size >= _BATCH_BYTES or len(batch) >= 256:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _pool(detector: Detector, workers: int) -> ProcessPoolExecutor:
    """A pool whose workers hold the parent's detector.

    With fork the workers inherit it for free (no re-import, no database load: ~0.1 s per
    worker); other start methods rebuild it from the pickled settings.
    """
    import multiprocessing
    import pickle

    from leakwarden.api import current_settings

    global _worker_detector
    if multiprocessing.get_start_method() == "fork":
        _worker_detector = detector
        return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(None,))
    blob = pickle.dumps(current_settings(detector))
    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(blob,))


def _scan_files_parallel(
    detector: Detector, first: list[tuple[str, str, int]], rest: Iterator[tuple[str, str, int]], options: FileOptions,
    result: ScanResult, workers: int, bar: progress.ScanProgress,
) -> None:
    def listed() -> Iterator[tuple[str, str, int]]:
        yield from first
        for item in rest:
            bar.expect(1, item[2])
            yield item

    files = listed()
    try:
        pool = _pool(detector, workers)
    except (OSError, ValueError):
        for path, display, size in files:
            result.stats.files += 1
            scan_chunks(detector, file_chunks(path, display, size, options, lambda e: record_error(result, e)), result)
        return
    global _worker_detector
    with pool:
        futures = [(len(batch), pool.submit(_scan_batch, batch, options)) for batch in _batches(files)]
        for count, future in futures:
            findings, errors, scanned, allowed = future.result()
            result.stats.files += count
            result.findings.extend(findings)
            count_allowed(result, allowed)
            result.stats.bytes += scanned
            bar.advance(count, scanned, len(result.findings))
            for e in errors:
                record_error(result, e)
    _worker_detector = None

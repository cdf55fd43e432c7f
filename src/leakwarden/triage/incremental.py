"""Incremental git-history scans through the findings store.

The store remembers which blob ids were scanned in a repository under a ruleset hash
(`scanned_blobs`). A re-scan passes those ids to the history reader as `skip_blobs`, so only
new blobs are read; then it marks what it read. A rules change gives a new ruleset hash and
so an empty known set: a full re-scan.

How a re-scan reports (the choice, and why): skipping a blob must not make its secret
disappear from the report, or an unchanged repository with a leaked key would turn green on
the second run. So the open incidents that have an occurrence in a skipped blob are reported
again from the store, marked `details["previously_seen"] = True` (location as stored: path,
commit, line, column). The exit code stays 1 while such incidents are open. `--new-only`
reports only what this scan found in blobs it read (new secrets), which suits a CI gate
that should fail only on what a change brings. Ignore file, baseline and confidence floor
apply to store-reported findings exactly as to fresh ones; inline `leakwarden:allow` was
applied when the blob was first scanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from leakwarden.config import Settings
from leakwarden.models import (
    Confidence,
    Finding,
    ScanResult,
)


def repository_key(repo: str | Path | None) -> str:
    """Identity of a repository for `scanned_blobs`: its normalised origin remote, else the
    absolute path of its git directory (two local repositories never share a key)."""
    from leakwarden.sources.gitcmd import Git
    from leakwarden.triage.identity import normalize_remote

    git = Git(str(repo) if repo is not None else None)
    uri = git.repository_uri()
    return normalize_remote(uri) if uri else "local:" + str(Path(git.git_dir).resolve())


def scan_key(ruleset_hash: str, settings: Settings, roots: Sequence[Path]) -> str:
    """The hash blobs are marked under: the ruleset hash, or, when settings drop findings
    before they reach the store (path excludes, a confidence floor, ignore-file entries), a hash
    of those too, so a blob read under them is read again once they change."""
    import hashlib

    from leakwarden.api import ignored_fingerprints

    ignored = sorted(ignored_fingerprints(settings, roots))
    if not settings.exclude_paths and settings.min_confidence == "low" and not ignored:
        return ruleset_hash
    text = "\0".join([ruleset_hash, settings.min_confidence, *sorted(settings.exclude_paths), "", *ignored])
    return hashlib.sha256(text.encode()).hexdigest()


def stored_findings(rows: Sequence[tuple[object, object]], ruleset: object) -> list[Finding]:
    """Findings rebuilt from (Incident, Occurrence) rows of `Store.open_in_blobs`."""
    from leakwarden.store.findings import PreviewSecret, stored_finding

    out: list[Finding] = []
    for inc, occ in rows:
        details = {
            "previously_seen": True,
            "incident_id": inc.id,  # type: ignore[attr-defined]
            "first_seen": inc.first_seen,  # type: ignore[attr-defined]
            "occurrence_count": inc.occurrences,  # type: ignore[attr-defined]
        }
        out.append(stored_finding(inc, occ, ruleset, PreviewSecret(inc.secret_redacted), details))  # type: ignore[arg-type, attr-defined]
    return out


def scan_git_incremental(repo: str | Path | None, revs: Sequence[str], settings: Settings, detector: object, occurrence_cap: int = 10, new_only: bool = False) -> ScanResult:
    """`api.scan_git` with a store: read only blobs the store has not seen under these rules."""
    import time

    from leakwarden.api import finish
    from leakwarden.sources.git_history import HistoryOptions, scan_history
    from leakwarden.store import open_store

    assert settings.store is not None
    ruleset = detector.ruleset  # type: ignore[attr-defined]
    key = repository_key(repo)
    roots = [Path(repo)] if repo is not None else []
    result = ScanResult()
    started = time.perf_counter()
    marked_as = scan_key(ruleset.hash, settings, roots)
    with open_store(settings.store) as store:
        known = frozenset(store.scanned_blob_ids(key, marked_as))
    options = HistoryOptions(
        revs=tuple(revs), max_blob_size=settings.max_file_size, occurrence_cap=occurrence_cap,
        jobs=settings.jobs, exclude=settings.exclude_paths, skip_blobs=known,
    )
    seen = scan_history(str(repo) if repo is not None else None, detector, options, result)  # type: ignore[arg-type]
    result.stats.already_scanned = len(seen.skipped)
    result.stats.seconds = time.perf_counter() - started
    # Fresh findings: ignore file, verification, recording in the store, baseline.
    result = finish(result, settings, roots, ruleset)
    with open_store(settings.store) as store:
        # Marked only after their findings are recorded: an interrupted run re-reads them.
        store.mark_scanned(key, seen.read, marked_as)
        rows = store.open_in_blobs(seen.skipped) if seen.skipped and not new_only else []
    if rows:
        fresh = {f.fingerprint for f in result.findings}
        old = [f for f in stored_findings(rows, ruleset) if f.fingerprint not in fresh]
        result.findings.extend(apply_triage(old, settings, roots, result))
        result.findings.sort(key=lambda f: (f.location.path or "", f.location.commit or "", f.location.start_line, f.location.start_column, f.rule_id))
    return result


def apply_triage(findings: list[Finding], settings: Settings, roots: list[Path], result: ScanResult) -> list[Finding]:
    """The suppressions `api.finish` applies, for findings that come from the store."""
    from leakwarden.api import ignored_fingerprints

    ignored = ignored_fingerprints(settings, roots)
    floor = Confidence(settings.min_confidence).rank
    kept = [f for f in findings if f.confidence.rank >= floor]
    shown = [f for f in kept if f.fingerprint not in ignored]
    count_suppressed(result, "ignore_file", len(kept) - len(shown))
    if settings.baseline is not None:
        from leakwarden.triage import baseline
        from leakwarden.triage.post_scan import default_repository

        shown, known = baseline.split(shown, baseline.load(settings.baseline), default_repository(roots))
        count_suppressed(result, "baseline", len(known))
    return shown


def count_suppressed(result: ScanResult, reason: str, n: int) -> None:
    if n:
        result.stats.suppressed[reason] = result.stats.suppressed.get(reason, 0) + n

"""The public entry points the CLI calls: build the pipeline, run it, return a ScanResult."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from leakwarden.candidates import Detector
from leakwarden.config import IGNORE_FILE, Settings
from leakwarden.matcher import select_matcher
from leakwarden.models import Chunk, Confidence, Finding, Origin, ScanResult
from leakwarden.rules import Ruleset, load_ruleset
from leakwarden.sources import chunks_from_stream, text_chunks
from leakwarden.triage.ignore import read_ignore_file

if TYPE_CHECKING:
    from leakwarden.sources.files import FileOptions


# NOTE: the pipeline (process pool) and the file walker (pathspec) are imported on first use,
# so git hooks that scan a staged diff do not pay for them at start-up.
def scan_chunks(detector: Detector, chunks: Iterable[Chunk], result: ScanResult) -> None:
    from leakwarden.pipeline import scan_chunks as run

    run(detector, chunks, result)


def load_rules(settings: Settings) -> Ruleset:
    return load_ruleset(settings.extra_rules, settings.disable_rules, settings.only_rules)


def unselected_rules(settings: Settings, ruleset: Ruleset) -> Ruleset | None:
    """The rules `--only-rule`/`--disable-rule` leave out of `ruleset` (None: no selection).
    A scan masks their matches on the lines it displays: a line must not show in full a secret
    that only a rule the scan did not run would report."""
    if not settings.only_rules and not settings.disable_rules:
        return None
    full = load_ruleset(settings.extra_rules)
    kept = set(ruleset.by_id)
    rest = tuple(r for r in full.rules if r.id not in kept)
    if not rest:
        return None
    return Ruleset(rest, hashlib.sha256(f"{full.hash}|unselected|{ruleset.hash}".encode()).hexdigest())


def build_detector(settings: Settings | None = None) -> Detector:
    settings = settings or Settings()
    ruleset = load_rules(settings)
    rest = unselected_rules(settings, ruleset)
    unselected = Detector(rest, select_matcher(rest, settings.engine), decode=settings.decode) if rest is not None else None
    detector = Detector(ruleset, select_matcher(ruleset, settings.engine), decode=settings.decode, unselected=unselected)
    detector.settings = settings  # type: ignore[attr-defined]
    return detector


def current_settings(detector: Detector) -> Settings:
    return getattr(detector, "settings", Settings())


def file_options(settings: Settings) -> FileOptions:
    from leakwarden.sources.files import FileOptions

    return FileOptions(
        respect_gitignore=settings.respect_gitignore,
        follow_symlinks=settings.follow_symlinks,
        max_file_size=settings.max_file_size,
        exclude=settings.exclude_paths,
        archives=settings.scan_archives,
    )


def _ignore_paths(settings: Settings, roots: Iterable[Path]) -> list[Path]:
    if settings.ignore_file is not None:
        return [settings.ignore_file]
    from leakwarden.triage.identity import worktree_root

    candidates = [Path.cwd() / IGNORE_FILE]
    if settings.config_path is not None:
        candidates.append(settings.config_path.parent / IGNORE_FILE)
    for root in roots:
        folder = root if root.is_dir() else root.parent
        candidates.append(folder / IGNORE_FILE)
        # the checkout's own file too: a scan of a subfolder (`scan path .` from one) is under it
        top = worktree_root(root) if root.exists() else None
        if top is not None:
            candidates.append(top / IGNORE_FILE)
    seen, out = set(), []
    for c in candidates:
        key = c.resolve()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def finish(result: ScanResult, settings: Settings, roots: Iterable[Path] = (), ruleset: Ruleset | None = None, covers_files: bool = False) -> ScanResult:
    """Apply triage that needs the whole result: ignore file, confidence floor, stable order;
    then check validity (only with `--verify` / `[verify] enabled`: no scan touches the network
    otherwise), record in the store and drop baselined findings when asked (triage.post_scan)."""
    roots = list(roots)
    ignored = ignored_fingerprints(settings, roots)
    floor = Confidence(settings.min_confidence).rank
    kept = [f for f in result.findings if f.confidence.rank >= floor]
    result.findings = sorted(
        (f for f in kept if f.fingerprint not in ignored),
        key=lambda f: (f.location.path or "", f.location.commit or "", f.location.start_line, f.location.start_column, f.rule_id),
    )
    if len(kept) > len(result.findings):
        result.stats.suppressed["ignore_file"] = result.stats.suppressed.get("ignore_file", 0) + len(kept) - len(result.findings)
    from leakwarden.verifier import is_enabled

    if is_enabled(settings):
        from leakwarden.verifier import verify_findings

        result.findings = verify_findings(result.findings, settings, ruleset)
    if settings.store is not None or settings.baseline is not None:
        from leakwarden.triage.post_scan import after_scan

        after_scan(result, settings, roots, ruleset.hash if ruleset is not None else "", covers_files)
    return result


def ignored_fingerprints(settings: Settings, roots: Iterable[Path]) -> set[str]:
    """Fingerprints listed in the ignore file(s) that apply to a scan of `roots`."""
    ignored: set[str] = set()
    for p in _ignore_paths(settings, roots):
        ignored.update(read_ignore_file(p))
    return ignored


def scan_paths(paths: Sequence[str | Path], settings: Settings | None = None, detector: Detector | None = None) -> ScanResult:
    """Scan files and folders (gitignore-aware by default)."""
    settings = settings or Settings()
    detector = detector or build_detector(settings)
    roots = [Path(p) for p in paths]
    result = ScanResult()
    started = time.perf_counter()
    from leakwarden.pipeline import scan_files

    scan_files(detector, roots, file_options(settings), result, settings.jobs)
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, roots, detector.ruleset, covers_files=True)


def scan_stream(stream: BinaryIO, label: str = "<stdin>", settings: Settings | None = None, detector: Detector | None = None) -> ScanResult:
    """Scan a byte stream such as standard input, block by block."""
    settings = settings or Settings()
    detector = detector or build_detector(settings)
    result = ScanResult()
    started = time.perf_counter()
    origin = Origin("stdin", path=label)
    head = stream.read(8192)
    # UTF-16/32 text is transcoded; anything else is scanned as it comes (no binary skip here)
    chunks = text_chunks(stream, origin, head) or chunks_from_stream(stream, origin, head)
    scan_chunks(detector, chunks, result)
    result.stats.files = 1
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, ruleset=detector.ruleset)


def scan_text(text: str | bytes, path: str | None = None, settings: Settings | None = None, detector: Detector | None = None) -> list[Finding]:
    """Scan one string; the quickest way to use leakwarden from Python."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    settings = settings or Settings()
    detector = detector or build_detector(settings)
    result = ScanResult()
    origin = Origin("text", path=path)
    scan_chunks(detector, chunks_from_stream(io.BytesIO(data), origin), result)
    return finish(result, settings, ruleset=detector.ruleset).findings


def scan_chunk_list(chunks: Iterable[Chunk], settings: Settings | None = None, detector: Detector | None = None) -> ScanResult:
    """Scan chunks from any source (git blobs, image layers, archive members)."""
    settings = settings or Settings()
    detector = detector or build_detector(settings)
    result = ScanResult()
    started = time.perf_counter()
    scan_chunks(detector, chunks, result)
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, ruleset=detector.ruleset)


def scan_git(repo: str | Path | None = None, revs: Sequence[str] = (), settings: Settings | None = None, detector: Detector | None = None, occurrence_cap: int = 10, new_only: bool = False, whole_blobs: bool = False) -> ScanResult:
    """Scan git history: every unique blob once (all objects, or those `revs` bring), attributed
    to the commits that introduced it. `repo` None means the repository git finds itself.
    With a store, only blobs it has not seen under these rules are read (triage.incremental);
    open incidents in skipped blobs are reported from the store unless `new_only`. A full scan
    matches only what each pack delta changes and follows found secrets down the delta chains;
    `whole_blobs` matches every version in full instead."""
    from leakwarden.sources.git_history import HistoryOptions, scan_history

    settings = settings or Settings()
    detector = detector or build_detector(settings)
    if settings.store is not None:
        from leakwarden.triage.incremental import scan_git_incremental

        return scan_git_incremental(repo, revs, settings, detector, occurrence_cap, new_only)
    result = ScanResult()
    started = time.perf_counter()
    options = HistoryOptions(revs=tuple(revs), max_blob_size=settings.max_file_size, occurrence_cap=occurrence_cap, jobs=settings.jobs, exclude=settings.exclude_paths, whole_blobs=whole_blobs)
    scan_history(str(repo) if repo is not None else None, detector, options, result)
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, [Path(repo)] if repo is not None else [], detector.ruleset)


def scan_staged(repo: str | Path | None = None, settings: Settings | None = None, detector: Detector | None = None) -> ScanResult:
    """Scan what the index adds compared with HEAD (works before the first commit too); while
    a merge is being committed, what it adds compared with every parent."""
    from leakwarden.errors import SourceError
    from leakwarden.sources.git_diff import merging_added, scan_git_diff, staged_diff
    from leakwarden.sources.gitcmd import Git

    settings = settings or Settings()
    detector = detector or build_detector(settings)
    git = Git(repo)
    if git.text("rev-parse", "--is-bare-repository", check=False).strip() == "true":
        raise SourceError(f"{repo or Path.cwd()}: a bare repository has no staged changes to scan (use `scan git` or `scan pre-receive`)")
    result = ScanResult()
    started = time.perf_counter()
    scan_git_diff(git, staged_diff(git), detector, "staged", result, merging=merging_added(git))
    drop_excluded(result, settings.exclude_paths)
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, [Path(repo)] if repo is not None else [], detector.ruleset)


def scan_commits(repo: str | Path | None, revs: Sequence[str], settings: Settings | None = None, detector: Detector | None = None, deadline: float | None = None, labels: dict[str, str] | None = None) -> tuple[ScanResult, bool]:
    """Scan what each commit in `revs` adds (per-commit patches, merges as combined diffs).

    A tip of `revs` that is a blob or a tree (a tag of one, possibly through an annotated tag)
    is read whole: the blob, or each blob of the tree that the excluded revisions do not have.
    `labels` names such tips in the report (object id -> ref name).
    Returns the result and whether the scan finished before `deadline` (a `time.monotonic()`).
    """
    from leakwarden.sources.git_diff import (
        log_diff,
        object_blobs,
        scan_blobs,
        scan_git_diff,
        split_tips,
    )
    from leakwarden.sources.gitcmd import Git

    settings = settings or Settings()
    detector = detector or build_detector(settings)
    git = Git(repo)
    result = ScanResult()
    started = time.perf_counter()
    finished = True
    if revs:
        tips = split_tips(git, revs)
        if tips.commits:
            finished = scan_git_diff(git, log_diff(revs), detector, "git", result, deadline)
        if finished and tips.objects:
            finished = scan_blobs(git, object_blobs(git, tips, labels), detector, result, settings.max_file_size, deadline)
    drop_excluded(result, settings.exclude_paths)
    result.stats.seconds = time.perf_counter() - started
    return finish(result, settings, [Path(repo)] if repo is not None else [], detector.ruleset), finished


def drop_excluded(result: ScanResult, patterns: Sequence[str]) -> None:
    """Drop findings at paths matching the exclude patterns (gitignore syntax, repository-relative
    paths), as `scan path` and `scan git` do."""
    if not patterns or not result.findings:
        return
    from leakwarden.sources.files import gitignore_spec  # pathspec: only when there are patterns

    spec = gitignore_spec(list(patterns))
    result.findings = [f for f in result.findings if not (f.location.path and spec.match_file(f.location.path))]

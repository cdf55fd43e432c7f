"""The driver of an org scan: make one task per repository, skip what the store says is
unchanged, stream results from the engine and write each into the store as it arrives.

Only the driver writes the store (workers never see it), one transaction per repository, so an
interrupted run keeps everything finished so far and the next run resumes: a repository whose
branches and tags still name the same commits, under the same rules, is not cloned again.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakwarden.models import (
    Confidence,
    Finding,
    Location,
    ScanError,
    ScanResult,
    Secret,
    Severity,
)
from leakwarden.org.worker import RepoResult, RepoTask, make_setup


@dataclass(slots=True)
class OrgSummary:
    total: int = 0
    scanned: int = 0
    unchanged: int = 0
    failed: int = 0
    findings: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)


def expand(item: dict[str, Any], repository: str) -> Finding:
    """A compact finding from a worker back into a Finding (fingerprint kept, value masked)."""
    from leakwarden.store.findings import PreviewSecret, StoredFinding

    loc = dict(item["location"])
    extra = dict(loc.pop("extra") or {})
    extra["repository"] = repository
    return StoredFinding(
        rule_id=item["rule_id"],
        rule_name=item["rule_name"],
        provider=item["provider"],
        severity=Severity(item["severity"]),
        confidence=Confidence(item["confidence"]),
        secret=Secret(item["secret"]) if "secret" in item else PreviewSecret(item["masked"]),
        location=Location(**loc, extra=extra),
        line=item.get("line") or "",
        details=dict(item.get("details") or {}),
        decoded=item.get("decoded"),
        stored_fingerprint=item["fingerprint"],
        related={k: Secret(v) for k, v in (item.get("related_values") or {}).items()},
        raw_line=Secret(item["raw_line"]) if "raw_line" in item else None,
    )


def identity(url: str) -> str:
    """The store's name for a repository: `host/owner/name`, or the absolute path of a local one."""
    from leakwarden.org.worker import is_local
    from leakwarden.triage.identity import normalize_remote

    if is_local(url):
        path = str(Path(url).expanduser().resolve())
        return path[:-4] if path.endswith(".git") else path
    return normalize_remote(url)


def tasks_for(locations: Iterable[tuple[str, str]], known: dict[str, set[str]]) -> list[RepoTask]:
    """(clone URL or path, platform) pairs → tasks, without repeats, with the known ref states."""
    out: dict[str, RepoTask] = {}
    for url, platform in locations:
        repo = identity(url)
        if repo not in out:
            out[repo] = RepoTask(repo, url if not _is_path(url) else str(Path(url).expanduser().resolve()), platform, tuple(sorted(known.get(repo, ()))))
    return list(out.values())


def _is_path(url: str) -> bool:
    from leakwarden.org.worker import is_local

    return is_local(url)


def read_repo_list(path: Path) -> list[str]:
    """One clone URL or local path per line; blank lines and `#` comments ignored."""
    from leakwarden.errors import SourceError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read the repository list: {exc}") from None
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-") or any(c.isspace() for c in line) or line.lower().startswith(("ext::", "fd::")):
            raise SourceError(f"{path}:{n}: not a clone URL or path: {line[:80]!r}")
        out.append(line)
    return out


def run_org_scan(
    locations: Sequence[tuple[str, str]],
    settings: Any,
    detector: Any,
    *,
    engine: Any = None,
    store: str | None = None,
    occurrence_cap: int = 10,
    retries: int = 2,
    task_fn: Any = None,
    show_secrets: bool = False,
) -> tuple[ScanResult, OrgSummary]:
    """Scan every repository in `locations` ((URL or path, platform) pairs) on `engine` (an
    engine spec such as `local:4` / `dask://host:8786`, or an Engine) and record each in `store`.

    With verification on (`settings.verify`), workers send secret values back and the driver
    checks each repository's findings as its result arrives, before recording it, through one
    `VerifySession` (shared limits, per-provider rate limiting, each secret checked once).
    With `settings.store_secrets` and a store, values come back too and the driver seals them
    in the store (key from LEAKWARDEN_STORE_KEY). With `show_secrets` values and unmasked lines
    come back for the report to print. Otherwise values never leave the workers."""
    from leakwarden import __version__
    from leakwarden.org.engines import open_engine
    from leakwarden.progress import ScanProgress, should_show
    from leakwarden.triage.ignore import read_ignore_file

    started = time.perf_counter()
    from leakwarden.verifier import is_enabled

    passphrase = None
    if settings.store_secrets and store is not None:
        from leakwarden.store.crypto import key_from_env

        passphrase = key_from_env()  # before any work: a missing key is a usage error
    checker = DriverChecks(settings, detector.ruleset) if is_enabled(settings) else None
    setup = make_setup(settings, detector, occurrence_cap, reveal=checker is not None or passphrase is not None or show_secrets)
    db = None
    known: dict[str, set[str]] = {}
    if store is not None:
        from leakwarden.store import open_store

        db = open_store(store)
        known = db.repo_heads(setup.ruleset_hash)
    tasks = tasks_for(locations, known)
    summary = OrgSummary(total=len(tasks))
    result = ScanResult()
    ignored: set[str] = set()
    if settings.ignore_file is not None:
        ignored = set(read_ignore_file(settings.ignore_file))
    floor = Confidence(settings.min_confidence).rank
    if engine is None or isinstance(engine, str):
        kwargs = {"task_fn": task_fn} if task_fn is not None else {}
        eng = open_engine(engine, setup, retries=retries, **kwargs)
    else:
        eng = engine
    bar = ScanProgress(len(tasks), 1, unit="repositories", enabled=should_show(settings, 1 << 30))
    try:
        for res in eng.map_repos(tasks):
            findings = _absorb(res, summary, result, db, setup.ruleset_hash, __version__, ignored, floor, checker, passphrase)
            bar.advance(items=1, nbytes=res.bytes, findings=summary.findings)
            del findings
    finally:
        bar.close()
        if engine is None or isinstance(engine, str):
            eng.close()
        if db is not None:
            db.close()
        if checker is not None:
            checker.close()
    result.findings.sort(key=lambda f: (f.location.extra.get("repository", ""), f.location.path or "", f.location.commit or "", f.location.start_line, f.rule_id))
    result.stats.seconds = summary.seconds = time.perf_counter() - started
    result.stats.bytes = summary.bytes
    return result, summary


class DriverChecks:
    """Validity checks on the driver: one event loop and one `VerifySession` for the whole run."""

    def __init__(self, settings: Any, ruleset: Any) -> None:
        import asyncio

        from leakwarden.verifier import VerifySession

        self.loop = asyncio.new_event_loop()
        self.session = VerifySession(settings, ruleset)
        self.loop.run_until_complete(self.session.__aenter__())

    def check(self, findings: list[Finding]) -> list[Finding]:
        return self.loop.run_until_complete(self.session.verify(findings))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.session.__aexit__(None, None, None))
        finally:
            self.loop.close()


def _absorb(res: RepoResult, summary: OrgSummary, result: ScanResult, db: Any, ruleset_hash: str, version: str, ignored: set[str], floor: int, checker: DriverChecks | None = None, passphrase: str | None = None) -> list[Finding]:
    if res.status == "failed":
        summary.failed += 1
        summary.failures.append((res.repo, res.error))
        result.errors.append(ScanError(res.repo, "repository-failed", res.error))
        return []
    if res.status == "unchanged":
        summary.unchanged += 1
        return []
    findings = [f for f in (expand(item, res.repo) for item in res.findings) if f.fingerprint not in ignored and f.confidence.rank >= floor]
    if checker is not None:
        findings = checker.check(findings)
    if db is not None:
        rec = db.record_scan(findings, repository=res.repo, source="git", tool_version=version, ruleset_hash=ruleset_hash, secret_passphrase=passphrase)
        db.mark_repo_scanned(res.repo, res.head, ruleset_hash, rec.scan_id, len(findings), res.bytes)
    summary.scanned += 1
    summary.findings += len(findings)
    summary.bytes += res.bytes
    result.stats.files += res.blobs
    result.findings.extend(findings)
    result.errors.extend(ScanError(res.repo, "warning", w) for w in res.warnings)
    return findings


def print_summary(summary: OrgSummary) -> None:
    out = sys.stderr
    out.write(
        f"{summary.total} repositories: {summary.scanned} scanned, {summary.unchanged} unchanged since the last scan,"
        f" {summary.failed} failed; {summary.bytes / 1e6:.1f} MB, {summary.findings} findings in {summary.seconds:.1f}s\n"
    )
    for repo, why in summary.failures[:20]:
        out.write(f"  failed: {repo}: {why}\n")

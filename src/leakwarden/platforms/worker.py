"""Workers: claim a job, fetch only what it brings, scan, record in the store, report back.

One detector is shared by the worker threads (it is read-only once built); one lock per
repository cache keeps two jobs from fetching into the same cache at once.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from leakwarden.candidates import Detector
from leakwarden.models import Finding, ScanResult
from leakwarden.platforms.config import MonitorConfig
from leakwarden.platforms.gitcache import Z40, RepoCache
from leakwarden.platforms.http import Clock, RateState
from leakwarden.platforms.logs import log
from leakwarden.platforms.queue import Job, JobQueue
from leakwarden.platforms.report import Outcome, Reporter


def make_reporter(config: MonitorConfig, platform: str, clock: Clock, rate: RateState) -> Reporter:
    pc = config.platforms[platform]
    if platform == "github":
        from leakwarden.platforms.github import GitHubReporter

        return GitHubReporter(pc, clock, rate)
    if platform == "gitlab":
        from leakwarden.platforms.gitlab import GitLabReporter

        return GitLabReporter(pc, clock, rate)
    from leakwarden.platforms.bitbucket import BitbucketReporter

    return BitbucketReporter(pc, clock, rate)


class Scanner:
    """Turns one job into an Outcome; everything the worker threads share lives here."""

    def __init__(self, config: MonitorConfig, clock: Clock | None = None, detector: Detector | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self._detector = detector
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()
        self.rates = {name: RateState() for name in config.platforms}
        self.reporters = {name: make_reporter(config, name, self.clock, self.rates[name]) for name in config.platforms}

    @property
    def detector(self) -> Detector:
        with self._guard:
            if self._detector is None:
                from leakwarden.api import build_detector
                from leakwarden.config import Settings

                self._detector = build_detector(Settings(jobs=1, max_file_size=self.config.max_blob_size))
            return self._detector

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def run(self, job: dict[str, Any]) -> str:
        platform = job["platform"]
        reporter = self.reporters[platform]
        cache = RepoCache(self.config.cache_dir, f"{platform}/{job['repo']}", job["clone_url"], reporter.git_auth(job))
        pull_request = job["kind"] == "pr"
        with self._lock(cache.path):
            cache.ensure()
            if not pull_request and job["after"] == Z40:
                cache.mark_known(job["ref"], None)
                return "branch deleted: nothing to scan"
            sha = cache.fetch_ref(job["ref"], job["after"], job.get("head_url"))
            if pull_request:
                cache.fetch_base(job.get("base_ref"), job["before"])
            revs = cache.range_revs(job["ref"], job["before"], sha, pull_request)
            commits, _present, missing = cache.introduced_blobs(revs)
            cache.fetch_blobs(missing)
            result = self._scan(cache, revs, job)
            outcome = self._triage(result, job, sha, commits)
            if not pull_request:
                cache.mark_known(job["ref"], sha)
        reporter.report(job, outcome)
        return f"{commits} commit(s), {outcome.blobs} blob(s), {len(outcome.new)} new, {len(outcome.known)} known, fetched {len(missing)} blob(s)"

    def _scan(self, cache: RepoCache, revs: list[str], job: dict[str, Any]) -> ScanResult:
        from leakwarden.sources.git_history import (
            BlobReader,
            HistoryOptions,
            _batches,
            _Listing,
            attribute,
            group_findings,
            list_blobs,
            scan_batch,
            tagged_objects,
        )

        git = cache.git()
        detector = self.detector
        result = ScanResult()
        options = HistoryOptions(revs=tuple(revs), max_blob_size=self.config.max_blob_size)
        found: dict[str, list[Finding]] = {}
        reader = BlobReader(git)
        try:
            for batch in _batches(list_blobs(git, options.revs), options.max_blob_size, _Listing()):
                r = scan_batch(detector, reader, batch)
                result.stats.files += r.blobs
                result.stats.bytes += r.scanned_bytes
                for oid, fs in r.findings:
                    found.setdefault(oid, []).extend(fs)
        finally:
            reader.close()
        intro = attribute(git, set(found), options.revs)
        uri = job["clone_url"]
        findings = group_findings(found, intro, detector, options, uri, tagged_objects(git, intro))
        if job.get("pr"):
            findings = [replace(f, location=replace(f.location, extra={**f.location.extra, "pull_request": job["pr"]})) for f in findings]
        result.findings = findings
        return result

    def _triage(self, result: ScanResult, job: dict[str, Any], sha: str, commits: int) -> Outcome:
        from leakwarden.triage.identity import normalize_remote

        repository = normalize_remote(job["clone_url"])
        findings = result.findings
        if self.config.ignore_file is not None:
            from leakwarden.triage.ignore import read_ignore_file

            ignored = set(read_ignore_file(self.config.ignore_file))
            findings = [f for f in findings if f.fingerprint not in ignored]
        if self.config.store:
            from leakwarden import __version__
            from leakwarden.store import open_store

            with open_store(self.config.store) as store:
                store.record_scan(findings, repository=repository, source=_source(job), tool_version=__version__,
                                  ruleset_hash=self.detector.ruleset.hash)
        new: list[Finding] = findings
        known: list[Finding] = []
        if self.config.baseline is not None:
            from leakwarden.triage import baseline

            new, known = baseline.split(findings, baseline.load(self.config.baseline), repository)
        return Outcome(sha=sha, new=new, known=known, commits=commits, blobs=result.stats.files)


def _source(job: dict[str, Any]) -> str:
    """The scan's source in the store: platform, push or request number (e.g. `github:pr#7`)."""
    return f"{job['platform']}:pr#{job['pr']}" if job.get("pr") else f"{job['platform']}:push:{job['ref']}"


class WorkerPool:
    """N threads draining the queue. `stop()` lets running jobs finish within `grace` seconds;
    a job still running after that stays `running` in the queue and is re-queued at start-up."""

    def __init__(self, config: MonitorConfig, queue: JobQueue, scanner: Scanner | None = None, poll: float = 0.2) -> None:
        self.config = config
        self.queue = queue
        self.scanner = scanner or Scanner(config)
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(max(1, self.config.workers)):
            t = threading.Thread(target=self._loop, name=f"leakwarden-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self.threads:
            t.join(grace)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.run_one():
                self._wake.wait(self.poll)
                self._wake.clear()

    def run_one(self) -> bool:
        """Claim and run one job; False when the queue is empty."""
        job = self.queue.claim()
        if job is None:
            return False
        self._process(job)
        return True

    def _process(self, job: Job) -> None:
        log("job.started", id=job.id, platform=job.platform, repo=job.data.get("repo"), kind=job.data.get("kind"), attempt=job.attempts)
        try:
            summary = self.scanner.run(job.data)
        except Exception as exc:  # noqa: BLE001 - a job's failure must not kill the worker
            self.queue.fail(job.id, f"{type(exc).__name__}: {exc}")
            log("job.failed", id=job.id, platform=job.platform, error=f"{type(exc).__name__}: {str(exc)[:300]}")
            return
        self.queue.finish(job.id, summary)
        log("job.done", id=job.id, platform=job.platform, summary=summary)

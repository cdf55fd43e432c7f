"""One repository per task, on any worker: clone into scratch, scan unique blobs, return compact
findings, delete the clone.

What crosses the wire is small and harmless: a `RepoTask` (name, clone URL, the ref states
already scanned) goes out; a `RepoResult` with fingerprints, locations and masked values comes
back. Secret values, blobs and tokens never leave the worker. Each worker process prepares its
Detector once (`init_worker`), from a `WorkerSetup` that carries the ruleset and the serialised
Hyperscan databases (a compiled database is not picklable; its bytes are).
"""

from __future__ import annotations

import base64
import hashlib
import os
import pickle
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from leakwarden.models import Finding

# Protocols git may use for a clone: never `ext::` (runs a command) or `fd::`.
ALLOWED_PROTOCOLS = "https:http:ssh:git:file"
# Hosts whose tokens a worker knows how to send, for URLs listed by hand (`scan repos`).
_HOST_PLATFORM = {"github.com": "github", "gitlab.com": "gitlab", "bitbucket.org": "bitbucket"}
_BASIC_USER = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth"}


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """Everything a worker needs to scan, prepared once by the driver."""

    ruleset_blob: bytes
    ruleset_hash: str
    engine: str = "auto"
    decode: bool = True
    max_blob_size: int = 25 * 1024 * 1024
    occurrence_cap: int = 10
    exclude: tuple[str, ...] = ()
    # (ruleset hash, bytes from matcher.hyperscan.serialise) for each database the matcher uses
    databases: tuple[tuple[str, bytes], ...] = ()
    # Send secret values back to the driver, which checks their validity (`--verify`) and never
    # stores them unless asked. Off by default: then values never leave the worker.
    reveal: bool = False
    # The rules --only-rule/--disable-rule left out (Detector.unselected): they mask lines only.
    unselected_blob: bytes | None = None
    unselected_hash: str = ""

    @property
    def key(self) -> str:
        return hashlib.sha256(pickle.dumps((self.ruleset_hash, self.engine, self.decode, self.max_blob_size, self.occurrence_cap, self.exclude, self.reveal, self.unselected_hash))).hexdigest()


@dataclass(frozen=True, slots=True)
class RepoTask:
    repo: str  # identity in the store, e.g. github.com/acme/api
    url: str  # clone URL or local path
    platform: str = ""
    known_heads: tuple[str, ...] = ()  # ref states already scanned under these rules


@dataclass(slots=True)
class RepoResult:
    repo: str
    status: str  # scanned | unchanged | failed
    head: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    worker: str = ""


def make_setup(settings: Any, detector: Any, occurrence_cap: int = 10, reveal: bool = False) -> WorkerSetup:
    """The driver's detector, packed for workers (Hyperscan databases as serialised bytes)."""
    databases: list[tuple[str, bytes]] = []
    unselected = getattr(detector, "unselected", None)
    matchers = [detector.matcher] + ([unselected.matcher] if unselected is not None else [])
    for matcher in matchers:
        if matcher.engine == "hyperscan":
            from leakwarden.matcher import hyperscan

            for rs in _matcher_rulesets(matcher):
                databases.append((rs.hash, hyperscan.serialise(rs)))
    return WorkerSetup(
        ruleset_blob=pickle.dumps(detector.ruleset),
        ruleset_hash=detector.ruleset.hash,
        engine=detector.matcher.engine,
        decode=settings.decode,
        max_blob_size=settings.max_file_size,
        occurrence_cap=occurrence_cap,
        exclude=tuple(settings.exclude_paths),
        databases=tuple(databases),
        reveal=reveal,
        unselected_blob=pickle.dumps(unselected.ruleset) if unselected is not None else None,
        unselected_hash=unselected.ruleset.hash if unselected is not None else "",
    )


def _matcher_rulesets(matcher: Any) -> list[Any]:
    """The rulesets the matcher compiled databases for (a split matcher has two)."""
    from leakwarden.matcher.split import SplitMatcher

    if isinstance(matcher, SplitMatcher):
        primary: Any = matcher.primary
        return [primary.rules.ruleset, matcher._helper_rules]
    return [matcher.rules.ruleset]


# --- per-process state ------------------------------------------------------------------------

_detectors: dict[str, tuple[Any, Any, bool]] = {}
_scan_lock = threading.Lock()


def init_worker(setup: WorkerSetup) -> None:
    """Prepare this process's Detector once: install the shipped databases into the local cache
    (bytes this CPU cannot load are skipped, and the matcher compiles from the rules instead)."""
    if setup.key in _detectors:
        return
    from leakwarden.candidates import Detector
    from leakwarden.matcher import select_matcher

    if setup.databases:
        from leakwarden.matcher import hyperscan_available

        if hyperscan_available():
            from leakwarden.matcher import hyperscan

            for rs_hash, data in setup.databases:
                hyperscan.install_serialised(rs_hash, data)
    ruleset = pickle.loads(setup.ruleset_blob)
    engine = setup.engine if setup.engine in ("hyperscan", "python") else "auto"
    if engine == "hyperscan":
        from leakwarden.matcher import hyperscan_available

        engine = "hyperscan" if hyperscan_available() else "python"
    from leakwarden.sources.git_history import HistoryOptions

    unselected = None
    if setup.unselected_blob is not None:
        rest = pickle.loads(setup.unselected_blob)
        unselected = Detector(rest, select_matcher(rest, engine), decode=setup.decode)
    detector = Detector(ruleset, select_matcher(ruleset, engine), decode=setup.decode, unselected=unselected)
    # One scanning thread per worker process: parallelism comes from running many workers.
    options = HistoryOptions(max_blob_size=setup.max_blob_size, occurrence_cap=setup.occurrence_cap, jobs=1, exclude=setup.exclude)
    _detectors[setup.key] = (detector, options, setup.reveal)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- git ----------------------------------------------------------------------------------------


def _platform_of(task: RepoTask) -> str:
    if task.platform:
        return task.platform
    import httpx

    if task.url.startswith(("https://", "http://")):
        return _HOST_PLATFORM.get(httpx.URL(task.url).host, "")
    return ""


def git_env(task: RepoTask) -> dict[str, str]:
    """Git's environment for one repository: no prompts, no lazy fetches, no `ext::`, and the
    platform token (from this worker's own environment) as an HTTP header for that origin only.

    NOTE: the header goes through GIT_CONFIG_* variables, never argv (visible in `ps`) nor the
    clone's config file.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS, GIT_NO_LAZY_FETCH="1", LC_ALL="C")
    platform = _platform_of(task)
    if platform and task.url.startswith(("https://", "http://")):
        from leakwarden.org.enumerate import token_for

        if platform.startswith("github-app:"):
            from leakwarden.org.github_app import installation_token

            token: str | None = installation_token(int(platform.removeprefix("github-app:")))
            platform = "github"
        else:
            token = token_for(platform, os.environ)
        if token:
            import httpx

            u = httpx.URL(task.url)
            origin = f"{u.scheme}://{u.netloc.decode()}/"
            if platform == "bitbucket-dc":
                header = f"Authorization: Bearer {token}"
            else:
                pair = f"{_BASIC_USER[platform]}:{token}".encode()
                header = f"Authorization: Basic {base64.b64encode(pair).decode()}"
            env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"http.{origin}.extraHeader", GIT_CONFIG_VALUE_0=header)
    return env


def _git(args: list[str], env: dict[str, str], timeout: float | None = None) -> str:
    from leakwarden.errors import SourceError

    try:
        proc = subprocess.run(["git", *args], env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} took longer than {timeout:.0f}s") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"git {args[0]} failed: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def ref_state(lines: str) -> str:
    """A digest of the branches and tags and the objects they name: equal states, equal scans.

    `lines` are "<object> <ref>" lines; peeled tags (`<ref>^{}`) and other refs are left out."""
    refs = sorted(
        line.strip()
        for line in lines.splitlines()
        if line.strip() and line.split()[-1].startswith(("refs/heads/", "refs/tags/")) and not line.endswith("^{}")
    )
    return hashlib.sha256("\n".join(refs).encode()).hexdigest()


def is_local(url: str) -> bool:
    return "://" not in url and not (":" in url.split("/", 1)[0] and "@" in url.split(":", 1)[0])


def remote_state(task: RepoTask, env: dict[str, str]) -> str:
    if task.url.startswith("-"):
        from leakwarden.errors import SourceError

        raise SourceError(f"not a repository location: {task.url!r}")
    out = _git(["ls-remote", "--heads", "--tags", task.url], env, timeout=300)
    # ls-remote prints "<object>\t<ref>": the same "<object> <ref>" lines `clone` hashes.
    return ref_state(out.replace("\t", " "))


def clone(task: RepoTask, dest: str, env: dict[str, str], max_blob_size: int) -> str:
    """Clone into `dest` and return the ref state of what was cloned.

    NOTE: remote clones use `--filter=blob:limit=<size cap>`: blobs we would not scan anyway are
    never downloaded (with `blob:none` every blob would be fetched lazily, one request each).
    Local paths are mirrored (hard links, every ref).
    """
    if task.url.startswith("-"):
        from leakwarden.errors import SourceError

        raise SourceError(f"not a repository location: {task.url!r}")
    if is_local(task.url):
        _git(["clone", "--quiet", "--mirror", "--", task.url, dest], env)
    else:
        _git(["clone", "--quiet", "--bare", f"--filter=blob:limit={max_blob_size}", "--", task.url, dest], env, timeout=6 * 3600)
    out = _git(["-C", dest, "for-each-ref", "--format=%(refname) %(objectname)"], env)
    return ref_state("\n".join(" ".join(reversed(line.split(" ", 1))) for line in out.splitlines()))


# --- the task ----------------------------------------------------------------------------------


def scan_repo(task: RepoTask, setup_key: str | None = None) -> RepoResult:
    """Scan one repository in a prepared worker. Never raises for a repository problem: that
    is a `failed` result."""
    from leakwarden.errors import LeakwardenError

    started = time.perf_counter()
    try:
        prepared = _detectors.get(setup_key) if setup_key is not None else next(iter(_detectors.values()), None)
        if prepared is None:
            raise LeakwardenError("this worker was not prepared (init_worker did not run)")
        result = _scan(task, *prepared)
    except (LeakwardenError, OSError, subprocess.SubprocessError, UnicodeError, ValueError) as exc:
        result = RepoResult(task.repo, "failed", error=str(exc) or exc.__class__.__name__)
    result.seconds = time.perf_counter() - started
    result.worker = worker_name()
    return result


def _scan(task: RepoTask, detector: Any, options: Any, reveal: bool = False) -> RepoResult:
    from leakwarden.models import ScanResult
    from leakwarden.sources.git_history import scan_history

    env = git_env(task)
    if task.known_heads and remote_state(task, env) in task.known_heads:
        return RepoResult(task.repo, "unchanged")
    scratch = tempfile.mkdtemp(prefix="leakwarden-org-", dir=os.environ.get("LEAKWARDEN_SCRATCH") or None)
    try:
        dest = os.path.join(scratch, "repo.git")
        head = clone(task, dest, env, options.max_blob_size)
        if head in task.known_heads:
            return RepoResult(task.repo, "unchanged", head=head)
        result = ScanResult()
        # NOTE: a Hyperscan scratch serves one thread: extra worker threads only overlap clones.
        with _scan_lock:
            scan_history(dest, detector, options, result)
        return RepoResult(
            task.repo,
            "scanned",
            head=head,
            findings=[compact(f, reveal) for f in result.findings],
            blobs=result.stats.files,
            bytes=result.stats.bytes,
            warnings=[e.message for e in result.errors],
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- compact findings ------------------------------------------------------------------------


def compact(f: Finding, reveal: bool = False) -> dict[str, Any]:
    """A finding as a small dict with no secret value: fingerprint, location, masked value
    (with `reveal`, also the value, related values and unmasked line, for the driver's validity
    checks, the store's sealed values or a --show-secrets report)."""
    loc = f.location
    extra = {k: v for k, v in loc.extra.items() if k not in ("repository_uri", "repository")}
    details = dict(f.details)
    if f.related:
        details["related"] = {k: v.redacted for k, v in f.related.items()}
    out: dict[str, Any] = {
        "fingerprint": f.fingerprint,
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "provider": f.provider,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "masked": f.secret.redacted,
        "line": f.line,
        "decoded": f.decoded,
        "details": details,
        "location": {
            "kind": loc.kind, "path": loc.path, "start_line": loc.start_line, "end_line": loc.end_line,
            "start_column": loc.start_column, "end_column": loc.end_column, "offset": loc.offset,
            "commit": loc.commit, "blob": loc.blob, "layer": loc.layer, "extra": extra,
        },
    }
    if reveal:
        out["secret"] = f.secret.reveal()
        out["related_values"] = {k: v.reveal() for k, v in f.related.items()}
        if f.raw_line is not None:
            out["raw_line"] = f.raw_line.reveal()
    return out

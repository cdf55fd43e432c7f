"""Per-repository bare caches cloned with `--filter=blob:none`: fetch only the new blobs.

For a push to ref R (before B, after A) the commits to scan are those reachable from A and
from neither B (when we have it) nor any other ref we already scanned
(`refs/leakwarden/known/*`, updated only after a scan succeeds). That one rule covers:
- branch creation (B = 0): commits not on any other known branch;
- force push (A unrelated to B): `^B` removes nothing useful, the other refs still do;
- deletion (A = 0): nothing to scan, the known ref is dropped.
A pull/merge request scans `head ^base` (its own range, even if a push already scanned it,
since its check must reflect everything the request brings; no blob is fetched twice).

`git rev-list --objects --missing=print` lists the range's blobs without fetching them; the
missing ones come in ONE `git fetch origin --stdin` of their ids (what git's own lazy fetch does,
but batched instead of one round trip per blob). A server without filter support ignores the
filter (git warns) and the cache is a plain incremental mirror; the same code then finds
nothing missing.

Credentials reach git through `GIT_CONFIG_*` environment variables (`http.extraHeader`), never
through the URL or argv, so they do not show in `ps`, in the cache's config or in errors.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from leakwarden.errors import SourceError
from leakwarden.sources.gitcmd import Z40, Git, git_executable

KNOWN = "refs/leakwarden/known/"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def auth_env(user: str, token: str) -> dict[str, str]:
    """Environment that makes git send `Authorization: Basic` for this token (or nothing)."""
    if not token:
        return {}
    value = base64.b64encode(f"{user}:{token}".encode()).decode() if user else base64.b64encode(f"x-token-auth:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": f"Authorization: Basic {value}"}


@dataclass(slots=True)
class FetchStats:
    commits: int = 0
    blobs_in_range: int = 0
    blobs_fetched: int = 0
    partial: bool = True
    revs: list[str] = field(default_factory=list)


def _plain_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def _origin_of(url: str) -> tuple[str, str]:
    """(scheme, host:port) of a clone URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rpartition("@")[2]


def _redact_url(text: str) -> str:
    return re.sub(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", r"\1", text, flags=re.IGNORECASE)


class RepoCache:
    """The bare partial clone of one repository under `root`."""

    def __init__(self, root: Path, key: str, url: str, auth: dict[str, str] | None = None) -> None:
        if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise SourceError("clone URLs must not carry credentials; configure a token instead")
        digest = hashlib.sha256(f"{key}\0{url}".encode()).hexdigest()[:12]
        self.path = root / f"{_SAFE.sub('_', key)[:80]}-{digest}.git"
        self.url = url
        self.env = _plain_env(auth or {})
        self.partial = True

    def _run(self, *args: str, input: bytes | None = None, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [git_executable(), "-c", "core.quotePath=false", *args]
        proc = subprocess.run(argv, cwd=cwd or self.path, env=self.env, input=input, capture_output=True, timeout=600)
        if check and proc.returncode != 0:
            msg = _redact_url(proc.stderr.decode("utf-8", "replace").strip())
            raise SourceError(f"git {args[0]} failed: {msg.splitlines()[-1] if msg else proc.returncode}")
        return proc

    def ensure(self) -> None:
        """Create the bare partial clone (no refs fetched yet; each job fetches what it needs)."""
        if (self.path / "HEAD").exists():
            self.partial = self._run("config", "--get", "remote.origin.promisor", check=False).stdout.strip() == b"true"
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        tmp.mkdir()
        self._run("init", "-q", "--bare", cwd=tmp)
        self._run("remote", "add", "origin", self.url, cwd=tmp)
        self._run("config", "remote.origin.promisor", "true", cwd=tmp)
        self._run("config", "remote.origin.partialclonefilter", "blob:none", cwd=tmp)
        self._run("config", "extensions.partialClone", "origin", cwd=tmp)
        self._run("config", "core.repositoryformatversion", "1", cwd=tmp)
        tmp.rename(self.path)

    def git(self) -> Git:
        g = Git(self.path)
        g.env.update({k: v for k, v in self.env.items() if k.startswith("GIT_CONFIG_")})
        return g

    def fetch_ref(self, ref: str, sha: str, source: str | None = None) -> str:
        """Fetch `ref` (and `sha` by id if the ref moved on); return the full commit id.

        `source`: another repository on the same host to fetch it from (a pull request from a
        fork). That fetch has no blob filter (git allows one only for the promisor remote); the
        fork sends only what the cache does not have: the request's own blobs."""
        if not ref.startswith("refs/") or ".." in ref or any(c in ref for c in " ~^:?*[\\"):
            raise SourceError(f"not a ref name: {ref[:100]!r}")
        local = "refs/leakwarden/incoming/" + ref[len("refs/"):]
        remote = "origin"
        args = self._fetch_args()
        if source is not None and source != self.url:
            if _origin_of(source) != _origin_of(self.url):
                raise SourceError("a pull request's source repository is on another host; not fetched")
            remote, args = source, [a for a in args if not a.startswith("--filter")]
        proc = self._run(*args, remote, f"+{ref}:{local}", check=False)
        err = proc.stderr.decode("utf-8", "replace")
        if "filtering not recognized" in err:
            self._fall_back_to_full()
        full = self._resolve(sha)
        if full is None and len(sha) in (40, 64):
            # The ref moved on (or is gone): ask for the commit itself.
            proc = self._run(*args, remote, sha, check=False)
            full = self._resolve(sha)
        if full is None:
            msg = _redact_url(proc.stderr.decode("utf-8", "replace").strip())
            raise SourceError(f"could not fetch {ref} at {sha[:12]}: {msg.splitlines()[-1] if msg else 'commit not found'}")
        return full

    def fetch_base(self, ref: str | None, sha: str) -> None:
        """A request's base commit, so the range excludes the target branch (best effort: without
        it the request's whole history is scanned, which is slower but not wrong)."""
        if self._resolve(sha) is not None:
            return
        if ref:
            try:
                self.fetch_ref(ref, sha)
                return
            except SourceError:
                pass
        if len(sha) in (40, 64):
            self._run(*self._fetch_args(), "origin", sha, check=False)

    def _fetch_args(self) -> list[str]:
        args = ["fetch", "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--quiet"]
        if self.partial:
            args.append("--filter=blob:none")
        return args

    def _fall_back_to_full(self) -> None:
        if self.partial:
            self.partial = False
            self._run("config", "--unset", "remote.origin.partialclonefilter", check=False)

    def _resolve(self, rev: str) -> str | None:
        if not rev or rev == Z40:
            return None
        proc = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip()

    def known_refs(self) -> dict[str, str]:
        out = self._run("for-each-ref", "--format=%(refname) %(objectname)", KNOWN).stdout.decode()
        refs = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            refs["refs/" + name[len(KNOWN):]] = sha
        return refs

    def mark_known(self, ref: str, sha: str | None) -> None:
        local = KNOWN + ref[len("refs/"):]
        if sha is None:
            self._run("update-ref", "-d", local, check=False)
        else:
            self._run("update-ref", local, sha)

    def range_revs(self, ref: str, before: str, after: str, pull_request: bool) -> list[str]:
        revs = [after]
        base = self._resolve(before)
        if base is not None:
            revs.append("^" + base)
        if not pull_request:
            revs += ["^" + sha for r, sha in sorted(self.known_refs().items()) if r != ref]
        return revs

    def introduced_blobs(self, revs: list[str]) -> tuple[int, dict[str, str], list[str]]:
        """(commit count, {present blob: path}, [missing blob ids]) for the range."""
        commits = int(self._run("rev-list", "--count", "--stdin", input="\n".join(revs).encode() + b"\n").stdout.strip() or 0)
        proc = self._run("rev-list", "--objects", "--missing=print", "--stdin", input="\n".join(revs).encode() + b"\n")
        present: dict[str, str] = {}
        missing: list[str] = []
        # Trees are always present in a blob:none clone, so only blobs can be missing.
        for raw in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
            if raw.startswith("?"):
                missing.append(raw[1:].strip())
            else:
                oid, _, path = raw.partition(" ")
                present[oid] = path
        return commits, present, missing

    def fetch_blobs(self, oids: list[str]) -> None:
        """All missing blobs in one request (the server must allow wants by object id)."""
        if not oids:
            return
        self._run(
            "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no",
            "--quiet", "--filter=blob:none", "--stdin", "origin", input="".join(f"{o}\n" for o in oids).encode(),
        )

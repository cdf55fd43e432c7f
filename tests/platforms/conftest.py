"""Fixtures for the platform tests: a developer's repository pushing to a bare repository that
`git daemon` serves, a fake platform API, a monitor config wired to both, payload builders."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.git.gitrepo import Repo
from tests.platforms.servers import FakeApi, GitDaemon, serve_repo
from tests.tooling import require_tool

SECRET = "It's a Secret to Everybody"
Z40 = "0" * 40


class Remote:
    """A work tree `dev` pushing to `served/<name>.git`; `push` returns (before, after)."""

    def __init__(self, tmp: Path, daemon: GitDaemon | None, name: str = "app", filters: bool = True) -> None:
        self.bare = tmp / "served" / f"{name}.git"
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        serve_repo(self.bare, filters)
        self.dev = Repo(tmp / f"dev-{name}")
        self.dev.git("remote", "add", "origin", str(self.bare))
        self.name = name
        self.url = daemon.url(f"{name}.git") if daemon else ""

    def head(self, ref: str) -> str:
        out = subprocess.run(["git", "-C", str(self.bare), "rev-parse", "--verify", "-q", ref], capture_output=True, text=True)
        return out.stdout.strip() or Z40

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, content in files.items():
            self.dev.write(name, content)
        self.dev.git("add", "-A")
        self.dev.git("commit", "-q", "-m", message)
        return self.dev.git("rev-parse", "HEAD")

    def push(self, branch: str = "main", force: bool = False, delete: bool = False) -> tuple[str, str]:
        ref = f"refs/heads/{branch}"
        before = self.head(ref)
        if delete:
            self.dev.git("push", "-q", "origin", f":{ref}")
        else:
            self.dev.git("push", "-q", *(["-f"] if force else []), "origin", f"HEAD:{ref}")
        return before, self.head(ref)


def github_push(remote: Remote, branch: str, before: str, after: str, installation: int | None = None) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}", "before": before, "after": after,
        "created": before == Z40, "deleted": after == Z40,
        "repository": {"full_name": f"acme/{remote.name}", "clone_url": remote.url},
        **({"installation": {"id": installation}} if installation else {}),
    }


def github_headers(body: bytes, delivery: str, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-github-event": event, "x-github-delivery": delivery, "x-hub-signature-256": f"sha256={sig}", "content-type": "application/json"}


def write_config(tmp: Path, api: FakeApi | None, monkeypatch: pytest.MonkeyPatch, extra: str = "", **platform_keys: str) -> Path:
    monkeypatch.setenv("LW_TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("LW_TEST_API_TOKEN", "api-token-for-tests")
    url = api.url if api else "http://127.0.0.1:9"
    keys = "".join(f'{k} = "{v}"\n' for k, v in platform_keys.items())
    text = f"""
[monitor]
data_dir = "data"
store = "findings.sqlite"
workers = 1
{extra}

[github]
webhook_secret_env = "LW_TEST_HOOK_SECRET"
token_env = "LW_TEST_API_TOKEN"
api_url = "{url}"
{keys}
[gitlab]
webhook_secret_env = "LW_TEST_HOOK_SECRET"
token_env = "LW_TEST_API_TOKEN"
api_url = "{url}"

[bitbucket]
webhook_secret_env = "LW_TEST_HOOK_SECRET"
token_env = "LW_TEST_API_TOKEN"
api_url = "{url}"

[bitbucket-dc]
webhook_secret_env = "LW_TEST_HOOK_SECRET"
token_env = "LW_TEST_API_TOKEN"
api_url = "{url}"
"""
    path = tmp / "monitor.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def detector():
    from leakwarden.api import build_detector
    from leakwarden.config import Settings

    # NOTE: the pure-Python engine builds in milliseconds; a Hyperscan database takes seconds
    # per xdist worker, and both engines find the same things (tests/rules checks that).
    return build_detector(Settings(jobs=1, engine="python"))


@pytest.fixture
def daemon(tmp_path: Path):
    require_tool("git")
    root = tmp_path / "served"
    root.mkdir()
    d = GitDaemon(root)
    yield d
    d.close()


@pytest.fixture
def api():
    a = FakeApi()
    yield a
    a.close()


def all_bodies(api: FakeApi) -> bytes:
    return b"\n".join(r.body for r in api.requests) + b"\n".join(json.dumps(r.headers).encode() + r.path.encode() for r in api.requests)

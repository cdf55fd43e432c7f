"""Real git repositories in temporary folders, driven through the git command line."""

from __future__ import annotations

import os
import random
import string
import subprocess
from pathlib import Path

_ALNUM = string.ascii_letters + string.digits


def crates_token(seed: int) -> str:
    """A crates.io API token shape (`cio` + 32 alphanumerics) with realistic entropy."""
    rng = random.Random(seed)
    return "cio" + "".join(rng.choice(_ALNUM) for _ in range(32))


def git_env(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Ada Tester",
        GIT_AUTHOR_EMAIL="ada@example.org",
        GIT_COMMITTER_NAME="Ada Tester",
        GIT_COMMITTER_EMAIL="ada@example.org",
        GIT_CONFIG_NOSYSTEM="1",
    )
    if home is not None:
        env["HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env


class Repo:
    """A work tree with helpers to write files and commit with fixed, increasing dates."""

    def __init__(self, path: Path, *, bare: bool = False, init: bool = True, home: Path | None = None) -> None:
        self.path = path
        self.home = home if home is not None else path.parent / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self._tick = 0
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    @property
    def env(self) -> dict[str, str]:
        return git_env(self.home)

    def git(self, *args: str, input: bytes | None = None, check: bool = True, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, env={**self.env, **(env or {})}, input=input, capture_output=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout.decode().strip()

    def write(self, name: str, content: str | bytes) -> None:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str, files: dict[str, str | bytes] | None = None, *, remove: tuple[str, ...] = ()) -> str:
        for name, content in (files or {}).items():
            self.write(name, content)
            self.git("add", "--", name)
        for name in remove:
            self.git("rm", "-q", "--", name)
        self._tick += 1
        date = f"2024-01-01T00:{self._tick // 60:02d}:{self._tick % 60:02d}+00:00"
        self.git("commit", "-q", "--allow-empty", "-m", message, env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def pre_receive_server(tmp_path: Path) -> tuple[Repo, Repo]:
    """A bare repository with leakwarden as its pre-receive hook (push options on; the hook
    notes the quarantine folder it ran in), and a client clone that has pushed `main`."""
    import stat
    import sys

    from tests.conftest import SRC

    origin = Repo(tmp_path / "server.git", bare=True)
    origin.git("config", "receive.advertisePushOptions", "true")
    hook = origin.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f'echo "$GIT_QUARANTINE_PATH" > "{tmp_path}/quarantine-seen"\n'
        f"PYTHONPATH={SRC} exec {sys.executable} -m leakwarden scan pre-receive $LEAKWARDEN_HOOK_ARGS\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    client = Repo(tmp_path / "client")
    client.commit("init", {"README": "hi\n"})
    client.git("remote", "add", "origin", str(origin.path))
    client.git("push", "-q", "origin", "main")
    return origin, client


def push(client: Repo, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "push", "origin", *args], cwd=client.path, env={**client.env, **(env or {})}, capture_output=True)

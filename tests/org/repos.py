"""A dozen real bare git repositories in a temporary folder, some holding secrets, and the
task functions the resilience tests run on workers (importable there by module path)."""

from __future__ import annotations

import os
import random
import string
import subprocess
from pathlib import Path

from leakwarden.models import secret_fingerprint

_ALNUM = string.ascii_letters + string.digits
RULE = "crates-io-api-token"


def token(seed: int) -> str:
    rng = random.Random(seed)
    return "cio" + "".join(rng.choice(_ALNUM) for _ in range(32))


def git(cwd: Path, *args: str, tick: int = 0) -> str:
    date = f"2024-01-01T00:00:{tick % 60:02d}+00:00"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.org", GIT_COMMITTER_NAME="Ada",
               GIT_COMMITTER_EMAIL="ada@example.org", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd.parent),
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().strip()


def add_commit(work: Path, files: dict[str, str], message: str, tick: int) -> None:
    for name, content in files.items():
        (work / name).write_text(content)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message, tick=tick)


def build_repos(root: Path, count: int = 12) -> tuple[list[Path], set[str]]:
    """Bare repositories r00..r11; every third holds a crates.io token (r05 repeats r00's, in a
    deleted file). Returns their paths and the secret fingerprints expected."""
    root.mkdir(parents=True, exist_ok=True)
    paths, expected = [], set()
    for i in range(count):
        work = root / "work" / f"r{i:02d}"
        work.mkdir(parents=True)
        git(work, "init", "-q", "-b", "main")
        add_commit(work, {"README.md": f"# project {i}\n", "app.py": f"print({i})\n" * (i + 1)}, "start", 1)
        if i % 3 == 0:
            add_commit(work, {"config.toml": f'[registry]\ntoken = "{token(i)}"\n'}, "config", 2)
            expected.add(secret_fingerprint(RULE, token(i)))
        if i == 5:
            add_commit(work, {"old.env": f"CARGO_REGISTRY_TOKEN={token(0)}\n"}, "oops", 3)
            git(work, "rm", "-q", "old.env")
            git(work, "commit", "-q", "-m", "remove", tick=4)
        bare = root / f"r{i:02d}.git"
        git(root, "clone", "-q", "--bare", str(work), str(bare))
        git(bare, "update-server-info")  # so a plain HTTP server can serve it (dumb protocol)
        paths.append(bare)
    return paths, expected


def push_commit(bare: Path, files: dict[str, str]) -> None:
    """A new commit on main of a bare repository (moves its ref state)."""
    work = bare.parent / "work" / bare.name.removesuffix(".git")
    add_commit(work, files, "more", 9)
    git(work, "push", "-q", str(bare), "main")


def crash_once(marker: str, victim: str, task, setup_key=None):
    """Kill this worker process the first time it gets `victim` (as an OOM kill would)."""
    from leakwarden.org.worker import scan_repo

    if task.repo.endswith(victim) and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(137)
    return scan_repo(task, setup_key)


def crash_always(victim: str, task, setup_key=None):
    """Kill this worker process every time it gets `victim`."""
    from leakwarden.org.worker import scan_repo

    if task.repo.endswith(victim):
        os._exit(137)
    return scan_repo(task, setup_key)

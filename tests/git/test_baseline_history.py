"""`baseline create/update --git`: the README's two-step baseline workflow on a repository whose
history already holds secrets."""

from __future__ import annotations

import json
import re
import shlex

from gitrepo import Repo, crates_token
from tests.conftest import ROOT, run_cli

OLD, GONE, NEW = (crates_token(i) for i in (51, 52, 53))


def cli(repo: Repo, *args: str):
    return run_cli(*args, cwd=repo.path, env=repo.env)


def readme_baseline_steps() -> list[list[str]]:
    """The `baseline create` and `scan git --baseline` lines of the README, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    create = next(ln for ln in lines if ln.startswith("leakwarden baseline create"))
    scan = next(ln for ln in lines if re.match(r"leakwarden scan git .*--baseline", ln))
    return [shlex.split(create)[1:], shlex.split(scan)[1:]]


def history_with_secrets(tmp_path) -> Repo:
    repo = Repo(tmp_path / "r")
    repo.git("remote", "add", "origin", "https://user:pw@git.example.org/acme/app.git")
    repo.commit("config", {"config.py": f'TOKEN = "{OLD}"\n'})
    repo.commit("deploy", {"deploy.sh": f"cargo publish --token {GONE}\n"})
    repo.commit("remove it again", remove=("deploy.sh",))  # GONE lives on in history only
    return repo


def test_the_readme_baseline_workflow_passes_on_history_and_fails_on_a_new_secret(tmp_path):
    repo = history_with_secrets(tmp_path)
    create, scan = readme_baseline_steps()
    proc = cli(repo, *create)
    assert proc.returncode == 0, proc.stderr
    assert b"2 accepted secrets" in proc.stderr
    proc = cli(repo, *scan)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo.commit("new", {"new.env": f"T={NEW}\n"})
    proc = cli(repo, *scan, "-f", "json")
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["new.env"]
    # The same baseline still serves `scan path`.
    assert cli(repo, "scan", "path", ".", "--baseline", ".leakwarden-baseline.json", "--exclude", "new.env").returncode == 0


def test_update_with_git_keeps_a_secret_that_is_only_in_history(tmp_path):
    repo = history_with_secrets(tmp_path)
    assert cli(repo, "baseline", "create", "--git").returncode == 0
    proc = cli(repo, "baseline", "update", "--git")
    assert proc.returncode == 0 and b"0 pruned" in proc.stderr
    assert cli(repo, "scan", "git", "--baseline", ".leakwarden-baseline.json").returncode == 0
    # Without --git only the files count: the history-only secret is pruned (and said so).
    proc = cli(repo, "baseline", "update")
    assert b"1 pruned" in proc.stderr
    assert cli(repo, "scan", "git", "--baseline", ".leakwarden-baseline.json").returncode == 1


def test_create_without_git_still_scans_only_the_files(tmp_path):
    repo = history_with_secrets(tmp_path)
    proc = cli(repo, "baseline", "create")
    assert proc.returncode == 0 and b"1 accepted secret" in proc.stderr

"""`hooks install/uninstall`: chaining existing hooks, core.hooksPath, global install, restore."""

from __future__ import annotations

import stat
import subprocess

import pytest
from gitrepo import Repo, crates_token
from tests.conftest import SRC, run_cli

from leakwarden.integrations.hooks import MARKER

T1 = crates_token(31)


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "r")
    r.commit("init", {"README": "hi\n"})
    return r


def hooks(repo: Repo, *args: str):
    proc = run_cli("hooks", *args, cwd=repo.path, env=repo.env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def commit(repo: Repo, name: str, content: str):
    repo.write(name, content)
    repo.git("add", name)
    return subprocess.run(["git", "commit", "-qm", name], cwd=repo.path, env={**repo.env, "PYTHONPATH": str(SRC)}, capture_output=True)


def executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_install_chains_an_existing_hook_and_uninstall_restores_it(repo, tmp_path):
    mine = "#!/bin/sh\necho \"own hook ran\" >> \"$(git rev-parse --git-dir)/own.log\"\n"
    executable(repo.path / ".git/hooks/pre-commit", mine)
    out = hooks(repo, "install", "--pre-commit")
    assert "kept as pre-commit.pre-leakwarden" in out
    assert not (repo.path / ".git/hooks/pre-push").exists()
    assert commit(repo, "ok.txt", "fine\n").returncode == 0
    assert (repo.path / ".git/own.log").read_text() == "own hook ran\n"
    assert commit(repo, "bad.env", f"T={T1}\n").returncode != 0
    # Installing again updates our hook; it never chains itself.
    assert "updated" in hooks(repo, "install", "--pre-commit")
    assert (repo.path / ".git/hooks/pre-commit.pre-leakwarden").read_text() == mine
    assert "restored" in hooks(repo, "uninstall")
    assert (repo.path / ".git/hooks/pre-commit").read_text() == mine
    assert not (repo.path / ".git/hooks/pre-commit.pre-leakwarden").exists()


def test_uninstall_restores_a_hook_that_is_a_symlink_to_a_missing_script(repo):
    """A symlink to a script the current branch does not have was once left behind as
    pre-commit.pre-leakwarden: `exists()` is false for it."""
    import os

    link = repo.path / ".git/hooks/pre-commit"
    os.symlink("../../tools/pre-commit", link)
    assert "kept as pre-commit.pre-leakwarden" in hooks(repo, "install", "--pre-commit")
    assert "restored" in hooks(repo, "uninstall", "--pre-commit")
    assert os.readlink(link) == "../../tools/pre-commit"
    assert not os.path.lexists(repo.path / ".git/hooks/pre-commit.pre-leakwarden")


def test_a_failing_chained_hook_stops_the_commit(repo):
    executable(repo.path / ".git/hooks/pre-commit", "#!/bin/sh\necho nope >&2\nexit 3\n")
    hooks(repo, "install", "--pre-commit")
    proc = commit(repo, "ok.txt", "fine\n")
    assert proc.returncode != 0 and b"nope" in proc.stderr


def test_commit_of_named_paths_is_judged_by_the_index_git_commits(repo):
    """`git commit PATH` builds a temporary index (GIT_INDEX_FILE) from the work tree: a secret
    only in the work-tree copy is caught, and one staged in a file left out of the commit
    does not block it."""
    hooks(repo, "install", "--pre-commit")
    env = {**repo.env, "PYTHONPATH": str(SRC)}
    repo.write("README", f"T={T1}\n")
    proc = subprocess.run(["git", "commit", "-qm", "only readme", "README"], cwd=repo.path, env=env, capture_output=True)
    assert proc.returncode != 0 and b"README:1" in proc.stderr + proc.stdout
    repo.write("README", "hi again\n")
    repo.write("staged.env", f"T={T1}\n")
    repo.git("add", "staged.env")
    proc = subprocess.run(["git", "commit", "-qm", "only readme", "README"], cwd=repo.path, env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == ["README"]


def test_a_chained_pre_push_hook_gets_exactly_what_git_gave(repo, tmp_path):
    """git runs pre-push with empty input when there is nothing to push; the chained hook once
    got a blank line instead (git's own sample hook then printed `fatal: ..`)."""
    origin = Repo(tmp_path / "origin.git", bare=True)
    repo.git("remote", "add", "origin", str(origin.path))
    executable(repo.path / ".git/hooks/pre-push", "#!/bin/sh\nn=$(ls \"$(git rev-parse --git-dir)\" | grep -c '^input')\ncat > \"$(git rev-parse --git-dir)/input$n\"\n")
    hooks(repo, "install", "--pre-push")
    env = {**repo.env, "PYTHONPATH": str(SRC)}
    for _ in range(2):  # the second push has nothing to send
        proc = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo.path, env=env, capture_output=True)
        assert proc.returncode == 0, proc.stderr
    assert (repo.path / ".git/input0").read_text() == f"refs/heads/main {repo.head()} refs/heads/main {'0' * 40}\n"
    assert (repo.path / ".git/input1").read_text() == ""


def test_core_hooks_path_is_honoured(repo):
    repo.git("config", "core.hooksPath", ".githooks")
    out = hooks(repo, "install")
    assert str(repo.path / ".githooks" / "pre-commit") in out
    assert MARKER in (repo.path / ".githooks/pre-push").read_text()
    assert not (repo.path / ".git/hooks/pre-commit").exists()
    assert commit(repo, "bad.env", f"T={T1}\n").returncode != 0
    hooks(repo, "uninstall")
    assert not (repo.path / ".githooks/pre-commit").exists()


def test_uninstall_leaves_foreign_hooks_alone(repo):
    executable(repo.path / ".git/hooks/pre-push", "#!/bin/sh\nexit 0\n")
    out = hooks(repo, "uninstall")
    assert "left alone" in out and (repo.path / ".git/hooks/pre-push").exists()


def test_global_install_sets_and_unsets_core_hooks_path_and_runs_repo_hooks(repo):
    executable(repo.path / ".git/hooks/pre-commit", "#!/bin/sh\necho local >> \"$(git rev-parse --git-dir)/local.log\"\n")
    out = hooks(repo, "install", "--global")
    folder = repo.home / ".config" / "leakwarden" / "hooks"
    assert str(folder / "pre-commit") in out
    assert repo.git("config", "--global", "core.hooksPath") == str(folder)
    assert commit(repo, "ok.txt", "fine\n").returncode == 0
    assert (repo.path / ".git/local.log").read_text() == "local\n"
    assert commit(repo, "bad.env", f"T={T1}\n").returncode != 0
    hooks(repo, "uninstall", "--global")
    assert repo.git("config", "--global", "core.hooksPath", check=False) == ""
    assert not (folder / "pre-commit").exists()


def test_global_install_uses_an_existing_global_hooks_path(repo, tmp_path):
    existing = tmp_path / "team-hooks"
    repo.git("config", "--global", "core.hooksPath", str(existing))
    hooks(repo, "install", "--global", "--pre-push")
    assert MARKER in (existing / "pre-push").read_text()
    hooks(repo, "uninstall", "--global")
    assert repo.git("config", "--global", "core.hooksPath") == str(existing)


def test_global_install_keeps_every_other_repository_hook_running(repo, tmp_path):
    from leakwarden.integrations.hooks import PASSTHROUGH_HOOKS

    # A commit-msg hook that checks the message (argument) and one that reads standard input.
    executable(repo.path / ".git/hooks/commit-msg", "#!/bin/sh\ngrep -q '^JIRA-[0-9]' \"$1\" || { echo 'commit-msg: needs a ticket' >&2; exit 1; }\n")
    executable(repo.path / ".git/hooks/post-rewrite", "#!/bin/sh\necho \"$1\" > \"$(git rev-parse --git-dir)/rewrite.log\"\ncat >> \"$(git rev-parse --git-dir)/rewrite.log\"\n")
    out = hooks(repo, "install", "--global")
    folder = repo.home / ".config" / "leakwarden" / "hooks"
    assert f"{len(PASSTHROUGH_HOOKS)} pass-through hooks in {folder}" in out
    assert all(MARKER in (folder / name).read_text() for name in PASSTHROUGH_HOOKS)
    repo.write("a.txt", "a\n")
    repo.git("add", "a.txt")
    env = {**repo.env, "PYTHONPATH": str(SRC)}
    refused = subprocess.run(["git", "commit", "-qm", "no ticket"], cwd=repo.path, env=env, capture_output=True)
    assert refused.returncode != 0 and b"needs a ticket" in refused.stderr
    ok = subprocess.run(["git", "commit", "-qm", "JIRA-1 add a"], cwd=repo.path, env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    old = repo.head()
    amend = subprocess.run(["git", "commit", "-q", "--amend", "-m", "JIRA-2 add a"], cwd=repo.path, env=env, capture_output=True)
    assert amend.returncode == 0, amend.stderr
    assert (repo.path / ".git/rewrite.log").read_text().split() == ["amend", old, repo.head()]
    # A linked worktree runs the main repository's hooks (the common git folder).
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    (tmp_path / "wt" / "b.txt").write_text("b\n")
    subprocess.run(["git", "add", "b.txt"], cwd=tmp_path / "wt", env=env, check=True)
    refused = subprocess.run(["git", "commit", "-qm", "no ticket"], cwd=tmp_path / "wt", env=env, capture_output=True)
    assert refused.returncode != 0 and b"needs a ticket" in refused.stderr
    # Uninstall removes the pass-throughs with leakwarden's own hooks.
    out = hooks(repo, "uninstall", "--global")
    assert f"{len(PASSTHROUGH_HOOKS)} pass-through hooks removed" in out
    assert not any((folder / name).exists() for name in (*PASSTHROUGH_HOOKS, "pre-commit", "pre-push"))
    assert repo.git("config", "--global", "core.hooksPath", check=False) == ""


def test_global_pass_throughs_leave_the_users_own_global_hooks_alone(repo, tmp_path):
    existing = tmp_path / "team-hooks"
    executable(existing / "commit-msg", "#!/bin/sh\nexit 0\n")
    repo.git("config", "--global", "core.hooksPath", str(existing))
    out = hooks(repo, "install", "--global")
    assert "left alone (your own global hooks): commit-msg" in out
    assert (existing / "commit-msg").read_text() == "#!/bin/sh\nexit 0\n"
    assert MARKER in (existing / "post-checkout").read_text()
    # Uninstalling only one of leakwarden's hooks keeps the pass-throughs for the other.
    hooks(repo, "uninstall", "--global", "--pre-push")
    assert MARKER in (existing / "post-checkout").read_text()
    hooks(repo, "uninstall", "--global")
    assert not (existing / "post-checkout").exists() and (existing / "commit-msg").exists()


def test_global_push_to_checkout_still_updates_the_work_tree(repo, tmp_path):
    target = Repo(tmp_path / "target")
    target.commit("init", {"README": "hi\n"})
    target.git("config", "receive.denyCurrentBranch", "updateInstead")
    hooks(repo, "install", "--global")
    src = Repo(tmp_path / "src", init=False, home=repo.home)
    subprocess.run(["git", "clone", "-q", str(target.path), str(src.path)], check=True, env=repo.env)
    src.commit("more", {"new.txt": "new\n"})
    proc = subprocess.run(["git", "push", "-q", "--no-verify", "origin", "main"], cwd=src.path, env=repo.env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert (target.path / "new.txt").read_text() == "new\n"
    # A repository's own push-to-checkout hook runs instead.
    executable(target.path / ".git/hooks/push-to-checkout", "#!/bin/sh\necho refused by own hook >&2\nexit 1\n")
    src.commit("again", {"x.txt": "x\n"})
    proc = subprocess.run(["git", "push", "-q", "--no-verify", "origin", "main"], cwd=src.path, env=repo.env, capture_output=True)
    assert proc.returncode != 0 and b"refused by own hook" in proc.stderr

"""Diff gates on real repositories: staged, pre-push (stdin protocol and a real push), pre-receive."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gitrepo import Repo, crates_token, git_env, pre_receive_server, push
from tests.conftest import SRC, run_cli

from leakwarden.api import scan_commits, scan_staged

T1, T2, T3, T4 = (crates_token(i) for i in (11, 12, 13, 14))
Z40 = "0" * 40


def secrets_of(result):
    return {f.secret.reveal() for f in result.findings}


def cli(repo: Repo, *args: str, input: bytes | None = None, env: dict[str, str] | None = None):
    return run_cli(*args, input=input, cwd=repo.path, env={**repo.env, **(env or {})})


# --- staged -----------------------------------------------------------------------------------


def test_staged_before_the_first_commit(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.write("app.env", f"# settings\nDEBUG=1\nCARGO_REGISTRY_TOKEN={T1}\n")
    repo.git("add", "app.env")
    (f,) = scan_staged(repo.path).findings
    assert (f.location.path, f.location.start_line, f.location.kind) == ("app.env", 3, "staged")


def test_staged_reports_only_added_lines_at_new_file_line_numbers(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("old secret", {"a.env": f"OLD={T1}\n" + "".join(f"x{i}=1\n" for i in range(10))})
    repo.write("a.env", f"OLD={T1}\n" + "".join(f"x{i}=1\n" for i in range(6)) + f"NEW={T2}\n" + "".join(f"x{i}=1\n" for i in range(6, 10)))
    repo.write("gone.env", "")
    repo.git("add", "a.env")
    (f,) = scan_staged(repo.path).findings
    assert f.secret.reveal() == T2
    assert f.location.start_line == 8
    # Unstaged changes are not part of the commit.
    repo.write("b.env", f"T={T3}\n")
    assert secrets_of(scan_staged(repo.path)) == {T2}


def test_staged_while_merging_reports_only_what_is_new_against_every_parent(tmp_path):
    """Committing a merge: what the merged branch already committed is not added by this
    commit (the merge commit's combined diff agrees); a conflict resolution's own lines are."""
    repo = Repo(tmp_path / "r")
    repo.commit("base", {"conf.env": "A=1\n"})
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("other", {"conf.env": "A=2\n", "creds.env": f"T={T1}\n"})
    repo.git("checkout", "-q", "-")
    repo.commit("main", {"conf.env": "A=3\n"})
    assert repo.git("merge", "--no-commit", "other", check=False) is not None
    repo.write("conf.env", f"A=4\nKEY={T2}\n")
    repo.write("new.env", f"N={T3}\n")
    repo.git("add", "conf.env", "new.env")
    found = {(f.location.path, f.location.start_line, f.secret.reveal()) for f in scan_staged(repo.path).findings}
    assert found == {("conf.env", 2, T2), ("new.env", 1, T3)}
    repo.git("commit", "-q", "--no-edit")
    merged, complete = scan_commits(repo.path, ["HEAD", "^HEAD^1", "^HEAD^2"])
    assert complete and {f.secret.reveal() for f in merged.findings} == {T2, T3}


def test_staged_in_a_bare_repository_is_an_error_not_an_all_clear(tmp_path):
    bare = Repo(tmp_path / "b.git", bare=True)
    r = cli(bare, "scan", "staged")
    assert r.returncode == 2 and b"bare repository" in r.stderr


def test_staged_skips_deletions_and_binary_files(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("with secret", {"a.env": f"T={T1}\n"})
    repo.git("rm", "-q", "a.env")
    repo.write("blob.bin", b"\x00\x01" + T2.encode())
    repo.git("add", "blob.bin")
    result = scan_staged(repo.path)
    assert result.findings == []
    assert result.stats.skipped == 1


def test_staged_cli_exit_codes_hint_and_logged_bypass(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("init", {"README": "hi\n"})
    assert cli(repo, "scan", "staged", "-q").returncode == 0
    repo.write("a.env", f"T={T1}\n")
    repo.git("add", "a.env")
    proc = cli(repo, "scan", "staged")
    assert proc.returncode == 1
    assert b"commit blocked" in proc.stderr and T1.encode() not in proc.stdout
    proc = cli(repo, "scan", "staged", env={"LEAKWARDEN_SKIP": "rotated already, ticket SEC-42"})
    assert proc.returncode == 0 and b"skipped on request" in proc.stderr
    (entry,) = [json.loads(x) for x in (repo.path / ".git/leakwarden/bypass.log").read_text().splitlines()]
    assert entry["gate"] == "pre-commit" and entry["reason"] == "rotated already, ticket SEC-42"


# --- commit ranges ----------------------------------------------------------------------------


def test_range_scan_sees_secrets_removed_later_in_the_same_range_and_evil_merges(tmp_path):
    repo = Repo(tmp_path / "r")
    base = repo.commit("init", {"README": "hi\n"})
    repo.commit("add", {"a.env": f"T={T1}\n"})
    repo.commit("remove", remove=("a.env",))
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side", {"s.txt": "side\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"m.txt": "main\n"})
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side")
    repo.write("resolution.env", f"T={T2}\n")
    repo.git("add", "resolution.env")
    merge = repo.commit("merge")
    result, finished = scan_commits(repo.path, [merge, f"^{base}"])
    assert finished
    by = {f.secret.reveal(): f for f in result.findings}
    assert set(by) == {T1, T2}
    assert by[T2].location.commit == merge
    assert by[T2].location.extra["subject"] == "merge"


# --- pre-push ---------------------------------------------------------------------------------


@pytest.fixture
def pushed(tmp_path):
    """A clone of a bare origin, with one secret already pushed to main."""
    origin = Repo(tmp_path / "origin.git", bare=True)
    seed = Repo(tmp_path / "seed")
    seed.commit("pushed long ago", {"old.env": f"T={T1}\n"})
    seed.git("remote", "add", "origin", str(origin.path))
    seed.git("push", "-q", "origin", "main")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(work)], check=True, env=git_env(seed.home))
    return origin, Repo(work, init=False, home=seed.home)


def pre_push(repo: Repo, lines: list[str]):
    return cli(repo, "scan", "pre-push", "origin", "url", "-f", "json", input=("\n".join(lines) + "\n").encode())


def test_pre_push_new_branch_scans_only_commits_not_on_any_remote(pushed):
    _, repo = pushed
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature secret", {"new.env": f"T={T2}\n"})
    sha = repo.head()
    proc = pre_push(repo, [f"refs/heads/feature {sha} refs/heads/feature {Z40}"])
    assert proc.returncode == 1, proc.stderr
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["path"] == "new.env" and f["commit"] == sha


def test_pre_push_update_force_push_and_delete(pushed):
    _, repo = pushed
    remote_sha = repo.head()
    repo.commit("clean", {"ok.txt": "ok\n"})
    clean = repo.head()
    assert pre_push(repo, [f"refs/heads/main {clean} refs/heads/main {remote_sha}"]).returncode == 0
    # Force push: history rewritten locally; the remote's old tip is not an ancestor any more.
    repo.git("reset", "-q", "--hard", remote_sha)
    repo.git("rm", "-q", "old.env")
    repo.commit("rewrite", {"leak.env": f"T={T3}\n"})
    proc = pre_push(repo, [f"refs/heads/main {repo.head()} refs/heads/main {clean}"])
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["leak.env"]
    # Remote tip we never fetched: still only what no remote ref has.
    proc = pre_push(repo, [f"refs/heads/main {repo.head()} refs/heads/main {'1' * 40}"])
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["leak.env"]
    # Deleting a branch pushes no content.
    assert pre_push(repo, [f"(delete) {Z40} refs/heads/old {remote_sha}"]).returncode == 0
    assert pre_push(repo, []).returncode == 0


def test_pre_push_bad_input_is_a_clear_error(pushed):
    _, repo = pushed
    proc = pre_push(repo, ["not the protocol"])
    assert proc.returncode == 2 and b"pre-push input line 1" in proc.stderr


def test_installed_hooks_block_a_real_commit_and_push(pushed):
    origin, repo = pushed
    env = {"PYTHONPATH": str(SRC)}
    proc = cli(repo, "hooks", "install")
    assert proc.returncode == 0, proc.stderr
    repo.write("a.env", f"T={T2}\n")
    repo.git("add", "a.env")
    blocked = subprocess.run(["git", "commit", "-qm", "leak"], cwd=repo.path, env={**repo.env, **env}, capture_output=True)
    assert blocked.returncode != 0 and b"commit blocked" in blocked.stderr
    # Commit with the hook skipped, then the pre-push hook stops the push.
    repo.git("commit", "-qm", "leak", "--no-verify")
    push = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo.path, env={**repo.env, **env}, capture_output=True)
    assert push.returncode != 0 and b"push blocked" in push.stderr
    assert origin.git("rev-parse", "main") != repo.head()
    ok = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo.path, env={**repo.env, **env, "LEAKWARDEN_SKIP": "test"}, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert origin.git("rev-parse", "main") == repo.head()


# --- pre-receive ------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    return pre_receive_server(tmp_path)


def test_pre_receive_rejects_a_secret_read_from_quarantine(server, tmp_path):
    origin, client = server
    before = origin.git("rev-parse", "main")
    client.commit("leak", {"deploy/cargo.env": f"CARGO_REGISTRY_TOKEN={T1}\n"})
    client.commit("hide it", remove=("deploy/cargo.env",))
    proc = push(client, "main")
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "push rejected: 1 secret" in err and "deploy/cargo.env:1" in err
    assert "git push -o leakwarden-skip" in err and T1 not in err
    assert origin.git("rev-parse", "main") == before
    assert "incoming" in (tmp_path / "quarantine-seen").read_text()
    # The rejected objects were never moved out of quarantine.
    assert origin.git("cat-file", "-t", client.head(), check=False) == ""


def test_pre_receive_accepts_clean_pushes_new_branches_and_deletions(server):
    origin, client = server
    client.git("checkout", "-q", "-b", "topic")
    client.commit("clean", {"ok.txt": "ok\n"})
    assert push(client, "topic").returncode == 0
    assert push(client, ":topic").returncode == 0
    assert origin.git("branch", "--list", "topic") == ""


def test_pre_receive_new_branch_with_secret_and_logged_push_option_bypass(server):
    origin, client = server
    client.git("checkout", "-q", "-b", "feature")
    client.commit("leak", {"a.env": f"T={T2}\n"})
    assert push(client, "feature").returncode != 0
    proc = push(client, "-o", "leakwarden-skip=test token, revoked", "feature")
    assert proc.returncode == 0, proc.stderr
    assert b"skipped on request, reason: test token, revoked" in proc.stderr
    (entry,) = [json.loads(x) for x in (origin.path / "leakwarden/bypass.log").read_text().splitlines()]
    assert entry["gate"] == "pre-receive" and entry["refs"] == ["refs/heads/feature"]


def test_pre_receive_without_gits_quarantine_environment_rejects_instead_of_passing(server):
    """A hook run through sudo or `env -i` loses GIT_OBJECT_DIRECTORY & co.: the pushed commits
    are not visible, and were once skipped as if there were nothing to check."""
    import stat
    import sys

    origin, client = server
    hook = origin.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nexec env -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES -u GIT_QUARANTINE_PATH "
        f"PYTHONPATH={SRC} {sys.executable} -m leakwarden scan pre-receive\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    before = origin.git("rev-parse", "main")
    client.commit("leak", {"a.env": f"T={T2}\n"})
    proc = push(client, "main")
    assert proc.returncode != 0
    assert b"is not in this repository" in proc.stderr and b"GIT_QUARANTINE_PATH" in proc.stderr, proc.stderr
    assert origin.git("rev-parse", "main") == before


def test_pre_push_of_an_unknown_object_is_an_error(pushed):
    _, repo = pushed
    proc = pre_push(repo, [f"refs/heads/main {'1' * 40} refs/heads/main {Z40}"])
    assert proc.returncode == 2 and b"is not in this repository" in proc.stderr, proc.stderr


def test_pre_receive_time_budget(server):
    _, client = server
    client.commit("leak", {"a.env": f"T={T3}\n"})
    proc = push(client, "main", env={"LEAKWARDEN_HOOK_ARGS": "--timeout 0"})
    assert proc.returncode == 0 and b"did not finish within 0s; push allowed unchecked" in proc.stderr
    client.commit("more", {"b.env": f"T={T4}\n"})
    proc = push(client, "main", env={"LEAKWARDEN_HOOK_ARGS": "--timeout 0 --on-timeout reject"})
    assert proc.returncode != 0 and b"did not finish within 0s" in proc.stderr


def test_pre_push_under_the_pre_commit_framework_reads_its_environment(pushed):
    _, repo = pushed
    base = repo.head()
    repo.commit("leak", {"fw.env": f"T={T4}\n"})
    env = {"PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": repo.head()}
    proc = cli(repo, "scan", "pre-push", "-f", "json", input=b"", env=env)
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["fw.env"]
    # No range given (a new repository): what HEAD has that no remote has.
    proc = cli(repo, "scan", "pre-push", "-f", "json", input=b"", env={"PRE_COMMIT": "1"})
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["fw.env"]


def test_shipped_pre_commit_hooks_file_does_not_pass_filenames():
    text = (Path(SRC).parent / ".pre-commit-hooks.yaml").read_text()
    entries = text.split("\n- id: ")[1:]
    assert [e.split("\n", 1)[0] for e in entries] == ["leakwarden", "leakwarden-push"]
    for e in entries:
        assert "pass_filenames: false" in e and "language: python" in e
        # The stage names pre-commit / pre-push exist since pre-commit 3.2.0.
        assert 'minimum_pre_commit_version: "3.2.0"' in e
    assert "entry: leakwarden scan staged" in entries[0] and "entry: leakwarden scan pre-push" in entries[1]


def test_unusual_file_names_keep_their_names(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("init", {"README": "hi\n"})
    names = ["naïve dir/ünï.env", 'tab\there "quoted".env']
    for n in names:
        repo.write(n, f"T={T1}\n")
        repo.git("add", "--", n)
    assert sorted(f.location.path for f in scan_staged(repo.path).findings) == sorted(names)
    head = repo.commit("odd names")
    result, _ = scan_commits(repo.path, [head])
    assert sorted(f.location.path for f in result.findings) == sorted(names)
    # History attribution reads the same names from `git log --raw`.
    from leakwarden.api import scan_git

    (f,) = scan_git(repo.path).findings
    assert sorted([f.location.path, f.details["other_occurrences"][0]["path"]]) == sorted(names)

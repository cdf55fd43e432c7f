"""Ways past the gates that once worked: tags of blobs and trees, config excludes ignored,
the user's diff settings, bypasses without a reason, fingerprints missing from rejections."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from gitrepo import Repo, crates_token, pre_receive_server, push
from tests.conftest import run_cli

from leakwarden.api import scan_commits, scan_staged

T1, T2, T3, T4 = (crates_token(i) for i in (41, 42, 43, 44))
Z40 = "0" * 40


def cli(repo: Repo, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, cwd=None):
    return run_cli(*args, input=input, cwd=cwd or repo.path, env={**repo.env, **(env or {})})


def secrets_of(result):
    return {f.secret.reveal() for f in result.findings}


def blob(repo: Repo, text: str) -> str:
    return repo.git("hash-object", "-w", "--stdin", input=text.encode())


def tree(repo: Repo, entries: dict[str, str]) -> str:
    lines = "".join(f"100644 blob {oid}\t{name}\n" for name, oid in entries.items())
    return repo.git("mktree", input=lines.encode())


# --- tags of blobs and trees ------------------------------------------------------------------


@pytest.fixture
def pushed(tmp_path):
    origin = Repo(tmp_path / "origin.git", bare=True)
    work = Repo(tmp_path / "work")
    work.commit("init", {"README": "hi\n"})
    work.git("remote", "add", "origin", str(origin.path))
    work.git("push", "-q", "origin", "main")
    return origin, work


def pre_push(repo: Repo, ref: str, sha: str):
    return cli(repo, "scan", "pre-push", "origin", "url", "-f", "json", input=f"{ref} {sha} {ref} {Z40}\n".encode())


def test_pre_push_reads_tagged_blobs_trees_and_annotated_tags_of_them(pushed):
    _, repo = pushed
    b = blob(repo, f'token="{T1}"\n')
    t = tree(repo, {"deploy.env": blob(repo, f"T={T2}\n"), "ok.txt": blob(repo, "fine\n")})
    repo.git("tag", "leak-blob", b)
    repo.git("tag", "leak-tree", t)
    repo.git("tag", "-a", "-m", "annotated", "leak-annotated", t)
    repo.git("tag", "-a", "-m", "tag of a tag", "leak-nested", repo.git("rev-parse", "leak-annotated"))
    proc = pre_push(repo, "refs/tags/leak-blob", b)
    assert proc.returncode == 1, proc.stderr
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["secret"] != T1 and f["path"] == "refs/tags/leak-blob" and f["start_line"] == 1
    for name in ("leak-tree", "leak-annotated", "leak-nested"):
        proc = pre_push(repo, f"refs/tags/{name}", repo.git("rev-parse", name))
        assert proc.returncode == 1, (name, proc.stderr)
        assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["deploy.env"]
    # A tag of a clean blob, and of a blob the remote already has, passes.
    assert pre_push(repo, "refs/tags/clean", blob(repo, "nothing here\n")).returncode == 0
    repo.git("push", "-q", "--no-verify", "origin", "leak-blob")
    repo.git("fetch", "-q", "origin", "+refs/tags/*:refs/remotes/origin/tags/*")
    assert pre_push(repo, "refs/tags/again", b).returncode == 0


def test_scan_commits_and_ci_range_read_a_tagged_blob(pushed):
    _, repo = pushed
    base = repo.head()
    repo.git("tag", "leak", blob(repo, f"T={T3}\n"))
    result, finished = scan_commits(repo.path, [f"{base}..leak"])
    assert finished and secrets_of(result) == {T3}
    proc = cli(repo, "scan", "ci", "--range", f"{base}..leak", "-f", "json")
    assert proc.returncode == 1 and len(json.loads(proc.stdout)["findings"]) == 1
    # A commit range still reads commits only, as before.
    repo.commit("clean", {"a.txt": "a\n"})
    result, _ = scan_commits(repo.path, [f"{base}..HEAD"])
    assert result.findings == []


@pytest.fixture
def server(tmp_path):
    return pre_receive_server(tmp_path)


def test_pre_receive_rejects_tags_of_blobs_and_trees(server):
    origin, client = server
    b = blob(client, f'token="{T1}"\n')
    client.git("tag", "leak", b)
    proc = push(client, "leak")
    assert proc.returncode != 0, proc.stderr
    err = proc.stderr.decode()
    assert "push rejected: 1 secret" in err and f"blob {b}" in err and T1 not in err
    client.git("tag", "leak2", tree(client, {"x": b}))
    client.git("tag", "-a", "-m", "m", "leak3", "leak2")
    for tag in ("leak2", "leak3"):
        proc = push(client, tag)
        assert proc.returncode != 0 and "x:1" in proc.stderr.decode(), tag
    assert origin.git("tag", "--list") == ""
    client.git("tag", "fine", tree(client, {"ok.txt": blob(client, "ok\n")}))
    assert push(client, "fine").returncode == 0


# --- exclude_paths and --exclude ------------------------------------------------------------


def test_every_gate_honours_config_exclude_paths_and_exclude(pushed):
    _, repo = pushed
    repo.write(".leakwarden.toml", 'exclude_paths = ["tests/fixtures/"]\n')
    repo.write("tests/fixtures/t.py", f'T="{T1}"\n')
    repo.write("docs/example.env", f"T={T2}\n")
    repo.git("add", "-A")
    proc = cli(repo, "scan", "staged", "-f", "json")
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["docs/example.env"]
    assert cli(repo, "scan", "staged", "--exclude", "docs/*.env").returncode == 0
    sub = repo.path / "docs"
    assert cli(repo, "scan", "staged", "-q", "--exclude", "*.env", cwd=sub).returncode == 0
    base = repo.head()
    repo.commit("fixtures")
    head = repo.head()
    proc = pre_push(repo, "refs/heads/main", head)
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["docs/example.env"]
    proc = cli(repo, "scan", "pre-push", "origin", "url", "--exclude", "/docs", input=f"refs/heads/main {head} refs/heads/main {base}\n".encode())
    assert proc.returncode == 0, proc.stdout
    proc = cli(repo, "scan", "ci", "--range", f"{base}..{head}", "-f", "json")
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["docs/example.env"]
    assert cli(repo, "scan", "ci", "--range", f"{base}..{head}", "--exclude", "docs/").returncode == 0


def test_pre_receive_honours_the_servers_exclude_paths(server):
    origin, client = server
    (origin.path / ".leakwarden.toml").write_text('exclude_paths = ["fixtures/"]\n')
    client.commit("fixture", {"fixtures/t.env": f"T={T3}\n"})
    assert push(client, "main").returncode == 0
    client.commit("leak", {"app.env": f"T={T4}\n"})
    assert push(client, "main").returncode != 0
    assert push(client, "main", env={"LEAKWARDEN_HOOK_ARGS": "--exclude app.env"}).returncode == 0


# --- the user's git settings ------------------------------------------------------------------


def test_user_diff_settings_do_not_change_what_the_gates_see(tmp_path):
    repo = Repo(tmp_path / "r")
    body = "a\n\n\n\nb\n\n"
    repo.commit("init", {"README": "hi\n", "sub/x.txt": "x\n", "other/app.env": body})
    for key, value in (("diff.relative", "true"), ("diff.suppressBlankEmpty", "true"), ("diff.noprefix", "true"),
                       ("diff.mnemonicPrefix", "true"), ("color.ui", "always"), ("log.showSignature", "true"),
                       ("diff.submodule", "log")):
        repo.git("config", "--global", key, value)
    repo.write("other/app.env", body + f"T={T1}\n")
    repo.git("add", "other/app.env")
    # Run from another folder: with diff.relative git would show only that folder's changes.
    proc = cli(repo, "scan", "staged", "-f", "json", cwd=repo.path / "sub")
    assert proc.returncode == 1, proc.stderr
    (f,) = json.loads(proc.stdout)["findings"]
    assert (f["path"], f["start_line"]) == ("other/app.env", 7)
    head = repo.commit("leak")
    proc = cli(repo, "scan", "ci", "--range", f"{head}~1..{head}", "-f", "json", cwd=repo.path / "sub")
    (f,) = json.loads(proc.stdout)["findings"]
    assert (f["path"], f["start_line"]) == ("other/app.env", 7)


def test_root_commit_is_read_even_with_log_show_root_off(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.git("config", "log.showRoot", "false")
    root = repo.commit("root", {"a.env": f"T={T1}\n"})
    result, _ = scan_commits(repo.path, [root])
    assert secrets_of(result) == {T1}


def test_a_personal_attributes_file_cannot_hide_files_from_the_gate(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("init", {"README": "hi\n"})
    attrs = tmp_path / "attributes"
    attrs.write_text("*.env -diff\n")
    repo.git("config", "core.attributesFile", str(attrs))
    repo.write("a.env", f"T={T1}\n")
    repo.git("add", "a.env")
    assert secrets_of(scan_staged(repo.path)) == {T1}


# --- bypasses need a reason; rejections show fingerprints ------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "YES", "   "])
def test_a_bypass_without_a_reason_is_refused(tmp_path, value):
    repo = Repo(tmp_path / "r")
    repo.commit("init", {"README": "hi\n"})
    repo.write("a.env", f"T={T1}\n")
    repo.git("add", "a.env")
    proc = cli(repo, "scan", "staged", env={"LEAKWARDEN_SKIP": value})
    if not value.strip():
        assert proc.returncode == 1  # an empty variable asks for nothing: the check runs
        return
    assert proc.returncode == 2
    assert b'a bypass needs a reason' in proc.stderr and b'LEAKWARDEN_SKIP="<reason>"' in proc.stderr
    assert not (repo.path / ".git/leakwarden/bypass.log").exists()
    assert cli(repo, "scan", "staged", env={"LEAKWARDEN_SKIP": "0"}).returncode == 1


def test_push_option_bypass_without_a_reason_is_refused(server):
    origin, client = server
    client.git("-C", str(origin.path), "config", "receive.advertisePushOptions", "true")
    client.commit("leak", {"a.env": f"T={T2}\n"})
    for opt in ("leakwarden-skip", "leakwarden-skip=  "):
        proc = push(client, "-o", opt, "main")
        assert proc.returncode != 0 and b'leakwarden-skip="<reason>"' in proc.stderr
    assert not (origin.path / "leakwarden/bypass.log").exists()
    assert push(client, "-o", "leakwarden-skip=revoked, SEC-1", "main").returncode == 0


def test_rejections_print_each_fingerprint(server, tmp_path):
    origin, client = server
    client.commit("leak", {"a.env": f"T={T3}\n"})
    proc = push(client, "main")
    fp = json.loads(cli(client, "scan", "ci", "--range", "origin/main..main", "-f", "json").stdout)["findings"][0]["fingerprint"]
    assert f"fingerprint {fp}" in proc.stderr.decode()
    client.write("b.env", f"T={T4}\n")
    client.git("add", "b.env")
    proc = cli(client, "scan", "staged")
    fp4 = json.loads(cli(client, "scan", "staged", "-f", "json").stdout)["findings"][0]["fingerprint"]
    assert proc.returncode == 1 and f"{fp4}  b.env:1" in proc.stderr.decode()
    # The fingerprint shown is the one .leakwardenignore takes.
    (client.path / ".leakwardenignore").write_text(f"{fp4}\n")
    assert cli(client, "scan", "staged").returncode == 0


def test_pre_receive_timeout_allowed_is_logged(server):
    origin, client = server
    client.commit("leak", {"a.env": f"T={T1}\n"})
    proc = push(client, "main", env={"LEAKWARDEN_HOOK_ARGS": "--timeout 0"})
    assert proc.returncode == 0 and b"push allowed unchecked" in proc.stderr
    (entry,) = [json.loads(x) for x in (origin.path / "leakwarden/bypass.log").read_text().splitlines()]
    assert entry["gate"] == "pre-receive" and "did not finish" in entry["reason"] and entry["refs"] == ["refs/heads/main"]


# --- files the repository's own attributes mark binary -----------------------------------------


def test_a_committed_minus_diff_attribute_cannot_hide_text_from_the_gates(pushed):
    """`*.env -diff` in .gitattributes makes git print "Binary files ... differ" for text: the
    gates read those files whole. Real binaries stay skipped."""
    _, repo = pushed
    repo.commit("attributes", {".gitattributes": "*.env -diff\n*.gif -diff\n"})
    base = repo.head()
    repo.write("prod.env", f"CARGO_REGISTRY_TOKEN={T3}\n")
    repo.write("logo.gif", b"GIF89a\x00\x00" + f"{T4}".encode())
    repo.git("add", "prod.env", "logo.gif")
    staged = scan_staged(repo.path)
    assert secrets_of(staged) == {T3}
    assert staged.stats.skipped == 1  # the gif: a NUL byte, git's own test for binary
    head = repo.commit("leak")
    result, _ = scan_commits(repo.path, [f"{base}..HEAD"])
    [f] = result.findings
    assert (f.secret.reveal(), f.location.path, f.location.commit, f.location.start_line) == (T3, "prod.env", head, 1)
    proc = pre_push(repo, "refs/heads/main", head)
    assert proc.returncode == 1 and [x["path"] for x in json.loads(proc.stdout)["findings"]] == ["prod.env"]



def test_a_file_read_whole_keeps_its_path_when_the_name_holds_and_b(tmp_path):
    """git prints "Binary files a/X and b/X differ": a name with " and b/" in it once made the
    finding point at the wrong file. New, changed, renamed and quoted names all keep theirs."""
    repo = Repo(tmp_path / "repo")
    settings = "".join(f"SETTING_{i}=value number {i}\n" for i in range(40))
    repo.commit("attributes", {".gitattributes": "*.env -diff\n", "old.env": settings})
    base = repo.head()
    names = {"new and b/x.env": T1, "tab\tand b/q.env": T2}
    repo.commit("add", {name: f"T={token}\n" for name, token in names.items()})
    repo.commit("change", {"new and b/x.env": f"T={T1}\nU={T3}\n"})
    repo.commit("rename", {"moved and b/old.env": f"{settings}T={T4}\n"}, remove=("old.env",))
    assert "rename old.env" in repo.git("show", "-M", "--summary", "--format=", "HEAD")
    result, _ = scan_commits(repo.path, [f"{base}..HEAD"])
    where = {f.secret.reveal(): f.location.path for f in result.findings}
    assert where == {T1: "new and b/x.env", T2: "tab\tand b/q.env", T3: "new and b/x.env", T4: "moved and b/old.env"}


@pytest.mark.parametrize("on_timeout, code", [("allow", 0), ("reject", 1)])
def test_pre_receive_budget_covers_the_steps_before_the_diff(tmp_path, on_timeout, code):
    """A step before the diff that never ends (here git's object check hangs) once held the push
    forever: the budget now ends the whole hook."""
    repo = Repo(tmp_path / "repo")
    repo.commit("leak", {"a.env": f"T={T1}\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in "--batch-check=%(objectname)") exec sleep 300;; esac; done\n'
        f'exec {shutil.which("git")} "$@"\n'
    )
    wrapper.chmod(0o755)
    stdin = f"{Z40} {repo.head()} refs/heads/main\n".encode()
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = cli(repo, "scan", "pre-receive", "--timeout", "1", "--on-timeout", on_timeout, input=stdin, env=env)
    assert proc.returncode == code, proc.stderr
    assert b"did not finish within 1s" in proc.stderr

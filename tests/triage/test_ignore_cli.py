"""`leakwarden ignore` (reason, author, date; --last-found), hook bypass records, progress."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from leakwarden.triage.ignore import read_ignore_file
from tests.conftest import run_cli, run_cli_on_pty

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def token(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "cio" + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:32])


def fp(secret: str) -> str:
    return hashlib.sha256(f"crates-io-api-token\x00{secret}".encode()).hexdigest()


A, B = token("a"), token("b")


def test_ignore_writes_reason_author_date_and_keeps_old_lines(tmp_path):
    old_line = f"{'0' * 64}  # hand-written, older format"
    (tmp_path / ".leakwardenignore").write_text(old_line + "\n" + "1" * 64 + "\n")
    (tmp_path / "a.txt").write_text(f'k = "{A}"\nj = "{B}"\n')
    res = run_cli("ignore", fp(A), "--reason", "test fixture\n# not a comment", "--author", "Alice <a@example.com>", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = (tmp_path / ".leakwardenignore").read_text().splitlines()
    assert lines[:2] == [old_line, "1" * 64]
    entries = read_ignore_file(tmp_path / ".leakwardenignore")
    e = entries[fp(A)]
    assert (e.author, e.reason) == ("Alice <a@example.com>", "test fixture not a comment")
    assert len(e.date) == 10 and e.date[4] == "-"
    assert entries["0" * 64].reason == "hand-written, older format"
    res = run_cli("scan", "path", ".", "-f", "json", cwd=tmp_path)
    assert [f["fingerprint"] for f in json.loads(res.stdout)["findings"]] == [fp(B)]


def test_ignore_author_defaults_to_git_identity(tmp_path):
    env = {"GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "config", "--global", "user.name", "Bob Builder"], env={**os.environ, **env}, check=True)
    subprocess.run(["git", "config", "--global", "user.email", "bob@example.com"], env={**os.environ, **env}, check=True)
    assert run_cli("ignore", fp(A), "-r", "demo", cwd=tmp_path, env=env).returncode == 0
    assert read_ignore_file(tmp_path / ".leakwardenignore")[fp(A)].author == "Bob Builder <bob@example.com>"
    env2 = {"GIT_CONFIG_GLOBAL": str(tmp_path / "none"), "GIT_CONFIG_NOSYSTEM": "1", "USER": "carol"}
    assert run_cli("ignore", fp(B), "-r", "demo", cwd=tmp_path, env=env2).returncode == 0
    assert read_ignore_file(tmp_path / ".leakwardenignore")[fp(B)].author == "carol"


def test_ignore_rejects_bad_input(tmp_path):
    assert run_cli("ignore", "xyz", "-r", "r", cwd=tmp_path).returncode == 2
    assert run_cli("ignore", fp(A), "-r", "  ", cwd=tmp_path).returncode == 2
    assert run_cli("ignore", fp(A), cwd=tmp_path).returncode == 2  # --reason is required
    (tmp_path / ".leakwardenignore").write_text("garbage line\n")
    res = run_cli("ignore", fp(A), "-r", "r", cwd=tmp_path)
    assert res.returncode == 2 and "not a finding fingerprint" in res.stderr.decode()
    assert (tmp_path / ".leakwardenignore").read_text() == "garbage line\n"


def test_ignore_last_found(tmp_path):
    (tmp_path / "a.txt").write_text(f'k = "{A}"\nj = "{B}"\n')
    assert run_cli("scan", "path", ".", cwd=tmp_path).returncode == 1
    res = run_cli("ignore", "--last-found", "--reason", "accepted during onboarding", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert set(read_ignore_file(tmp_path / ".leakwardenignore")) == {fp(A), fp(B)}
    assert run_cli("scan", "path", ".", cwd=tmp_path).returncode == 0


def test_ignore_last_found_without_a_scan(tmp_path):
    res = run_cli("ignore", "--last-found", "-r", "x", cwd=tmp_path, env={"LEAKWARDEN_CACHE_DIR": str(tmp_path / "empty-cache")})
    assert res.returncode == 2 and "no previous scan" in res.stderr.decode()


def test_record_bypass_logs_and_stores(tmp_path, monkeypatch):
    from leakwarden.errors import UsageError
    from leakwarden.store import open_store
    from leakwarden.triage.bypass import read_bypass_log, record_bypass

    monkeypatch.setenv("LEAKWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    store = str(tmp_path / "s.db")
    rec = record_bypass("release hotfix, key is a test key", {"hook": "pre-commit", "fingerprints": [fp(A)]}, store=store, author="dave")
    record_bypass("second", {"hook": "pre-push"}, author="erin")
    with pytest.raises(UsageError):
        record_bypass("   ", {})
    log = read_bypass_log()
    assert [(r["reason"], r["author"], r["context"]["hook"]) for r in log] == [
        ("release hotfix, key is a test key", "dave", "pre-commit"),
        ("second", "erin", "pre-push"),
    ]
    with open_store(store) as st:
        ((sid, reason, author, context, _),) = st.bypasses()
    assert (sid, reason, author, context["fingerprints"]) == (rec["store_id"], "release hotfix, key is a test key", "dave", [fp(A)])


def test_progress_on_a_terminal_only(tmp_path):
    for i in range(30):
        (tmp_path / f"f{i}.txt").write_text(("filler line\n" * 2000) + (f'k = "{A}"\n' if i == 3 else ""))
    code, shown = run_cli_on_pty(["scan", "path", "."], tmp_path, {})
    assert code == 1
    assert "scanning" in shown and "files" in shown and "findings" in shown
    code, shown = run_cli_on_pty(["scan", "path", ".", "--quiet"], tmp_path, {})
    assert code == 1 and "scanning" not in shown
    res = run_cli("scan", "path", ".", cwd=tmp_path, env={"LEAKWARDEN_PROGRESS_ALWAYS": "1"})
    assert res.returncode == 1 and res.stderr == b""


def test_hook_bypass_is_recorded_in_the_store(tmp_path):
    from leakwarden.store import open_store

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "deploy.sh").write_text(f"cargo publish --token {A}\n")
    subprocess.run(["git", "-C", str(repo), "add", "deploy.sh"], check=True)
    store = tmp_path / "team.db"
    blocked = run_cli("scan", "staged", cwd=repo, env={"LEAKWARDEN_STORE": str(store)})
    assert blocked.returncode == 1, blocked.stderr
    res = run_cli("scan", "staged", cwd=repo, env={"LEAKWARDEN_STORE": str(store), "LEAKWARDEN_SKIP": "demo key, revoked already"})
    assert res.returncode == 0, res.stderr
    assert "recorded in the findings store" in res.stderr.decode()
    with open_store(store) as st:
        ((_, reason, _author, context, _),) = st.bypasses()
        assert len(st.list_incidents()) == 1  # the blocked attempt was recorded as an incident
    assert reason == "demo key, revoked already" and context["gate"] == "pre-commit"


def test_a_pasted_secret_is_not_echoed_back_by_error_messages(tmp_path):
    """People paste the secret where a fingerprint belongs: errors show 4 characters and a length."""
    (tmp_path / ".leakwardenignore").write_text(f"{A}\n")
    res = run_cli("scan", "path", ".", cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 2 and "not a finding fingerprint" in err and f"{len(A)} characters" in err
    assert A[4:12] not in err and A[4:12].lower() not in err
    (tmp_path / ".leakwardenignore").unlink()
    res = run_cli("ignore", A, "-r", "x", cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 2 and "not a finding fingerprint" in err and f"'{A[:4]}'…" in err
    assert A[4:12] not in err and A[4:12].lower() not in err


def test_an_ignore_file_saved_with_a_byte_order_mark_and_crlf_is_read(tmp_path):
    # Windows editors save UTF-8 with a BOM; it used to make line 1 "not a fingerprint"
    from leakwarden.triage.ignore import add_entries

    path = tmp_path / ".leakwardenignore"
    path.write_bytes(b"\xef\xbb\xbf" + f"{fp('a')}  # fixture\r\n{fp('b')}\r\n".encode())
    entries = read_ignore_file(path)
    assert list(entries) == [fp("a"), fp("b")] and entries[fp("a")].reason == "fixture"
    assert add_entries(path, {fp("a"): f"{fp('a')}  # 2026-11-25 alice: replaced"}) == 0
    assert list(read_ignore_file(path)) == [fp("a"), fp("b")]


def test_the_checkouts_ignore_file_applies_to_a_scan_of_a_subfolder(tmp_path, monkeypatch):
    from leakwarden.api import scan_paths

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    secret = token("subfolder")
    (repo / "sub" / "a.py").write_text(f'token = "{secret}"\n')
    (repo / ".leakwardenignore").write_text(f"{fp(secret)}  # fixture\n")
    monkeypatch.chdir(repo / "sub")
    for root in (".", str(repo / "sub"), "a.py"):
        result = scan_paths([root])
        assert result.findings == [] and result.stats.suppressed == {"ignore_file": 1}, root
    # outside that checkout its file does not apply
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.py").write_text(f'token = "{secret}"\n')
    assert len(scan_paths([str(other)]).findings) == 1


def test_ignore_last_found_refuses_a_damaged_record_instead_of_breaking_the_ignore_file(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "last-found.json").write_text(json.dumps({"version": 1, "findings": [{"fingerprint": fp(A)}, {"fingerprint": "not-hex"}]}))
    res = run_cli("ignore", "--last-found", "-r", "x", cwd=tmp_path, env={"LEAKWARDEN_CACHE_DIR": str(cache)})
    assert res.returncode == 2 and "without a valid fingerprint" in res.stderr.decode()
    assert not (tmp_path / ".leakwardenignore").exists()

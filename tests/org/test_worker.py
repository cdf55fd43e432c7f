"""The worker side: shipped Hyperscan bytes, compact results, git's environment."""

from __future__ import annotations

import base64
import dataclasses
import pickle

import pytest

from leakwarden.org import worker
from leakwarden.org.worker import RepoTask, compact, git_env, init_worker, make_setup, scan_repo
from tests.org.repos import token


def test_shipped_database_bytes_are_installed_and_bad_bytes_fall_back_to_compiling(repos, tmp_path, monkeypatch):
    pytest.importorskip("hyperscan")
    from leakwarden.api import build_detector
    from leakwarden.config import Settings
    from leakwarden.matcher import hyperscan

    # One rule keeps the worker's own compile quick.
    settings = Settings(only_rules=("crates-io-api-token",), engine="hyperscan")
    setup = make_setup(settings, build_detector(settings))
    assert setup.databases and all(h and data for h, data in setup.databases)
    assert len(pickle.dumps(setup)) < 8 * 1024 * 1024

    # A worker with an empty cache: the shipped bytes land in it and load without compiling.
    monkeypatch.setenv("LEAKWARDEN_CACHE_DIR", str(tmp_path / "good"))
    monkeypatch.setattr(worker, "_detectors", {})
    init_worker(setup)
    assert sorted(p.read_bytes() for p in (tmp_path / "good" / "hyperscan").iterdir()) == sorted(d for _, d in setup.databases)

    # Bytes this machine cannot load (another CPU, a corrupt transfer) are refused; the worker
    # compiles from the rules and still finds the secrets.
    assert not hyperscan.install_serialised("x" * 64, b"\nnot a database")
    broken = dataclasses.replace(setup, databases=tuple((h, b"\n" + b"\0" * 64) for h, _ in setup.databases))
    monkeypatch.setenv("LEAKWARDEN_CACHE_DIR", str(tmp_path / "bad"))
    monkeypatch.setattr(worker, "_detectors", {})
    init_worker(broken)
    paths, _ = repos
    res = scan_repo(RepoTask("r00", str(paths[0])), broken.key)
    assert res.status == "scanned" and len(res.findings) == 1


def test_results_are_compact_and_hold_no_secret(detector, repos, monkeypatch):
    settings, det = detector
    setup = make_setup(settings, det)
    monkeypatch.setattr(worker, "_detectors", {})
    init_worker(setup)
    paths, _ = repos
    res = scan_repo(RepoTask("r05", str(paths[5])), setup.key)
    assert res.status == "scanned" and res.head and len(res.findings) == 1
    blob = pickle.dumps(res)
    assert token(0).encode() not in blob and len(blob) < 4096
    item = res.findings[0]
    assert item["masked"] != token(0) and item["location"]["path"] == "old.env" and item["location"]["commit"]
    # A second task on an unchanged repository does not clone it.
    again = scan_repo(RepoTask("r05", str(paths[5]), known_heads=(res.head,)), setup.key)
    assert again.status == "unchanged"
    missing = scan_repo(RepoTask("gone", str(paths[5]) + "-missing"), setup.key)
    assert missing.status == "failed" and "git" in missing.error


def test_compact_findings_drop_related_values(detector):
    from leakwarden.api import scan_text

    _, det = detector
    found = scan_text(f'token = "{token(3)}"\n', path="a.toml", detector=det)
    assert found
    assert token(3) not in repr(compact(found[0]))


def test_git_gets_the_token_as_a_header_for_the_clone_origin_only(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_worker")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = git_env(RepoTask("github.com/acme/api", "https://github.com/acme/api.git", "github"))
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic " + base64.b64encode(b"x-access-token:ghp_worker").decode()
    assert "ext" not in env["GIT_ALLOW_PROTOCOL"].split(":") and env["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_DIR" not in env
    assert "GIT_CONFIG_KEY_0" not in git_env(RepoTask("example.org/x", "https://example.org/x.git"))
    assert "GIT_CONFIG_KEY_0" not in git_env(RepoTask("/srv/x", "/srv/x.git"))


def test_the_ref_state_seen_by_ls_remote_is_the_one_a_clone_records(tmp_path):
    """The pre-clone check compares `git ls-remote` with the state recorded after a clone: both
    must describe branches and tags alike, or the shortcut never (or wrongly) applies."""
    from leakwarden.org.worker import clone, remote_state
    from tests.org.repos import add_commit, git

    work = tmp_path / "work" / "w"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    add_commit(work, {"a.txt": "one\n"}, "one", 1)
    git(work, "tag", "-a", "v1", "-m", "release")  # annotated: ls-remote also lists v1^{}
    git(work, "tag", "light")
    git(work, "checkout", "-q", "-b", "topic")
    add_commit(work, {"b.txt": "two\n"}, "two", 2)
    bare = tmp_path / "w.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    task = RepoTask("w", str(bare))
    env = git_env(task)
    assert remote_state(task, env) == clone(task, str(tmp_path / "copy.git"), env, 1 << 20)
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    assert remote_state(RepoTask("e", str(empty)), env) != remote_state(task, env)


def test_a_repository_empty_at_the_first_scan_is_scanned_once_it_has_commits(detector, tmp_path):
    from leakwarden.org.run import run_org_scan
    from tests.org.repos import add_commit, git

    settings, det = detector
    empty = tmp_path / "late.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(empty))
    store = str(tmp_path / "s.db")
    _, first = run_org_scan([(str(empty), "")], settings, det, engine="local:1", store=store)
    assert (first.scanned, first.failed) == (1, 0)
    work = tmp_path / "work" / "late"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    add_commit(work, {"config.toml": f'token = "{token(7)}"\n'}, "config", 1)
    git(work, "push", "-q", str(empty), "main")
    result, second = run_org_scan([(str(empty), "")], settings, det, engine="local:1", store=store)
    assert (second.scanned, second.unchanged) == (1, 0)
    assert len(result.findings) == 1

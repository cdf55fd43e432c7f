"""Damaged repositories: objects git cannot read are an error, never a silent "0 findings"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gitrepo import Repo, crates_token
from tests.conftest import run_cli

from leakwarden.api import scan_git
from leakwarden.models import UNREADABLE_OBJECTS

T1, T2 = crates_token(11), crates_token(12)
MODES = [{}, {"whole_blobs": True}, {"revs": ("main",)}]


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.commit("initial", {"README.md": "hello\n", "other.env": f"T={T2}\n"})
    r.commit("secret", {"app.env": f"T={T1}\n"})
    return r


def _loose(repo: Repo, oid: str) -> Path:
    path = repo.path / ".git" / "objects" / oid[:2] / oid[2:]
    os.chmod(path, 0o644)
    return path


def _unreadable(result):
    return [e for e in result.errors if e.kind == UNREADABLE_OBJECTS]


def _secrets(result):
    return {f.secret.reveal() for f in result.findings}


def test_intact_repository_reports_no_unreadable_objects(repo):
    for mode in MODES:
        result = scan_git(repo.path, **mode)
        assert _secrets(result) == {T1, T2} and _unreadable(result) == []
    repo.git("gc", "-q")
    for mode in MODES:
        result = scan_git(repo.path, **mode)
        assert _secrets(result) == {T1, T2} and _unreadable(result) == []


@pytest.mark.parametrize("mode", MODES)
def test_corrupt_loose_blob_is_counted_and_the_rest_still_scanned(repo, mode):
    _loose(repo, repo.git("rev-parse", "HEAD:app.env")).write_bytes(b"garbage")
    result = scan_git(repo.path, **mode)
    assert _secrets(result) == {T2}
    (err,) = _unreadable(result)
    assert err.message.startswith("1 object(s)") and "git fsck" in err.message


@pytest.mark.parametrize("mode", MODES[:2])
def test_deleted_loose_blob_is_found_missing(repo, mode):
    _loose(repo, repo.git("rev-parse", "HEAD:app.env")).unlink()
    result = scan_git(repo.path, **mode)
    (err,) = _unreadable(result)
    assert "1 object(s) named by recent commits could not be read" in err.message


def test_deleted_loose_blob_in_a_range_scan_stops_with_an_error(repo):
    _loose(repo, repo.git("rev-parse", "HEAD:app.env")).unlink()
    proc = run_cli("scan", "git", str(repo.path), "--branch", "main")
    assert proc.returncode == 2 and b"missing blob" in proc.stderr


@pytest.mark.parametrize("damage", ["garbage-idx", "no-idx"])
def test_damaged_pack_index_is_reported(repo, damage):
    repo.git("gc", "-q")
    (idx,) = (repo.path / ".git" / "objects" / "pack").glob("*.idx")
    os.chmod(idx, 0o644)
    if damage == "garbage-idx":
        idx.write_bytes(b"garbage")
    else:
        idx.unlink()
    for mode in MODES[:2]:
        result = scan_git(repo.path, **mode)
        assert result.findings == []
        (err,) = _unreadable(result)
        assert ("index file" in err.message) if damage == "garbage-idx" else ("have no index" in err.message)


def test_cli_exits_2_in_every_format_and_names_the_problem(repo, tmp_path):
    _loose(repo, repo.git("rev-parse", "HEAD:app.env")).write_bytes(b"garbage")
    _loose(repo, repo.git("rev-parse", "HEAD~1:other.env")).write_bytes(b"garbage")
    proc = run_cli("scan", "git", str(repo.path))
    assert proc.returncode == 2
    assert b"2 object(s) could not be read" in proc.stdout and b"scan is incomplete" in proc.stderr
    proc = run_cli("scan", "git", str(repo.path), "-q")
    assert proc.returncode == 2 and b"2 object(s) could not be read" in proc.stderr
    proc = run_cli("scan", "git", str(repo.path), "-f", "json")
    assert proc.returncode == 2
    errors = json.loads(proc.stdout)["errors"]
    assert [e["kind"] for e in errors] == [UNREADABLE_OBJECTS]
    out = tmp_path / "r.sarif"
    proc = run_cli("scan", "git", str(repo.path), "-f", "sarif", "-o", str(out))
    assert proc.returncode == 2 and b"could not be read" in proc.stderr and out.exists()


def test_findings_still_exit_1_when_some_objects_are_unreadable(repo):
    _loose(repo, repo.git("rev-parse", "HEAD:app.env")).write_bytes(b"garbage")
    proc = run_cli("scan", "git", str(repo.path))
    assert proc.returncode == 1 and b"1 object(s) could not be read" in proc.stdout


def test_bad_packed_refs_line_is_an_error(repo):
    repo.git("pack-refs", "--all")
    with open(repo.path / ".git" / "packed-refs", "a") as fh:
        fh.write("zzzz bad line\n")
    for args in ([], ["--whole-blobs"]):
        proc = run_cli("scan", "git", str(repo.path), *args)
        assert proc.returncode == 2 and b"packed-refs" in proc.stderr

# ruff: noqa: F811 -- pytest fixtures imported from pgserver are test parameters here
"""Incremental history scans through the store, on real repositories: blobs already scanned
under the same rules are never read again, and the secrets in them are still reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gitrepo import Repo, crates_token
from tests.conftest import SRC, run_cli
from tests.pgserver import pg_server, store_target  # noqa: F401 (fixtures)
from tests.procs import finish_all

from leakwarden.api import scan_git
from leakwarden.config import Settings
from leakwarden.models import secret_fingerprint
from leakwarden.sources import git_history
from leakwarden.store import open_store
from leakwarden.triage.incremental import repository_key

T1, T2 = crates_token(11), crates_token(12)
RULE = "crates-io-api-token"


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.commit("initial", {"README.md": "hello\n", "src/app.py": "print('hi')\n"})
    r.commit("add config", {"config.toml": f'[registry]\ntoken = "{T1}"\n'})
    r.commit("remove config", remove=("config.toml",))
    return r


def blob_ids(repo: Repo) -> set[str]:
    out = repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname) %(objectsize)")
    return {oid for kind, oid, size in (line.split() for line in out.splitlines()) if kind == "blob" and int(size)}


def blobs_read(result) -> int:
    return result.stats.files + result.stats.skipped  # text blobs scanned + binary blobs read


def test_first_scan_marks_blobs_rescan_reads_none_and_still_reports(repo, store_target):
    settings = Settings(store=store_target, jobs=1)
    first = scan_git(repo.path, settings=settings)
    assert blobs_read(first) == len(blob_ids(repo)) and first.stats.already_scanned == 0
    (f1,) = first.findings
    assert f1.secret.reveal() == T1 and not f1.details.get("previously_seen")
    with open_store(store_target) as st:
        (h,) = {r[0] for r in st.db.execute("SELECT DISTINCT ruleset_hash FROM scanned_blobs")}
        assert st.scanned_blob_ids(repository_key(repo.path), h) == blob_ids(repo)
        (occ,) = st.get_incident(st.list_incidents()[0].id).occurrences
        assert (occ.line, occ.start_column, occ.ruleset_hash) == (2, f1.location.start_column, h)

    again = scan_git(repo.path, settings=settings)
    assert blobs_read(again) == 0 and again.stats.bytes == 0
    assert again.stats.already_scanned == len(blob_ids(repo))
    (f2,) = again.findings  # the leaked secret is still open: still reported
    assert f2.details["previously_seen"] is True
    assert f2.fingerprint == f1.fingerprint == secret_fingerprint(RULE, T1)
    assert (f2.location.path, f2.location.commit, f2.location.start_line) == ("config.toml", f1.location.commit, 2)
    assert T1 not in str(f2.secret) and T1 not in f2.secret.reveal()  # the store has no plaintext
    assert f1.details["occurrence_count"] == f2.details["occurrence_count"] == 1  # was 0 from the store

    # --new-only: only what this scan read
    assert scan_git(repo.path, settings=settings, new_only=True).findings == []


def test_history_reader_skips_known_blobs(repo):
    """The reader itself, both paths: no known blob is read, skipped ones are reported."""
    known = frozenset(blob_ids(repo))
    for revs in ((), ("HEAD",)):
        from leakwarden.api import build_detector
        from leakwarden.models import ScanResult

        res = ScanResult()
        seen = git_history.scan_history(str(repo.path), build_detector(Settings()), git_history.HistoryOptions(revs=revs, jobs=1, skip_blobs=known), res)
        assert seen.read == set() and res.findings == []
        reachable = known if not revs else {b for b in known if b in blob_ids(repo)}
        assert seen.skipped == reachable


def test_new_commit_reads_only_new_blobs(repo, tmp_path):
    settings = Settings(store=str(tmp_path / "s.db"), jobs=1)
    scan_git(repo.path, settings=settings)
    before = blob_ids(repo)
    repo.commit("more", {"src/app.py": "print('hi')\nx = 1\n", "deploy.env": f"CARGO_REGISTRY_TOKEN={T2}\n"})
    new = blob_ids(repo) - before
    assert len(new) == 2
    result = scan_git(repo.path, settings=settings)
    assert blobs_read(result) == len(new) and result.stats.already_scanned == len(before)
    by_secret = {f.fingerprint: f for f in result.findings}
    fresh = by_secret[secret_fingerprint(RULE, T2)]
    assert fresh.secret.reveal() == T2 and fresh.location.path == "deploy.env" and not fresh.details.get("previously_seen")
    assert by_secret[secret_fingerprint(RULE, T1)].details["previously_seen"]
    # a range scan of the same commits reads nothing now
    ranged = scan_git(repo.path, ["HEAD~1..HEAD"], settings=settings)
    assert blobs_read(ranged) == 0 and ranged.stats.already_scanned == len(new)
    assert [f.fingerprint for f in ranged.findings] == [secret_fingerprint(RULE, T2)]  # rebuilt from the store
    assert ranged.findings[0].details["previously_seen"]


def test_range_scan_marks_and_full_scan_reuses(repo, tmp_path):
    settings = Settings(store=str(tmp_path / "s.db"), jobs=1)
    ranged = scan_git(repo.path, ["HEAD~1"], settings=settings)  # the commit with the config
    assert {f.secret.reveal() for f in ranged.findings} == {T1}
    full = scan_git(repo.path, settings=settings)
    assert full.stats.already_scanned == blobs_read(ranged)
    assert blobs_read(full) == len(blob_ids(repo)) - blobs_read(ranged)
    assert [f.fingerprint for f in full.findings] == [secret_fingerprint(RULE, T1)]


def test_ruleset_change_means_full_rescan(repo, tmp_path):
    db = str(tmp_path / "s.db")
    scan_git(repo.path, settings=Settings(store=db, jobs=1))
    other_rules = Settings(store=db, jobs=1, disable_rules=("jwt",))
    result = scan_git(repo.path, settings=other_rules)
    assert blobs_read(result) == len(blob_ids(repo)) and result.stats.already_scanned == 0
    (f,) = result.findings
    assert f.secret.reveal() == T1 and not f.details.get("previously_seen")
    assert blobs_read(scan_git(repo.path, settings=other_rules)) == 0


def test_parallel_full_history_slices_skip_known_blobs(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(git_history, "PARALLEL_MIN_BYTES", 1)
    settings = Settings(store=str(tmp_path / "s.db"), jobs=2)
    first = scan_git(repo.path, settings=settings)
    assert blobs_read(first) == len(blob_ids(repo))
    repo.commit("more", {f"f{i}.txt": f"file {i}\n" * 50 for i in range(6)} | {"k.env": f"K={T2}\n"})
    result = scan_git(repo.path, settings=settings)
    assert blobs_read(result) == 7 and result.stats.already_scanned == len(blob_ids(repo)) - 7
    assert {f.secret.reveal() for f in result.findings if not f.details.get("previously_seen")} == {T2}
    assert {f.fingerprint for f in result.findings} == {secret_fingerprint(RULE, T1), secret_fingerprint(RULE, T2)}


def test_cli_rescan_exit_codes_ignore_and_baseline_apply_to_stored_findings(repo, tmp_path):
    db = str(tmp_path / "s.db")
    res = run_cli("scan", "git", str(repo.path), "--store", db, "-f", "json", "-j", "1")
    assert res.returncode == 1, res.stderr
    res = run_cli("scan", "git", str(repo.path), "--store", db, "-j", "1")
    out = res.stdout.decode()
    assert res.returncode == 1 and "previously seen (incident 1" in out and f"{len(blob_ids(repo))} blobs already scanned" in out
    assert T1 not in out
    res = run_cli("scan", "git", str(repo.path), "--store", db, "--new-only", "-j", "1")
    assert res.returncode == 0, res.stdout
    # the baseline hides the stored finding, and the report says so
    base = tmp_path / "base.json"
    assert run_cli("baseline", "create", str(repo.path), "--output", str(base), cwd=repo.path).returncode in (0, 1)
    if secret_fingerprint(RULE, T1) not in base.read_text():  # `baseline create` scans the working tree; the secret is in history only
        res = run_cli("scan", "git", str(repo.path), "-f", "json", "-o", str(tmp_path / "r.json"), "-j", "1")
        fp = json.loads((tmp_path / "r.json").read_text())["findings"][0]["fingerprint"]
        doc = json.loads(base.read_text())
        doc["entries"].append({"fingerprint": fp, "rule_id": RULE, "repository": ""})
        doc["entries"].sort(key=lambda e: json.dumps(e, sort_keys=True))
        base.write_text(json.dumps(doc))
    res = run_cli("scan", "git", str(repo.path), "--store", db, "--baseline", str(base), "-f", "json", "-j", "1")
    assert res.returncode == 0, (res.stdout, res.stderr)
    stats = json.loads(res.stdout)["stats"]
    assert stats["suppressed"] == {"baseline": 1, "ignore_file": 0, "inline_allow": 0} and stats["findings"] == 0
    # the ignore file too
    ignore = tmp_path / "ignore"
    ignore.write_text(f"{secret_fingerprint(RULE, T1)}  # test fixture\n")
    res = run_cli("scan", "git", str(repo.path), "--store", db, "--ignore-file", str(ignore), "-j", "1")
    assert res.returncode == 0 and "1 finding hidden by the ignore file" in res.stdout.decode()


def test_concurrent_scans_into_one_store_lose_nothing(tmp_path):
    repos = []
    for i in range(2):
        r = Repo(tmp_path / f"r{i}")
        r.commit("c", {f"f{j}.py": f'k = "{crates_token(100 * i + j)}"\n' for j in range(8)})
        repos.append(r)
    db = str(tmp_path / "shared.db")
    env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "leakwarden", "scan", "git", str(r.path), "--store", db, "-j", "1", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for r in repos
    ]
    results = finish_all(procs, timeout=120)
    assert [rc for rc, _, _ in results] == [1, 1], [err.decode() for _, _, err in results]
    with open_store(db) as st:
        assert len(st.list_incidents(status="open")) == 16
        (h,) = {r[0] for r in st.db.execute("SELECT DISTINCT ruleset_hash FROM scanned_blobs")}
        for r in repos:
            assert st.scanned_blob_ids(repository_key(r.path), h) == blob_ids(r)
    for r in repos:  # both re-scans read nothing and report all eight
        result = scan_git(r.path, settings=Settings(store=db, jobs=1))
        assert blobs_read(result) == 0 and len(result.findings) == 8


def test_blobs_read_under_an_exclude_are_read_again_without_it(repo, tmp_path):
    """Findings dropped before the store (excludes, ignore file, confidence floor) must not be
    lost for good: blobs read under such settings are marked under a different key."""
    db = str(tmp_path / "s.db")
    excluded = scan_git(repo.path, settings=Settings(store=db, jobs=1, exclude_paths=("config.toml",)))
    assert excluded.findings == []
    assert blobs_read(scan_git(repo.path, settings=Settings(store=db, jobs=1, exclude_paths=("config.toml",)))) == 0
    plain = scan_git(repo.path, settings=Settings(store=db, jobs=1))
    assert blobs_read(plain) == len(blob_ids(repo))
    assert [f.secret.reveal() for f in plain.findings] == [T1]

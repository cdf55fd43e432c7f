"""Baselines are keyed by content: stable under unrelated edits, strict about new secrets."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from leakwarden.errors import ConfigError
from leakwarden.triage import baseline as bl
from leakwarden.triage.identity import normalize_remote, repository_identity
from tests.conftest import run_cli

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def token(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "cio" + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:32])


OLD, OTHER, NEW = token("old"), token("other"), token("new")


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "config.py").write_text(f'import os\n\nTOKEN = "{OLD}"\n')
    (repo / "deploy.sh").write_text(f'cargo publish --token {OTHER}\n')
    return repo


def _create(repo: Path) -> bytes:
    res = run_cli("baseline", "create", ".", cwd=repo)
    assert res.returncode == 0, res.stderr
    return (repo / ".leakwarden-baseline.json").read_bytes()


def _scan(repo: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli("scan", "path", ".", "--baseline", ".leakwarden-baseline.json", "-f", "json", *extra, cwd=repo)


def test_baseline_holds_hashes_only_sorted_and_deterministic(tmp_path):
    repo = _repo(tmp_path)
    first = _create(repo)
    text = first.decode()
    assert OLD not in text and OTHER not in text and OLD[4:-4] not in text
    doc = json.loads(text)
    keys = [(e["repository"], e["rule_id"], e["fingerprint"]) for e in doc["entries"]]
    assert keys == sorted(keys) and len(keys) == 2
    (repo / ".leakwarden-baseline.json").unlink()
    assert _create(repo) == first  # same input, same bytes
    assert _scan(repo).returncode == 0


def test_stable_under_unrelated_edits_line_shifts_and_renames(tmp_path):
    repo = _repo(tmp_path)
    before = _create(repo)
    (repo / "config.py").write_text(f'"""Settings."""\nimport os\nimport sys\n\n\nDEBUG = False\nTOKEN = "{OLD}"  # moved down\n')
    (repo / "deploy.sh").rename(repo / "publish.sh")
    (repo / "README.md").write_text("docs\n")
    res = _scan(repo)
    assert res.returncode == 0, res.stdout
    assert json.loads(res.stdout)["findings"] == []
    upd = run_cli("baseline", "update", "--baseline", ".leakwarden-baseline.json", ".", cwd=repo)
    assert upd.returncode == 0, upd.stderr
    assert (repo / ".leakwarden-baseline.json").read_bytes() == before  # no churn


def test_new_secret_on_a_baselined_line_is_reported(tmp_path):
    repo = _repo(tmp_path)
    _create(repo)
    (repo / "config.py").write_text(f'import os\n\nTOKEN = "{OLD}"; BACKUP = "{NEW}"\n')
    res = _scan(repo)
    assert res.returncode == 1
    found = json.loads(res.stdout)["findings"]
    assert [(f["path"], f["start_line"]) for f in found] == [("config.py", 3)]
    assert found[0]["fingerprint"] == hashlib.sha256(f"crates-io-api-token\x00{NEW}".encode()).hexdigest()
    # the replaced secret on the same line is new as well
    (repo / "config.py").write_text(f'import os\n\nTOKEN = "{NEW}"\n')
    assert _scan(repo).returncode == 1


def test_update_prunes_stale_entries_and_reports_stale_ignores(tmp_path):
    repo = _repo(tmp_path)
    _create(repo)
    gone_fp = hashlib.sha256(f"crates-io-api-token\x00{OTHER}".encode()).hexdigest()
    stale_ignore = "f" * 64
    (repo / ".leakwardenignore").write_text(f"{stale_ignore}  # 2026-01-01 bob: old fixture\n")
    (repo / "deploy.sh").write_text("cargo publish --token $CARGO_TOKEN\n")
    (repo / "new.py").write_text(f'T = "{NEW}"\n')
    res = run_cli("baseline", "update", "--baseline", ".leakwarden-baseline.json", ".", cwd=repo)
    assert res.returncode == 0, res.stderr
    err = res.stderr.decode()
    assert f"pruned: crates-io-api-token {gone_fp[:16]}" in err
    assert f"stale ignore: {stale_ignore[:16]} (old fixture)" in err
    assert "1 added, 1 pruned; 1 stale ignore entry" in err
    fps = {e["fingerprint"] for e in json.loads((repo / ".leakwarden-baseline.json").read_text())["entries"]}
    assert gone_fp not in fps and len(fps) == 2
    # --no-add-new only prunes
    (repo / "newer.py").write_text(f'T = "{token("newer")}"\n')
    res = run_cli("baseline", "update", "--no-add-new", "--baseline", ".leakwarden-baseline.json", ".", cwd=repo)
    assert "0 added" in res.stderr.decode()
    assert _scan(repo).returncode == 1


def test_added_date_survives_updates():
    from leakwarden.api import scan_text

    f1 = scan_text(f'a = "{OLD}"\n', path="a")
    f2 = scan_text(f'b = "{NEW}"\n', path="b")
    old = bl.from_findings(f1, "", date="2020-01-01")
    change = bl.update(old, [*f1, *f2], "", date="2026-11-24")
    assert sorted(e.added for e in change.baseline.entries.values()) == ["2020-01-01", "2026-11-24"]
    assert [e.added for e in change.added] == ["2026-11-24"] and change.pruned == []


def test_repository_identity_separates_repositories():
    from leakwarden.api import scan_text

    found = scan_text(f'a = "{OLD}"\n', path="a")
    base = bl.from_findings(found, "github.com/acme/one")
    assert bl.split(found, base, "github.com/acme/one") == ([], found)
    assert bl.split(found, base, "github.com/acme/two") == (found, [])


def test_remote_identity_drops_credentials(tmp_path):
    repo = _repo(tmp_path)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "https://ci:glpat-SECRETVALUE@GitLab.com/Acme/App.git"], check=True)
    assert repository_identity(repo / "config.py") == "gitlab.com/Acme/App"
    assert normalize_remote("git@github.com:acme/app.git") == "github.com/acme/app"
    assert normalize_remote("ssh://git@github.com/acme/app") == "github.com/acme/app"
    assert repository_identity(tmp_path) == ""
    _create(repo)
    text = (repo / ".leakwarden-baseline.json").read_text()
    assert "SECRETVALUE" not in text and '"repository": "gitlab.com/Acme/App"' in text


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ('{"version": 1}', "no 'entries'"),
        ('{"version": 7, "entries": []}', "unsupported baseline version"),
        ('{"version": 1, "entries": [{"fingerprint": "abc"}]}', "64 lowercase hex"),
    ],
)
def test_malformed_baseline_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        bl.load(path)
    res = run_cli("scan", "path", str(tmp_path), "--baseline", str(path))
    assert res.returncode == 2 and message in res.stderr.decode()


def test_missing_baseline_and_refused_overwrite(tmp_path):
    res = run_cli("scan", "path", str(tmp_path), "--baseline", str(tmp_path / "nope.json"))
    assert res.returncode == 2 and "baseline file not found" in res.stderr.decode()
    repo = _repo(tmp_path)
    _create(repo)
    res = run_cli("baseline", "create", ".", cwd=repo)
    assert res.returncode == 2 and "--force" in res.stderr.decode()


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "b.json"
    bl.write(path, bl.Baseline())
    assert json.loads(path.read_text())["entries"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


def test_baseline_and_store_from_the_config_file(tmp_path):
    repo = _repo(tmp_path)
    _create(repo)
    (repo / ".leakwarden.toml").write_text('baseline = ".leakwarden-baseline.json"\nstore = "findings.db"\n')
    (repo / "new.py").write_text(f'T = "{NEW}"\n')
    sub = repo / "sub"
    sub.mkdir()
    res = run_cli("scan", "path", str(repo), "-f", "json", cwd=sub)
    assert res.returncode == 1, res.stderr
    assert [Path(f["path"]).name for f in json.loads(res.stdout)["findings"]] == ["new.py"]
    assert (repo / "findings.db").is_file()  # relative to the config file, not the cwd
    listed = run_cli("incidents", "list", "--store", str(repo / "findings.db"), "-f", "json")
    assert len(json.loads(listed.stdout)) == 3  # the store records baselined secrets too


def test_the_empty_identity_matches_any_repository_both_ways_and_case_does_not_matter():
    """A baseline made before the repository had an `origin` remote keeps matching once it has
    one, and one made in a clone matches a scan of an export without `.git`."""
    from leakwarden.api import scan_text

    found = scan_text(f'a = "{OLD}"\n', path="a")
    before_remote = bl.from_findings(found, "", date="2020-01-01")
    assert bl.split(found, before_remote, "github.com/acme/app") == ([], found)
    assert bl.split(found, bl.from_findings(found, "github.com/acme/app"), "") == ([], found)
    # a clone of `git@github.com:Acme/App.git` and one of `https://github.com/acme/app`
    assert bl.split(found, bl.from_findings(found, "github.com/Acme/App"), "github.com/acme/app") == ([], found)
    # update keeps the entry (and its date) under the identity seen now; nothing is pruned
    change = bl.update(before_remote, found, "github.com/acme/app", date="2026-11-24")
    assert [(e.repository, e.added) for e in change.baseline.entries.values()] == [("github.com/acme/app", "2020-01-01")]
    assert change.added == [] and change.pruned == []


def test_a_baseline_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "base.json"
    entry = {"repository": "", "rule_id": "crates-io-api-token", "fingerprint": "a" * 64, "added": "2026-11-25"}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 1, "entries": [entry]}).encode())
    assert list(bl.load(path).entries) == [("", "a" * 64)]

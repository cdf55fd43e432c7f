"""`scan repos --verify`: secret values come back from the workers, the driver checks them with
the verifier (against a provider imitation on 127.0.0.1) and records validity in the store."""

from __future__ import annotations

import json

from leakwarden.store import open_store
from tests.conftest import run_cli
from tests.org.repos import add_commit, git
from tests.verifier.conftest import provider  # noqa: F401  (fixture)
from tests.verifier.provider import Request

GOOD = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
BAD = "CCIPAT_t4HDp5zfNQJNg3HpnmMJL1_2073fec8df4f50947aaeb26c57d21fa5d328263d"


def circleci(req: Request):
    if req.header("Circle-Token") == GOOD:
        return 200, {}, {"id": "u-42", "login": "release-bot"}
    return 401, {}, {"message": "You must log in first."}


def _repo(root, name, content):
    work = root / "work" / name
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    add_commit(work, {"ci.env": content}, "ci", 1)
    bare = root / f"{name}.git"
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def test_org_verify_runs_on_the_driver_and_lands_in_the_store(tmp_path, provider, detector):  # noqa: F811
    # (`detector` compiles the rules into the shared cache once, for the CLI subprocesses too.)
    provider.handler = circleci
    repos = [_repo(tmp_path, "a", f"CIRCLE_TOKEN={GOOD}\n"), _repo(tmp_path, "b", f"OLD={BAD}\nAGAIN={GOOD}\n"), _repo(tmp_path, "c", "nothing\n")]
    (tmp_path / "list.txt").write_text("".join(f"{p}\n" for p in repos))
    (tmp_path / ".leakwarden.toml").write_text(
        f'[verify]\nallow_private = true\ncache_ttl = 0\nconcurrency = 2\nbase_urls = {{ "circleci.com" = "{provider.base_url}" }}\n'
    )
    db = tmp_path / "org.db"
    r = run_cli("scan", "repos", "--from", "list.txt", "--verify", "--engine", "local:2", "--store", str(db), "-f", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr.decode()
    findings = json.loads(r.stdout)["findings"]
    states = sorted((f["repository"].rsplit("/", 1)[-1], f["validity"]["state"]) for f in findings)
    assert states == [("a", "valid"), ("b", "invalid"), ("b", "valid")]
    # Two unique secrets, three occurrences in two repositories: each secret checked once.
    assert len(provider.requests) == 2
    assert GOOD.encode() not in r.stdout + r.stderr and BAD.encode() not in r.stdout + r.stderr
    with open_store(db) as st:
        history = sorted(st.db.execute("SELECT state FROM validity_checks"))
        assert [h[0] for h in history] == ["invalid", "valid", "valid"]
        assert sorted(i.validity for i in st.list_incidents()) == ["invalid", "valid"]
    assert GOOD.encode() not in db.read_bytes() and BAD.encode() not in db.read_bytes()

    # --only-valid keeps the live one only.
    r = run_cli("scan", "repos", "--from", "list.txt", "--only-valid", "--engine", "local:1", "-f", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr.decode()
    assert {f["validity"]["state"] for f in json.loads(r.stdout)["findings"]} == {"valid"}


def test_org_scan_without_verify_sends_no_values_and_no_requests(tmp_path, provider, detector):  # noqa: F811
    provider.handler = circleci
    repos = [_repo(tmp_path, "a", f"CIRCLE_TOKEN={GOOD}\n")]
    (tmp_path / "list.txt").write_text(f"{repos[0]}\n")
    (tmp_path / ".leakwarden.toml").write_text(f'[verify]\nallow_private = true\nbase_urls = {{ "circleci.com" = "{provider.base_url}" }}\n')
    r = run_cli("scan", "repos", "--from", "list.txt", "--engine", "local:1", "-f", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr.decode()
    assert {f["validity"]["state"] for f in json.loads(r.stdout)["findings"]} == {"not_checked"}
    assert provider.requests == []

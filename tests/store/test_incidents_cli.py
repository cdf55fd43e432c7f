# ruff: noqa: F811 -- pytest fixtures imported from pgserver are test parameters here
"""End to end: `scan --store`, then `incidents ...` and `report --store` on the same store."""

from __future__ import annotations

import hashlib
import json

from tests.conftest import run_cli
from tests.pgserver import pg_server, store_target  # noqa: F401 (fixtures)

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def token(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "cio" + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:32])


A, B = token("cli-a"), token("cli-b")


def test_scan_store_incidents_round_trip(tmp_path):
    store_target = str(tmp_path / "findings.db")
    (tmp_path / "a.txt").write_text(f'k = "{A}"\n')
    (tmp_path / "b.txt").write_text(f'j = "{B}"\nagain = "{A}"\n')
    for _ in range(2):
        res = run_cli("scan", "path", str(tmp_path), "--store", store_target)
        assert res.returncode == 1, res.stderr
    res = run_cli("incidents", "list", "--store", store_target, "-f", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["occurrences"] for r in rows] == [2, 1]
    first = rows[0]["id"]
    assert A not in res.stdout.decode()
    assert run_cli("incidents", "assign", str(first), "--to", "alice", "--store", store_target).returncode == 0
    assert run_cli("incidents", "resolve", str(first), "--note", "rotated", "--store", store_target).returncode == 0
    res = run_cli("incidents", "list", "--status", "open", "--store", store_target)
    assert res.returncode == 0 and f"#{first} " not in res.stdout.decode()
    shown = run_cli("incidents", "show", str(first), "--store", store_target).stdout.decode()
    assert "resolved, assigned to alice" in shown and "open -> resolved: rotated" in shown and "a.txt:1" in shown
    assert run_cli("incidents", "reopen", str(first), "--note", "still valid", "--store", store_target).returncode == 0
    assert run_cli("incidents", "status", str(first), "false-positive", "--store", store_target).returncode == 0
    res = run_cli("incidents", "list", "--status", "false-positive", "--store", store_target, "-f", "json")
    assert [r["id"] for r in json.loads(res.stdout)] == [first]
    res = run_cli("incidents", "resolve", "999", "--note", "x", "--store", store_target)
    assert res.returncode == 2 and "no incident 999" in res.stderr.decode()
    res = run_cli("report", "--store", store_target, "-f", "json")
    assert res.returncode == 0
    found = json.loads(res.stdout)["findings"]
    assert len(found) == 3 and {f["fingerprint"] for f in found} == {rows[0]["fingerprint"], rows[1]["fingerprint"]}


def test_postgresql_store_from_the_cli(pg_server, tmp_path):
    """The same commands against a shared PostgreSQL store (the data layer is tested on both)."""
    url = pg_server.new_database()
    (tmp_path / "a.txt").write_text(f'k = "{A}"\nj = "{B}"\n')
    assert run_cli("scan", "path", str(tmp_path), "--store", url).returncode == 1
    assert run_cli("incidents", "resolve", "1", "--note", "rotated", "--store", url).returncode == 0
    res = run_cli("report", "--store", url, "-f", "csv", "--status", "open")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().count("crates-io-api-token") == 1


def test_store_secrets_opt_in(tmp_path):
    store_target = str(tmp_path / "findings.db")
    (tmp_path / "a.txt").write_text(f'k = "{A}"\n')
    env = {"LEAKWARDEN_STORE_KEY": "a long enough passphrase"}
    res = run_cli("scan", "path", str(tmp_path), "--store", store_target, "--store-secrets")
    assert res.returncode == 2 and "LEAKWARDEN_STORE_KEY" in res.stderr.decode()
    res = run_cli("scan", "path", str(tmp_path), "--store", store_target, "--store-secrets", env=env)
    assert res.returncode == 1, res.stderr
    res = run_cli("incidents", "show", "1", "--reveal", "--store", store_target, env=env)
    assert A in res.stdout.decode()
    assert A not in run_cli("incidents", "show", "1", "--store", store_target).stdout.decode()
    res = run_cli("report", "--store", store_target, "-f", "csv", "--show-secrets", env=env)
    assert A in res.stdout.decode()
    res = run_cli("incidents", "show", "1", "--reveal", "--store", store_target, env={"LEAKWARDEN_STORE_KEY": "the wrong passphrase"})
    assert res.returncode == 2 and "wrong" in res.stderr.decode()
    res = run_cli("incidents", "show", "1", "--reveal", "--store", store_target, env={"LEAKWARDEN_STORE_KEY": ""})
    assert res.returncode == 2 and "stored encrypted: set $LEAKWARDEN_STORE_KEY" in res.stderr.decode()
    res = run_cli("report", "--store", store_target, "-f", "csv", "--show-secrets", env={"LEAKWARDEN_STORE_KEY": ""})
    assert res.returncode == 0 and A not in res.stdout.decode() and "secrets stay redacted" in res.stderr.decode()


def test_reading_commands_never_create_a_store(tmp_path):
    target = tmp_path / "missing.db"
    res = run_cli("incidents", "list", "--store", str(target))
    assert res.returncode == 2 and "no findings store" in res.stderr.decode()
    assert not target.exists()
    res = run_cli("report", "--store", str(target))
    assert res.returncode == 2 and not target.exists()


def test_bad_store_url(tmp_path):
    res = run_cli("scan", "path", str(tmp_path), "--store", "mysql://x")
    assert res.returncode == 2 and "unsupported store URL" in res.stderr.decode()
    res = run_cli("incidents", "list", "--store", "postgresql://u:hunter2pw@127.0.0.1:1/db")
    assert res.returncode == 2
    assert "hunter2pw" not in res.stderr.decode() and "cannot connect" in res.stderr.decode()


def test_a_preview_made_by_an_older_redaction_is_replaced_when_the_secret_is_seen_again(tmp_path):
    # Previews of short secrets used to keep 2 characters at each end; a store made then keeps
    # them until the incident's secret is recorded again.
    import sqlite3

    db = tmp_path / "findings.db"
    (tmp_path / "db.py").write_text('DATABASE_URL = "postgresql://billing:Xk9-pW2_vQz@db.internal:5432/billing"\n')
    assert run_cli("scan", "path", str(tmp_path), "--store", str(db)).returncode == 1
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE incidents SET secret_redacted = 'Xk*******Qz'")
    assert run_cli("scan", "path", str(tmp_path), "--store", str(db)).returncode == 1
    [row] = json.loads(run_cli("incidents", "list", "--store", str(db), "-f", "json").stdout)
    assert row["secret"] == "X*********z"


def test_the_local_repository_as_list_and_show_print_it_filters(tmp_path):
    db = str(tmp_path / "findings.db")
    (tmp_path / "scan").mkdir()
    (tmp_path / "scan" / "a.txt").write_text(f'k = "{A}"\n')  # outside git: the empty identity
    assert run_cli("scan", "path", str(tmp_path / "scan"), "--store", db).returncode == 1
    listed = run_cli("incidents", "list", "--store", db).stdout.decode()
    assert "(local)" in listed
    rows = json.loads(run_cli("incidents", "list", "--repo", "(local)", "--store", db, "-f", "json").stdout)
    assert len(rows) == 1
    found = json.loads(run_cli("report", "--repo", "(local)", "--store", db, "-f", "json").stdout)["findings"]
    assert len(found) == 1

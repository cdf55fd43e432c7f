# ruff: noqa: F811 -- pytest fixtures imported from pgserver are test parameters here
"""Schema versioning and damaged files: old stores migrate, corrupt ones are never touched."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from leakwarden.store import StoreError, open_store
from leakwarden.store.migrations import (
    SCHEMA_VERSION,
    V1_SCHEMA,
    current_schema,
    statements,
    to_postgres,
)
from tests.conftest import run_cli
from tests.pgserver import pg_server, store_target  # noqa: F401 (fixtures)

SECRET = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
FP = "a" * 64
NOW = "2026-01-01T00:00:00Z"


def _columns(store_target: str) -> dict[str, list[tuple[str, str]]]:
    if "://" in store_target:
        import psycopg

        with psycopg.connect(store_target) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() ORDER BY table_name, column_name"
            ).fetchall()
    else:
        conn = sqlite3.connect(store_target)
        rows = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            rows += [(table, c[1], c[2]) for c in conn.execute(f"PRAGMA table_info({table})")]
        conn.close()
        rows.sort()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, col, typ in rows:
        out.setdefault(table, []).append((col, typ))
    return out


def _make_v1(store_target: str) -> None:
    rows = [
        "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
        f"INSERT INTO scans (started_at, source, repository, tool_version, ruleset_hash, findings) VALUES ('{NOW}', 'path', 'r', '0.0.1', '', 1)",
        "INSERT INTO incidents (fingerprint, rule_id, rule_name, provider, severity, secret_redacted, status, validity, first_seen, last_seen, updated_at)"
        f" VALUES ('{FP}', 'crates-io-api-token', 'crates.io API token', 'crates-io', 'critical', 'cio***', 'resolved', 'valid', '{NOW}', '{NOW}', '{NOW}')",
        "INSERT INTO occurrences (incident_id, key, repository, kind, path, line, first_seen, last_seen, first_scan_id, last_scan_id)"
        f" VALUES (1, '{'b' * 64}', 'r', 'file', 'a.py', 3, '{NOW}', '{NOW}', 1, 1)",
    ]
    if "://" in store_target:
        import psycopg

        with psycopg.connect(store_target) as conn:
            for st in statements(V1_SCHEMA):
                conn.execute(to_postgres(st))
            for r in rows:
                conn.execute(r)
    else:
        conn = sqlite3.connect(store_target)
        conn.executescript(V1_SCHEMA)
        for r in rows:
            conn.execute(r)
        conn.commit()
        conn.close()


def test_version_1_store_migrates_and_keeps_its_data(store_target, tmp_path):
    _make_v1(store_target)
    with open_store(store_target) as st:
        assert st.schema_version() == SCHEMA_VERSION
        (inc,) = st.list_incidents()
        assert (inc.fingerprint, inc.status, inc.validity, inc.occurrences) == (FP, "resolved", "valid", 1)
        st.assign(inc.id, "alice", "bob")  # a column added by the migration
        st.mark_scanned("r", ["x"], "h")  # a table added by the migration
        assert st.filter_unscanned("r", ["x", "y"], "h") == ["y"]
        # version 4: columns and ruleset hash on occurrences; old rows get "unknown" (0, '')
        (occ,) = st.get_incident(inc.id).occurrences
        assert (occ.line, occ.start_column, occ.end_column, occ.ruleset_hash) == (3, 0, 0, "")
    with open_store(store_target) as st:  # opening again is a no-op
        assert st.schema_version() == SCHEMA_VERSION
    fresh = str(tmp_path / "fresh.db") if "://" not in store_target else None
    if fresh:
        open_store(fresh).close()
        assert _columns(store_target) == _columns(fresh)


def test_migrated_postgres_matches_fresh_postgres(pg_server):
    old, new = pg_server.new_database(), pg_server.new_database()
    _make_v1(old)
    open_store(old).close()
    open_store(new).close()
    assert _columns(old) == _columns(new)


def _set_schema_version(path, value: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.commit()
    conn.close()


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "s.db"
    open_store(path).close()
    _set_schema_version(path, "99")
    with pytest.raises(StoreError, match="newer"):
        open_store(path)


def test_schema_file_is_strict_and_commented():
    text = current_schema()
    tables = re.findall(r"CREATE TABLE (\w+) \((.*?)\n\) STRICT;", text, re.S)
    assert {t for t, _ in tables} >= {"meta", "scans", "incidents", "occurrences", "notes", "validity_checks", "scanned_blobs", "bypasses"}
    assert text.count("CREATE TABLE") == len(tables), "every table is STRICT"
    for table, body in tables:
        for line in body.strip().splitlines():
            line = line.strip()
            if line.startswith(("PRIMARY KEY", "--")) or not line:
                continue
            assert "--" in line, f"{table}: column without a comment: {line}"


def _store_with_data(path: Path) -> None:
    with open_store(path) as st:
        from leakwarden.api import scan_text

        st.record_scan(scan_text(f'token = "{SECRET}"\n', path="a.py"), repository="r")


def _damaged(kind: str, path: Path, tmp_path: Path) -> None:
    if kind == "random":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "header-then-garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xff\x13garbage" * 600)
    elif kind == "truncated":
        good = tmp_path / "good.db"
        _store_with_data(good)
        conn = sqlite3.connect(good)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        data = good.read_bytes()
        assert len(data) > 8192
        path.write_bytes(data[: len(data) // 2])
    elif kind == "other-sqlite":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('x')")
        conn.commit()
        conn.close()
    elif kind == "text":
        path.write_text("not a database at all\n")


@pytest.mark.parametrize("kind", ["random", "header-then-garbage", "truncated", "other-sqlite", "text"])
def test_damaged_store_gives_a_clear_error_and_is_never_modified(kind, tmp_path):
    store = tmp_path / "findings.db"
    _damaged(kind, store, tmp_path)
    before = store.read_bytes()
    siblings = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StoreError, match="left untouched|not a leakwarden"):
        open_store(store)
    (tmp_path / "scan").mkdir()
    (tmp_path / "scan" / "a.txt").write_text(f'token = "{SECRET}"\n')
    res = run_cli("scan", "path", str(tmp_path / "scan"), "--store", str(store))
    assert res.returncode == 2, res.stderr
    err = res.stderr.decode()
    assert str(store) in err and ("untouched" in err or "not a leakwarden" in err)
    assert "Traceback" not in err
    res = run_cli("incidents", "list", "--store", str(store))
    assert res.returncode == 2 and "Traceback" not in res.stderr.decode()
    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "scan") == siblings


def test_a_store_whose_schema_version_is_not_a_number_is_a_clear_error(tmp_path):
    store = tmp_path / "findings.db"
    _store_with_data(store)
    _set_schema_version(store, "x")
    with pytest.raises(StoreError, match="schema version 'x' is not a number"):
        open_store(store)
    res = run_cli("incidents", "list", "--store", str(store))
    assert res.returncode == 2 and "not a number" in res.stderr.decode() and "internal error" not in res.stderr.decode()

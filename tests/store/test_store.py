# ruff: noqa: F811 -- pytest fixtures imported from pgserver are test parameters here
"""The findings store on SQLite and PostgreSQL: incidents, occurrences, status, validity,
encryption, incremental-scan bookkeeping, concurrent writers and migrations."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakwarden.api import scan_chunk_list, scan_text
from leakwarden.models import Chunk, Origin, Validity, ValidityState
from leakwarden.store import StoreError, open_store
from tests.pgserver import pg_server, store_target  # noqa: F401 (fixtures)
from tests.procs import finish_all

SRC = Path(__file__).resolve().parents[2] / "src"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def token(seed: str) -> str:
    """A distinct, high-entropy crates.io-shaped token per seed (the rule has no checksum)."""
    digest = hashlib.sha256(seed.encode()).digest() + hashlib.sha256(b"x" + seed.encode()).digest()
    return "cio" + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:32])


def findings_in(text: str, path: str = "app/config.py"):
    found = scan_text(text, path=path)
    assert found, "test input must produce findings"
    return found


def git_findings(secret: str, commit: str, path: str = "old/settings.py"):
    chunk = Chunk(f'KEY = "{secret}"\n'.encode(), Origin("git", path=path, commit=commit, blob="b" * 40))
    return scan_chunk_list([chunk]).findings


def test_rescan_updates_instead_of_duplicating(store_target):
    secret = token("one")
    with open_store(store_target) as st:
        first = st.record_scan(findings_in(f'token = "{secret}"\n'), repository="github.com/acme/app", kinds=["text"])
        # the same secret, lines shifted: still one incident, one occurrence
        second = st.record_scan(findings_in(f'\n\n# moved\ntoken = "{secret}"\n'), repository="github.com/acme/app", kinds=["text"])
        incidents = st.list_incidents()
        assert (first.new_incidents, second.new_incidents, second.updated_incidents) == (1, 0, 1)
        assert len(incidents) == 1 and incidents[0].occurrences == 1
        detail = st.get_incident(incidents[0].id)
        assert detail.occurrences[0].line == 4
        assert incidents[0].status == "open"
        assert st.scan_count() == 2


def test_secret_gone_from_head_but_in_history_stays_open(store_target):
    secret = token("history")
    with open_store(store_target) as st:
        st.record_scan(git_findings(secret, "c" * 40), repository="r")
        st.record_scan(findings_in(f'token = "{secret}"\n', path="settings.py"), repository="r", kinds=["text"])
        # HEAD no longer has it: a complete scan of the working tree finds nothing
        st.record_scan([], repository="r", kinds=["text"])
        (inc,) = st.list_incidents()
        assert inc.status == "open"
        places = {(o.kind, o.present) for o in st.get_incident(inc.id).occurrences}
        assert places == {("git", True), ("text", False)}


def test_resolved_incident_reopens_only_at_a_new_place(store_target):
    secret = token("reopen")
    with open_store(store_target) as st:
        st.record_scan(findings_in(f'token = "{secret}"\n', path="a.py"), repository="r")
        (inc,) = st.list_incidents()
        st.set_status(inc.id, "resolved", "rotated", "alice")
        st.record_scan(findings_in(f'token = "{secret}"\n', path="a.py"), repository="r")
        assert st.list_incidents()[0].status == "resolved"
        rec = st.record_scan(findings_in(f'token = "{secret}"\n', path="b.py"), repository="r")
        assert rec.reopened == 1
        assert st.list_incidents(status="open")[0].id == inc.id
        bodies = [n[3] for n in st.get_incident(inc.id).notes]
        assert bodies == ["open -> resolved: rotated", "resolved -> open: seen again at a new place"]


def test_status_assignee_notes_and_filters(store_target):
    a, b = token("a"), token("b")
    with open_store(store_target) as st:
        st.record_scan(findings_in(f'x = "{a}"\n'), repository="github.com/acme/one")
        st.record_scan(findings_in(f'y = "{b}"\n'), repository="github.com/acme/two")
        one, two = st.list_incidents()
        st.assign(one.id, "alice", "bob")
        st.set_status(two.id, "false-positive", "test data", "bob")
        st.add_note(one.id, "asked the owner", "bob")
        assert [i.id for i in st.list_incidents(status="open")] == [one.id]
        assert [i.id for i in st.list_incidents(repository="github.com/acme/two")] == [two.id]
        assert st.get_incident(one.id).incident.assignee == "alice"
        assert [n[1] for n in st.get_incident(one.id).notes] == ["assign", "note"]
        with pytest.raises(StoreError):
            st.set_status(one.id, "closed")
        with pytest.raises(StoreError):
            st.set_status(999, "resolved")


def test_validity_history(store_target):
    secret = token("validity")
    base = findings_in(f'token = "{secret}"\n')
    with open_store(store_target) as st:
        st.record_scan([base[0].with_validity(Validity(ValidityState.VALID, "HTTP 200", "2026-01-01T00:00:00Z"))], repository="r")
        st.record_scan([base[0].with_validity(Validity(ValidityState.INVALID, "HTTP 401", "2026-01-02T00:00:00Z"))], repository="r")
        st.record_scan(base, repository="r")  # not checked this time: history unchanged
        (inc,) = st.list_incidents()
        assert inc.validity == "invalid"
        hist = st.get_incident(inc.id).validity_history
        assert [(s, r) for _, s, r in hist] == [("valid", "HTTP 200"), ("invalid", "HTTP 401")]
        assert st.list_incidents(valid=True) == []


def _raw_dump(store_target: str) -> bytes:
    if "://" in store_target:
        import psycopg

        with psycopg.connect(store_target) as conn:
            rows = []
            for table in ("incidents", "occurrences", "scans", "notes", "meta"):
                rows += [repr(r) for r in conn.execute(f"SELECT * FROM {table}").fetchall()]
        return "\n".join(rows).encode()
    data = Path(store_target).read_bytes()
    wal = Path(f"{store_target}-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_secrets_are_hashes_unless_opted_in(store_target, monkeypatch):
    plain, sealed = token("plain"), token("sealed")
    with open_store(store_target) as st:
        st.record_scan(findings_in(f'a = "{plain}"\n'), repository="r")
        st.record_scan(findings_in(f'b = "{sealed}"\n'), repository="r", secret_passphrase="correct horse battery")
        dump = _raw_dump(store_target)
        assert plain.encode() not in dump and sealed.encode() not in dump
        one, two = st.list_incidents()
        assert st.reveal(one.id, "correct horse battery") is None
        assert st.reveal(two.id, "correct horse battery") == sealed
    with open_store(store_target) as st, pytest.raises(Exception, match="wrong"):
        st.reveal(two.id, "wrong passphrase!!")


def test_incremental_blob_bookkeeping(store_target):
    blobs = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(1200)]
    with open_store(store_target) as st:
        assert st.filter_unscanned("repo", blobs, "rules-1") == blobs
        st.mark_scanned("repo", blobs[:700], "rules-1")
        st.mark_scanned("repo", blobs[:10], "rules-1")  # idempotent
        assert st.filter_unscanned("repo", blobs, "rules-1") == blobs[700:]
        # order kept, repeats dropped
        assert st.filter_unscanned("repo", [blobs[900], blobs[5], blobs[900]], "rules-1") == [blobs[900]]
        # other rules or another repository: everything is new again
        assert st.filter_unscanned("repo", blobs[:3], "rules-2") == blobs[:3]
        assert st.filter_unscanned("other", blobs[:3], "rules-1") == blobs[:3]
        assert st.filter_unscanned("repo", [], "rules-1") == []


def test_bypass_log(store_target):
    with open_store(store_target) as st:
        st.record_bypass("hotfix, reviewed by bob", {"hook": "pre-commit", "fingerprints": ["a" * 64]}, "alice")
        with pytest.raises(StoreError):
            st.record_bypass("  ", {}, "alice")
        ((_, reason, author, context, _),) = st.bypasses()
        assert (reason, author, context["hook"]) == ("hotfix, reviewed by bob", "alice", "pre-commit")


_WRITER = r"""
import hashlib, os, sys, time
from pathlib import Path
sys.path.insert(0, {src!r})
from leakwarden.api import scan_text
from leakwarden.store import open_store
target, worker, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def token(seed):
    d = hashlib.sha256(seed.encode()).digest() + hashlib.sha256(b"x" + seed.encode()).digest()
    return "cio" + "".join(A[b % len(A)] for b in d[:32])
texts = [(f"w{{worker}}/f{{i}}.txt", f'shared = "{{token("shared")}}"\nmine = "{{token(worker + str(i))}}"\n') for i in range(n)]
found = [scan_text(t, path=p) for p, t in texts]
deadline = time.time() + 30
while not go.exists() and time.time() < deadline:
    time.sleep(0.002)
st = open_store(target)
for f in found:
    st.record_scan(f, repository="github.com/acme/app")
st.close()
"""


_OPENER = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, {src!r})
from leakwarden.store import StoreError, open_store
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
failed = 0
for i in range(int(sys.argv[3])):
    mark = folder / f"go{{i}}"
    while not mark.exists():
        time.sleep(0.0005)
    try:
        open_store(str(folder / f"{{i}}.db")).close()
    except StoreError as exc:
        failed += 1
        print(exc, file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    # Two processes switching a new file to WAL at once: SQLite answers one of them
    # "database is locked" without waiting, which the store must retry.
    script = tmp_path / "opener.py"
    script.write_text(_OPENER.format(src=str(SRC)))
    rounds, go = 25, tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path), str(go), str(rounds)], stderr=subprocess.PIPE) for _ in range(4)]
    time.sleep(0.5)
    go.touch()
    for i in range(rounds):
        (tmp_path / f"go{i}").touch()
        time.sleep(0.02)
    results = finish_all(procs, timeout=120)
    assert [rc for rc, _, _ in results] == [0] * 4, [err.decode() for _, _, err in results]


def test_concurrent_writers_lose_nothing(store_target, tmp_path):
    n = 15
    # no store yet: both writers also race to create the schema
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(src=str(SRC)))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, str(script), store_target, w, str(n), str(go)], env=env, stderr=subprocess.PIPE) for w in ("a", "b")]
    time.sleep(1.0)
    go.touch()
    results = finish_all(procs, timeout=120)
    assert [rc for rc, _, _ in results] == [0, 0], [err.decode() for _, _, err in results]
    with open_store(store_target) as st:
        assert st.scan_count() == 2 * n
        incidents = st.list_incidents()
        assert len(incidents) == 1 + 2 * n
        assert len({i.fingerprint for i in incidents}) == len(incidents)
        shared = [i for i in incidents if i.occurrences == 2 * n]
        assert len(shared) == 1
        assert sum(i.occurrences for i in incidents) == 4 * n


_ORDERED_WRITER = r"""
import hashlib, sys, time
from pathlib import Path
sys.path.insert(0, {src!r})
from leakwarden.api import scan_text
from leakwarden.store import open_store
target, order, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def token(seed):
    d = hashlib.sha256(seed.encode()).digest() + hashlib.sha256(b"x" + seed.encode()).digest()
    return "cio" + "".join(A[b % len(A)] for b in d[:32])
found = scan_text("".join(f'T{{i}} = "{{token(str(i))}}"\n' for i in range(40)), path="keys.env")
assert len(found) == 40
if order.startswith("rev"):
    found.reverse()
st = open_store(target)
deadline = time.time() + 30
while not go.exists() and time.time() < deadline:
    time.sleep(0.002)
for k in range(12):
    st.record_scan(found, repository=f"github.com/acme/{{order}}-{{k}}")
    st.mark_scanned("github.com/acme/shared", [f.location.blob or str(i) for i, f in enumerate(found)] + [c * 40 for c in "0123456789abcdef"][::1 if order.startswith("fwd") else -1], "rules")
st.close()
"""


def test_writers_meeting_the_same_secrets_in_other_orders_do_not_deadlock(store_target, tmp_path):
    """Two scans that record the same secrets in opposite orders: on PostgreSQL each held row
    locks the other needed, and the server aborted one with `deadlock detected`."""
    with open_store(store_target):
        pass  # the schema exists before the race
    script = tmp_path / "writer.py"
    script.write_text(_ORDERED_WRITER.format(src=str(SRC)))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    orders = ("fwd-a", "rev-a", "fwd-b", "rev-b")
    procs = [subprocess.Popen([sys.executable, str(script), store_target, o, str(go)], env=env, stderr=subprocess.PIPE) for o in orders]
    time.sleep(1.0)
    go.touch()
    results = finish_all(procs, timeout=300)
    assert [rc for rc, _, _ in results] == [0] * 4, [err.decode()[-600:] for _, _, err in results]
    with open_store(store_target) as st:
        assert st.scan_count() == 4 * 12
        incidents = st.list_incidents()
        assert len(incidents) == 40 and all(i.occurrences == 4 * 12 for i in incidents)


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    """The store keeps unsalted hashes of secrets (and sealed secrets with --store-secrets)."""
    target = tmp_path / "findings.db"
    with open_store(str(target)) as st:
        st.record_scan(findings_in(f'k = "{token("private")}"\n'), repository="r")
        for name in ("findings.db", "findings.db-wal"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_a_resolved_incident_reopens_when_the_secret_comes_back_where_it_had_gone(store_target):
    secret = token("comes-back")
    with open_store(store_target) as st:
        st.record_scan(findings_in(f'token = "{secret}"\n', path="a.py"), repository="r", kinds=["text"])
        (inc,) = st.list_incidents()
        st.set_status(inc.id, "resolved", "rotated and removed", "alice")
        assert st.record_scan([], repository="r", kinds=["text"]).reopened == 0  # gone from the files
        assert not st.get_incident(inc.id).occurrences[0].present
        rec = st.record_scan(findings_in(f'token = "{secret}"\n', path="a.py"), repository="r", kinds=["text"])
        assert (rec.reopened, rec.new_occurrences) == (1, 0)
        detail = st.get_incident(inc.id)
        assert detail.incident.status == "open" and detail.occurrences[0].present
        assert detail.notes[-1][3] == "resolved -> open: back at a place it had gone from"
        # still there on the next scan: nothing new, no second reopen
        st.set_status(inc.id, "resolved", "rotated; the dead value stays in the file", "alice")
        assert st.record_scan(findings_in(f'token = "{secret}"\n', path="a.py"), repository="r", kinds=["text"]).reopened == 0
        assert st.list_incidents()[0].status == "resolved"


def test_setting_the_status_an_incident_already_has_is_refused(store_target):
    with open_store(store_target) as st:
        st.record_scan(findings_in(f'token = "{token("same-status")}"\n'), repository="r")
        (inc,) = st.list_incidents()
        with pytest.raises(StoreError, match="already open"):
            st.set_status(inc.id, "open", "", "bob")
        st.set_status(inc.id, "resolved", "rotated", "bob")
        with pytest.raises(StoreError, match="already resolved"):
            st.set_status(inc.id, "resolved", "rotated again", "bob")
        assert [n[3] for n in st.get_incident(inc.id).notes] == ["open -> resolved: rotated"]


def test_path_scans_name_a_file_the_same_way_from_any_folder_and_mark_only_what_they_cover(tmp_path, monkeypatch):
    from leakwarden.api import scan_paths
    from leakwarden.config import Settings

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "https://example.com/acme/app.git"], check=True)
    secret = token("paths")
    (repo / "a.py").write_text(f'token = "{secret}"\n')
    (repo / "sub" / "b.py").write_text(f'token = "{secret}"\n')
    db = tmp_path / "findings.db"
    settings = Settings(store=str(db))

    def places():
        with open_store(db) as st:
            return sorted((o.path, o.present) for o in st.occurrences())

    monkeypatch.chdir(repo)
    assert len(scan_paths(["."], settings).findings) == 2
    st = open_store(db)
    (inc,) = st.list_incidents()
    st.set_status(inc.id, "resolved", "rotated", "alice")
    st.close()
    monkeypatch.chdir(repo / "sub")
    scan_paths([".."], settings)  # reported as ../a.py, ../sub/b.py
    scan_paths([str(repo)], settings)  # reported as absolute paths
    assert places() == [("a.py", True), ("sub/b.py", True)]
    with open_store(db) as st:
        assert st.list_incidents()[0].status == "resolved"  # no "new place" in another spelling
    (repo / "a.py").write_text("token = None\n")
    scan_paths(["."], settings)  # sub/ only: says nothing about a.py
    assert places() == [("a.py", True), ("sub/b.py", True)]
    monkeypatch.chdir(repo)
    assert scan_paths(["."], settings).findings[0].location.path == "sub/b.py"
    assert places() == [("a.py", False), ("sub/b.py", True)]
    (repo / "sub" / "b.py").write_text("token = None\n")
    assert scan_paths(["sub"], settings).findings == []  # a clean scan: gone too
    assert places() == [("a.py", False), ("sub/b.py", False)]
    # a checkout without remotes (the empty identity) keeps absolute paths: another one with
    # the same secret in its own a.py is another place
    bare = tmp_path / "bare"
    bare.mkdir()
    subprocess.run(["git", "init", "-q", str(bare)], check=True)
    (bare / "a.py").write_text(f'token = "{secret}"\n')
    monkeypatch.chdir(bare)
    scan_paths(["."], settings)
    assert (str((bare / "a.py").resolve()), True) in places()

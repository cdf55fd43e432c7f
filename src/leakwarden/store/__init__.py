"""The findings store: scans → incidents (one per rule + secret hash) and their occurrences.

SQLite by default (WAL, one writer at a time, readers never blocked), PostgreSQL for a shared
store (`postgresql://...`), through the same SQL. Secrets are kept as hashes and a redacted
preview; with an explicit opt-in, also sealed with AES-GCM (see crypto.py).

Re-scans update incidents in place. An incident is never closed by a scan: a secret removed
from HEAD is still in history and still leaked, so only a person resolves it (after rotating).
A resolved incident seen at a *new* place is reopened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakwarden.models import Finding
from leakwarden.store.backend import Backend, SQLiteBackend, StoreError, open_backend
from leakwarden.store.migrations import MIGRATIONS, SCHEMA_VERSION, current_schema, statements

__all__ = ["Incident", "IncidentDetail", "ScanRecord", "Store", "StoreError", "open_store", "STATUSES"]

STATUSES = ("open", "resolved", "ignored", "false-positive")
_IN_BATCH = 500


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Incident:
    id: int
    fingerprint: str
    rule_id: str
    rule_name: str
    provider: str
    severity: str
    secret_redacted: str
    status: str
    assignee: str | None
    validity: str
    first_seen: str
    last_seen: str
    updated_at: str
    has_sealed_secret: bool = False
    repositories: tuple[str, ...] = ()
    occurrences: int = 0


@dataclass(frozen=True)
class Occurrence:
    id: int
    incident_id: int
    repository: str
    kind: str
    path: str | None
    commit: str | None
    blob: str | None
    layer: str | None
    line: int
    present: bool
    first_seen: str
    last_seen: str
    start_column: int = 0
    end_column: int = 0
    ruleset_hash: str = ""


@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    occurrences: list[Occurrence] = field(default_factory=list)
    validity_history: list[tuple[str, str, str]] = field(default_factory=list)  # (checked_at, state, reason)
    notes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (created_at, kind, author, body)


@dataclass(frozen=True)
class ScanRecord:
    scan_id: int
    new_incidents: int
    updated_incidents: int
    new_occurrences: int
    reopened: int


_INCIDENT_COLS = (
    "i.id, i.fingerprint, i.rule_id, i.rule_name, i.provider, i.severity, i.secret_redacted, i.status, "
    "i.assignee, i.validity, i.first_seen, i.last_seen, i.updated_at, i.secret_sealed IS NOT NULL"
)


_OCC_COLS = (
    "id, incident_id, repository, kind, path, commit_id, blob_id, layer, line, present, first_seen, last_seen,"
    " start_column, end_column, ruleset_hash"
)


def _occurrence(r: Sequence[Any]) -> Occurrence:
    return Occurrence(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], int(r[8]), bool(r[9]), r[10], r[11], int(r[12]), int(r[13]), r[14])


class Store:
    """Open with `open_store(path_or_url)`; every write is one transaction."""

    def __init__(self, backend: Backend) -> None:
        self.db = backend
        self._keys: dict[str, bytes] = {}
        self._prepare()

    # --- schema -----------------------------------------------------------------------

    def _prepare(self) -> None:
        with self.db.transaction():
            self.db.lock_schema()
            if not self.db.table_exists("meta"):
                if isinstance(self.db, SQLiteBackend) and self.db.user_tables():
                    raise StoreError(f"{self.db.path}: an SQLite database, but not a leakwarden store; the file was left untouched")
                for st in statements(current_schema()):
                    self.db.execute(self.db.ddl(st))
                self.db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created_at", utcnow())],
                )
                return
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(f"the store has schema version {version}, newer than this leakwarden ({SCHEMA_VERSION}); upgrade leakwarden")
            while version < SCHEMA_VERSION:
                version += 1
                for st in statements(MIGRATIONS[version]):
                    self.db.execute(self.db.ddl(st))
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

    def schema_version(self) -> int:
        rows = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        if not rows:
            raise StoreError("the store has no schema version: not a leakwarden store")
        try:
            return int(rows[0][0])
        except ValueError:
            raise StoreError(f"the store's schema version {rows[0][0]!r} is not a number: not a leakwarden store, or damaged") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- secrets ----------------------------------------------------------------------

    def _key(self, passphrase: str) -> bytes:
        """Derive the sealing key (salt and check value live in `meta`, made on first use)."""
        import base64

        from leakwarden.store import crypto

        if passphrase in self._keys:
            return self._keys[passphrase]
        self.db.execute("INSERT INTO meta (key, value) VALUES ('kdf_salt', ?) ON CONFLICT (key) DO NOTHING", (crypto.new_salt(),))
        salt = base64.b64decode(self.db.execute("SELECT value FROM meta WHERE key = 'kdf_salt'")[0][0])
        key = crypto.derive_key(passphrase, salt)
        self.db.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?) ON CONFLICT (key) DO NOTHING", (crypto.make_check(key),))
        crypto.verify_check(key, self.db.execute("SELECT value FROM meta WHERE key = 'key_check'")[0][0])
        self._keys[passphrase] = key
        return key

    def reveal(self, incident_id: int, passphrase: str) -> str | None:
        """The sealed secret of an incident, or None when it was stored as a hash only."""
        from leakwarden.store import crypto

        rows = self.db.execute("SELECT fingerprint, secret_sealed FROM incidents WHERE id = ?", (incident_id,))
        if not rows:
            raise StoreError(f"no incident {incident_id}")
        fp, sealed = rows[0]
        if sealed is None:
            return None
        if not passphrase:
            raise StoreError(f"this secret is stored encrypted: set ${crypto.KEY_ENV} to the key it was stored with")
        with self.db.transaction():
            key = self._key(passphrase)
        return crypto.unseal(key, bytes(sealed), fp.encode()).decode("utf-8", "surrogateescape")

    # --- recording scans ----------------------------------------------------------------

    def record_scan(
        self,
        findings: Iterable[Finding],
        *,
        repository: str = "",
        source: str = "scan",
        kinds: Iterable[str] = (),
        tool_version: str = "",
        ruleset_hash: str = "",
        secret_passphrase: str | None = None,
        within: Sequence[str] | None = None,
    ) -> ScanRecord:
        """Record one scan. `kinds` are the source kinds this scan covered completely: their
        occurrences in `repository` that it did not see are marked as no longer present; with
        `within`, only those whose path is one of these paths or under one (a scan of `src/`
        says nothing about `tests/`)."""
        from leakwarden.store import crypto

        findings = list(findings)
        now = utcnow()
        new_inc = upd_inc = new_occ = reopened = 0
        with self.db.transaction():
            self.db.lock_writes()
            key = self._key(secret_passphrase) if secret_passphrase else None
            scan_id = self.db.execute(
                "INSERT INTO scans (started_at, source, repository, tool_version, ruleset_hash, findings) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (now, source, repository, tool_version, ruleset_hash, len(findings)),
            )[0][0]
            seen_incidents: set[int] = set()
            for f in findings:
                fp = f.fingerprint
                sealed = crypto.seal(key, f.secret.reveal().encode("utf-8", "surrogateescape"), fp.encode()) if key else None
                rows = self.db.execute(
                    "INSERT INTO incidents (fingerprint, rule_id, rule_name, provider, severity, secret_redacted, secret_sealed,"
                    " status, validity, first_seen, last_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 'not_checked', ?, ?, ?)"
                    " ON CONFLICT (fingerprint) DO NOTHING RETURNING id",
                    (fp, f.rule_id, f.rule_name, f.provider, f.severity.value, f.secret.redacted, sealed, now, now, now),
                )
                if rows:
                    incident_id, status = rows[0][0], "open"
                    new_inc += 1
                else:
                    incident_id, status = self.db.execute("SELECT id, status FROM incidents WHERE fingerprint = ?", (fp,))[0]
                    if incident_id not in seen_incidents:
                        upd_inc += 1
                    # the preview too: one an older leakwarden made may show more of the secret
                    self.db.execute(
                        "UPDATE incidents SET last_seen = ?, updated_at = ?, rule_name = ?, severity = ?, secret_redacted = ?,"
                        " secret_sealed = COALESCE(secret_sealed, ?) WHERE id = ?",
                        (now, now, f.rule_name, f.severity.value, f.secret.redacted, sealed, incident_id),
                    )
                seen_incidents.add(incident_id)
                sighting = self._record_occurrence(f, incident_id, repository, scan_id, now, ruleset_hash)
                if sighting == "new":
                    new_occ += 1
                if sighting and status == "resolved":
                    reopened += 1
                    status = "open"
                    why = "seen again at a new place" if sighting == "new" else "back at a place it had gone from"
                    self._change_status(incident_id, "resolved", "open", why, "leakwarden", now)
                if f.validity.state.value != "not_checked":
                    self.db.execute(
                        "INSERT INTO validity_checks (incident_id, state, reason, checked_at, scan_id) VALUES (?, ?, ?, ?, ?)",
                        (incident_id, f.validity.state.value, f.validity.reason, f.validity.checked_at or now, scan_id),
                    )
                    self.db.execute("UPDATE incidents SET validity = ? WHERE id = ?", (f.validity.state.value, incident_id))
            for kind in sorted(set(kinds)):
                rows = self.db.execute(
                    "SELECT id, path FROM occurrences WHERE repository = ? AND kind = ? AND last_scan_id <> ? AND present = 1",
                    (repository, kind, scan_id),
                )
                gone = [r[0] for r in rows if within is None or any(_under(r[1] or "", w) for w in within)]
                for i in range(0, len(gone), _IN_BATCH):
                    clause, values = self.db.in_list("id", gone[i : i + _IN_BATCH])
                    self.db.execute(f"UPDATE occurrences SET present = 0 WHERE {clause}", values)
        return ScanRecord(scan_id, new_inc, upd_inc, new_occ, reopened)

    def _record_occurrence(self, f: Finding, incident_id: int, repository: str, scan_id: int, now: str, ruleset_hash: str = "") -> str:
        """Record one sighting: "new" (a place never seen), "back" (a place a complete scan had
        found it gone from: the secret was put back) or "" (seen there before)."""
        import hashlib

        from leakwarden.triage.identity import finding_repository

        repository = finding_repository(f, repository)
        loc = f.location
        key = hashlib.sha256(f"{f.occurrence_fingerprint}\x00{repository}".encode()).hexdigest()
        line, col, end_col = max(loc.start_line, 0), max(loc.start_column, 0), max(loc.end_column, 0)
        rows = self.db.execute(
            "INSERT INTO occurrences (incident_id, key, repository, kind, path, commit_id, blob_id, layer, line, present,"
            " first_seen, last_seen, first_scan_id, last_scan_id, start_column, end_column, ruleset_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING RETURNING id",
            (incident_id, key, repository, loc.kind, loc.path, loc.commit, loc.blob, loc.layer, line, now, now, scan_id, scan_id, col, end_col, ruleset_hash),
        )
        if rows:
            return "new"
        gone = self.db.execute("SELECT present FROM occurrences WHERE key = ?", (key,))[0][0] == 0
        self.db.execute(
            "UPDATE occurrences SET last_seen = ?, last_scan_id = ?, present = 1, line = ?, start_column = ?, end_column = ?,"
            " ruleset_hash = ? WHERE key = ?",
            (now, scan_id, line, col, end_col, ruleset_hash, key),
        )
        return "back" if gone else ""

    # --- incidents ----------------------------------------------------------------------

    def list_incidents(self, status: str | None = None, valid: bool | None = None, repository: str | None = None) -> list[Incident]:
        where, params = [], []
        if status:
            _check_status(status)
            where.append("i.status = ?")
            params.append(status)
        if valid is True:
            where.append("i.validity = 'valid'")
        elif valid is False:
            where.append("i.validity <> 'valid'")
        if repository is not None:
            where.append("EXISTS (SELECT 1 FROM occurrences o WHERE o.incident_id = i.id AND o.repository = ?)")
            params.append(repository)
        sql = f"SELECT {_INCIDENT_COLS} FROM incidents i"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY i.id"
        incidents = [self._incident(r) for r in self.db.execute(sql, params)]
        return [self._with_counts(i) for i in incidents]

    def _incident(self, r: Sequence[Any]) -> Incident:
        return Incident(
            id=int(r[0]), fingerprint=r[1], rule_id=r[2], rule_name=r[3], provider=r[4], severity=r[5],
            secret_redacted=r[6], status=r[7], assignee=r[8], validity=r[9], first_seen=r[10], last_seen=r[11],
            updated_at=r[12], has_sealed_secret=bool(r[13]),
        )

    def _with_counts(self, inc: Incident) -> Incident:
        rows = self.db.execute("SELECT repository, COUNT(*) FROM occurrences WHERE incident_id = ? GROUP BY repository ORDER BY repository", (inc.id,))
        from dataclasses import replace

        return replace(inc, repositories=tuple(r[0] for r in rows), occurrences=sum(int(r[1]) for r in rows))

    def get_incident(self, incident_id: int) -> IncidentDetail:
        rows = self.db.execute(f"SELECT {_INCIDENT_COLS} FROM incidents i WHERE i.id = ?", (incident_id,))
        if not rows:
            raise StoreError(f"no incident {incident_id}")
        inc = self._with_counts(self._incident(rows[0]))
        occ = [
            _occurrence(r)
            for r in self.db.execute(
                f"SELECT {_OCC_COLS} FROM occurrences WHERE incident_id = ? ORDER BY repository, kind, path, commit_id, id",
                (incident_id,),
            )
        ]
        validity = [tuple(r) for r in self.db.execute("SELECT checked_at, state, reason FROM validity_checks WHERE incident_id = ? ORDER BY id", (incident_id,))]
        notes = [tuple(r) for r in self.db.execute("SELECT created_at, kind, author, body FROM notes WHERE incident_id = ? ORDER BY id", (incident_id,))]
        return IncidentDetail(inc, occ, validity, notes)

    def _change_status(self, incident_id: int, old: str, new: str, note: str, author: str, now: str) -> None:
        self.db.execute("UPDATE incidents SET status = ?, updated_at = ? WHERE id = ?", (new, now, incident_id))
        body = f"{old} -> {new}" + (f": {note}" if note else "")
        self.db.execute("INSERT INTO notes (incident_id, kind, author, body, created_at) VALUES (?, 'status', ?, ?, ?)", (incident_id, author, body, now))

    def set_status(self, incident_id: int, status: str, note: str = "", author: str = "") -> None:
        _check_status(status)
        with self.db.transaction():
            rows = self.db.execute("SELECT status FROM incidents WHERE id = ?", (incident_id,))
            if not rows:
                raise StoreError(f"no incident {incident_id}")
            if rows[0][0] == status:
                # NOTE: a second `resolve` would log "resolved -> resolved" and say it resolved it
                raise StoreError(f"incident {incident_id} is already {status}")
            self._change_status(incident_id, rows[0][0], status, note, author, utcnow())

    def assign(self, incident_id: int, assignee: str, author: str = "") -> None:
        now = utcnow()
        with self.db.transaction():
            rows = self.db.execute("SELECT assignee FROM incidents WHERE id = ?", (incident_id,))
            if not rows:
                raise StoreError(f"no incident {incident_id}")
            self.db.execute("UPDATE incidents SET assignee = ?, updated_at = ? WHERE id = ?", (assignee or None, now, incident_id))
            self.db.execute(
                "INSERT INTO notes (incident_id, kind, author, body, created_at) VALUES (?, 'assign', ?, ?, ?)",
                (incident_id, author, f"assigned to {assignee}" if assignee else "unassigned", now),
            )

    def add_note(self, incident_id: int, body: str, author: str = "") -> None:
        now = utcnow()
        with self.db.transaction():
            if not self.db.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)):
                raise StoreError(f"no incident {incident_id}")
            self.db.execute("INSERT INTO notes (incident_id, kind, author, body, created_at) VALUES (?, 'note', ?, ?, ?)", (incident_id, author, body, now))
            self.db.execute("UPDATE incidents SET updated_at = ? WHERE id = ?", (now, incident_id))

    def occurrences(self, incident_ids: Sequence[int] | None = None) -> list[Occurrence]:
        rows = self.db.execute(f"SELECT {_OCC_COLS} FROM occurrences ORDER BY incident_id, repository, kind, path, commit_id, id")
        wanted = set(incident_ids) if incident_ids is not None else None
        return [
            _occurrence(r)
            for r in rows
            if wanted is None or r[1] in wanted
        ]

    def scan_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM scans")[0][0])

    # --- incremental scanning -------------------------------------------------------------

    def filter_unscanned(self, repo_id: str, blob_ids: Iterable[str], ruleset_hash: str) -> list[str]:
        """The blob ids (in the given order, without repeats) not yet scanned under these rules."""
        ordered = list(dict.fromkeys(blob_ids))
        done: set[str] = set()
        for i in range(0, len(ordered), _IN_BATCH):
            batch = ordered[i : i + _IN_BATCH]
            clause, values = self.db.in_list("blob_id", batch)
            rows = self.db.execute(
                f"SELECT blob_id FROM scanned_blobs WHERE repository = ? AND ruleset_hash = ? AND {clause}",
                (repo_id, ruleset_hash, *values),
            )
            done.update(r[0] for r in rows)
        return [b for b in ordered if b not in done]

    def scanned_blob_ids(self, repo_id: str, ruleset_hash: str) -> set[str]:
        """Every blob id already scanned in this repository under these rules (one query)."""
        rows = self.db.execute("SELECT blob_id FROM scanned_blobs WHERE repository = ? AND ruleset_hash = ?", (repo_id, ruleset_hash))
        return {r[0] for r in rows}

    def open_in_blobs(self, blob_ids: Iterable[str], kind: str = "git") -> list[tuple[Incident, Occurrence]]:
        """Open incidents with an occurrence of `kind` in one of these blobs: what a re-scan that
        skipped those blobs still has to report. One (incident, occurrence) per incident, the
        earliest sighting first; the incident's `occurrences` counts its places of `kind` in that
        occurrence's repository (what a fresh scan of the history would count)."""
        ids = sorted(set(blob_ids))
        best: dict[int, Occurrence] = {}
        for i in range(0, len(ids), _IN_BATCH):
            clause, values = self.db.in_list("o.blob_id", ids[i : i + _IN_BATCH])
            rows = self.db.execute(
                f"SELECT {', '.join('o.' + c.strip() for c in _OCC_COLS.split(','))} FROM occurrences o"
                f" JOIN incidents i ON i.id = o.incident_id WHERE i.status = 'open' AND o.kind = ? AND {clause}",
                (kind, *values),
            )
            for r in rows:
                occ = _occurrence(r)
                old = best.get(occ.incident_id)
                if old is None or (occ.first_seen, occ.id) < (old.first_seen, old.id):
                    best[occ.incident_id] = occ
        from dataclasses import replace

        out = []
        for incident_id in sorted(best):
            occ = best[incident_id]
            rows = self.db.execute(f"SELECT {_INCIDENT_COLS} FROM incidents i WHERE i.id = ?", (incident_id,))
            count = self.db.execute(
                "SELECT COUNT(*) FROM occurrences WHERE incident_id = ? AND kind = ? AND repository = ?", (incident_id, kind, occ.repository)
            )[0][0]
            out.append((replace(self._incident(rows[0]), occurrences=int(count)), occ))
        return out

    def mark_scanned(self, repo_id: str, blob_ids: Iterable[str], ruleset_hash: str) -> None:
        """Remember blobs as scanned. Call after their findings were recorded, in the same run."""
        now = utcnow()
        # Sorted: writers marking overlapping blobs take their row locks in one order (no deadlock).
        rows = [(repo_id, b, ruleset_hash, now) for b in sorted(set(blob_ids))]
        if not rows:
            return
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO scanned_blobs (repository, blob_id, ruleset_hash, scanned_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (repository, blob_id, ruleset_hash) DO NOTHING",
                rows,
            )

    # --- org scans: whole repositories ---------------------------------------------------

    def repo_heads(self, ruleset_hash: str) -> dict[str, set[str]]:
        """Repository → the ref states already scanned completely under these rules."""
        out: dict[str, set[str]] = {}
        for repo, head in self.db.execute("SELECT repository, head FROM repo_scans WHERE ruleset_hash = ?", (ruleset_hash,)):
            out.setdefault(repo, set()).add(head)
        return out

    def mark_repo_scanned(self, repository: str, head: str, ruleset_hash: str, scan_id: int, findings: int, nbytes: int) -> None:
        """Remember a repository as scanned at this ref state. Call after `record_scan` of its
        findings: a run interrupted in between scans it again, which records nothing twice."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO repo_scans (repository, head, ruleset_hash, scan_id, findings, bytes, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (repository, head, ruleset_hash) DO UPDATE SET scan_id = excluded.scan_id, findings = excluded.findings,"
                " bytes = excluded.bytes, scanned_at = excluded.scanned_at",
                (repository, head, ruleset_hash, scan_id, findings, nbytes, utcnow()),
            )

    # --- hook bypasses --------------------------------------------------------------------

    def record_bypass(self, reason: str, context: dict[str, Any], author: str) -> int:
        if not reason.strip():
            raise StoreError("a bypass needs a reason")
        with self.db.transaction():
            return int(
                self.db.execute(
                    "INSERT INTO bypasses (reason, author, context, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                    (reason.strip(), author, json.dumps(context, sort_keys=True, default=str), utcnow()),
                )[0][0]
            )

    def bypasses(self) -> list[tuple[int, str, str, dict[str, Any], str]]:
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in self.db.execute("SELECT id, reason, author, context, created_at FROM bypasses ORDER BY id")]


def _under(path: str, folder: str) -> bool:
    """`path` is `folder` or inside it ("" and "." hold every relative path)."""
    if folder in ("", "."):
        return not path.startswith("/")
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StoreError(f"unknown status {status!r} (one of: {', '.join(STATUSES)})")


def open_store(target: str | Path) -> Store:
    """Open (creating if needed) the store at an SQLite path or a postgresql:// URL."""
    return Store(open_backend(target))

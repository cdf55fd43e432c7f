"""One small data layer over sqlite3 and psycopg 3, so the store's SQL is written once.

Queries use `?` placeholders; the PostgreSQL side turns them into `%s`. Writes run in
`transaction()`: on SQLite a `BEGIN IMMEDIATE` (one writer at a time, others wait on the
busy timeout), on PostgreSQL an ordinary transaction whose upserts resolve races; recording a
scan also takes an advisory lock there (`lock_writes`), so scans are recorded one at a time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from leakwarden.errors import LeakwardenError
from leakwarden.sqlite_wal import connect_wal

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 30_000


class StoreError(LeakwardenError):
    """The store cannot be opened or used (corrupt file, wrong key, server down...)."""


class Backend:
    kind = ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def ddl(self, statement: str) -> str:
        return statement

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column IN (...)` for a batch of values, in the form each engine plans best."""
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def table_exists(self, name: str) -> bool:
        raise NotImplementedError

    def lock_schema(self) -> None:
        """Serialise schema creation/migration between processes (inside a transaction)."""

    def lock_writes(self) -> None:
        """Serialise recording scans between processes (inside a transaction); SQLite's
        `BEGIN IMMEDIATE` already admits one writer at a time."""

    def close(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        _check_sqlite_file(path)
        _probe_read_only(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
            self.conn = connect_wal(path, BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the findings store: {exc} (the file was left untouched)") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the findings store: {exc.strerror or exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise StoreError(f"{self.path}: store error: {exc}") from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, [tuple(r) for r in rows])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: store error: {exc}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot start a write: {exc}") from None
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        return bool(self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def user_tables(self) -> list[str]:
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]

    def close(self) -> None:
        self.conn.close()


def _create_private(path: Path) -> None:
    """Create a new store file readable by its owner only: it holds hashes of secrets (and,
    with --store-secrets, the sealed secrets). SQLite gives its -wal and -shm files the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _check_sqlite_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not an SQLite database.

    NOTE: opening a foreign file in WAL mode could write beside it; checking the header first
    guarantees a corrupt or unrelated file is reported and never modified.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StoreError(f"{path}: is a folder, not a findings store file") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the findings store: {exc.strerror or exc}") from None
    if head and head != SQLITE_HEADER:
        raise StoreError(f"{path}: not a leakwarden findings store (not an SQLite database, or corrupt); the file was left untouched")


def _probe_read_only(path: Path) -> None:
    """Read the schema through a read-only connection before any write can happen."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        # NOTE: without a -wal file, `immutable=1` makes SQLite create no -wal/-shm beside it.
        flags = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
            pages = probe.execute("PRAGMA page_count").fetchone()[0]
            page_size = probe.execute("PRAGMA page_size").fetchone()[0]
            tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" in tables:
                probe.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
            elif tables:
                raise StoreError(f"{path}: an SQLite database, but not a leakwarden store; the file was left untouched")
        finally:
            probe.close()
        # A truncated file still has a valid first page; its header says how long it must be.
        if pages * page_size > path.stat().st_size and not Path(f"{path}-wal").exists():
            raise sqlite3.DatabaseError(f"file is truncated ({path.stat().st_size} bytes, header says {pages * page_size})")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: the findings store is corrupt or unreadable ({exc}); the file was left untouched") from None


class PostgresBackend(Backend):
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError("a PostgreSQL store needs psycopg 3: pip install 'leakwarden[postgresql]'") from None
        self._psycopg = psycopg
        self.url = url
        try:
            # NOTE: no server-side prepared statements: their generic plans made the blob
            # lookups of incremental scans 20x slower (see bench/bench_incremental.py).
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {_safe_url(url)}: {str(exc).strip()}") from None
        self._depth = 0

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cur = self.conn.execute(self._sql(sql), tuple(params))
            return cur.fetchall() if cur.description else []
        except self._psycopg.errors.UniqueViolation:
            raise
        except self._psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {_safe_url(self.url)}: {str(exc).strip()}") from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        except self._psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {_safe_url(self.url)}: {str(exc).strip()}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def ddl(self, statement: str) -> str:
        from leakwarden.store.migrations import to_postgres

        return to_postgres(statement)

    def lock_schema(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (0x6C65616B,))

    def lock_writes(self) -> None:
        # NOTE: a scan inserts and updates many incident and occurrence rows, holding each lock
        # to the end; two scans meeting the same secrets in other orders deadlocked (and one was
        # aborted). One recording scan at a time, as on SQLite.
        self.execute("SELECT pg_advisory_xact_lock(?)", (0x6C65616C,))

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        # NOTE: one array parameter; a long IN list of parameters gets a slow generic plan
        # once psycopg prepares the statement.
        return f"{column} = ANY(?)", [list(values)]

    def table_exists(self, name: str) -> bool:
        return bool(self.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", (name,)))

    def close(self) -> None:
        self.conn.close()


def _safe_url(url: str) -> str:
    """Never print a password that is part of a connection URL."""
    import re

    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


def open_backend(target: str | Path) -> Backend:
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(text)
    if "://" in text:
        raise StoreError(f"unsupported store URL {_safe_url(text)} (use a file path or postgresql://...)")
    return SQLiteBackend(Path(text).expanduser())

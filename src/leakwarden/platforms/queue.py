"""The durable job queue: one SQLite file, one row per delivery.

Why SQLite: a receiver must answer within the platform's ~10 s limit, so it only writes a row;
workers claim rows later. The delivery id is UNIQUE per platform, so a redelivery is a no-op.
A row left `running` by a process that died is put back to `queued` at start-up.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakwarden.errors import LeakwardenError
from leakwarden.sqlite_wal import connect_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    delivery TEXT NOT NULL,
    event TEXT NOT NULL,
    job TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    summary TEXT,
    not_before REAL NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (platform, delivery)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
"""


class QueueError(LeakwardenError):
    """The job queue file cannot be opened (not an SQLite file, unreadable folder...)."""


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    platform: str
    delivery: str
    event: str
    data: dict[str, Any]
    attempts: int


class JobQueue:
    """Jobs in `path`. States: queued → running → done | failed; `ignored` for events we skip."""

    def __init__(self, path: str | Path, max_attempts: int = 3, retry_delay: float = 30.0) -> None:
        self.path = str(path)
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise QueueError(f"{self.path}: cannot open the job queue: {exc}") from None
        except OSError as exc:
            raise QueueError(f"{self.path}: cannot open the job queue: {exc.strerror or exc}") from None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = connect_wal(self.path, 30)
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def enqueue_all(self, platform: str, delivery: str, event: str, jobs: list[dict[str, Any]]) -> bool:
        """Record a delivery and its jobs (none: an `ignored` row) in one transaction; False when
        this delivery id was seen before (nothing added).

        The first job takes the delivery id, the others `<id>#<n>` (a Bitbucket push that
        changed several refs), so a redelivery still conflicts on the first row."""
        now = time.time()
        rows: list[tuple[str, str | None, str]] = [(delivery, None, "ignored")] if not jobs else [
            (delivery if n == 0 else f"{delivery}#{n}", json.dumps({**job, "delivery": delivery}), "queued") for n, job in enumerate(jobs)
        ]
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            for key, data, state in rows:
                cur = db.execute(
                    "INSERT INTO jobs (platform, delivery, event, job, state, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, delivery) DO NOTHING",
                    (platform, key, event, data, state, now, now),
                )
                if cur.rowcount != 1:
                    db.execute("ROLLBACK")
                    return False
            db.execute("COMMIT")
        return True

    def claim(self) -> Job | None:
        """Take the oldest queued job (atomically: two workers never get the same one)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT id, platform, delivery, event, job, attempts FROM jobs WHERE state = 'queued' AND not_before <= ? ORDER BY id LIMIT 1",
                (time.time(),),
            ).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?", (time.time(), row[0]))
            db.execute("COMMIT")
        return Job(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5] + 1)

    def finish(self, job_id: int, summary: str = "") -> None:
        with self._db() as db:
            db.execute("UPDATE jobs SET state = 'done', summary = ?, error = NULL, updated_at = ? WHERE id = ?", (summary, time.time(), job_id))

    def fail(self, job_id: int, error: str) -> None:
        """Retry later (the delay grows with each attempt) unless the job has used its attempts."""
        now = time.time()
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, error = ?, updated_at = ?,"
                " not_before = ? + ? * attempts WHERE id = ?",
                (self.max_attempts, error[:2000], now, now, self.retry_delay, job_id),
            )

    def release(self, job_id: int) -> None:
        """Put a running job back (shutdown before it finished); the attempt is not counted."""
        with self._db() as db:
            db.execute("UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), updated_at = ? WHERE id = ? AND state = 'running'", (time.time(), job_id))

    def requeue_running(self) -> int:
        """At start-up: jobs a previous process left running go back to the queue."""
        with self._db() as db:
            return db.execute("UPDATE jobs SET state = 'queued', updated_at = ? WHERE state = 'running'", (time.time(),)).rowcount

    def known_deliveries(self, platform: str, since: float) -> set[str]:
        with self._db() as db:
            rows = db.execute("SELECT delivery FROM jobs WHERE platform = ? AND received_at >= ?", (platform, since)).fetchall()
        return {r[0] for r in rows}

    def last_received(self, platform: str) -> float | None:
        with self._db() as db:
            row = db.execute("SELECT MAX(received_at) FROM jobs WHERE platform = ?", (platform,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        with self._db() as db:
            return dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    def recent(self, limit: int = 10, state: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, platform, delivery, event, state, attempts, error, summary, received_at, updated_at, job FROM jobs"
        args: tuple[Any, ...] = ()
        if state:
            q += " WHERE state = ?"
            args = (state,)
        with self._db() as db:
            rows = db.execute(q + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("id", "platform", "delivery", "event", "state", "attempts", "error", "summary", "received_at", "updated_at")
        out = []
        for r in rows:
            d = dict(zip(keys, r[:10], strict=True))
            job = json.loads(r[10]) if r[10] else {}
            d["repo"] = job.get("repo")
            out.append(d)
        return out

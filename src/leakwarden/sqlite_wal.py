"""Open an SQLite file in WAL mode when several processes may be creating it at once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def connect_wal(path: str | Path, timeout_s: float, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection (autocommit, busy timeout `timeout_s`) to `path`, switched to WAL.

    NOTE: two processes switching a new file to WAL at once can get "database is locked"
    straight away: SQLite skips the busy handler there to avoid a deadlock, so we retry
    until the timeout. The journal mode is only set when it is not WAL yet, which needs no
    write lock on every later connection.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        conn = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None, check_same_thread=check_same_thread)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            row = conn.execute("PRAGMA journal_mode").fetchone()
            if not row or str(row[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
        except BaseException:
            conn.close()
            raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


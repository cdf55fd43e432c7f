"""A throwaway PostgreSQL server on 127.0.0.1 for store tests (Debian's `postgresql` package).

initdb into a temporary folder and pg_ctl start on a free port; as root, the server runs as
the `postgres` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("initdb/pg_ctl")
        self.pg_ctl = pg_ctl
        # NOTE: not under pytest's tmp folder: that one is private to root, and the server
        # runs as the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="leakwarden-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.sock.mkdir()
        self.log = self.root / "server.log"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "leakwarden", "-E", "UTF8", "--no-sync"])
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "60", "start"])
        self._n = 0

    def _run(self, cmd: list[str]) -> None:
        out = subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {out.stdout}{out.stderr}{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://leakwarden@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- fixtures: import them into a test module to run its store tests on both backends ----

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pg_server():
    if not pg_bin("initdb"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL (initdb) is required in CI; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL not installed")
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """A fresh, empty store location: a file path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "findings.db")
    return request.getfixturevalue("pg_server").new_database()

"""`leakwarden scan org` and `scan repos` end to end, as a user runs them."""

from __future__ import annotations

import base64
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from leakwarden.store import open_store
from tests.conftest import run_cli
from tests.org.fakeapi import FakeApi
from tests.org.repos import token


class GitServer:
    """Bare repositories over git's dumb HTTP protocol, recording Authorization headers."""

    def __init__(self, root):
        self.auth: list[str] = []
        seen = self.auth

        class _H(SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                seen.append(self.headers.get("Authorization", ""))
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_H, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _store_repos(path):
    with open_store(path) as st:
        return sorted(r[0] for r in st.db.execute("SELECT repository FROM repo_scans"))


def test_scan_org_github_end_to_end_with_a_token_from_the_environment(repos, tmp_path):
    paths, _ = repos
    paths = paths[:7]
    git = GitServer(paths[0].parent)

    def handler(path, query, headers):
        body = [{"full_name": f"acme/{p.stem}", "clone_url": f"{git.url}/{p.name}", "fork": p.stem == "r06", "archived": False, "size": 1} for p in paths]
        return 200, {}, body

    try:
        with FakeApi(handler) as api:
            env = {"LEAKWARDEN_GITHUB_URL": api.url, "GITHUB_TOKEN": "ghp_fromenv"}
            db = tmp_path / "acme.db"
            proc = run_cli("scan", "org", "github:acme", "--no-forks", "--engine", "local:2", "--store", str(db), "-f", "json", env=env)
            assert proc.returncode == 1, proc.stderr.decode()
            report = json.loads(proc.stdout)
            fps = {f["fingerprint"] for f in report["findings"]}
            assert fps == {_fp(0), _fp(3)}  # r06 is a fork; r05 repeats r00's token
            assert len(_store_repos(db)) == 6 and all(r.startswith("127.0.0.1:") for r in _store_repos(db))
            assert b"6 scanned" in proc.stderr
            # The worker sent the platform token as a header for the clone host; never in argv.
            want = "Basic " + base64.b64encode(b"x-access-token:ghp_fromenv").decode()
            assert want in git.auth
            again = run_cli("scan", "org", "github:acme", "--no-forks", "--engine", "local:2", "--store", str(db), env=env)
            assert again.returncode == 0 and b"6 unchanged" in again.stderr
    finally:
        git.close()


def _fp(i):
    from leakwarden.models import secret_fingerprint

    return secret_fingerprint("crates-io-api-token", token(i))


def test_scan_repos_on_a_dask_scheduler_from_the_command_line(repos, cluster, tmp_path):
    paths, expected = repos
    c, _ = cluster
    listing = tmp_path / "repos.txt"
    listing.write_text("# our repositories\n" + "\n".join(str(p) for p in paths) + "\n\n")
    address = c.scheduler_address.replace("tcp://", "dask://")
    db = tmp_path / "dask.db"
    proc = run_cli("scan", "repos", "--from", str(listing), "--engine", address, "--store", str(db), "-f", "jsonl")
    assert proc.returncode == 1, proc.stderr.decode()
    fps = {json.loads(line)["fingerprint"] for line in proc.stdout.splitlines() if line.strip()}
    assert fps == expected
    assert len(_store_repos(db)) == 12
    for secret in (token(i) for i in range(12)):
        assert secret.encode() not in proc.stdout + proc.stderr


def test_bad_input_is_a_clear_usage_error(tmp_path):
    listing = tmp_path / "repos.txt"
    listing.write_text("ext::sh -c id\n")
    proc = run_cli("scan", "repos", "--from", str(listing))
    assert proc.returncode == 2 and b"not a clone URL or path" in proc.stderr
    listing.write_text(str(tmp_path / "missing.git") + "\n")
    for engine, msg in (("local:x", b"not a worker count"), ("dask://", b"not a Dask scheduler"), ("spark://a", b"unknown engine")):
        proc = run_cli("scan", "repos", "--from", str(listing), "--engine", engine)
        assert proc.returncode == 2 and msg in proc.stderr, proc.stderr
    proc = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:1")
    assert proc.returncode == 2 and b"1 failed" in proc.stderr
    proc = run_cli("scan", "org", "nowhere:acme")
    assert proc.returncode == 2 and b"not an org target" in proc.stderr


def test_scan_repos_store_secrets_seals_values_on_the_driver(repos, tmp_path):
    paths, _ = repos
    listing = tmp_path / "repos.txt"
    listing.write_text("\n".join(str(p) for p in paths[:3]) + "\n")
    db = tmp_path / "sealed.db"
    proc = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:2", "--store-secrets")
    assert proc.returncode == 2 and b"needs --store" in proc.stderr
    proc = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:2", "--store", str(db), "--store-secrets")
    assert proc.returncode == 2 and b"LEAKWARDEN_STORE_KEY" in proc.stderr and not db.exists()
    env = {"LEAKWARDEN_STORE_KEY": "a long enough passphrase"}
    proc = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:2", "--store", str(db), "--store-secrets", "-f", "json", env=env)
    assert proc.returncode == 1, proc.stderr.decode()
    for secret in (token(i) for i in range(3)):
        assert secret.encode() not in proc.stdout + proc.stderr  # redacted in the report
    shown = run_cli("incidents", "show", "1", "--reveal", "--store", str(db), env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert any(token(i) in shown.stdout.decode() for i in range(3))
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("sealed.db*"))  # with WAL and journal
    assert not any(token(i).encode() in stored for i in range(3))  # sealed, never plain

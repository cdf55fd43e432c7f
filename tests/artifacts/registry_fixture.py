"""A real CNCF distribution registry (Debian `docker-registry`) on 127.0.0.1, fed by `skopeo`.

Three modes: no auth, htpasswd (basic) auth, and token auth, where a small token server in this
process signs RS256 JWTs with an openssl-made key that the registry trusts.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from tests.tooling import require_tool

USER, PASSWORD = "ci-bot", "s3cret-pass"
SERVICE, ISSUER = "leakwarden-test-registry", "leakwarden-test-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    host: str
    process: subprocess.Popen[bytes]
    mode: str
    tmp: Path
    token_server: ThreadingHTTPServer | None = None

    def push(self, layout: Path, repo: str, *, all_platforms: bool = True) -> str:
        skopeo = require_tool("skopeo")
        policy = self.tmp / "policy.json"
        policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        cmd = [skopeo, "--policy", str(policy), "copy", "--quiet", "--dest-tls-verify=false"]
        if all_platforms:
            cmd.append("--all")
        if self.mode != "none":
            cmd += ["--dest-creds", f"{USER}:{PASSWORD}"]
        ref = f"{self.host}/{repo}"
        proc = subprocess.run([*cmd, f"oci:{layout}:app:1.0", f"docker://{ref}"], capture_output=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(self.tmp), "TMPDIR": str(self.tmp)})
        assert proc.returncode == 0, proc.stderr.decode()
        return ref

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.token_server is not None:
            self.token_server.shutdown()
            self.token_server.server_close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _make_key(tmp: Path) -> tuple[Path, Path]:
    openssl = require_tool("openssl")
    key, cert = tmp / "token.key", tmp / "token.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=leakwarden-test-token"], check=True, capture_output=True)
    return key, cert


def _token_server(tmp: Path, key: Path, cert: Path) -> ThreadingHTTPServer:
    openssl = require_tool("openssl")
    der = subprocess.run([openssl, "x509", "-in", str(cert), "-outform", "DER"], check=True, capture_output=True).stdout
    x5c = base64.b64encode(der).decode()
    good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            query = parse_qs(urlparse(self.path).query)
            authorization = self.headers.get("Authorization")
            if authorization is not None and authorization != good:
                self.send_response(401)
                self.end_headers()
                return
            access = []
            for scope in query.get("scope", []):
                kind, name, actions = scope.split(":", 2)
                granted = actions.split(",") if authorization else (["pull"] if name.startswith("public/") else [])
                access.append({"type": kind, "name": name, "actions": granted})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
            claims = {"iss": ISSUER, "sub": USER if authorization else "", "aud": SERVICE, "exp": now + 600, "nbf": now - 30,
                      "iat": now - 30, "jti": uuid.uuid4().hex, "access": access}
            signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
            sig = subprocess.run([openssl, "dgst", "-sha256", "-sign", str(key)], input=signing_input.encode(),
                                 check=True, capture_output=True).stdout
            body = json.dumps({"token": f"{signing_input}.{_b64url(sig)}", "expires_in": 600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_registry(tmp: Path, mode: str) -> Registry:
    binary = require_tool("docker-registry")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {tmp / 'data'}",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    token_server = None
    if mode == "htpasswd":
        htpasswd = require_tool("htpasswd")
        line = subprocess.run([htpasswd, "-Bbn", USER, PASSWORD], check=True, capture_output=True).stdout
        (tmp / "htpasswd").write_bytes(line)
        config += ["auth:", "  htpasswd:", "    realm: leakwarden-test", f"    path: {tmp / 'htpasswd'}"]
    elif mode == "token":
        key, cert = _make_key(tmp)
        token_server = _token_server(tmp, key, cert)
        realm = f"http://127.0.0.1:{token_server.server_address[1]}/token"
        config += ["auth:", "  token:", f"    realm: {realm}", f"    service: {SERVICE}", f"    issuer: {ISSUER}", f"    rootcertbundle: {cert}"]
    (tmp / "config.yml").write_text("\n".join(config) + "\n")
    with open(tmp / "registry.log", "wb") as log:
        process = subprocess.Popen([binary, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError(f"registry did not start: {(tmp / 'registry.log').read_text()}")
    return Registry(f"127.0.0.1:{port}", process, mode, tmp, token_server)

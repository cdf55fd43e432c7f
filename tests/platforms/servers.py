"""Real servers on 127.0.0.1 for the platform tests: `git daemon`, `git http-backend` behind
basic auth (a small WSGI wrapper running the CGI), and a fake platform API that records every
request it gets and answers from a programmable table."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class GitDaemon:
    """`git daemon --export-all` over `root`; `filters` turns on partial-clone support."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--export-all", "--enable=upload-pack", "--reuseaddr", f"--base-path={root}",
             "--listen=127.0.0.1", f"--port={self.port}", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        )
        wait_port(self.port)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def serve_repo(path: Path, filters: bool = True) -> None:
    """Server-side settings a hosting platform has: partial clone and fetch-by-id allowed."""
    for key, value in (("uploadpack.allowFilter", "true" if filters else "false"), ("uploadpack.allowAnySHA1InWant", "true")):
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class HttpGitServer:
    """`git http-backend` as CGI behind HTTP basic auth; `gate` (when cleared) holds requests."""

    def __init__(self, root: Path, user: str, password: str) -> None:
        import base64

        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth_seen: list[str] = []
        self.paths_seen: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.server = make_server("127.0.0.1", 0, self.app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        self.auth_seen.append(auth)
        self.paths_seen.append(environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""))
        if auth != self.expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Length", "0")])
            return [b""]
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(20)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({k: str(v) for k, v in environ.items() if k.startswith("HTTP_") and isinstance(v, str)})
        env.update(
            GIT_PROJECT_ROOT=str(self.root), GIT_HTTP_EXPORT_ALL="1", REMOTE_USER="tester", REMOTE_ADDR="127.0.0.1",
            PATH_INFO=environ.get("PATH_INFO", ""), REQUEST_METHOD=environ["REQUEST_METHOD"],
            QUERY_STRING=environ.get("QUERY_STRING", ""), CONTENT_TYPE=environ.get("CONTENT_TYPE", ""), CONTENT_LENGTH=str(len(body)),
        )
        if "HTTP_GIT_PROTOCOL" in environ:
            env["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status = "200 OK"
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name.strip(), value.strip()))
        start_response(status, headers)
        return [payload]

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Responder = Callable[[str, str, bytes], "tuple[int, dict[str, str], Any] | None"]


@dataclass
class FakeApi:
    """A local HTTP server imitating a platform API: records requests, answers 2xx JSON by
    default; `responders` (tried in order) can return (status, headers, json) to override."""

    requests: list[Recorded] = field(default_factory=list)
    responders: list[Responder] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                api.requests.append(rec)
                answer = None
                for r in api.responders:
                    answer = r(self.command, self.path, body)
                    if answer is not None:
                        break
                status, headers, data = answer or (201 if self.command == "POST" else 200, {}, {"id": len(api.requests)})
                payload = json.dumps(data).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    """An injected clock: `sleep` advances time at once and records how long it was asked for."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

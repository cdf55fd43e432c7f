"""A real HTTP server on 127.0.0.1 that imitates a provider API, for validity-check tests.

Each test installs a handler `(req) -> (status, headers, body)`; the server records every
request and counts how many are in flight at once (overall and at the peak).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Reply = tuple[int, dict[str, str], Any]
Handler = Callable[[Request], Reply]


@dataclass
class FakeProvider:
    handler: Handler = field(default=lambda req: (404, {}, {"message": "no handler"}))
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeProvider:
        provider = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, self.path, dict(self.headers.items()), self.rfile.read(length) if length else b"")
                with provider.lock:
                    provider.requests.append(req)
                    provider.in_flight += 1
                    provider.peak = max(provider.peak, provider.in_flight)
                try:
                    status, headers, body = provider.handler(req)
                finally:
                    with provider.lock:
                        provider.in_flight -= 1
                if isinstance(body, dict | list):
                    data = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json", **headers}
                else:
                    data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def slow(seconds: float, reply: Reply) -> Handler:
    def handler(req: Request) -> Reply:
        time.sleep(seconds)
        return reply

    return handler

"""`[verify] proxy`: checks go through an HTTP proxy, which resolves the provider's name."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from leakwarden.errors import ConfigError
from leakwarden.models import ValidityState
from leakwarden.verifier import verify_findings
from leakwarden.verifier.config import parse_verify_config
from tests.verifier.conftest import finding, settings_for

CCI = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1 that sends every `*.test` name to one port."""

    def __init__(self, upstream_port: int) -> None:
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)  # absolute form: http://host:port/path
                proxy.seen.append((parts.hostname or "", parts.path))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
                r = httpx.get(f"http://127.0.0.1:{upstream_port}{parts.path}", headers=headers)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def circleci_me(req):
    if req.path == "/api/v2/me" and req.header("Circle-Token") == CCI:
        return 200, {}, {"id": "u1", "login": "release-bot", "name": "Release Bot"}
    return 401, {}, {"message": "You must log in first."}


def test_check_goes_through_the_proxy_which_resolves_the_name(provider):
    provider.handler = circleci_me
    port = int(provider.base_url.rsplit(":", 1)[1].split("/")[0])
    proxy = ForwardProxy(port)
    try:
        # `circleci.test` resolves nowhere locally: only the proxy can reach it
        settings = settings_for({"circleci.com": f"http://circleci.test:{port}"}, allow_private=False, proxy=proxy.url)
        [out] = verify_findings([finding("circleci-personal-token", CCI)], settings)
    finally:
        proxy.stop()
    assert out.validity.state is ValidityState.VALID, out.validity.reason
    assert proxy.seen == [("circleci.test", "/api/v2/me")]
    [req] = provider.requests
    assert req.header("Host") == f"circleci.test:{port}"


def test_without_the_proxy_the_name_does_not_resolve(provider):
    provider.handler = circleci_me
    port = int(provider.base_url.rsplit(":", 1)[1].split("/")[0])
    settings = settings_for({"circleci.com": f"http://circleci.test:{port}"}, retries=0)
    [out] = verify_findings([finding("circleci-personal-token", CCI)], settings)
    assert out.validity.state is ValidityState.UNKNOWN and "resolve" in out.validity.reason
    assert provider.requests == []


@pytest.mark.parametrize("bad", ["socks5://127.0.0.1:1080", "proxy.internal:3128", "http://p:3128/path", 3128])
def test_bad_proxy_setting_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="verify.proxy"):
        parse_verify_config({"proxy": bad})


def test_a_malformed_proxy_url_does_not_echo_its_password(tmp_path):
    # A password with a `/` that is not percent-encoded ends the authority early: the URL
    # parser then reads part of the password as the port, and its error quoted it.
    from tests.conftest import run_cli

    config = tmp_path / "verify.toml"
    config.write_text('[verify]\nproxy = "http://svc:Pr0xyPa55w0rdZ/q@proxy.corp:3128"\n')
    with pytest.raises(ConfigError, match="verify.proxy") as raised:
        parse_verify_config({"proxy": "http://svc:Pr0xyPa55w0rdZ/q@proxy.corp:3128"})
    assert "Pa55w0rd" not in str(raised.value)
    r = run_cli("verify", "--rule", "circleci-personal-token", "-c", str(config), input=CCI.encode())
    assert r.returncode == 2 and b"verify.proxy" in r.stderr, r.stderr
    assert b"Pa55w0rd" not in r.stderr + r.stdout

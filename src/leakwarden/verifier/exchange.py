"""Send one check request safely: SSRF guard, concurrency limits, timeouts, retries, no redirects.

Every check (declarative or named) goes through `Exchange.send`, so the safety rules live in
one place. Failures that leave the answer open raise VerifyError with a reason that never
contains the secret; the engine turns it into `unknown`.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import httpx

from leakwarden import __version__
from leakwarden.errors import VerifyError
from leakwarden.ratelimit import retry_after
from leakwarden.verifier.config import VerifyConfig
from leakwarden.verifier.guard import pin_address, pinned_request_url, plan_target

USER_AGENT = f"leakwarden/{__version__} (secret validity check; +https://github.com/leakwarden/leakwarden)"


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider's answer, with the body read up to `max_body` bytes."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> object:
        import json

        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Limits:
    """A global semaphore plus one per provider host, created lazily inside the running loop."""

    total: int
    per_host: int
    _global: asyncio.Semaphore | None = None
    _hosts: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def for_host(self, host: str) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        if self._global is None:
            self._global = asyncio.Semaphore(self.total)
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return self._global, sem


_MIN_RUN = 16  # characters of a secret's base64 (12 bytes) that a scrubbed text may not keep


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Remove secret values from a message (exception texts can echo URLs or headers), and any
    run of 16 or more characters of their base64 forms: an echoed `Authorization: Basic
    base64(user:secret)`, whole or cut short. (Runs of the plain value are kept: a key file's
    value holds fields a check reports, such as its client e-mail.)"""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "<redacted>")
    for s in secrets:
        if len(s) >= _MIN_RUN - 4:
            for form in _base64_forms(s):
                text = _drop_runs(text, form)
    return text


def _base64_forms(secret: str) -> list[str]:
    """`secret` in base64 at each of the three byte offsets it can start at inside a longer
    encoded value, in the standard and the URL-safe alphabet."""
    raw = secret.encode("utf-8", "surrogateescape")
    out = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode()[k + 1 if k else 0 :]
        out += [enc, enc.replace("+", "-").replace("/", "_")]
    return out


def _drop_runs(text: str, form: str) -> str:
    """`text` with each run of at least _MIN_RUN characters that also occurs in `form` replaced."""
    while len(text) >= _MIN_RUN:
        m = SequenceMatcher(None, text, form, autojunk=False).find_longest_match(0, len(text), 0, len(form))
        if m.size < _MIN_RUN:
            break
        text = text[: m.a] + "<redacted>" + text[m.a + m.size :]
    return text


class Exchange:
    """One per verification run: HTTP clients, the limits and the config.

    NOTE: connections are pinned to IP addresses, and a connection pool is keyed by address.
    One client per provider host keeps a TLS connection authenticated for one host from
    carrying another host's secret (CDNs serve many hosts from one address).
    """

    def __init__(self, config: VerifyConfig) -> None:
        self.config = config
        self.limits = Limits(config.concurrency, config.per_host)
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def __aenter__(self) -> Exchange:
        return self

    async def __aexit__(self, *exc: object) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = new_client(self.config)
        return client

    def host_header(self, url: str, hosts: Sequence[str]) -> str:
        """The Host header `send` will use for this URL (request signers must sign it)."""
        return plan_target(url, hosts, self.config).url.netloc.decode("ascii")

    async def send(
        self,
        method: str,
        url: str,
        *,
        hosts: Sequence[str],
        secrets: Sequence[str],
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        determinate: Callable[[Reply], bool] | None = None,
    ) -> Reply:
        """Send with retries on 429/5xx/timeouts; raise VerifyError when no answer is usable.

        `determinate` lets a check claim a 429/5xx answer it understands (some providers
        answer a bad key with HTTP 500 and an error name) instead of retrying it.
        """
        cfg = self.config
        target = plan_target(url, hosts, cfg)
        address = await pin_address(target, cfg)
        request_url = pinned_request_url(target, address)
        host_header = target.url.netloc.decode("ascii")
        all_headers = {"User-Agent": USER_AGENT, **(headers or {}), "Host": host_header}
        extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
        limit = timeout or cfg.timeout
        glob, per_host = self.limits.for_host(target.logical_host)
        attempt = 0
        while True:
            try:
                async with glob, per_host:
                    client = self._client(target.logical_host)
                    reply = await self._once(client, method, request_url, all_headers, content, limit, extensions)
            except (httpx.TimeoutException, TimeoutError):
                problem = f"timed out after {limit:g}s"
                wait = None
            except httpx.HTTPError as exc:
                raise VerifyError(f"network error talking to {target.logical_host}: {type(exc).__name__}: {scrub(str(exc), secrets)}") from None
            else:
                if (reply.status == 429 or reply.status >= 500) and not (determinate and determinate(reply)):
                    problem = "rate limited (HTTP 429)" if reply.status == 429 else f"provider error (HTTP {reply.status})"
                    wait = retry_after(reply.headers.get("retry-after"))
                    if wait is not None and wait > cfg.max_retry_wait:
                        raise VerifyError(f"{problem}; the provider asks to wait {wait:.0f}s, more than max_retry_wait")
                elif 300 <= reply.status < 400:
                    where = _location_host(reply.headers.get("location"))
                    raise VerifyError(f"the provider redirected (HTTP {reply.status}{' to ' + where if where else ''}); redirects are never followed")
                else:
                    return reply
            if attempt >= cfg.retries:
                raise VerifyError(f"{problem} from {target.logical_host}" + (f" after {attempt + 1} attempts" if attempt else ""))
            attempt += 1
            if wait is None:
                wait = cfg.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
            await asyncio.sleep(min(wait, cfg.max_retry_wait))

    async def _once(self, client: httpx.AsyncClient, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None, limit: float, extensions: dict[str, str]) -> Reply:
        request = client.build_request(method, url, headers=headers, content=content, timeout=limit, extensions=extensions)
        # NOTE: the whole exchange, not only each socket read, is bounded: a server dribbling
        # one byte per second must not hold a slot forever.
        async with asyncio.timeout(limit):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                body = bytearray()
                async for part in response.aiter_bytes():
                    body.extend(part)
                    if len(body) >= self.config.max_body:
                        break
            finally:
                await response.aclose()
        return Reply(response.status_code, response.headers, bytes(body[: self.config.max_body]))


def _location_host(location: str | None) -> str:
    if not location:
        return ""
    try:
        return httpx.URL(location).host or "the same host"
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""


def new_client(config: VerifyConfig) -> httpx.AsyncClient:
    """TLS verification always on; no redirects; no netrc or env-provided credentials or proxies
    (a proxy only when `[verify] proxy` names one)."""
    return httpx.AsyncClient(
        verify=True,
        follow_redirects=False,
        trust_env=False,
        proxy=config.proxy or None,
        timeout=config.timeout,
        limits=httpx.Limits(max_connections=config.per_host, max_keepalive_connections=config.per_host),
    )

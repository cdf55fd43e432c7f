"""The platform API client: one base URL, rate limits honoured, pagination kept on our origin.

Rate limits: a 429, or a 403 with `x-ratelimit-remaining: 0` (GitHub's primary limit; GitLab
says `RateLimit-Remaining`) or a `Retry-After` (GitHub's secondary limit), waits for
`Retry-After` (seconds or an HTTP date) or until the reset header (epoch seconds), then
retries. A response that leaves `remaining` at 0 makes the next request wait for the reset
first. The clock and sleep are injectable so tests run without waiting; the wait is capped so
a bad header cannot park a worker for hours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from leakwarden.platforms.logs import log
from leakwarden.ratelimit import quota, rate_limited, retry_after


class ApiError(Exception):
    """A platform API call failed; the message names the method, path and status only."""


@dataclass
class Clock:
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class RateState:
    """Shared by every client of one platform, so all workers back off together."""

    not_before: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ApiClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, clock: Clock | None = None,
                 rate: RateState | None = None, max_retries: int = 4, max_wait: float = 3600.0, timeout: float = 30.0) -> None:
        if not base_url:
            raise ApiError("no API base URL configured")
        self.base_url = base_url.rstrip("/")
        self.origin = _origin(self.base_url)
        self.clock = clock or Clock()
        self.rate = rate or RateState()
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.http = httpx.Client(headers={"user-agent": "leakwarden-monitor", **(headers or {})}, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if _origin(path) != self.origin:
                raise ApiError(f"refusing a URL on another origin: {_origin(path)}")
            return path
        return self.base_url + "/" + path.lstrip("/")

    def _wait(self, seconds: float, why: str) -> None:
        seconds = min(max(seconds, 0.0), self.max_wait)
        if seconds > 0:
            log("api.rate_limited", origin=self.origin, wait=round(seconds, 1), reason=why)
            self.clock.sleep(seconds)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.url(path)
        for attempt in range(self.max_retries + 1):
            with self.rate.lock:
                delay = self.rate.not_before - self.clock.now()
            if delay > 0:
                self._wait(delay, "quota exhausted")
            try:
                resp = self.http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise ApiError(f"{method} {urlsplit(url).path}: {type(exc).__name__}") from None
                self._wait(2.0**attempt, "network error")
                continue
            wait = self._limit_wait(resp)
            if wait is not None and attempt < self.max_retries:
                self._wait(wait, f"HTTP {resp.status_code}")
                continue
            if resp.status_code >= 400:
                raise ApiError(f"{method} {urlsplit(url).path}: HTTP {resp.status_code}")
            return resp
        raise ApiError(f"{method} {urlsplit(url).path}: still rate limited after {self.max_retries} retries")

    def _limit_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None when the response is not a rate limit."""
        h = resp.headers
        remaining, reset = quota(h)
        after = h.get("retry-after")
        now = self.clock.now()
        if remaining == "0" and reset and reset.replace(".", "", 1).isdigit():
            with self.rate.lock:
                self.rate.not_before = max(self.rate.not_before, float(reset))
        limited = rate_limited(resp.status_code, remaining, after, resp.content)
        if not limited:
            return None
        wait = retry_after(after, now)
        if wait is not None:
            return wait
        if reset and reset.replace(".", "", 1).isdigit():
            return float(reset) - now
        return 60.0

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        return resp.json() if resp.content else None

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Follow `Link: <...>; rel="next"`, refusing links to another origin."""
        url: str | None = path
        while url:
            resp = self.request("GET", url, params=params)
            params = None
            data = resp.json()
            if isinstance(data, list):
                yield from data
            elif isinstance(data, dict) and isinstance(data.get("values"), list):  # Bitbucket
                yield from data["values"]
                nxt = data.get("next")
                url = self.url(nxt) if isinstance(nxt, str) else None
                continue
            else:
                yield data
            nxt_link = resp.links.get("next", {}).get("url")
            url = self.url(urljoin(str(resp.url), nxt_link)) if nxt_link else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

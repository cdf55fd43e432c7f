"""Rate-limit answers of HTTP APIs: is this one, and how long does it ask us to wait.

`Retry-After` (RFC 9110) is delta seconds or an HTTP date. GitHub's secondary limit can come as
a 403 with neither `Retry-After` nor a zero quota, only its message; its docs then say to wait
at least a minute."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def quota(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(requests remaining, reset time in epoch seconds) as the API states them: GitHub and
    Bitbucket send `x-ratelimit-*`, GitLab `RateLimit-*`."""
    return (headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining")),
            headers.get("x-ratelimit-reset", headers.get("ratelimit-reset")))


def rate_limited(status: int, remaining: str | None, retry_after_value: str | None, body: bytes = b"") -> bool:
    """True for a 429, or a 403 that is a limit: a zero quota (`x-ratelimit-remaining`, GitLab's
    `RateLimit-Remaining`), a `Retry-After`, or a message naming a rate limit (GitHub's secondary
    limit) rather than missing permissions."""
    if status == 429:
        return True
    if status != 403:
        return False
    return remaining == "0" or retry_after_value is not None or b"rate limit" in body[:2000].lower()

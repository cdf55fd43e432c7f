"""Webhook authenticity checks, run on the raw body before anything parses it.

Every comparison is constant-time (`hmac.compare_digest`). A check returns None when the request
is authentic and a short reason otherwise (the reason is logged, never the secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

# How far a signed `webhook-timestamp` may be from our clock (the Standard Webhooks default):
# an older signed delivery is a replay, whatever delivery id it now carries.
TIMESTAMP_TOLERANCE = 300.0


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _check_sha256_header(value: str | None, secret: str, body: bytes) -> str | None:
    if not secret:
        # An HMAC under an empty key is one anybody can compute.
        return "no secret configured"
    if not value:
        return "missing signature header"
    algo, _, digest = value.partition("=")
    if algo.strip().lower() != "sha256" or not digest:
        return "signature is not sha256=<hex>"
    if not hmac.compare_digest(digest.strip().lower().encode(), _hex_hmac(secret, body).encode()):
        return "signature does not match"
    return None


def github(headers: Mapping[str, str], body: bytes, secret: str) -> str | None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`."""
    return _check_sha256_header(headers.get("x-hub-signature-256"), secret, body)


def bitbucket(headers: Mapping[str, str], body: bytes, secret: str) -> str | None:
    """Bitbucket Cloud and Data Center both send `X-Hub-Signature: sha256=<hex>`."""
    return _check_sha256_header(headers.get("x-hub-signature"), secret, body)


def gitlab(headers: Mapping[str, str], body: bytes, secret: str, signing_token: str | None = None, now: float | None = None) -> str | None:
    """`X-Gitlab-Token` equals the hook's secret token; when a signing token is configured, the
    `webhook-signature` header must also hold a valid `v1,<base64 HMAC-SHA256>` over
    `{webhook-id}.{webhook-timestamp}.{body}` (the Standard Webhooks scheme), signed within
    `TIMESTAMP_TOLERANCE` seconds of `now`."""
    token = headers.get("x-gitlab-token")
    if secret:
        if token is None:
            return "missing X-Gitlab-Token"
        if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), secret.encode("utf-8")):
            return "X-Gitlab-Token does not match"
    if signing_token:
        return standard_webhook(headers, body, signing_token, now)
    if not secret:
        return "no secret configured"
    return None


def standard_webhook(headers: Mapping[str, str], body: bytes, signing_token: str, now: float | None = None) -> str | None:
    wid, ts, sigs = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not (wid and ts and sigs):
        return "missing webhook-id/-timestamp/-signature"
    if not ts.isdigit():
        return "webhook-timestamp is not a number"
    if abs(int(ts) - (time.time() if now is None else now)) > TIMESTAMP_TOLERANCE:
        return "webhook-timestamp too far from now (replayed or clock skew)"
    raw = signing_token.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        key = signing_token.encode()
    expected = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest())
    for part in sigs.split():
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return None
    return "webhook-signature does not match"


def delivery_id(platform: str, headers: Mapping[str, str]) -> str | None:
    """The platform's delivery id, the key that makes redeliveries idempotent."""
    names = {
        "github": ("x-github-delivery",),
        "gitlab": ("idempotency-key", "x-gitlab-event-uuid", "webhook-id"),
        "bitbucket": ("x-request-uuid",),
        "bitbucket-dc": ("x-request-id",),
    }[platform]
    for n in names:
        if headers.get(n):
            return headers[n]
    return None

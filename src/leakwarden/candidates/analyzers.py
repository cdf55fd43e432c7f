"""Offline structure analyzers referenced from rules (`analyzer = "..."`).

An analyzer returns a dict of details for a real candidate, or None to reject the match (for
example an `eyJ...` string that does not decode to a JWT header with `alg`, or a demo token
published for everyone, such as Supabase's local-development keys).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_SAFE_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat", "role", "typ", "azp", "scope", "tid")
# Issuers of tokens published for everyone to use: the Supabase CLI's local-development keys
# (`supabase start`) carry `"iss": "supabase-demo"` and are identical on every machine.
PUBLIC_DEMO_ISSUERS = frozenset({"supabase-demo"})


# A token is data its author chose: claim values shown in reports are bounded in size.
MAX_CLAIM_TEXT = 200
MAX_CLAIM_ITEMS = 20


def _bounded(value: Any) -> Any:
    """A claim value cut down for a report: long text ends in "…", long lists keep their start."""
    if isinstance(value, str):
        return value if len(value) <= MAX_CLAIM_TEXT else value[: MAX_CLAIM_TEXT - 1] + "…"
    if isinstance(value, list):
        return [_bounded(v) for v in value[:MAX_CLAIM_ITEMS] if isinstance(v, str | int | float)]
    if isinstance(value, dict):
        try:
            return _bounded(json.dumps(value, ensure_ascii=False))
        except (RecursionError, ValueError):  # nested nearly as deep as json.loads allows
            return "{…}"
    return value


def b64url_json(segment: str) -> Any:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw)


def _iso(ts: Any) -> str | None:
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        try:
            return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    return None


def analyze_jwt(token: str, now: float | None = None) -> dict[str, Any] | None:
    """Decode header and payload (no signature check): alg, non-sensitive claims, expiry."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = b64url_json(parts[0])
        payload = b64url_json(parts[1])
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        return None
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return None
    if not isinstance(payload, dict):
        return None
    if not parts[2] and header["alg"].lower() != "none":
        # a signing algorithm and no signature: a token elided in documentation
        # (`eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ...`), which no verifier accepts
        return None
    if payload.get("iss") in PUBLIC_DEMO_ISSUERS:
        return None  # a published demo key, wherever the claim sits in the payload
    now = time.time() if now is None else now
    claims = {k: _bounded(payload[k]) for k in _SAFE_CLAIMS if k in payload and isinstance(payload[k], str | int | float | list)}
    details: dict[str, Any] = {
        "jwt_header": {k: _bounded(v) for k, v in header.items() if k in ("alg", "typ", "kid", "cty", "jku", "x5u")},
        "jwt_claims": claims,
        "alg": _bounded(header["alg"]),
        "alg_none": header["alg"].lower() == "none",
        "signed": bool(parts[2]),
    }
    exp = payload.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        details["expires_at"] = _iso(exp)
        details["expired"] = exp < now
    else:
        details["expired"] = False
        details["expires_at"] = None
    nbf = payload.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool):
        details["not_yet_valid"] = nbf > now
    return details


ANALYZERS: dict[str, Callable[[str], dict[str, Any] | None]] = {
    "jwt": analyze_jwt,
}

"""Checks that need no network: JWT structure, algorithm, time claims and guessable HMAC secrets.

`OFFLINE_CHECKS` maps the name used in a rule (`[rules.verify] kind = "offline", check = ...`)
to a function of (secret, related values) returning a Validity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from leakwarden.models import Validity, ValidityState, redact
from leakwarden.verifier.http import outcome

WEAK_SECRETS_FILE = Path(__file__).parent / "data" / "weak-jwt-secrets.txt"
CLOCK_SKEW = 60  # seconds of tolerance, as common verifiers allow
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@lru_cache(maxsize=1)
def weak_secrets() -> tuple[str, ...]:
    """The bundled list of default and dictionary signing secrets."""
    lines = WEAK_SECRETS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _when(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _number(value: Any) -> float | None:
    """A NumericDate claim as a float (±inf past what a float holds); None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        return math.inf if value > 0 else -math.inf
    return None if math.isnan(number) else number


def guess_hmac_secret(signing_input: bytes, signature: bytes, alg: str) -> str | None:
    """Return the bundled secret that reproduces the signature, if any."""
    digest = _HMAC.get(alg)
    if digest is None or not signature:
        return None
    for candidate in weak_secrets():
        if hmac.compare_digest(hmac.new(candidate.encode(), signing_input, digest).digest(), signature):
            return candidate
    return None


def check_jwt(token: str, related: Mapping[str, str] | None = None, now: float | None = None) -> Validity:
    """Judge a JWT offline. Only an expiry (invalid) or a guessable key (valid) is determinate."""
    parts = token.strip().split(".")
    if len(parts) == 5:
        return outcome(ValidityState.UNKNOWN, "an encrypted JWT (JWE): its claims cannot be read offline")
    if len(parts) != 3:
        return outcome(ValidityState.UNKNOWN, "malformed JWT: expected three dot-separated parts")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        return outcome(ValidityState.UNKNOWN, "malformed JWT: a part is not base64url-encoded JSON")
    if not isinstance(header, dict) or not isinstance(claims, dict) or not isinstance(header.get("alg"), str):
        return outcome(ValidityState.UNKNOWN, "malformed JWT: the header has no 'alg' or a part is not a JSON object")

    now = time.time() if now is None else now
    alg = header["alg"]
    exp, nbf = _number(claims.get("exp")), _number(claims.get("nbf"))
    details: dict[str, Any] = {"alg": alg}
    for key, name in (("iss", "issuer"), ("aud", "audience"), ("sub", "subject")):
        if isinstance(claims.get(key), str | list):
            details[name] = claims[key]
    for key, name in (("exp", "expires_at"), ("nbf", "not_before"), ("iat", "issued_at")):
        if _when(claims.get(key)):
            details[name] = _when(claims.get(key))
    notes: list[str] = []
    if "aud" not in claims:
        notes.append("no audience (aud): any service trusting the issuer may accept it")
    if "iss" not in claims:
        notes.append("no issuer (iss)")
    # NOTE: judged on the number, not on its date: an `exp` far outside the calendar is still
    # long past (expired) or far ahead (effectively no expiry).
    expired = exp is not None and exp < now - CLOCK_SKEW
    if "exp" not in claims:
        notes.append("no expiry (exp): usable until its signing key is rotated")
    elif exp is None:
        notes.append("the exp claim is not a number: standard verifiers reject the token, lenient ones may treat it as never expiring")
    elif "expires_at" not in details and not expired:
        notes.append("exp lies beyond the year 9999: effectively no expiry")
    expired_at = details.get("expires_at") or "a time before the year 1"
    if notes:
        details["notes"] = notes

    guessed = guess_hmac_secret(f"{parts[0]}.{parts[1]}".encode(), signature, alg.upper())
    if guessed is not None:
        details["weak_secret"] = redact(guessed)
        reason = f"signed with a guessable secret ({alg} key found in the bundled list of {len(weak_secrets())} default secrets): anyone can forge tokens for this issuer"
        if expired:
            reason += f"; this token itself expired at {expired_at}"
        return outcome(ValidityState.VALID, reason, details)
    if expired:
        return outcome(ValidityState.INVALID, f"expired at {expired_at}", details)
    if claims.get("iss") == "supabase-demo":
        return outcome(ValidityState.INVALID, "a Supabase local-development demo key (the same for everyone)", details)
    if "expires_at" in details:
        lifetime = f"; expires at {details['expires_at']}"
    elif "exp" not in claims:
        lifetime = "; never expires (no exp claim)"
    elif exp is None:
        lifetime = "; its exp claim is not a number"
    else:
        lifetime = "; expires after the year 9999"
    if nbf is not None and nbf > now + CLOCK_SKEW:
        return outcome(ValidityState.UNKNOWN, f"not valid before {details.get('not_before') or 'the year 10000'} (not yet usable){lifetime}", details)
    if alg.lower() == "none":
        reason = "unsigned (alg none): only a verifier that wrongly accepts 'none' takes it, and that verifier would accept forged tokens too"
        return outcome(ValidityState.UNKNOWN, reason + lifetime, details)
    if alg.upper() in _HMAC:
        reason = f"{alg}-signed with a secret not among {len(weak_secrets())} known defaults; whether a service accepts it cannot be told offline"
        return outcome(ValidityState.UNKNOWN, reason + lifetime, details)
    reason = f"signed with {alg} (public-key): the signature and revocation cannot be checked offline"
    return outcome(ValidityState.UNKNOWN, reason + lifetime, details)


OfflineCheck = Callable[[str, Mapping[str, str]], Validity]

OFFLINE_CHECKS: dict[str, OfflineCheck] = {
    "jwt": lambda secret, related: check_jwt(secret, related),
}

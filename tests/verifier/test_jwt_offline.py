"""The offline JWT check: algorithm, none, expiry / not-before, issuer/audience, guessable keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from leakwarden.config import Settings
from leakwarden.models import ValidityState
from leakwarden.verifier import verify_findings
from leakwarden.verifier.offline import check_jwt, weak_secrets
from tests.verifier.conftest import finding

NOW = 1_763_900_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: dict, alg: str = "HS256", key: bytes = b"k9$Lq2!vRz7#Tp4wXe8&Ym3uNb6*Hd5c", signature: bytes | None = None) -> str:
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if signature is None:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg)
        signature = hmac.new(key, f"{head}.{body}".encode(), digest).digest() if digest else b""
    return f"{head}.{body}.{b64(signature)}"


LIVE = {"iss": "https://auth.acme.io", "aud": "billing-api", "sub": "user-1", "iat": NOW - 60, "exp": NOW + 3600}


def test_expired_is_invalid():
    v = check_jwt(token({**LIVE, "exp": NOW - 3600}), now=NOW)
    assert v.state is ValidityState.INVALID and "expired at 2025-11-23T11:13:20Z" in v.reason


def test_expiry_within_clock_skew_is_not_expired():
    v = check_jwt(token({**LIVE, "exp": NOW - 10}), now=NOW)
    assert v.state is ValidityState.UNKNOWN


def test_exp_outside_the_calendar_is_judged_by_its_number():
    """An exp too large for a date or a float crashed the check ("internal error"), and one
    long before year 1 read as "never expires"; both are plain numbers to a verifier."""
    past = check_jwt(token({**LIVE, "exp": -1e20}), now=NOW)
    assert past.state is ValidityState.INVALID and "expired" in past.reason and "never expires" not in past.reason
    for far in (10**400, 1e30):
        v = check_jwt(token({**LIVE, "exp": far, "nbf": far}), now=NOW)
        assert v.state is ValidityState.UNKNOWN and "(not yet usable); expires after the year 9999" in v.reason
        assert "exp lies beyond the year 9999: effectively no expiry" in v.details["notes"]


def test_exp_that_is_not_a_number_is_not_called_missing():
    v = check_jwt(token({**LIVE, "exp": str(NOW - 3600)}), now=NOW)
    assert v.state is ValidityState.UNKNOWN and "no exp claim" not in v.reason and "its exp claim is not a number" in v.reason
    assert any("exp claim is not a number" in n for n in v.details["notes"])


def test_not_yet_valid():
    v = check_jwt(token({**LIVE, "nbf": NOW + 86400}), now=NOW)
    assert v.state is ValidityState.UNKNOWN and "not valid before" in v.reason and v.details["not_before"]


def test_alg_none():
    v = check_jwt(token({"sub": "admin", "role": "superuser"}, alg="none"), now=NOW)
    assert v.state is ValidityState.UNKNOWN and "alg none" in v.reason and "never expires" in v.reason
    assert "no audience (aud): any service trusting the issuer may accept it" in v.details["notes"]


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("weak", [b"secret", b"your-256-bit-secret", b"changeme", b"keyboard cat"])
def test_weak_hmac_secret_is_found(alg, weak):
    v = check_jwt(token(LIVE, alg=alg, key=weak), now=NOW)
    assert v.state is ValidityState.VALID
    assert "signed with a guessable secret" in v.reason
    # the key itself is not printed, only its redacted form
    assert v.details["weak_secret"] != weak.decode() and "*" in v.details["weak_secret"]
    assert "your-256-bit-secret" not in v.reason and "keyboard cat" not in v.reason
    assert v.details["issuer"] == "https://auth.acme.io" and v.details["audience"] == "billing-api"


def test_weak_secret_on_an_expired_token_is_still_reported():
    v = check_jwt(token({**LIVE, "exp": NOW - 3600}, key=b"secret"), now=NOW)
    assert v.state is ValidityState.VALID and "guessable" in v.reason and "expired" in v.reason


def test_strong_hmac_secret_cannot_tell():
    v = check_jwt(token(LIVE), now=NOW)
    assert v.state is ValidityState.UNKNOWN and "HS256" in v.reason and "cannot be told offline" in v.reason
    assert "expires at" in v.reason


def test_rs256_cannot_tell_offline():
    v = check_jwt(token(LIVE, alg="RS256", signature=bytes(range(256))), now=NOW)
    assert v.state is ValidityState.UNKNOWN and "RS256" in v.reason and "cannot be checked offline" in v.reason


@pytest.mark.parametrize("bad", [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",                  # two parts
    "eyJhbGciOiJIUzI1NiJ9.!!!notbase64!!!.c2ln",               # payload not base64
    "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2ln",      # header without alg
    b64(b"[1,2]") + "." + b64(b"{}") + ".c2ln",                 # header not an object
    "",
])
def test_malformed(bad):
    v = check_jwt(bad, now=NOW)
    assert v.state is ValidityState.UNKNOWN and "malformed" in v.reason


def test_encrypted_jwe():
    v = check_jwt("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", now=NOW)
    assert v.state is ValidityState.UNKNOWN and "JWE" in v.reason


def test_weak_list_is_bundled_and_clean():
    secrets = weak_secrets()
    assert len(secrets) > 100
    assert "secret" in secrets and all(s == s.strip() and s for s in secrets)


def test_jwt_rule_runs_offline_without_network_settings():
    # kind = "offline": no HTTP client is used, no base URL needed.
    t = token({**LIVE, "exp": int(time.time()) - 7200}, key=b"secret")
    [f] = verify_findings([finding("jwt", t)], Settings(verify={"enabled": True, "cache_ttl": 0}))
    assert f.validity.state is ValidityState.VALID and "guessable" in f.validity.reason

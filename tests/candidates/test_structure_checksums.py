"""Structural validators for tokens that embed decodable data (Discord, Sentry, Grafana, ...)."""

from __future__ import annotations

import base64
import json

import pytest

from leakwarden.candidates.checksums import CHECKSUMS


def _b64(data: bytes, urlsafe: bool = False) -> str:
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return enc(data).decode().rstrip("=")


SECRET43 = "h7Gm2Kq9Zt4Lw8Vb3Nc6Rx1Jp5Ys0Df7Ae2Ui4kLm9"

CASES = {
    "discord-bot-token": (
        [_b64(b"1081726354628374650") + ".GxT4kP." + "Zt4Lw8Vb3Nc6Rx1Jp5Ys0Df7Ae2Ui4kLm9h7Gm2K"],
        [
            _b64(b"1a2b3c4d5e6f7g8h9i") + ".GxT4kP." + "Zt4Lw8Vb3Nc6Rx1Jp5Ys0Df7Ae2Ui4kLm9h7Gm2K",  # not digits
            _b64(b"123") + ".GxT4kP.abc",  # id too short
            "%%%.GxT4kP.abc",  # not base64
        ],
    ),
    "sentry-org-token": (
        ["sntrys_" + _b64(json.dumps({"iat": 1700000000.5, "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": "acme"}).encode()) + "_" + SECRET43],
        [
            "sntrys_" + _b64(json.dumps({"user": "x"}).encode()) + "_" + SECRET43,  # no iat/url
            "sntrys_" + _b64(b"[1, 2, 3]") + "_" + SECRET43,  # JSON but not an object
            "sntrys_eyJub3QganNvbg_" + SECRET43,  # truncated base64, not JSON
        ],
    ),
    "grafana-cloud-token": (
        ["glc_" + base64.b64encode(json.dumps({"o": "123456", "n": "stack-1-token", "k": "AbCd1234", "m": {"r": "prod-us-east-0"}}).encode()).decode()],
        ["glc_" + base64.b64encode(json.dumps({"name": "x"}).encode()).decode(), "glc_notbase64!!"],
    ),
    "grafana-api-key": (
        [base64.b64encode(json.dumps({"k": "Zt4Lw8Vb3Nc6Rx1Jp5Ys0Df7Ae2Ui4kLm", "n": "deploy", "id": 1}).encode()).decode()],
        [base64.b64encode(json.dumps({"k": "Zt4Lw8Vb3Nc6Rx1Jp5Ys0Df7Ae2Ui4kLm"}).encode()).decode(), "eyJrIjoi"],
    ),
    "intercom-token": (
        [base64.b64encode(b"tok:5f3a1b2c-8d7e-4f60-9a1b-2c3d4e5f6a7b:1:0").decode()],
        [base64.b64encode(b"session:5f3a1b2c-8d7e-4f60-9a1b-2c3d4e5f6a7b").decode(), base64.b64encode(b"tok:nocolons").decode()],
    ),
    "elastic-api-key": (
        [base64.b64encode(b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()],
        [base64.b64encode(b"this is just a sentence, not a key").decode(), base64.b64encode(b"\x00\x01binary:data\xff").decode()],
    ),
    "tinybird-token": (
        ["p." + _b64(json.dumps({"u": "5f3a1b2c-8d7e-4f60-9a1b-2c3d4e5f6a7b", "id": "x", "host": "gcp"}).encode(), True) + "." + SECRET43],
        ["p." + _b64(json.dumps({"name": "read"}).encode(), True) + "." + SECRET43, "q." + _b64(b'{"u":"x"}', True) + ".sig", "p.onlytwo"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_tokens_pass(name: str) -> None:
    for token in CASES[name][0]:
        assert CHECKSUMS[name](token), token


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_tokens_fail(name: str) -> None:
    for token in CASES[name][1]:
        assert not CHECKSUMS[name](token), token


@pytest.mark.parametrize("name", sorted(CASES))
def test_garbage_never_raises(name: str) -> None:
    for junk in ("", "_", ".", "====", "p..", "sntrys__", "glc_", "\u00e9\u00e9", "A" * 5000):
        assert CHECKSUMS[name](junk) in (True, False)

"""Webhook authenticity checks against published vectors and tampered inputs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from leakwarden.errors import ConfigError
from leakwarden.platforms import config as monitor_config
from leakwarden.platforms import signatures

# GitHub's published example ("Validating webhook deliveries").
GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIG = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_published_vector() -> None:
    assert signatures.github({"x-hub-signature-256": f"sha256={GH_SIG}"}, GH_BODY, GH_SECRET) is None


def test_github_rejects_tampering() -> None:
    assert signatures.github({"x-hub-signature-256": f"sha256={GH_SIG}"}, GH_BODY + b" ", GH_SECRET) == "signature does not match"
    assert signatures.github({"x-hub-signature-256": f"sha256={GH_SIG}"}, GH_BODY, GH_SECRET + "x") == "signature does not match"
    assert signatures.github({}, GH_BODY, GH_SECRET) == "missing signature header"
    assert signatures.github({"x-hub-signature-256": f"sha1={GH_SIG}"}, GH_BODY, GH_SECRET) is not None


def test_bitbucket_cloud_and_dc_share_the_sha256_header() -> None:
    # Same HMAC as GitHub, under X-Hub-Signature.
    assert signatures.bitbucket({"x-hub-signature": f"sha256={GH_SIG}"}, GH_BODY, GH_SECRET) is None
    assert signatures.bitbucket({"x-hub-signature-256": f"sha256={GH_SIG}"}, GH_BODY, GH_SECRET) == "missing signature header"


def test_gitlab_token_and_signing_token() -> None:
    assert signatures.gitlab({"x-gitlab-token": "tok"}, b"{}", "tok") is None
    assert signatures.gitlab({"x-gitlab-token": "tok2"}, b"{}", "tok") == "X-Gitlab-Token does not match"
    assert signatures.gitlab({}, b"{}", "tok") == "missing X-Gitlab-Token"
    key = b"0123456789abcdef0123456789abcdef"
    signing = "whsec_" + base64.b64encode(key).decode()
    body = b'{"object_kind":"push"}'
    mac = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    headers = {"x-gitlab-token": "tok", "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": f"v1,{mac}"}
    assert signatures.gitlab(headers, body, "tok", signing, now=1700000000) is None
    assert signatures.gitlab(headers, body + b" ", "tok", signing, now=1700000000) == "webhook-signature does not match"
    assert signatures.gitlab({**headers, "webhook-signature": "v1,AAAA"}, body, "tok", signing, now=1700000000) is not None


def test_gitlab_signed_delivery_replayed_later_is_refused() -> None:
    """The signature covers webhook-id and webhook-timestamp; a captured delivery sent again
    later (with a fresh Idempotency-Key to dodge the duplicate check) must not pass."""
    key = b"0123456789abcdef0123456789abcdef"
    signing = "whsec_" + base64.b64encode(key).decode()
    body = b'{"object_kind":"push"}'
    mac = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    headers = {"x-gitlab-token": "tok", "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": f"v1,{mac}"}
    assert signatures.gitlab(headers, body, "tok", signing, now=1700000000 + 60) is None
    assert signatures.gitlab(headers, body, "tok", signing, now=1700000000 + 3600) is not None
    assert signatures.gitlab(headers, body, "tok", signing, now=1700000000 - 3600) is not None
    assert signatures.gitlab(headers, body, "tok", signing) is not None  # signed in 2023, checked today
    assert signatures.gitlab({**headers, "webhook-timestamp": "17e8"}, body, "tok", signing, now=1700000000) is not None


def test_delivery_ids() -> None:
    assert signatures.delivery_id("github", {"x-github-delivery": "d1"}) == "d1"
    assert signatures.delivery_id("gitlab", {"x-gitlab-event-uuid": "u1"}) == "u1"
    assert signatures.delivery_id("gitlab", {"idempotency-key": "k1", "x-gitlab-event-uuid": "u1"}) == "k1"
    assert signatures.delivery_id("bitbucket", {"x-request-uuid": "r1"}) == "r1"
    assert signatures.delivery_id("bitbucket-dc", {"x-request-id": "i1"}) == "i1"
    assert signatures.delivery_id("github", {}) is None


def test_an_empty_secret_authenticates_nothing() -> None:
    """An HMAC under the empty key is one anybody can compute: never accepted."""
    forged = hmac.new(b"", GH_BODY, hashlib.sha256).hexdigest()
    assert signatures.github({"x-hub-signature-256": f"sha256={forged}"}, GH_BODY, "") is not None
    assert signatures.bitbucket({"x-hub-signature": f"sha256={forged}"}, GH_BODY, "") is not None


def test_a_signing_token_alone_is_no_secret_for_github_or_bitbucket(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_TEST_SIGNING", "whsec_c2lnbmluZw==")
    for name in ("github", "bitbucket", "bitbucket-dc"):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'[{name}]\nsigning_token_env = "LW_TEST_SIGNING"\napi_url = "http://127.0.0.1:9"\n')
        with pytest.raises(ConfigError, match="no webhook secret"):
            monitor_config.load(path)
    path = tmp_path / "gitlab.toml"
    path.write_text('[gitlab]\nsigning_token_env = "LW_TEST_SIGNING"\n')
    assert monitor_config.load(path).platforms["gitlab"].signing_token

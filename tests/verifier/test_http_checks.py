"""Declarative checks of the priority rules against a local server imitating each provider."""

from __future__ import annotations

import base64

import pytest

from leakwarden.models import ValidityState
from leakwarden.verifier import verify_findings
from tests.verifier.conftest import finding, settings_for
from tests.verifier.provider import Request, slow

CCI = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
ATL = "ATATT3xFfGF0PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA-2O76UMFxFkM-R5Kjp1vRt_1fjORS-6ilI8ihN5KXSc7Tvo-hBKqFYY-kv5ZJr3J1TWDtkwtDDb_xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po_799NksnRH9uc=0A9214CC"
CRATES = "cio5bRk0Lr8qN9yWmX2vT4sJ7dHgF1aZcE3u"


def one(f, settings):
    [out] = verify_findings([f], settings)
    return out.validity


# --- CircleCI personal token: GET /api/v2/me with Circle-Token ------------------------------------

def circleci_me(req: Request):
    if req.path != "/api/v2/me":
        return 404, {}, {"message": "Not found"}
    if req.header("Circle-Token") == CCI:
        return 200, {}, {"id": "5f1c-user", "login": "release-bot", "name": "Release Bot"}
    return 401, {}, {"message": "You must log in first."}


def test_circleci_valid_keeps_details(provider):
    provider.handler = circleci_me
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.VALID
    assert v.details == {"login": "release-bot", "user_id": "5f1c-user", "name": "Release Bot"}
    [req] = provider.requests
    assert req.header("Circle-Token") == CCI and req.header("Accept") == "application/json"
    assert req.header("User-Agent").startswith("leakwarden/")


def test_circleci_invalid(provider):
    provider.handler = circleci_me
    other = CCI[:-4] + "0000"
    v = one(finding("circleci-personal-token", other), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.INVALID and "401" in v.reason


def test_rate_limit_honours_retry_after_then_succeeds(provider):
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) == 1:
            return 429, {"Retry-After": "0"}, {"message": "Rate limit exceeded"}
        return circleci_me(req)

    provider.handler = handler
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}, backoff=5))
    # backoff=5 would wait 5s; Retry-After: 0 is honoured instead.
    assert v.state is ValidityState.VALID
    assert len(provider.requests) == 2


def test_rate_limited_until_retries_run_out(provider):
    provider.handler = lambda req: (429, {"Retry-After": "0"}, {"message": "slow down"})
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}, retries=2))
    assert v.state is ValidityState.UNKNOWN and "rate limited" in v.reason
    assert len(provider.requests) == 3


def test_retry_after_longer_than_allowed_gives_up_at_once(provider):
    provider.handler = lambda req: (429, {"Retry-After": "3600"}, "")
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "3600" in v.reason
    assert len(provider.requests) == 1


def test_server_error_is_retried_then_unknown(provider):
    provider.handler = lambda req: (503, {}, "upstream unavailable")
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}, retries=1))
    assert v.state is ValidityState.UNKNOWN and "HTTP 503" in v.reason
    assert len(provider.requests) == 2


def test_slow_provider_times_out(provider):
    provider.handler = slow(2.0, (200, {}, {"id": "x"}))
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}, timeout=0.3, retries=0))
    assert v.state is ValidityState.UNKNOWN and "timed out" in v.reason


def test_redirect_to_another_host_is_not_followed(provider, other_provider):
    other_provider.handler = circleci_me
    provider.handler = lambda req: (302, {"Location": f"http://evil.example:{other_provider.base_url.rsplit(':', 1)[1]}/api/v2/me"}, "")
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "redirect" in v.reason and "evil.example" in v.reason
    assert other_provider.requests == []


def test_redirect_to_same_host_is_not_followed_either(provider):
    provider.handler = lambda req: (301, {"Location": "/api/v2/me/"}, "")
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and len(provider.requests) == 1


def test_unexpected_status_is_unknown(provider):
    provider.handler = lambda req: (404, {}, {"message": "Not found"})
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "HTTP 404" in v.reason


def test_circleci_legacy_401_is_not_proof_of_death(provider):
    provider.handler = lambda req: (401, {}, {"message": "You must log in first."})
    v = one(finding("circleci-legacy-token", "fe574de739988b886e7577496a2c8773e130f7eb"), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "project token" in v.reason


# --- Atlassian API token: Basic email:token on https://<site>/rest/api/3/myself --------------------

def jira_myself(req: Request):
    auth = req.header("Authorization") or ""
    if req.path == "/rest/api/3/myself" and auth == "Basic " + base64.b64encode(f"ops@acme.io:{ATL}".encode()).decode():
        return 200, {}, {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ops Bot", "emailAddress": "ops@acme.io", "active": True}
    return 401, {}, "Client must be authenticated to access this resource."


@pytest.fixture
def jira(provider):
    provider.handler = jira_myself
    return settings_for({"*.atlassian.net": provider.base_url})


def test_atlassian_valid_with_site_and_email(provider, jira):
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "ops@acme.io"}), jira)
    assert v.state is ValidityState.VALID
    assert v.details["account_id"] == "5b10a2844c20165700ede21g" and v.details["email"] == "ops@acme.io"


def test_atlassian_site_given_as_url(provider, jira):
    v = one(finding("atlassian-api-token", ATL, {"site": "https://acme.atlassian.net/", "email": "ops@acme.io"}), jira)
    assert v.state is ValidityState.VALID


def test_atlassian_invalid(provider, jira):
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "someone@acme.io"}), jira)
    assert v.state is ValidityState.INVALID


def test_atlassian_without_email_says_so_and_sends_nothing(provider, jira):
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net"}), jira)
    assert v.state is ValidityState.UNKNOWN and "e-mail" in v.reason and "not found" in v.reason
    assert provider.requests == []


def test_atlassian_without_site_does_not_guess(provider, jira):
    v = one(finding("atlassian-api-token", ATL, {"email": "ops@acme.io"}), jira)
    assert v.state is ValidityState.UNKNOWN and "site host" in v.reason
    assert provider.requests == []


@pytest.mark.parametrize("site", [
    "evil.example.com",
    "evil.com/x.atlassian.net",
    "x.atlassian.net@evil.com",
    "evil.com#.atlassian.net",
    "atlassian.net",
    "127.0.0.1",
    "acme.atlassian.net.evil.com",
])
def test_atlassian_site_outside_the_domains_is_refused(provider, site):
    settings = settings_for({"*.atlassian.net": provider.base_url, "evil.example.com": provider.base_url, "evil.com": provider.base_url})
    v = one(finding("atlassian-api-token", ATL, {"site": site, "email": "ops@acme.io"}), settings)
    assert v.state is ValidityState.UNKNOWN
    assert "refused" in v.reason or "not a host name" in v.reason
    assert provider.requests == []
    assert ATL not in v.reason


def test_atlassian_rate_limit_and_5xx(provider):
    provider.handler = lambda req: (429, {"Retry-After": "0"}, "")
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "ops@acme.io"}), settings_for({"*.atlassian.net": provider.base_url}, retries=1))
    assert v.state is ValidityState.UNKNOWN and "rate limited" in v.reason
    provider.handler = lambda req: (500, {}, "")
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "ops@acme.io"}), settings_for({"*.atlassian.net": provider.base_url}, retries=0))
    assert v.state is ValidityState.UNKNOWN and "HTTP 500" in v.reason


def test_jira_datacenter_needs_allow_listed_host(provider):
    pat = "ODcxODk4OTc1NDQyOqXYw+V1FY3GCgDIIDuR6wmlt032"
    provider.handler = lambda req: (200, {}, {"name": "jdoe", "displayName": "J. Doe"}) if req.header("Authorization") == f"Bearer {pat}" else (401, {}, "")
    base = {"jira.acme.io": provider.base_url}
    v = one(finding("jira-datacenter-pat", pat, {"site": "jira.acme.io"}), settings_for(base))
    assert v.state is ValidityState.UNKNOWN and "allow_hosts" in v.reason and provider.requests == []
    v = one(finding("jira-datacenter-pat", pat, {"site": "jira.acme.io"}), settings_for(base, allow_hosts=["jira.acme.io"]))
    assert v.state is ValidityState.VALID and v.details["name"] == "jdoe"


# --- crates.io: /api/v1/me authenticates the token, then refuses (cookie-only) ----------------------

def crates_me(req: Request):
    if req.header("Authorization") == CRATES:
        return 403, {}, {"errors": [{"detail": "this action can only be performed on the crates.io website"}]}
    return 403, {}, {"errors": [{"detail": "authentication failed"}]}


def test_crates_valid_and_invalid_by_message(provider):
    provider.handler = crates_me
    settings = settings_for({"crates.io": provider.base_url})
    assert one(finding("crates-io-api-token", CRATES), settings).state is ValidityState.VALID
    assert one(finding("crates-io-api-token", CRATES[:-1] + "x"), settings).state is ValidityState.INVALID
    assert all(r.header("User-Agent") for r in provider.requests)


def test_crates_other_403_is_unknown(provider):
    provider.handler = lambda req: (403, {}, {"errors": [{"detail": "this account is locked"}]})
    v = one(finding("crates-io-api-token", CRATES), settings_for({"crates.io": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN


def test_crates_rate_limit_slow_and_redirect(provider, other_provider):
    settings = settings_for({"crates.io": provider.base_url}, retries=0, timeout=0.3)
    provider.handler = lambda req: (429, {}, "")
    assert "rate limited" in one(finding("crates-io-api-token", CRATES), settings).reason
    provider.handler = slow(1.5, (403, {}, ""))
    assert "timed out" in one(finding("crates-io-api-token", CRATES), settings).reason
    provider.handler = lambda req: (307, {"Location": other_provider.base_url + "/api/v1/me"}, "")
    assert "redirect" in one(finding("crates-io-api-token", CRATES), settings).reason
    assert other_provider.requests == []


def test_secret_never_appears_in_reasons(provider):
    provider.handler = lambda req: (302, {"Location": f"https://x.example/?t={CCI}"}, "")
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert CCI not in v.reason


def test_secret_echoed_by_the_provider_is_not_kept_in_details(provider):
    """Details go into every report (text, JSON, SARIF) unredacted: an echoed token must not."""
    provider.handler = lambda req: (200, {}, {"id": "u-1", "login": req.header("Circle-Token"), "name": f"bot ({CCI[:8]}) {CCI}"})
    v = one(finding("circleci-personal-token", CCI), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.VALID
    assert CCI not in repr(v.details) and v.details["user_id"] == "u-1"
    assert v.details["login"] == "<redacted>" and v.details["name"] == f"bot ({CCI[:8]}) <redacted>"


def test_secret_echoed_encoded_by_the_provider_is_not_kept_in_details(provider):
    """A Basic credential echoed back (`displayName: "Basic <base64 of email:token>"`), cut to
    the 200 characters a detail keeps: the base64 is the token as much as the token is."""
    def echo(req: Request):
        return 200, {}, {"accountId": "5b10a2844c20165700ede21g", "displayName": req.header("Authorization"), "emailAddress": "ops@acme.io"}

    provider.handler = echo
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "ops@acme.io"}), settings_for({"*.atlassian.net": provider.base_url}))
    assert v.state is ValidityState.VALID and v.details["account_id"] == "5b10a2844c20165700ede21g"
    sent = provider.requests[0].header("Authorization") or ""
    token = sent.removeprefix("Basic ")[16:]  # after the 16 characters that encode "ops@acme.io:"
    assert not [token[i : i + 16] for i in range(len(token) - 15) if token[i : i + 16] in v.details["display_name"]], v.details


def test_a_5xx_the_rule_names_is_an_answer_not_an_outage(provider):
    """Mandrill-style: a bad key is HTTP 500 + an error name; a bare 500 is still an outage."""
    from dataclasses import replace

    from leakwarden.rules import load_ruleset

    base = load_ruleset().by_id["crates-io-api-token"]
    rule = replace(base, verify={
        "kind": "http", "method": "POST", "url": "https://mandrillapp.com/api/1.0/users/ping2",
        "body": '{"key": "{{ secret }}"}', "content_type": "application/json", "hosts": ["mandrillapp.com"],
        "valid": {"status": [200]}, "invalid": {"status": [500], "body_contains": ["Invalid_Key"]},
    })
    rules = type("RS", (), {"by_id": {rule.id: rule}})()
    settings = settings_for({"mandrillapp.com": provider.base_url}, retries=2)
    provider.handler = lambda req: (500, {}, {"status": "error", "name": "Invalid_Key", "message": "Invalid API key"})
    [f] = verify_findings([finding(rule.id, CRATES)], settings, rules)
    assert f.validity.state is ValidityState.INVALID and len(provider.requests) == 1
    assert provider.requests[0].json() == {"key": CRATES}
    provider.handler = lambda req: (500, {}, "Internal Server Error")
    [f] = verify_findings([finding(rule.id, CRATES)], settings, rules)
    assert f.validity.state is ValidityState.UNKNOWN and len(provider.requests) == 4


def test_found_values_cannot_break_out_of_a_json_body(provider):
    from dataclasses import replace

    from leakwarden.rules import load_ruleset

    base = load_ruleset().by_id["crates-io-api-token"]
    rule = replace(base, verify={
        "kind": "http", "method": "POST", "url": "https://api.demo.io/check", "hosts": ["api.demo.io"],
        "body": '{"key": "{{ secret }}", "admin": false}', "valid": {"status": [200]},
    })
    rules = type("RS", (), {"by_id": {rule.id: rule}})()
    provider.handler = lambda req: (200, {}, {})
    hostile = 'abc", "admin": true, "x": "'
    verify_findings([finding(rule.id, hostile)], settings_for({"api.demo.io": provider.base_url}), rules)
    assert provider.requests[0].json() == {"key": hostile, "admin": False}


def test_header_values_with_line_breaks_are_not_sent(provider):
    provider.handler = circleci_me
    v = one(finding("circleci-personal-token", CCI + "\r\nX-Evil: 1"), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "line break" in v.reason and provider.requests == []


def test_atlassian_403_captcha_is_not_proof_of_death(provider):
    provider.handler = lambda req: (403, {"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"}, "")
    v = one(finding("atlassian-api-token", ATL, {"site": "acme.atlassian.net", "email": "ops@acme.io"}), settings_for({"*.atlassian.net": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "CAPTCHA" in v.reason

"""The engine: one check per unique secret, concurrency limits, cache, opt-in network, SSRF guard."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leakwarden import api
from leakwarden.config import Settings
from leakwarden.errors import ConfigError, VerifyError
from leakwarden.models import ValidityState
from leakwarden.verifier import cache as vcache
from leakwarden.verifier import verify_findings
from leakwarden.verifier.config import VerifyConfig
from leakwarden.verifier.guard import host_matches, plan_target
from leakwarden.verifier.template import render_url
from tests.verifier.conftest import finding, settings_for
from tests.verifier.provider import Request

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def cci_token(rng: random.Random) -> str:
    return "CCIPAT_" + "".join(rng.choice(B58) for _ in range(22)) + "_" + "".join(rng.choice("0123456789abcdef") for _ in range(40))


def me_ok(req: Request):
    return 200, {}, {"id": "u1", "login": "bot"}


def test_a_thousand_occurrences_make_one_request(provider, tmp_path):
    provider.handler = me_ok
    token = cci_token(random.Random(1))
    (tmp_path / "a.env").write_text("".join(f"CIRCLE_TOKEN_{i}={token}\n" for i in range(600)))
    (tmp_path / "b.sh").write_text("".join(f'curl -H "Circle-Token: {token}" https://circleci.com/api/v2/me\n' for i in range(400)))
    settings = settings_for({"circleci.com": provider.base_url})
    result = api.scan_paths([tmp_path], settings)
    assert len(result.findings) == 1000
    assert len(provider.requests) == 1
    assert {f.validity.state for f in result.findings} == {ValidityState.VALID}


def test_global_and_per_host_limits_hold(provider, other_provider):
    def slow_ok(req: Request):
        time.sleep(0.05)
        return me_ok(req)

    def slow_crates(req: Request):
        time.sleep(0.05)
        return 403, {}, {"errors": [{"detail": "this action can only be performed on the crates.io website"}]}

    provider.handler, other_provider.handler = slow_ok, slow_crates
    rng = random.Random(7)
    findings = [finding("circleci-personal-token", cci_token(rng)) for _ in range(24)]
    findings += [finding("crates-io-api-token", "cio" + "".join(rng.choice(B58) for _ in range(32))) for _ in range(24)]
    settings = settings_for({"circleci.com": provider.base_url, "crates.io": other_provider.base_url}, concurrency=5, per_host=3)
    out = verify_findings(findings, settings)
    assert len(provider.requests) == 24 and len(other_provider.requests) == 24
    assert all(f.validity.state is ValidityState.VALID for f in out)
    assert 2 <= provider.peak <= 3 and 2 <= other_provider.peak <= 3
    # the two servers share the global limit of 5
    assert provider.peak + other_provider.peak <= 6


def test_global_limit_alone(provider):
    def slow_ok(req: Request):
        time.sleep(0.05)
        return me_ok(req)

    provider.handler = slow_ok
    rng = random.Random(3)
    findings = [finding("circleci-personal-token", cci_token(rng)) for _ in range(20)]
    verify_findings(findings, settings_for({"circleci.com": provider.base_url}, concurrency=2, per_host=10))
    assert len(provider.requests) == 20 and provider.peak <= 2


def test_disk_cache_skips_repeated_checks_until_ttl(provider):
    provider.handler = me_ok
    token = cci_token(random.Random(11))
    settings = settings_for({"circleci.com": provider.base_url}, cache_ttl=3600)
    first = verify_findings([finding("circleci-personal-token", token)], settings)
    vcache._MEMORY.clear()  # as a new process would start
    second = verify_findings([finding("circleci-personal-token", token)], settings)
    assert len(provider.requests) == 1
    assert second[0].validity == first[0].validity
    files = list((vcache.cache.cache_dir() / "verify").glob("*.json"))
    assert files and all(token not in p.read_text() and (p.stat().st_mode & 0o077) == 0 for p in files)
    # a different endpoint configuration is a different answer: not served from the cache
    verify_findings([finding("circleci-personal-token", token)], settings_for({"circleci.com": provider.base_url + "/"}, cache_ttl=3600, allow_hosts=["x.example"]))
    assert len(provider.requests) == 2


def test_unknown_results_are_not_cached(provider):
    provider.handler = lambda req: (503, {}, "")
    token = cci_token(random.Random(12))
    settings = settings_for({"circleci.com": provider.base_url}, cache_ttl=3600, retries=0)
    verify_findings([finding("circleci-personal-token", token)], settings)
    verify_findings([finding("circleci-personal-token", token)], settings)
    assert len(provider.requests) == 2


def test_only_valid_keeps_live_secrets(provider):
    good, bad = cci_token(random.Random(21)), cci_token(random.Random(22))
    provider.handler = lambda req: me_ok(req) if req.header("Circle-Token") == good else (401, {}, {})
    out = verify_findings([finding("circleci-personal-token", good), finding("circleci-personal-token", bad)], settings_for({"circleci.com": provider.base_url}, only_valid=True))
    assert [f.secret.reveal() for f in out] == [good]


def test_scans_are_offline_unless_asked(provider, tmp_path):
    provider.handler = me_ok
    token = cci_token(random.Random(31))
    (tmp_path / "x.env").write_text(f"CIRCLE_TOKEN={token}\n")
    table = {"allow_private": True, "base_urls": {"circleci.com": provider.base_url}}
    result = api.scan_paths([tmp_path], Settings(verify=table))
    assert result.findings and provider.requests == []
    assert result.findings[0].validity.state is ValidityState.NOT_CHECKED
    result = api.scan_paths([tmp_path], Settings(verify={**table, "enabled": True, "cache_ttl": 0}))
    assert len(provider.requests) == 1 and result.findings[0].validity.state is ValidityState.VALID


def test_loopback_is_refused_by_default(provider):
    provider.handler = me_ok
    settings = Settings(verify={"enabled": True, "cache_ttl": 0, "base_urls": {"circleci.com": provider.base_url}})
    [f] = verify_findings([finding("circleci-personal-token", cci_token(random.Random(41)))], settings)
    assert f.validity.state is ValidityState.UNKNOWN and "non-public address (127.0.0.1)" in f.validity.reason
    assert provider.requests == []


@pytest.mark.parametrize("base", ["http://[::1]:9", "http://169.254.169.254", "http://10.0.0.8", "http://0.0.0.0:1"])
def test_private_and_link_local_are_refused(base):
    settings = Settings(verify={"enabled": True, "cache_ttl": 0, "retries": 0, "base_urls": {"circleci.com": base}})
    [f] = verify_findings([finding("circleci-personal-token", cci_token(random.Random(42)))], settings)
    assert f.validity.state is ValidityState.UNKNOWN and "non-public address" in f.validity.reason


def test_rules_without_a_check_are_not_checked():
    [f] = verify_findings([finding("jwt-signing-secret", "Zk3r9_Qm2xVt8LpW4nHc7yBd")], Settings(verify={"enabled": True, "cache_ttl": 0}))
    assert f.validity.state is ValidityState.NOT_CHECKED and f.validity.reason


def test_host_globs():
    assert host_matches("acme.atlassian.net", ["*.atlassian.net"])
    assert host_matches("a.b.atlassian.net", ["*.atlassian.net"])
    assert not host_matches("atlassian.net", ["*.atlassian.net"])
    assert not host_matches("evilatlassian.net", ["*.atlassian.net"])
    assert not host_matches("acme.atlassian.net.evil.com", ["*.atlassian.net"])
    assert host_matches("CircleCI.com", ["circleci.com"])


@pytest.mark.parametrize("table,key", [
    ({"concurrency": 0}, "verify.concurrency"),
    ({"timeout": "fast"}, "verify.timeout"),
    ({"allow_hosts": ["https://x.io"]}, "verify.allow_hosts"),
    ({"base_urls": {"circleci.com": "ftp://x"}}, "verify.base_urls.circleci.com"),
    ({"base_urls": {"circleci.com": "http://u:p@127.0.0.1:1"}}, "verify.base_urls.circleci.com"),
    ({"allow_privat": True}, "verify.allow_privat"),
])
def test_bad_verify_config_is_a_clear_error(table, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        verify_findings([], Settings(verify={"enabled": True, **table}))


_PIECES = [*"aZ09.-_/@#?:%\\[]! \t\r\né", "atlassian.net", ".atlassian.net", "evil.com", "//", "https://", "%2e", "\u3002"]
_HOSTILE = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


@hsettings(max_examples=400, deadline=None)
@given(site=_HOSTILE, email=_HOSTILE)
def test_found_values_never_steer_a_request_off_the_rule_domains(site, email):
    try:
        url = render_url("https://{{ site }}/rest/api/3/myself?u={{ email }}", {"site": site, "email": email})
        target = plan_target(url, ["*.atlassian.net"], VerifyConfig())
    except VerifyError:
        return
    assert target.logical_host.endswith(".atlassian.net")
    assert target.url.scheme == "https" and target.url.port in (None, 443) and not target.url.userinfo
    assert target.url.path == "/rest/api/3/myself"

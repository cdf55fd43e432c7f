"""Rule data is consistent: ids, examples, references, verify specs and Hyperscan compatibility.

These checks are generic; the few built-in rules that predate them are listed explicitly so the
list can only shrink (a stale entry fails the test).
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

import pytest

from leakwarden.rules import load_ruleset
from leakwarden.rules.spec import PLAYBOOK_REQUIRED

RULES = load_ruleset().rules
VISIBLE = [r for r in RULES if r.visible]
_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Hyperscan rejects these; the engine would silently fall back to slow paths.
_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=|\\[gk]<")

# Rules written before these checks; each entry must still be needed.
FEWER_THAN_TWO_EXAMPLES = {
    "crates-io-trusted-publishing-token", "generic-terraform-variable-default", "pkcs12-keystore-base64",
    "private-key-pem-encrypted", "private-key-putty", "private-key-putty-encrypted",
}
# Generic and file-format rules are named after the format, not a provider.
ID_WITHOUT_PROVIDER_PREFIX = {
    "docker-config-auth", "jira-datacenter-host", "jira-datacenter-pat", "jwt", "netrc-password", "npmrc-auth",
    "pkcs12-keystore-base64", "private-key-openssh", "private-key-pem", "private-key-pem-encrypted", "private-key-pgp",
    "private-key-putty", "private-key-putty-encrypted",
}
# Multi-line key blocks: the example text is the secret; naming it again adds nothing.
EXAMPLE_WITHOUT_SECRET = {
    "jwt", "pkcs12-keystore-base64", "private-key-openssh", "private-key-pem", "private-key-pem-encrypted",
    "private-key-pgp", "private-key-putty", "private-key-putty-encrypted",
}
# Generic rules whose negative look-aheads keep them quiet; Hyperscan runs them in its
# approximate PREFILTER mode and the Python regex confirms each hit on a bounded window.
PREFILTER_RULES = {"generic-secret-assignment", "generic-secret-xml", "generic-url-basic-auth"}


def test_ids_are_unique_and_kebab_case() -> None:
    counts = Counter(r.id for r in RULES)
    assert not [i for i, n in counts.items() if n > 1]
    assert not [r.id for r in RULES if not _KEBAB.match(r.id)]


def test_ids_start_with_their_provider() -> None:
    offenders = {r.id for r in RULES if not r.id.startswith(r.provider + "-")}
    assert offenders == ID_WITHOUT_PROVIDER_PREFIX


def test_visible_rules_have_two_examples_and_two_negatives() -> None:
    short = {r.id for r in VISIBLE if len(r.examples) < 2 or len(r.negative_examples) < 2}
    assert short == FEWER_THAN_TWO_EXAMPLES


def test_examples_name_the_exact_secret() -> None:
    missing = {r.id for r in VISIBLE if any(e.secret is None for e in r.examples)}
    assert missing == EXAMPLE_WITHOUT_SECRET


@pytest.mark.parametrize("rule", VISIBLE, ids=lambda r: r.id)
def test_visible_rule_metadata(rule) -> None:
    assert rule.tags, "tags help `rules list` filtering"
    for ref in rule.references:
        assert urlsplit(ref).scheme == "https", ref
    for key in PLAYBOOK_REQUIRED:
        assert rule.playbook.get(key)
    url = rule.playbook.get("revoke_url")
    assert url is None or urlsplit(url).scheme == "https"
    if rule.id not in PREFILTER_RULES:
        assert not _UNSUPPORTED.search(rule.pattern), "lookarounds and backreferences are not Hyperscan-compatible"
    longest = max(len(e.secret or "") for e in rule.examples)
    assert longest <= rule.max_span, "max_span must cover the whole secret"


@pytest.mark.parametrize("rule", [r for r in RULES if r.verify.get("kind") == "http"], ids=lambda r: r.id)
def test_http_verify_specs_are_complete(rule) -> None:
    v = rule.verify
    assert v.get("method", "GET") in ("GET", "POST", "HEAD")
    invalid = v.get("invalid") or {}
    assert v["valid"]["status"] and (invalid.get("status") or v.get("unknown"))
    assert not set(v["valid"]["status"]) & set(invalid.get("status", [])) or v["valid"].get("body_contains") or invalid.get("body_contains")
    known = {"secret"} | {q.name for q in rule.requires} | set(v.get("requires", []))
    text = " ".join(str(x) for x in (v["url"], v.get("headers", {}), v.get("auth", {}), v.get("body", "")))
    assert set(_VAR.findall(text)) <= known, "template variables must come from the secret or a `requires` capture"
    host = urlsplit(v["url"]).hostname or ""
    if v.get("self_hosted"):
        return
    assert v["hosts"], "hosts is the SSRF allow-list"
    if "{{" not in host:
        assert any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in v["hosts"]), host


def test_every_pattern_compiles_in_one_hyperscan_database_without_fallback() -> None:
    hs = pytest.importorskip("hyperscan")
    exact = [r for r in RULES if r.id not in PREFILTER_RULES]
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=[r.pattern.encode() for r in exact], ids=list(range(len(exact))), elements=len(exact), flags=[0] * len(exact))
    prefiltered = [r for r in RULES if r.id in PREFILTER_RULES]
    assert {r.id for r in prefiltered} == PREFILTER_RULES, "a stale entry in PREFILTER_RULES"
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=[r.pattern.encode() for r in prefiltered], ids=list(range(len(prefiltered))), elements=len(prefiltered), flags=[hs.HS_FLAG_PREFILTER] * len(prefiltered))

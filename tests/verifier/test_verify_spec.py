"""`[rules.verify]` validation: every mistake names the file, the rule and the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from leakwarden.errors import RuleError
from leakwarden.rules import load_ruleset
from leakwarden.rules.spec import parse_rule
from leakwarden.verifier.custom import CUSTOM_CHECKS
from leakwarden.verifier.offline import OFFLINE_CHECKS

BASE: dict[str, Any] = {
    "id": "demo-token",
    "name": "Demo token",
    "description": "d",
    "severity": "high",
    "confidence": "high",
    "pattern": r"\b(demo_[a-z0-9]{20})\b",
    "keywords": ["demo_"],
    "examples": ["demo_abcdefghij0123456789"],
    "negative_examples": ["demo_"],
    "references": ["https://example.com"],
    "requires": [{"rule": "demo-site", "as": "site"}],
    "playbook": {"what": "w", "risk": "r", "revoke_steps": ["x"], "abuse_checks": ["y"], "env_var": "DEMO"},
    "verify": {
        "kind": "http",
        "url": "https://{{ site }}/api/me",
        "auth": {"scheme": "bearer"},
        "hosts": ["*.demo.io"],
        "requires": ["site"],
        "valid": {"status": [200]},
        "invalid": {"status": [401]},
    },
}


def parse(**verify_changes: Any):
    table = copy.deepcopy(BASE)
    for k, v in verify_changes.items():
        if v is None:
            table["verify"].pop(k, None)
        else:
            table["verify"][k] = v
    return parse_rule("rules/data/demo.toml", {"id": "demo"}, table)


def test_base_is_valid():
    assert parse().verify["kind"] == "http"


@pytest.mark.parametrize("changes,field,words", [
    ({"kind": "magic"}, "verify.kind", "must be one of"),
    ({"hosts": None}, "verify.hosts", "required"),
    ({"hosts": ["https://demo.io"]}, "verify.hosts[0]", "host name"),
    ({"url": "http://{{ site }}/x"}, "verify.url", "https://"),
    ({"url": "https://api.other.io/me"}, "verify.url", "not in verify.hosts"),
    ({"url": "https://{{ site }}/{{ email }}"}, "verify.url", "email"),
    ({"requires": ["site", "email"]}, "verify.requires", "not captured"),
    ({"method": "DELETE"}, "verify.method", "never change state"),
    ({"auth": {"scheme": "digest"}}, "verify.auth.scheme", "must be one of"),
    ({"auth": {"scheme": "header"}}, "verify.auth.name", "required"),
    ({"auth": {"scheme": "basic", "user": "x"}}, "verify.auth.user", "not a field"),
    ({"valid": None}, "verify.valid", "required"),
    ({"valid": {"status": []}}, "verify.valid.status", "status codes"),
    ({"valid": {"status": [200], "jsonpath": "id"}}, "verify.valid.jsonpath", "unknown matcher field"),
    ({"invalid": [{"status": [401]}, {"json_value": 1, "status": [200]}]}, "verify.invalid[1].json_value", "needs json_path"),
    ({"keep": {"user": 3}}, "verify.keep.user", "JSON path"),
    ({"timeout_s": 0}, "verify.timeout_s", "positive"),
    ({"auth": None}, "verify.url", "never sends"),
    ({"follow": True}, "verify.follow", "unknown field"),
])
def test_mistakes_name_the_field(changes, field, words):
    with pytest.raises(RuleError) as err:
        parse(**changes)
    message = str(err.value)
    assert message.startswith("rules/data/demo.toml: rule 'demo-token': field ")
    assert f"field '{field}'" in message and words in message


def test_custom_and_offline_need_a_check_name():
    with pytest.raises(RuleError, match="verify.check"):
        parse_rule("f.toml", {"id": "d"}, {**copy.deepcopy(BASE), "verify": {"kind": "offline"}})
    with pytest.raises(RuleError, match="verify.hosts"):
        parse_rule("f.toml", {"id": "d"}, {**copy.deepcopy(BASE), "verify": {"kind": "custom", "check": "aws-sts"}})


def test_shipped_rules_name_existing_checks():
    """Every built-in rule's named check exists (rules cannot import the verifier to check this)."""
    for rule in load_ruleset().rules:
        kind = rule.verify.get("kind", "none")
        if kind == "custom":
            assert rule.verify["check"] in CUSTOM_CHECKS, rule.id
        elif kind == "offline":
            assert rule.verify["check"] in OFFLINE_CHECKS, rule.id


def test_priority_rules_all_have_checks():
    rules = load_ruleset().by_id
    for rid in ("atlassian-api-token", "atlassian-oauth-client-secret", "circleci-personal-token", "circleci-project-token", "crates-io-api-token", "jwt"):
        assert rules[rid].verify.get("kind") in ("http", "custom", "offline"), rid


def test_lint_reports_unknown_named_checks():
    from dataclasses import replace

    from leakwarden.rules.lint import lint
    from leakwarden.rules.loader import Ruleset

    base = load_ruleset().by_id["circleci-project-token"]
    bad = replace(base, verify={"kind": "custom", "check": "no-such-check", "hosts": ["circleci.com"]})
    errors, _ = lint(Ruleset((bad,), "x"), only={bad.id})
    assert any("verify.check 'no-such-check' is not a named check" in e for e in errors)


def test_verify_examples_in_the_docs_are_valid():
    """Every [rules.verify] example in docs/verify.md passes the schema validation."""
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.DOTALL) if "[rules.verify]" in b]
    checked = 0
    for block in blocks:
        for part in re.split(r"(?m)^(?=# .*\n\[rules\.verify\])", block):
            if "[rules.verify]" not in part:
                continue
            verify = tomllib.loads(part)["rules"]["verify"]
            table = copy.deepcopy(BASE)
            table["verify"] = verify
            table["requires"] = [{"rule": "helper", "as": n} for n in verify.get("requires", [])]
            parse_rule("docs/verify.md", {"id": "demo"}, table)
            checked += 1
    assert checked >= 6


def test_allow_fields_are_checked_and_names_compile():
    table = {**copy.deepcopy(BASE), "allow": {"names": [r"(?i)csrf[_-]?token"]}}
    assert parse_rule("f.toml", {"id": "d"}, table).allow.names == (r"(?i)csrf[_-]?token",)
    with pytest.raises(RuleError, match="allow.name.*unknown field"):
        parse_rule("f.toml", {"id": "d"}, {**copy.deepcopy(BASE), "allow": {"name": ["csrf"]}})
    with pytest.raises(RuleError, match=r"allow.names\[0\].*does not compile"):
        parse_rule("f.toml", {"id": "d"}, {**copy.deepcopy(BASE), "allow": {"names": ["(csrf"]}})

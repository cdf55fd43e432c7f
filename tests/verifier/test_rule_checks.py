"""Every declarative check shipped in the rule files runs end to end, from data alone.

For each rule with `kind = "http"`, its own examples are scanned (so the secret and the related
values are what the detector really extracts), and a local server answers as the rule's `valid`
and then its `invalid` matcher describe. The engine must reach the matching state, send the
secret, and contact nothing but the rule's hosts. A rule whose data cannot be executed fails.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

import pytest

from leakwarden.models import Chunk, Origin, ValidityState
from leakwarden.rules import load_ruleset
from leakwarden.verifier import verify_findings
from tests.verifier.conftest import settings_for
from tests.verifier.provider import Request

RULESET = load_ruleset()
HTTP_RULES = [r for r in RULESET.rules if r.verify.get("kind") == "http" and r.visible]


def _body_for(matcher: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    body: dict[str, Any] = {}
    if "json_path" in matcher:
        node: Any = body
        parts = matcher["json_path"].split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            value = matcher.get("json_value", "leakwarden-test") if last else ([{}] if parts[i + 1].isdigit() else {})
            if isinstance(node, list):
                node = node[0]
            if not part.isdigit():
                node[part] = value
                node = node[part]
    if matcher.get("body_contains"):
        body["detail"] = matcher["body_contains"][0]
    headers = {matcher["header"]: "x"} if matcher.get("header") else {}
    return matcher["status"][0], headers, body


def _first(spec: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = spec.get(key)
    if value is None:
        return None
    return value if isinstance(value, dict) else value[0]


def _sent_secret(req: Request, secret: str) -> bool:
    if secret.startswith("https://"):  # a webhook URL: what is sent is its path and query
        secret = secret.split("://", 1)[1].split("/", 1)[1]
        secret = "/" + secret
    haystack = [unquote(req.path), req.body.decode("utf-8", "replace"), unquote(req.body.decode("utf-8", "replace"))]
    for name, value in req.headers.items():
        haystack.append(value)
        if name.lower() == "authorization" and value.startswith("Basic "):
            haystack.append(base64.b64decode(value[6:]).decode("utf-8", "replace"))
    return any(secret in h for h in haystack)


@pytest.fixture(scope="module")
def detector():
    from leakwarden.candidates import Detector
    from leakwarden.matcher import select_matcher

    return Detector(RULESET, select_matcher(RULESET, "python"))


def _example_finding(det, rule):
    for ex in rule.examples:
        found = [f for f in det.scan(Chunk(ex.text.encode(), Origin("text", path="example"))) if f.rule_id == rule.id]
        complete = [f for f in found if all(f.related.get(n) for n in rule.verify.get("requires", ()))]
        if complete:
            return complete[0]
    return None


@pytest.mark.parametrize("rule", HTTP_RULES, ids=lambda r: r.id)
def test_declarative_check_runs_from_data(rule, detector, provider):
    spec = rule.verify
    f = _example_finding(detector, rule)
    if f is None:
        pytest.skip(f"{rule.id}: no example yields a finding with every value the check needs ({spec.get('requires')})")
    base_urls = {h: provider.base_url for h in spec["hosts"]}
    extra: dict[str, Any] = {}
    if spec.get("self_hosted"):
        site = f.related["site"].reveal().split("://")[-1].split("/")[0]
        base_urls[site] = provider.base_url
        extra["allow_hosts"] = [site]
    settings = settings_for(base_urls, retries=0, **extra)

    for key, state in (("valid", ValidityState.VALID), ("invalid", ValidityState.INVALID)):
        matcher = _first(spec, key)
        if matcher is None:
            continue
        provider.handler = lambda req, m=matcher: _body_for(m)
        before = len(provider.requests)
        [out] = verify_findings([f], settings)
        assert out.validity.state is state, f"{rule.id} [{key}]: {out.validity.reason}"
        assert len(provider.requests) == before + 1
        req = provider.requests[-1]
        assert req.method == spec.get("method", "GET")
        assert _sent_secret(req, f.secret.reveal()), f"{rule.id}: the secret was not sent"
        assert f.secret.reveal() not in out.validity.reason


def test_there_are_declarative_checks_to_run():
    assert len(HTTP_RULES) >= 5

"""Every rule's examples are found and its negative examples are not, with both engines."""

from __future__ import annotations

import pytest

from leakwarden.models import Chunk, Origin
from leakwarden.rules import load_ruleset

RULES = load_ruleset().rules
ENGINES = ("hyperscan", "python")


def _scan(detector, text: str):
    chunk = Chunk(text.encode(), Origin("text", path="example.txt"))
    return detector.scan(chunk)


def _helper_findings(detector, rule, text: str):
    """Invisible helper rules are not reported; check their capture through the matcher."""
    idx = detector.ruleset.rules.index(rule)
    find_all = getattr(detector.matcher, "find_all", detector.matcher.find)  # split matcher: helpers on demand
    return [m for i, m in find_all(text.encode()) if i == idx]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_are_found(rule, engine, detectors):
    detector = detectors[engine]
    for example in rule.examples:
        if not rule.visible:
            matches = _helper_findings(detector, rule, example.text)
            assert matches, f"{rule.id}: helper did not match example {example.text!r}"
            if example.secret is not None:
                got = {m.group(next(g for g in rule.secret_groups if m.start(g) >= 0)).decode() for m in matches}
                assert example.secret in got
            continue
        found = [f for f in _scan(detector, example.text) if f.rule_id == rule.id]
        assert found, f"{rule.id} [{engine}]: example not found:\n{example.text}"
        if example.secret is not None:
            secrets = [f.secret.reveal() for f in found]
            assert example.secret in secrets, f"{rule.id}: extracted {secrets}, expected {example.secret!r}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rule", [r for r in RULES if r.visible], ids=lambda r: r.id)
def test_negative_examples_are_not_found(rule, engine, detectors):
    detector = detectors[engine]
    for text in rule.negative_examples:
        found = [f for f in _scan(detector, text) if f.rule_id == rule.id]
        assert not found, f"{rule.id} [{engine}]: negative example matched:\n{text}\n-> {[f.secret.reveal() for f in found]}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_engines_agree_on_examples(rule, detectors):
    for text in [e.text for e in rule.examples] + list(rule.negative_examples):
        hs = {(f.rule_id, f.secret.reveal(), f.location.start_line) for f in _scan(detectors["hyperscan"], text)}
        py = {(f.rule_id, f.secret.reveal(), f.location.start_line) for f in _scan(detectors["python"], text)}
        assert hs == py, f"{rule.id}: engines differ on {text!r}: hs-only={hs - py} py-only={py - hs}"

"""`rules check`: compile in both engines, run examples and negatives, check playbooks."""

from __future__ import annotations

from leakwarden.models import Chunk, Origin
from leakwarden.rules.loader import Ruleset
from leakwarden.rules.spec import PLAYBOOK_FIELDS


def lint(ruleset: Ruleset, only: set[str] | None = None) -> tuple[list[str], list[str]]:
    from leakwarden.candidates import Detector
    from leakwarden.errors import LeakwardenError
    from leakwarden.matcher import hyperscan_available, select_matcher
    from leakwarden.verifier.custom import CUSTOM_CHECKS
    from leakwarden.verifier.offline import OFFLINE_CHECKS

    errors: list[str] = []
    warnings: list[str] = []
    engines = ["python"] + (["hyperscan"] if hyperscan_available() else [])
    try:
        detectors = {e: Detector(ruleset, select_matcher(ruleset, e)) for e in engines}
    except LeakwardenError as exc:
        return [str(exc)], []
    for rule in ruleset.rules:
        if only is not None and rule.id not in only:
            continue
        where = f"{rule.file}: rule '{rule.id}'"
        missing = [f for f in PLAYBOOK_FIELDS if not rule.playbook.get(f)]
        if missing and rule.visible:
            warnings.append(f"{where}: playbook lacks {', '.join(missing)}")
        if rule.visible and len(rule.examples) < 2:
            warnings.append(f"{where}: only {len(rule.examples)} example(s); two or more show the range of the format")
        kind, check = rule.verify.get("kind"), rule.verify.get("check")
        if kind == "custom" and check not in CUSTOM_CHECKS:
            errors.append(f"{where}: verify.check '{check}' is not a named check (see docs/verify.md)")
        elif kind == "offline" and check not in OFFLINE_CHECKS:
            errors.append(f"{where}: verify.check '{check}' is not an offline check (see docs/verify.md)")
        if not rule.visible:
            continue
        for engine, det in detectors.items():
            for i, ex in enumerate(rule.examples):
                found = [f for f in det.scan(Chunk(ex.text.encode(), Origin("text"))) if f.rule_id == rule.id]
                if not found:
                    errors.append(f"{where}: examples[{i}] not found by the {engine} engine")
                elif ex.secret is not None and ex.secret not in {f.secret.reveal() for f in found}:
                    errors.append(f"{where}: examples[{i}] extracted a different secret with the {engine} engine")
            for i, text in enumerate(rule.negative_examples):
                if any(f.rule_id == rule.id for f in det.scan(Chunk(text.encode(), Origin("text")))):
                    errors.append(f"{where}: negative_examples[{i}] matched with the {engine} engine")
    return errors, warnings

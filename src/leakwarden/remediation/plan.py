"""Turn a scan's JSON report into remediation plans: one per leaked secret, most urgent first.

Urgency: a secret confirmed valid comes first, then higher severity, then exposure — a secret in
git history (a finding with a `commit`) before one only in the working tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakwarden.errors import LeakwardenError
from leakwarden.models import Confidence, Severity
from leakwarden.remediation.playbook import Occurrence
from leakwarden.rules import Rule, Ruleset

_VALIDITY_RANK = {"valid": 0, "unknown": 1, "not_checked": 2, "invalid": 3}
_SEVERITY_RANK = {s.value: s.rank for s in Severity}
_LANG_BY_SUFFIX = {
    ".py": "python", ".js": "node", ".mjs": "node", ".cjs": "node", ".ts": "node", ".tsx": "node", ".jsx": "node",
    ".go": "go", ".java": "java", ".kt": "java", ".rb": "ruby",
}


class ReportError(LeakwardenError):
    """The input is not a leakwarden JSON report."""


@dataclass(frozen=True, slots=True)
class ReportFinding:
    """One finding as the JSON report holds it (see reporters/json_report.py)."""

    rule_id: str
    rule_name: str
    severity: str
    confidence: str
    validity: str
    source: str
    path: str
    start_line: int
    secret: str  # the full value only when `secret_redacted` is false
    secret_redacted: bool
    fingerprint: str
    line: str = ""
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    layer: str | None = None
    repository: str | None = None

    @property
    def in_history(self) -> bool:
        return bool(self.commit)

    def occurrence(self) -> Occurrence:
        return Occurrence(self.path, self.start_line, self.source, self.commit, self.author, self.date, self.layer, self.repository, self.line)


@dataclass(slots=True)
class Plan:
    """Everything to do about one secret: its rule, every place it was found, how urgent it is."""

    rule: Rule
    findings: list[ReportFinding] = field(default_factory=list)

    @property
    def first(self) -> ReportFinding:
        return self.findings[0]

    @property
    def validity(self) -> str:
        return min((f.validity for f in self.findings), key=lambda v: _VALIDITY_RANK.get(v, 2))

    @property
    def severity(self) -> str:
        return max((f.severity for f in self.findings), key=lambda s: _SEVERITY_RANK.get(s, 0))

    @property
    def in_history(self) -> bool:
        return any(f.in_history for f in self.findings)

    @property
    def exposure(self) -> str:
        return "git history" if self.in_history else "working tree"

    @property
    def secret_value(self) -> str | None:
        """The full value, or None when the report was written redacted."""
        f = self.first
        return None if f.secret_redacted else f.secret

    @property
    def secret_display(self) -> str:
        from leakwarden.models import redact

        f = self.first
        return f.secret if f.secret_redacted else redact(f.secret)

    @property
    def anchor(self) -> str:
        return f"secret-{self.first.fingerprint[:12]}"

    def urgency_key(self) -> tuple[Any, ...]:
        conf = max(Confidence(f.confidence).rank if f.confidence in Confidence._value2member_map_ else 0 for f in self.findings)
        return (
            _VALIDITY_RANK.get(self.validity, 2),
            -_SEVERITY_RANK.get(self.severity, 0),
            0 if self.in_history else 1,
            -conf,
            self.first.path,
            self.first.start_line,
        )

    def occurrences(self) -> list[Occurrence]:
        return [f.occurrence() for f in self.findings]

    def languages(self) -> list[str]:
        """Languages of the files it was found in, for the snippets worth showing."""
        seen: dict[str, None] = {}
        for f in self.findings:
            lang = _LANG_BY_SUFFIX.get(Path(f.path or "").suffix.lower())
            if lang:
                seen.setdefault(lang, None)
        return list(seen) or ["python"]


def _str(d: dict[str, Any], key: str, default: str = "") -> str:
    value = d.get(key, default)
    return default if value is None else str(value)


def _optional(d: dict[str, Any], key: str, index: int) -> str | None:
    """An optional text field: absent or empty is None; any other non-string is an error here
    rather than a crash where the plan slices it."""
    value = d.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ReportError(f"finding {index}: {key!r} must be a string, not {type(value).__name__} (is this a leakwarden JSON report?)")
    return value


def parse_finding(d: dict[str, Any], index: int) -> ReportFinding:
    if not isinstance(d, dict):
        raise ReportError(f"finding {index}: expected an object")
    for key in ("rule_id", "secret", "fingerprint"):
        if not isinstance(d.get(key), str) or not d.get(key):
            raise ReportError(f"finding {index}: missing {key!r} (is this a leakwarden JSON report?)")
    validity = d.get("validity")
    state = validity.get("state", "not_checked") if isinstance(validity, dict) else str(validity or "not_checked")
    line = d.get("start_line")
    repository = d.get("repository") or d.get("repository_uri")
    return ReportFinding(
        rule_id=d["rule_id"],
        rule_name=_str(d, "rule_name", d["rule_id"]),
        severity=_str(d, "severity", "medium"),
        confidence=_str(d, "confidence", "medium"),
        validity=state,
        source=_str(d, "source", "file"),
        path=_str(d, "path"),
        start_line=line if isinstance(line, int) else 0,
        secret=d["secret"],
        secret_redacted=d.get("secret_redacted", True) is not False,
        fingerprint=d["fingerprint"],
        line=_str(d, "line"),
        commit=_optional(d, "commit", index),
        author=_optional(d, "author", index),
        date=_optional(d, "date", index),
        layer=_optional(d, "layer", index),
        repository=str(repository) if repository else None,
    )


def load_report(path: Path) -> tuple[dict[str, Any], list[ReportFinding]]:
    """Read a JSON (or JSON Lines) report; raise ReportError with a clear message on anything else."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read the report: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
        try:
            lines = [json.loads(x) for x in text.splitlines() if x.strip()]
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
        data = {"schema_version": 1, "findings": lines}
    if isinstance(data, dict) and "rule_id" in data:  # a single JSON Lines record
        data = {"schema_version": 1, "findings": [data]}
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ReportError(f"{path}: not a leakwarden JSON report (no 'findings' list); write one with `leakwarden scan ... --format json`")
    if data.get("schema_version", 1) != 1:
        raise ReportError(f"{path}: unsupported report schema_version {data.get('schema_version')!r} (expected 1)")
    return data, [parse_finding(d, i) for i, d in enumerate(data["findings"])]


def _fallback_rule(f: ReportFinding) -> Rule:
    """A rule this ruleset does not know (a custom or newer rule): shared prose only."""
    return Rule(
        id=f.rule_id, name=f.rule_name, provider="unknown", provider_name="the issuing service",
        description=f"A {f.rule_name} (rule {f.rule_id}, not in the loaded ruleset).",
        severity=Severity(f.severity) if f.severity in Severity._value2member_map_ else Severity.MEDIUM,
        confidence=Confidence.MEDIUM, pattern="(.)", keywords=(), examples=(), negative_examples=(),
        references=(), file="",
        playbook={"what": f"A {f.rule_name}.", "risk": "Whoever holds it can act with its permissions until it is revoked."},
    )


def build_plans(findings: list[ReportFinding], ruleset: Ruleset) -> list[Plan]:
    """Group findings by secret (fingerprint) and order the plans by urgency."""
    plans: dict[str, Plan] = {}
    for f in findings:
        plan = plans.get(f.fingerprint)
        if plan is None:
            rule = ruleset.by_id.get(f.rule_id) or _fallback_rule(f)
            plan = plans[f.fingerprint] = Plan(rule)
        plan.findings.append(f)
    for plan in plans.values():
        plan.findings.sort(key=lambda f: (0 if f.in_history else 1, f.path, f.commit or "", f.start_line))
    return sorted(plans.values(), key=Plan.urgency_key)

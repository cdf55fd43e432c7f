"""GitLab secret-detection report (security report schema v15), read by GitLab's security
dashboard and merge-request widget from a `secret_detection` job artifact."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import IO, Any

from leakwarden.models import Finding, ScanResult, Severity
from leakwarden.reporters import ReportContext

SCHEMA_VERSION = "15.2.1"
_SEVERITY = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium", Severity.LOW: "Low"}
# GitLab requires a commit object; scans of plain files have none, so a zero sha says so.
_NO_COMMIT = "0000000"
_TIME = "%Y-%m-%dT%H:%M:%S"


def _vulnerability(f: Finding, ctx: ReportContext) -> dict[str, Any]:
    loc = f.location
    secret = f.secret.reveal() if ctx.show_secrets else f.secret.redacted
    commit: dict[str, Any] = {"sha": loc.commit or _NO_COMMIT}
    for key in ("author", "date", "message"):
        if loc.extra.get(key):
            commit[key] = str(loc.extra[key])
    location: dict[str, Any] = {"file": (loc.path or f"<{loc.kind}>").lstrip("/") or loc.kind, "commit": commit,
                                "start_line": loc.start_line, "end_line": loc.end_line}
    rule = ctx.ruleset.by_id.get(f.rule_id)
    solution = "Revoke the secret, issue a new one, and move it to a secret manager or CI variable."
    if rule is not None and rule.playbook.get("revoke_url"):
        solution = f"Revoke it at {rule.playbook['revoke_url']}, then rotate it. Run `leakwarden explain {f.rule_id}`."
    vuln: dict[str, Any] = {
        # Stable per occurrence, so GitLab tracks the same finding across pipelines.
        "id": str(uuid.UUID(f.occurrence_fingerprint[:32])),
        "name": f.rule_name,
        "description": f"{f.rule_name} ({f.provider}) found: {secret}",
        "severity": _SEVERITY[f.severity],
        "solution": solution,
        "identifiers": [{"type": "leakwarden_rule_id", "name": f"leakwarden {f.rule_id}", "value": f.rule_id}],
        "location": location,
    }
    if rule is not None and rule.references:
        vuln["links"] = [{"url": u} for u in rule.references if u.startswith(("https://", "http://"))]
    return vuln


def report_dict(result: ScanResult, ctx: ReportContext) -> dict[str, Any]:
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(seconds=result.stats.seconds)
    tool = {"id": "leakwarden", "name": "leakwarden", "version": ctx.tool_version or "0", "vendor": {"name": "leakwarden"}}
    return {
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "secret_detection",
            "start_time": start.strftime(_TIME),
            "end_time": end.strftime(_TIME),
            "status": "failure" if any(e.incomplete for e in result.errors) else "success",
            **({"messages": [{"level": "fatal" if e.incomplete else "warn", "value": e.text} for e in result.errors]} if result.errors else {}),
        },
        "vulnerabilities": [_vulnerability(f, ctx) for f in result.findings],
    }


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    json.dump(report_dict(result, ctx), out, indent=2, ensure_ascii=False)
    out.write("\n")

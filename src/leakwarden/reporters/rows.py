"""One flat row per finding, shared by the tabular reports (CSV, HTML, JUnit).

Findings read back from the store carry their incident's triage state in `details`
(incident_id, status, assignee, repository); fresh scan findings are simply "open".
"""

from __future__ import annotations

from typing import Any

from leakwarden.models import Finding
from leakwarden.reporters import ReportContext
from leakwarden.triage.identity import finding_repository

COLUMNS = (
    "incident_id", "status", "assignee", "severity", "confidence", "validity", "rule_id", "rule_name",
    "provider", "repository", "source", "path", "line", "column", "commit", "layer", "secret", "fingerprint",
)


def finding_row(f: Finding, ctx: ReportContext) -> dict[str, Any]:
    loc = f.location
    repository = f.details.get("repository")
    if repository is None:
        repository = finding_repository(f)
    return {
        "incident_id": f.details.get("incident_id", ""),
        "status": f.details.get("status", "open"),
        "assignee": f.details.get("assignee") or "",
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "validity": f.validity.state.value,
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "provider": f.provider,
        "repository": repository,
        "source": loc.kind,
        "path": loc.path or "",
        "line": loc.start_line,
        "column": loc.start_column,
        "commit": loc.commit or "",
        "layer": loc.layer or "",
        "secret": f.secret.reveal() if ctx.show_secrets else f.secret.redacted,
        "fingerprint": f.fingerprint,
    }

"""JSON and JSON Lines reports with a versioned, documented schema (docs/json-schema.md)."""

from __future__ import annotations

import json
from typing import IO, Any

from leakwarden.models import Finding, ScanResult
from leakwarden.reporters import ReportContext

SCHEMA_VERSION = 1


def finding_dict(f: Finding, ctx: ReportContext) -> dict[str, Any]:
    loc = f.location
    rule = ctx.ruleset.by_id.get(f.rule_id)
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "provider": f.provider,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "source": loc.kind,
        "path": loc.path,
        "start_line": loc.start_line,
        "end_line": loc.end_line,
        "start_column": loc.start_column,
        "end_column": loc.end_column,
        "secret": f.secret.reveal() if ctx.show_secrets else f.secret.redacted,
        "secret_redacted": not ctx.show_secrets,
        "line": f.raw_line.reveal() if ctx.show_secrets and f.raw_line is not None else f.line,
        "fingerprint": f.fingerprint,
        "occurrence_fingerprint": f.occurrence_fingerprint,
        "validity": {
            "state": f.validity.state.value,
            "reason": f.validity.reason,
            **({"checked_at": f.validity.checked_at} if f.validity.checked_at else {}),
            **({"details": f.validity.details} if f.validity.details else {}),
        },
        "details": f.details,
        "related": {k: (v.reveal() if ctx.show_secrets or k in ("site", "email", "client_id") else v.redacted) for k, v in f.related.items()},
        "playbook": f"leakwarden explain {f.rule_id}",
    }
    if rule is not None and rule.playbook.get("revoke_url"):
        out["revoke_url"] = rule.playbook["revoke_url"]
    if f.decoded:
        out["decoded"] = f.decoded
    for key in ("commit", "blob", "layer"):
        value = getattr(loc, key)
        if value:
            out[key] = value
    if loc.extra:
        out.update({k: v for k, v in loc.extra.items() if k not in out})
    return out


def result_dict(result: ScanResult, ctx: ReportContext) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "leakwarden", "version": ctx.tool_version},
        "source": ctx.source,
        "findings": [finding_dict(f, ctx) for f in result.findings],
        "errors": [{"path": e.path, "kind": e.kind, "message": e.message, "incomplete": e.incomplete} for e in result.errors],
        "stats": {
            "files": result.stats.files,
            "bytes": result.stats.bytes,
            "skipped_binary": result.stats.skipped,
            "seconds": round(result.stats.seconds, 3),
            "findings": len(result.findings),
            "already_scanned": result.stats.already_scanned,
            "suppressed": {k: result.stats.suppressed.get(k, 0) for k in ("baseline", "ignore_file", "inline_allow")},
            "previously_seen": sum(1 for f in result.findings if f.details.get("previously_seen")),
        },
    }


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    json.dump(result_dict(result, ctx), out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


def render_lines(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    """One finding per line, for streaming into log pipelines."""
    for f in result.findings:
        out.write(json.dumps({"schema_version": SCHEMA_VERSION, **finding_dict(f, ctx)}, ensure_ascii=False, default=str))
        out.write("\n")

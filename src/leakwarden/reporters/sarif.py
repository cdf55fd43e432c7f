"""SARIF 2.1.0, as GitHub code scanning reads it: one rule per detector, help from its playbook."""

from __future__ import annotations

import json
from typing import IO, Any
from urllib.parse import quote

from leakwarden.models import Finding, ScanResult, Severity
from leakwarden.remediation.summary import playbook_markdown, playbook_text
from leakwarden.reporters import ReportContext
from leakwarden.rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub sorts alerts by this 0-10 score.
_SCORE = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.name},
        "fullDescription": {"text": rule.description},
        "help": {"text": playbook_text(rule), "markdown": playbook_markdown(rule)},
        "helpUri": rule.playbook.get("revoke_url") or rule.references[0],
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", "secret", *rule.tags],
            "security-severity": _SCORE[rule.severity],
            "precision": {"high": "high", "medium": "medium", "low": "low"}[rule.confidence.value],
        },
    }


def _uri(path: str) -> str:
    """A path as a relative URI reference: spaces, `#`, `?`, `%` and non-ASCII percent-encoded
    (code scanning reads `a b#1.env` as `a b` plus a fragment), and `:` too, which in a first
    segment would read as a scheme. `!` stays, for archive chains (`app.zip!/config.env`)."""
    return quote(path, safe="/!$&'()*+,;=@", errors="surrogateescape")


def _result(f: Finding, index: int, ctx: ReportContext) -> dict[str, Any]:
    loc = f.location
    secret = f.secret.reveal() if ctx.show_secrets else f.secret.redacted
    message = f"{f.rule_name} found: {secret}."
    if f.validity.state.value != "not_checked":
        message += f" Validity: {f.validity.state.value}" + (f" ({f.validity.reason})." if f.validity.reason else ".")
    if loc.commit:
        message += f" Introduced in commit {loc.commit[:12]}."
    region: dict[str, Any] = {
        "startLine": loc.start_line,
        "startColumn": loc.start_column,
        "endLine": loc.end_line,
        "endColumn": max(loc.end_column, 1),
    }
    uri = _uri((loc.path or f"{loc.kind}").lstrip("/") or loc.kind)
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "level": _LEVEL[f.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
        "partialFingerprints": {"leakwarden/secret/v1": f.fingerprint},
        "properties": {"validity": f.validity.state.value, "confidence": f.confidence.value},
    }
    if f.validity.reason:
        result["properties"]["validity_reason"] = f.validity.reason
    if f.validity.details:
        result["properties"]["validity_details"] = f.validity.details
    if loc.layer:
        result["properties"]["layer"] = loc.layer
    for key in ("image", "platform", "layer_index", "instruction", "deleted_in_layer", "note", "archive", "member", "package", "version"):
        if loc.extra.get(key) is not None:
            result["properties"][key] = loc.extra[key]
    if loc.commit:
        result["properties"]["commit"] = loc.commit
        for key in ("author", "email", "date"):
            if loc.extra.get(key):
                result["properties"][key] = loc.extra[key]
    return result


def _invocation(result: ScanResult) -> dict[str, Any]:
    """Whether the run read all its target; code scanning shows the notifications as tool errors."""
    invocation: dict[str, Any] = {"executionSuccessful": not any(e.incomplete for e in result.errors)}
    if result.errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error" if e.incomplete else "warning", "message": {"text": e.text}}
            for e in result.errors
        ]
    return invocation


def sarif_log(result: ScanResult, ctx: ReportContext) -> dict[str, Any]:
    used = sorted({f.rule_id for f in result.findings})
    names = {f.rule_id: f.rule_name for f in result.findings}
    # A store may hold findings of rules no longer loaded; they get a minimal descriptor.
    descriptors = [
        _rule_descriptor(ctx.ruleset.by_id[rid]) if rid in ctx.ruleset.by_id else {"id": rid, "shortDescription": {"text": names[rid]}}
        for rid in used
    ]
    index = {rid: i for i, rid in enumerate(used)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "leakwarden",
                "version": ctx.tool_version or "0",
                "informationUri": "https://github.com/leakwarden/leakwarden",
                "rules": descriptors,
            }
        },
        "results": [_result(f, index[f.rule_id], ctx) for f in result.findings],
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(result)],
    }
    commits = sorted({f.location.commit for f in result.findings if f.location.commit})
    if commits and result.findings and result.findings[0].location.extra.get("repository_uri"):
        run["versionControlProvenance"] = [
            {"repositoryUri": result.findings[0].location.extra["repository_uri"], "revisionId": commits[-1]}
        ]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    json.dump(sarif_log(result, ctx), out, indent=2, ensure_ascii=False)
    out.write("\n")

"""A rule's playbook as short text and markdown, for reports (SARIF help, text hints)."""

from __future__ import annotations

from typing import Any

from leakwarden.rules import Rule


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def playbook_text(rule: Rule) -> str:
    p = rule.playbook
    lines = [f"{rule.name}: {p.get('what', rule.description)}", "", f"Risk: {p.get('risk', '')}", "", "Revoke:"]
    lines += [f"- {s}" for s in _as_list(p.get("revoke_steps"))]
    if p.get("revoke_url"):
        lines.append(f"Revoke at: {p['revoke_url']}")
    lines += ["", "Check for abuse:"] + [f"- {s}" for s in _as_list(p.get("abuse_checks"))]
    lines += ["", f"Keep it out of code: read it from the environment variable {rule.env_var} or a secret manager."]
    lines += ["", f"Full playbook: leakwarden explain {rule.id}"]
    return "\n".join(lines)


def playbook_markdown(rule: Rule) -> str:
    p = rule.playbook
    parts = [f"## {rule.name}", "", str(p.get("what", rule.description)), ""]
    if p.get("risk"):
        parts += ["### Risk", "", str(p["risk"]), ""]
    parts += ["### Revoke and rotate", ""]
    parts += [f"1. {s}" for s in _as_list(p.get("revoke_steps"))]
    parts += [f"1. {s}" for s in _as_list(p.get("rotate_steps"))]
    if p.get("revoke_url"):
        parts += ["", f"Revoke at <{p['revoke_url']}>."]
    abuse = _as_list(p.get("abuse_checks"))
    if abuse:
        parts += ["", "### Check for abuse", ""] + [f"- {s}" for s in abuse]
    parts += [
        "",
        "### Stop hardcoding it",
        "",
        f"Read it from the environment (`{rule.env_var}`) or a secret manager (AWS Secrets Manager, HashiCorp Vault, CyberArk Conjur).",
        "",
        f"Full playbook with code snippets: `leakwarden explain {rule.id}`.",
    ]
    return "\n".join(parts)

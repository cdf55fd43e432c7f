"""A rule's playbook as short text and full markdown, for reports (SARIF help, text hints)."""

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
    """The full playbook (every section, every snippet) as markdown: GitHub shows it as the alert's help."""
    from leakwarden.remediation.playbook import build, render_markdown

    return render_markdown(build(rule))


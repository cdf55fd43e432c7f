"""Human-readable report: findings grouped by file, coloured on a terminal, one next step each."""

from __future__ import annotations

from typing import IO

from leakwarden.models import ScanResult, Severity, ValidityState
from leakwarden.reporters import ReportContext

_SEV_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}
_VALIDITY_STYLE = {ValidityState.VALID: "bold red", ValidityState.INVALID: "green", ValidityState.UNKNOWN: "yellow"}


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    from rich.console import Console
    from rich.markup import escape as markup_escape

    from leakwarden.reporters.safe import terminal_text

    def escape(text: str) -> str:  # every name and value printed: no control characters
        return markup_escape(terminal_text(text))

    console = Console(file=out, force_terminal=ctx.color, no_color=not ctx.color, highlight=False, soft_wrap=True, width=120)
    groups: dict[str, list] = {}
    for f in result.findings:
        key = f.location.path or f"<{f.location.kind}>"
        groups.setdefault(key, []).append(f)
    for path, findings in groups.items():
        console.print(f"[bold]{escape(path)}[/bold]")
        for f in findings:
            loc = f.location
            where = f"{loc.start_line}:{loc.start_column}"
            secret = f.secret.reveal() if ctx.show_secrets else f.secret.redacted
            sev = f"[{_SEV_STYLE[f.severity]}]{f.severity.value.upper()}[/]"
            console.print(f"  {where:>9}  {sev}  {escape(f.rule_name)} [dim]({f.rule_id})[/dim]  {escape(secret)}")
            if loc.commit:
                meta = loc.extra
                who = f" by {meta.get('author', '')}" if meta.get("author") else ""
                if who and meta.get("email"):
                    who += f" <{meta['email']}>"
                when = f" on {meta.get('date', '')}" if meta.get("date") else ""
                subject = str(meta.get("subject") or "")
                if len(subject) > 72:
                    subject = subject[:71] + "…"
                said = f": {subject}" if subject else ""
                console.print(f"             [dim]commit {loc.commit[:12]}{escape(who)}{escape(when)}{escape(said)}[/dim]")
            if loc.layer:
                index = loc.extra.get("layer_index", "?")
                instruction = str(loc.extra.get("instruction") or "")
                if len(instruction) > 90:
                    instruction = instruction[:89] + "…"
                plat = f" ({loc.extra['platform']})" if loc.extra.get("platform") else ""
                console.print(f"             [dim]layer {index}{escape(plat)} {escape(loc.layer[:19])}: {escape(instruction)}[/dim]")
            if loc.extra.get("note"):
                console.print(f"             [yellow]{escape(str(loc.extra['note']))}[/yellow]")
            others = f.details.get("other_occurrences") or []
            for o in others[:3]:
                console.print(f"             [dim]also {escape(str(o.get('path') or ''))}:{o.get('line')} @{str(o.get('commit') or '')[:12]}[/dim]")
            extra_count = f.details.get("occurrence_count", 0) - 1 - min(len(others), 3)
            if extra_count > 0:
                console.print(f"             [dim]… and {extra_count} more occurrence(s) (see the JSON report)[/dim]")
            if f.details.get("previously_seen"):
                console.print(f"             [dim]previously seen (incident {f.details.get('incident_id')}, first seen {escape(str(f.details.get('first_seen', '')))}; blob not re-read)[/dim]")
            if f.decoded:
                console.print(f"             [dim]found after decoding: {escape(f.decoded)}[/dim]")
            if f.validity.state is not ValidityState.NOT_CHECKED:
                style = _VALIDITY_STYLE.get(f.validity.state, "")
                reason = f" ({escape(f.validity.reason)})" if f.validity.reason else ""
                console.print(f"             validity: [{style}]{f.validity.state.value}[/]{reason}")
                if f.validity.details:
                    learned = ", ".join(f"{k}={v}" for k, v in f.validity.details.items() if not isinstance(v, dict | list))
                    if learned:
                        console.print(f"             [dim]{escape(learned)}[/dim]")
            if f.details.get("alg_none"):
                console.print("             [red]unsigned JWT (alg: none)[/red]")
            elif "expired" in f.details and f.details["expired"]:
                console.print(f"             [dim]JWT expired at {f.details.get('expires_at')}[/dim]")
            rule = ctx.ruleset.by_id.get(f.rule_id)
            if rule is not None:
                url = rule.playbook.get("revoke_url", "")
                hint = f"revoke at {url}; " if url else ""
                console.print(f"             [dim]→ {escape(hint)}run `leakwarden explain {f.rule_id}`[/dim]")
        console.print()
    for e in result.errors:
        console.print(f"[yellow]warning:[/yellow] {escape(e.path)}: {escape(e.message)}")
    n = len(result.findings)
    secrets = len({f.fingerprint for f in result.findings})
    mb = result.stats.bytes / 1e6
    summary = (
        f"{n} finding{'s' if n != 1 else ''} ({secrets} unique secret{'s' if secrets != 1 else ''})"
        f" in {result.stats.files} file{'s' if result.stats.files != 1 else ''}, {mb:.1f} MB, {result.stats.seconds:.2f}s"
    )
    if result.stats.skipped:
        summary += f"; {result.stats.skipped} binary file(s) skipped"
    checked: dict[str, set[str]] = {}
    for f in result.findings:
        if f.validity.state is not ValidityState.NOT_CHECKED:
            checked.setdefault(f.validity.state.value, set()).add(f.fingerprint)
    if checked:
        summary += "; secrets " + ", ".join(f"{len(checked[s])} {s}" for s in ("valid", "invalid", "unknown") if s in checked)
    style = "bold red" if n else "bold green"
    console.print(f"[{style}]{summary}[/]")
    hidden = suppressed_line(result)
    if hidden:
        console.print(f"[dim]{escape(hidden)}[/dim]")


def suppressed_line(result: ScanResult) -> str:
    """E.g. "3 findings hidden by the baseline, 1 by .leakwardenignore; 120 blobs already scanned"."""
    parts: list[str] = []
    labels = (
        ("baseline", "the baseline"), ("ignore_file", "the ignore file (.leakwardenignore)"),
        ("inline_allow", "inline `leakwarden:allow` comments"),
    )
    for key, label in labels:
        n = result.stats.suppressed.get(key, 0)
        if n:
            parts.append(f"{n} by {label}" if parts else f"{n} finding{'s' if n != 1 else ''} hidden by {label}")
    line = ", ".join(parts)
    if result.stats.already_scanned:
        n = result.stats.already_scanned
        line += ("; " if line else "") + f"{n} blob{'s' if n != 1 else ''} already scanned (not re-read)"
    return line

"""`leakwarden remediate REPORT.json`: a remediation plan per leaked secret, most urgent first."""

from __future__ import annotations

from pathlib import Path

import click

from leakwarden.cli.explain import load_rules_for, write_output
from leakwarden.errors import LeakwardenError


@click.command()
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True, help="Output format (html: one self-contained page).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the plan to a file instead of standard output.")
@click.option("--write-replacements", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the git filter-repo/BFG --replace-text file (it holds the secrets; created with mode 0600). Needs a report written with --show-secrets.")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file (repeatable).")
def remediate(report: Path, fmt: str, output: Path | None, write_replacements: Path | None, rule_files: tuple[Path, ...]) -> None:
    """Turn a scan's JSON report into a plan: rotate without an outage, fix the code, purge history.

    Secrets are shown redacted. A report written with --show-secrets lets --write-replacements
    produce the history-purge file; nothing else ever prints the values.
    """
    from leakwarden import __version__
    from leakwarden.remediation import history
    from leakwarden.remediation.files import write_private
    from leakwarden.remediation.plan import build_plans, load_report
    from leakwarden.remediation.report import ReportInfo, render_html, render_markdown

    _, findings = load_report(report)
    plans = build_plans(findings, load_rules_for(rule_files))
    redacted = any(f.secret_redacted for f in findings)
    written: str | None = None
    if write_replacements is not None:
        in_history = [p for p in plans if p.in_history]
        if not in_history:
            raise LeakwardenError("no finding of the report is in git history: there is nothing to purge")
        missing = [p for p in in_history if p.secret_value is None]
        if missing:
            raise LeakwardenError(
                f"{report} holds redacted secrets ({len(missing)} in history), so the replacement file cannot be written. "
                "Write a report with the values (`leakwarden scan ... --format json --show-secrets -o report.json`, keep it private) and run remediate on it."
            )
        reps = history.replacements([(p.rule.id, p.secret_value, p.secret_display) for p in in_history])
        try:
            write_private(write_replacements, history.replacements_text(reps, reveal=True).encode("utf-8"))
        except OSError as exc:
            raise LeakwardenError(f"cannot write {write_replacements}: {exc.strerror}") from None
        written = str(write_replacements)
        click.echo(f"wrote {len(reps)} replacement(s) to {write_replacements} (mode 0600; it holds the secrets: delete it when done)", err=True)
    info = ReportInfo(str(report), len(findings), __version__, written, redacted)
    text = render_html(plans, info) if fmt == "html" else render_markdown(plans, info)
    write_output(text, output)
    if output is not None:
        click.echo(f"{len(plans)} plan(s) written to {output}", err=True)

"""Options shared by the scan commands, and the common way to run a scan and report it."""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from leakwarden.errors import ExitCode, LeakwardenError

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("text", "json", "jsonl", "sarif", "csv", "junit", "gitlab", "html")
# Formats that can say the scan failed: a CI step that uploads the report then shows the error
# instead of failing on a missing file or reading an empty report as "clean".
FAILURE_FORMATS = ("json", "sarif", "junit", "gitlab")


def report_options(func: F) -> F:
    """The report options, and a failure report when the command stops on an error."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeakwardenError as exc:
            write_failure_report(exc, kwargs.get("fmt", "text"), kwargs.get("output"))
            raise

    decorators = [
        click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format."),
        click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to a file instead of standard output."),
        click.option("--show-secrets", is_flag=True, help="Print secret values in full (redacted by default; an --output file is then made readable by its owner only)."),
        click.option("--exit-zero", is_flag=True, help="Exit 0 even when secrets are found."),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing when nothing is found (text format)."),
    ]
    for d in reversed(decorators):
        run = d(run)
    return run  # type: ignore[return-value]


def write_failure_report(exc: LeakwardenError, fmt: str, output: Path | None) -> None:
    """A report with no findings whose only error is the one that stopped the scan."""
    if fmt not in FAILURE_FORMATS:
        return
    from leakwarden import __version__
    from leakwarden.fsutil import write_atomic
    from leakwarden.models import ScanError, ScanResult
    from leakwarden.reporters import ReportContext, get_reporter
    from leakwarden.rules.loader import Ruleset

    command = click.get_current_context(silent=True)
    source = command.info_name if command is not None and command.info_name else "scan"
    result = ScanResult(errors=[ScanError("", "fatal", str(exc), incomplete=True)])
    buf = io.StringIO()
    get_reporter(fmt)(result, ReportContext(ruleset=Ruleset((), ""), source=source, tool_version=__version__), buf)
    try:
        if output is not None:
            write_atomic(output, buf.getvalue().encode("utf-8"))
        else:
            sys.stdout.write(buf.getvalue())
            sys.stdout.flush()
    except OSError:
        pass  # the error itself is still printed and the exit code is 2


def rule_options(func: F) -> F:
    decorators = [
        click.option("--config", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Config file (default: .leakwarden.toml or [tool.leakwarden] in pyproject.toml, found upwards)."),
        click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file (repeatable)."),
        click.option("--disable-rule", multiple=True, metavar="ID", help="Do not run this rule (repeatable)."),
        click.option("--only-rule", multiple=True, metavar="ID", help="Run only these rules (repeatable)."),
        click.option("--engine", type=click.Choice(["auto", "hyperscan", "python"]), default=None, help="Matching engine (default auto; env LEAKWARDEN_ENGINE)."),
        click.option("--min-confidence", type=click.Choice(["low", "medium", "high"]), default=None, help="Drop findings below this confidence."),
        click.option("--ignore-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Fingerprints to ignore (default: .leakwardenignore)."),
        click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Report only findings missing from this baseline (see `leakwarden baseline create`)."),
        click.option("--store", default=None, metavar="PATH|URL", envvar="LEAKWARDEN_STORE", help="Record this scan in a findings store: an SQLite file or postgresql://... (env LEAKWARDEN_STORE)."),
        click.option("--store-secrets/--no-store-secrets", default=None, help="Keep secrets in the store, encrypted with $LEAKWARDEN_STORE_KEY (hashes only by default)."),
        click.option("--verify/--no-verify", "verify_secrets", default=None, help="Check whether each unique secret is live with its provider (network; off unless this flag or [verify] enabled = true)."),
        click.option("--only-valid", is_flag=True, help="Report only secrets confirmed live (implies --verify)."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def build_settings(start: Path | None, config: Path | None, rule_files: tuple[Path, ...], disable_rule: tuple[str, ...], only_rule: tuple[str, ...], engine: str | None, min_confidence: str | None, ignore_file: Path | None, verify_secrets: bool | None = None, only_valid: bool = False, **overrides: Any) -> Any:
    from leakwarden.config import load_settings

    ctx = click.get_current_context(silent=True)
    # A progress bar on a terminal unless --quiet (progress.py also checks for a TTY).
    overrides.setdefault("progress", not (ctx is not None and ctx.params.get("quiet")))
    settings = load_settings(start, config)
    verify = None
    if verify_secrets is False:
        verify = {**settings.verify, "enabled": False, "only_valid": False}
    elif verify_secrets or only_valid:
        verify = {**settings.verify, "enabled": True, **({"only_valid": True} if only_valid else {})}
    return settings.merged(
        verify=verify,
        extra_rules=(*settings.extra_rules, *rule_files) if rule_files else None,
        disable_rules=(*settings.disable_rules, *disable_rule) if disable_rule else None,
        only_rules=only_rule or None,
        engine=engine,
        min_confidence=min_confidence,
        ignore_file=ignore_file,
        **overrides,
    )


def use_color(output: Path | None) -> bool:
    if output is not None or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def emit_report(result: Any, ruleset: Any, *, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, source: str) -> None:
    """Render the report, write it, print warnings, and exit with the documented code."""
    from leakwarden import __version__
    from leakwarden.fsutil import write_atomic
    from leakwarden.reporters import ReportContext, get_reporter
    from leakwarden.reporters.safe import terminal_text
    from leakwarden.triage import last_found

    last_found.save(result.findings, source)
    ctx = ReportContext(ruleset=ruleset, show_secrets=show_secrets, color=use_color(output) and fmt == "text", source=source, tool_version=__version__)
    shown = not (quiet and fmt == "text" and not result.findings)
    if shown:
        buf = io.StringIO()
        get_reporter(fmt)(result, ctx, buf)
        if output is not None:
            try:
                # a report that holds the secrets is readable by its owner only, like .env
                write_atomic(output, buf.getvalue().encode("utf-8"), mode=0o600 if show_secrets else None)
            except OSError as exc:
                raise LeakwardenError(f"cannot write report to {output}: {exc.strerror}") from None
        else:
            sys.stdout.write(buf.getvalue())
            sys.stdout.flush()
    if fmt != "text" or output is not None:
        for e in result.errors:
            click.echo(f"warning: {terminal_text(e.path)}: {terminal_text(e.message)}", err=True)
    if output is not None:
        n = len(result.findings)
        click.echo(f"{n} finding{'s' if n != 1 else ''}; report written to {output}", err=True)
    code = ExitCode.FINDINGS if result.findings and not exit_zero else ExitCode.CLEAN
    if code is ExitCode.CLEAN and any(e.incomplete for e in result.errors):
        # part of the input could not be read: "nothing found" would be a false all-clear
        if not shown and output is None:
            for e in result.errors:
                if e.incomplete:
                    click.echo(f"warning: {terminal_text(e.path)}: {terminal_text(e.message)}", err=True)
        click.echo("error: the scan is incomplete: part of the input could not be read (see the warnings)", err=True)
        code = ExitCode.ERROR
    sys.exit(int(code))

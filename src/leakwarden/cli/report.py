"""`leakwarden report --store DB --format F`: render the findings store in any report format."""

from __future__ import annotations

import os
from pathlib import Path

import click

from leakwarden.cli.incidents import open_existing, repo_filter, store_option
from leakwarden.cli.options import FORMATS


@click.command()
@store_option
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="html", show_default=True, help="Report format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of standard output.")
@click.option("--status", type=click.Choice(["open", "resolved", "ignored", "false-positive"]), default=None, help="Only incidents in this state.")
@click.option("--repo", default=None, help="Only this repository.")
@click.option("--valid/--not-valid", "valid", default=None, help="Only secrets last checked valid (or not).")
@click.option("--show-secrets", is_flag=True, help="Print secrets in full where the store keeps them encrypted ($LEAKWARDEN_STORE_KEY); an --output file is then made readable by its owner only.")
def report(store_target: str | None, fmt: str, output: Path | None, status: str | None, repo: str | None, valid: bool | None, show_secrets: bool) -> None:
    """Report every occurrence of the incidents in a findings store (exit 0: a report is not a gate)."""
    import io

    from leakwarden import __version__
    from leakwarden.errors import LeakwardenError
    from leakwarden.reporters import ReportContext, get_reporter
    from leakwarden.rules import load_ruleset
    from leakwarden.store.crypto import KEY_ENV
    from leakwarden.store.findings import result_from_store

    ruleset = load_ruleset()
    with open_existing(store_target) as store:
        passphrase = os.environ.get(KEY_ENV) if show_secrets else None
        if show_secrets and not passphrase:
            click.echo(f"note: --show-secrets needs ${KEY_ENV} (the key the secrets were stored with); secrets stay redacted", err=True)
        result = result_from_store(store, ruleset, status=status, repository=repo_filter(repo), valid=valid, passphrase=passphrase)
    ctx = ReportContext(ruleset=ruleset, show_secrets=show_secrets and bool(passphrase), color=False, source="store", tool_version=__version__)
    buf = io.StringIO()
    get_reporter(fmt)(result, ctx, buf)
    if output is None:
        click.echo(buf.getvalue(), nl=False)
        return
    from leakwarden.fsutil import write_atomic

    try:
        write_atomic(output, buf.getvalue().encode("utf-8"), mode=0o600 if ctx.show_secrets else None)
    except OSError as exc:
        raise LeakwardenError(f"cannot write report to {output}: {exc.strerror}") from None
    click.echo(f"{len(result.findings)} finding(s) from the store; report written to {output}", err=True)

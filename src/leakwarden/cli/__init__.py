"""The `leakwarden` command: a click group; errors become exit code 2 with a clear message.

Exit codes: 0 nothing found, 1 findings, 2 usage or runtime error.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from leakwarden import __version__
from leakwarden.cli.lazy import LazyGroup
from leakwarden.errors import ExitCode, LeakwardenError

# name -> "module:attribute"; each command lives in the module that matches its name.
COMMANDS = {
    "scan": "leakwarden.cli.scan:scan",
    "rules": "leakwarden.cli.rules:rules",
    "explain": "leakwarden.cli.explain:explain",
    "remediate": "leakwarden.cli.remediate:remediate",
    "fix": "leakwarden.cli.fix:fix",
    "hooks": "leakwarden.cli.hooks:hooks",
    "baseline": "leakwarden.cli.baseline:baseline",
    "ignore": "leakwarden.cli.ignore:ignore",
    "incidents": "leakwarden.cli.incidents:incidents",
    "report": "leakwarden.cli.report:report",
    "verify": "leakwarden.cli.verify:verify",
    "serve": "leakwarden.cli.serve:serve",
    "monitor": "leakwarden.cli.monitor:monitor",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="leakwarden")
def cli() -> None:
    """Find leaked secrets in code, history, CI and images — and say what to do about them.

    Exit codes: 0 no findings, 1 findings, 2 usage or runtime error, or nothing found while
    part of the target could not be read (a damaged archive or image layer, unreadable git
    objects).
    """


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="leakwarden", standalone_mode=True)
    except LeakwardenError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: never a bare traceback
        if os.environ.get("LEAKWARDEN_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set LEAKWARDEN_DEBUG=1 for a traceback)", err=True)
        sys.exit(int(ExitCode.ERROR))

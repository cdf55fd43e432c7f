"""`leakwarden verify --rule ID`: check one secret read from standard input (never from argv).

Exit codes: 1 the secret is live, 0 it is not (invalid), 3 undetermined, 2 usage or runtime error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_UNKNOWN = 3


@click.command("verify")
@click.option("--rule", "rule_id", required=True, metavar="ID", help="The rule whose check to run (see `leakwarden rules list`).")
@click.option("--related", multiple=True, metavar="NAME=VALUE", help="A value the check needs besides the secret, e.g. site=acme.atlassian.net or email=ops@acme.io (repeatable).")
@click.option("--config", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Config file with a [verify] table (default: found upwards).")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file (repeatable).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format.")
def verify(rule_id: str, related: tuple[str, ...], config: Path | None, rule_files: tuple[Path, ...], fmt: str) -> None:
    """Check whether ONE secret is live. The secret is read from standard input.

    Passing secrets as arguments leaks them into shell history and process lists, so there is
    no argument for it: `leakwarden verify --rule circleci-personal-token < token.txt`, or type
    it at the hidden prompt.

    Exit codes: 1 live (valid), 0 not live (invalid), 3 could not tell (unknown or no check),
    2 usage or runtime error.
    """
    from leakwarden.config import load_settings
    from leakwarden.errors import UsageError
    from leakwarden.rules import load_ruleset
    from leakwarden.triage.ignore import describe_token
    from leakwarden.verifier import check_secret

    values: dict[str, str] = {}
    for item in related:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            # people pass the value alone: then only what it starts with is named
            given = repr(name) if sep else describe_token(item)
            raise UsageError(f"--related expects NAME=VALUE, got {given}")
        values[name.strip()] = value.strip()
    settings = load_settings(None, config)
    settings = settings.merged(extra_rules=(*settings.extra_rules, *rule_files) if rule_files else None)
    rule = load_ruleset(settings.extra_rules).get(rule_id)
    secret = _read_secret()
    validity = check_secret(rule, secret, values, settings)
    if fmt == "json":
        out = {"rule_id": rule.id, "validity": {"state": validity.state.value, "reason": validity.reason, "checked_at": validity.checked_at, "details": validity.details}}
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(f"{rule.id}: {validity.state.value}" + (f" — {validity.reason}" if validity.reason else ""))
        for key, value in validity.details.items():
            click.echo(f"  {key}: {value}")
    code = {"valid": 1, "invalid": 0}.get(validity.state.value, EXIT_UNKNOWN)
    sys.exit(code)


def _read_secret() -> str:
    from leakwarden.errors import UsageError

    if sys.stdin.isatty():
        import getpass

        text = getpass.getpass("secret (hidden): ")
    else:
        raw = sys.stdin.buffer.read(1024 * 1024 + 1)
        if len(raw) > 1024 * 1024:
            raise UsageError("standard input is larger than 1 MiB; pass one secret")
        text = raw.decode("utf-8", "replace")
    # Multi-line secrets (PEM keys, key files) are kept whole; surrounding blank space is not.
    text = text.strip()
    if not text:
        raise UsageError("no secret on standard input (pipe one secret, e.g. `leakwarden verify --rule ID < secret.txt`)")
    return text

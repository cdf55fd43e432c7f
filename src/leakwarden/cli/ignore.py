"""`leakwarden ignore`: accept a secret by fingerprint, with a reason, an author and a date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


@click.command()
@click.argument("fingerprints", nargs=-1)
@click.option("--reason", "-r", required=True, help="Why this secret is acceptable (kept in the file).")
@click.option("--last-found", is_flag=True, help="Ignore every finding of the previous scan.")
@click.option("--file", "ignore_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Ignore file to write (default: ./.leakwardenignore).")
@click.option("--author", default=None, help="Who accepts it (default: git user.name <user.email>, else $USER).")
def ignore(fingerprints: tuple[str, ...], reason: str, last_found: bool, ignore_file: Path | None, author: str | None) -> None:
    """Add FINGERPRINT(s) (64 hex characters, shown in JSON/SARIF reports) to .leakwardenignore."""
    from leakwarden.config import IGNORE_FILE
    from leakwarden.errors import UsageError
    from leakwarden.triage import last_found as lf
    from leakwarden.triage.author import current_author
    from leakwarden.triage.ignore import _FP_RE, add_entries, describe_token, format_entry

    if not reason.strip():
        raise UsageError("--reason must not be empty")
    wanted = [fp.strip().lower() for fp in fingerprints]
    for given, fp in zip(fingerprints, wanted, strict=True):
        if not _FP_RE.match(fp):
            raise UsageError(f"not a finding fingerprint (64 hex characters): {describe_token(given.strip())}; the fingerprint is in JSON/SARIF reports and in a gate's rejection")
    if last_found:
        wanted.extend(item["fingerprint"] for item in lf.load())
    if not wanted:
        raise UsageError("give at least one FINGERPRINT, or --last-found")
    who = author or current_author()
    date = dt.datetime.now(dt.UTC).date().isoformat()
    path = ignore_file or Path(IGNORE_FILE)
    added = add_entries(path, {fp: format_entry(fp, reason, who, date) for fp in dict.fromkeys(wanted)})
    total = len(set(wanted))
    click.echo(f"{path}: {added} fingerprint{'s' if added != 1 else ''} added, {total - added} updated", err=True)

"""`leakwarden incidents list|show|resolve|reopen|assign|status|note`: work the findings store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

DEFAULT_STORE = "~/.leakwarden/findings.db"
LOCAL = "(local)"  # how list/show name the empty repository identity


def repo_filter(repo: str | None) -> str | None:
    """`--repo` as the store keeps it: the "(local)" that list and show print is the empty identity."""
    return "" if repo == LOCAL else repo


def store_option(func: Any) -> Any:
    return click.option(
        "--store", "store_target", default=None, envvar="LEAKWARDEN_STORE", metavar="PATH|URL",
        help=f"Findings store: SQLite file or postgresql:// URL (env LEAKWARDEN_STORE; default {DEFAULT_STORE}).",
    )(func)


def open_existing(target: str | None) -> Any:
    """Open a store that must already exist: reading commands never create an empty one."""
    from leakwarden.errors import UsageError
    from leakwarden.store import open_store

    target = target or DEFAULT_STORE
    if "://" not in target and not Path(target).expanduser().is_file():
        raise UsageError(f"no findings store at {target} (record scans with `leakwarden scan ... --store {target}`)")
    return open_store(target)


@click.group()
def incidents() -> None:
    """Track leaked secrets from discovery to "rotated and verified dead"."""


@incidents.command("list")
@store_option
@click.option("--status", type=click.Choice(["open", "resolved", "ignored", "false-positive"]), default=None, help="Only incidents in this state.")
@click.option("--valid/--not-valid", "valid", default=None, help="Only secrets last checked valid (or not).")
@click.option("--repo", default=None, help="Only incidents seen in this repository (identity as shown by `show`; \"(local)\" for none).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_(store_target: str | None, status: str | None, valid: bool | None, repo: str | None, fmt: str) -> None:
    """List incidents (one per unique secret)."""
    with open_existing(store_target) as store:
        rows = store.list_incidents(status=status, valid=valid, repository=repo_filter(repo))
    if fmt == "json":
        click.echo(json.dumps([_incident_dict(i) for i in rows], indent=2))
        return
    if not rows:
        click.echo("no incidents")
        return
    for i in rows:
        who = f"  → {i.assignee}" if i.assignee else ""
        repos = ", ".join(r or LOCAL for r in i.repositories)
        click.echo(f"#{i.id:<5} {i.status:<14} {i.severity:<8} {i.validity:<11} {i.rule_id}  {i.secret_redacted}  [{i.occurrences} place(s): {repos}]{who}")


def _incident_dict(i: Any) -> dict[str, Any]:
    return {
        "id": i.id, "fingerprint": i.fingerprint, "rule_id": i.rule_id, "rule_name": i.rule_name, "provider": i.provider,
        "severity": i.severity, "secret": i.secret_redacted, "status": i.status, "assignee": i.assignee,
        "validity": i.validity, "first_seen": i.first_seen, "last_seen": i.last_seen, "updated_at": i.updated_at,
        "repositories": list(i.repositories), "occurrences": i.occurrences,
    }


@incidents.command("show")
@click.argument("incident_id", type=int)
@store_option
@click.option("--reveal", is_flag=True, help="Decrypt the stored secret (needs --store-secrets at scan time and $LEAKWARDEN_STORE_KEY).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show(incident_id: int, store_target: str | None, reveal: bool, fmt: str) -> None:
    """Show one incident: every place it was seen, validity history, notes."""
    from leakwarden.store.crypto import KEY_ENV

    with open_existing(store_target) as store:
        d = store.get_incident(incident_id)
        secret = None
        if reveal:
            secret = store.reveal(incident_id, os.environ.get(KEY_ENV, ""))
            if secret is None:
                click.echo("note: this store keeps only a hash of the secret", err=True)
    i = d.incident
    if fmt == "json":
        doc = _incident_dict(i)
        if secret is not None:
            doc["secret"] = secret
        doc["places"] = [o.__dict__ for o in d.occurrences]
        doc["validity_history"] = [{"checked_at": c, "state": s, "reason": r} for c, s, r in d.validity_history]
        doc["notes"] = [{"at": a, "kind": k, "author": w, "body": b} for a, k, w, b in d.notes]
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"incident #{i.id}: {i.rule_name} ({i.rule_id}, {i.provider})")
    click.echo(f"  secret:      {secret if secret is not None else i.secret_redacted}")
    click.echo(f"  fingerprint: {i.fingerprint}")
    click.echo(f"  status:      {i.status}" + (f", assigned to {i.assignee}" if i.assignee else ""))
    click.echo(f"  severity:    {i.severity}   validity: {i.validity}")
    click.echo(f"  first seen:  {i.first_seen}   last seen: {i.last_seen}")
    click.echo("  places:")
    for o in d.occurrences:
        where = o.path or f"<{o.kind}>"
        extra = "".join(f" {k} {v}" for k, v in (("commit", o.commit), ("layer", o.layer)) if v)
        gone = "" if o.present else "  (not in the latest scan)"
        click.echo(f"    {o.repository or LOCAL}: {where}:{o.line}{f':{o.start_column}' if o.start_column else ''}{extra}{gone}")
    if d.validity_history:
        click.echo("  validity checks:")
        for at, state, reason in d.validity_history:
            click.echo(f"    {at}  {state}  {reason}")
    if d.notes:
        click.echo("  history:")
        for at, _kind, author, body in d.notes:
            click.echo(f"    {at}  {author}: {body}")


def _author() -> str:
    from leakwarden.triage.author import current_author

    return current_author()


@incidents.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--note", "-n", required=True, help='What was done, e.g. "rotated, old key revoked".')
@store_option
def resolve(incident_id: int, note: str, store_target: str | None) -> None:
    """Mark an incident resolved (the secret was revoked/rotated)."""
    with open_existing(store_target) as store:
        store.set_status(incident_id, "resolved", note, _author())
    click.echo(f"incident #{incident_id} resolved")


@incidents.command("reopen")
@click.argument("incident_id", type=int)
@click.option("--note", "-n", default="", help="Why it is open again.")
@store_option
def reopen(incident_id: int, note: str, store_target: str | None) -> None:
    """Open an incident again."""
    with open_existing(store_target) as store:
        store.set_status(incident_id, "open", note, _author())
    click.echo(f"incident #{incident_id} reopened")


@incidents.command("status")
@click.argument("incident_id", type=int)
@click.argument("status", type=click.Choice(["open", "resolved", "ignored", "false-positive"]))
@click.option("--note", "-n", default="", help="Why.")
@store_option
def status(incident_id: int, status: str, note: str, store_target: str | None) -> None:
    """Set any status (e.g. false-positive, ignored)."""
    with open_existing(store_target) as store:
        store.set_status(incident_id, status, note, _author())
    click.echo(f"incident #{incident_id}: {status}")


@incidents.command("assign")
@click.argument("incident_id", type=int)
@click.option("--to", "assignee", required=True, help='Who handles it ("" to unassign).')
@store_option
def assign(incident_id: int, assignee: str, store_target: str | None) -> None:
    """Assign an incident to someone."""
    with open_existing(store_target) as store:
        store.assign(incident_id, assignee, _author())
    click.echo(f"incident #{incident_id} assigned to {assignee}" if assignee else f"incident #{incident_id} unassigned")


@incidents.command("note")
@click.argument("incident_id", type=int)
@click.argument("text")
@store_option
def note(incident_id: int, text: str, store_target: str | None) -> None:
    """Add a note to an incident."""
    with open_existing(store_target) as store:
        store.add_note(incident_id, text, _author())
    click.echo(f"note added to incident #{incident_id}")

"""`leakwarden baseline create|update`: accept today's secrets, so only new ones fail a scan."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import click

from leakwarden.cli.options import build_settings, rule_options


@click.group()
def baseline() -> None:
    """Create or refresh a content-keyed baseline (rule + secret hash, never line numbers)."""


def _scan_everything(paths: tuple[Path, ...], rule_opts: dict[str, Any], history: bool = False) -> tuple[Any, list[Path], Any]:
    """Scan with ignore entries and any configured baseline switched off; return (findings,
    roots, settings) so callers can apply the ignore file themselves. With `history`, the git
    history of the repository holding the first path is scanned too, as `scan git` reads it
    (every blob of every ref, deleted files and rewritten history included), so the baseline
    also accepts secrets that are only in old commits."""
    from leakwarden import api

    roots = list(paths or (Path("."),))
    settings = build_settings(roots[0], **rule_opts)
    scan_settings = dataclasses.replace(settings, baseline=None, store=None, ignore_file=Path(os.devnull))
    result = api.scan_paths(roots, scan_settings)
    findings = list(result.findings)
    if history:
        repo = roots[0] if roots[0].is_dir() else roots[0].parent
        findings += api.scan_git(repo, (), scan_settings).findings
    return findings, roots, settings


def _ignored(settings: Any, roots: list[Path]) -> dict[str, Any]:
    from leakwarden.api import _ignore_paths
    from leakwarden.triage.ignore import read_ignore_file

    entries: dict[str, Any] = {}
    for p in _ignore_paths(settings, roots):
        entries.update(read_ignore_file(p))
    return entries


@baseline.command("create")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Baseline file to write (default: .leakwarden-baseline.json).")
@click.option("--force", is_flag=True, help="Overwrite an existing baseline.")
@click.option("--git", "history", is_flag=True, help="Also accept every secret in the git history (all refs, as `scan git` reads it), so `scan git --baseline` passes on today's history.")
@rule_options
def create(paths: tuple[Path, ...], output: Path | None, force: bool, history: bool, **rule_opts: Any) -> None:
    """Scan PATHS (default: .) and record every secret found as accepted. With --git, the
    history of the repository holding PATHS is scanned too."""
    from leakwarden.errors import UsageError
    from leakwarden.triage import baseline as bl
    from leakwarden.triage.post_scan import default_repository

    output = output or Path(bl.DEFAULT_BASELINE)
    if output.exists() and not force:
        raise UsageError(f"{output} exists; use `leakwarden baseline update` or --force")
    findings, roots, settings = _scan_everything(paths, rule_opts, history)
    ignored = _ignored(settings, roots)
    kept = [f for f in findings if f.fingerprint not in ignored]
    new = bl.from_findings(kept, default_repository(roots))
    bl.write(output, new)
    click.echo(f"baseline written to {output}: {len(new)} accepted secret{'s' if len(new) != 1 else ''}", err=True)


@baseline.command("update")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--add-new/--no-add-new", default=True, show_default=True, help="Also accept secrets that are not in the baseline yet.")
@click.option("--git", "history", is_flag=True, help="Also scan the git history: a secret removed from the files but still in a commit stays accepted.")
@rule_options
def update(paths: tuple[Path, ...], add_new: bool, history: bool, **rule_opts: Any) -> None:
    """Re-scan: drop entries no longer seen (stale), keep the rest, report stale ignore entries.

    The baseline file is --baseline (default: .leakwarden-baseline.json). Without --git only
    the files are scanned, so a secret that is only in history any more is pruned.
    """
    from leakwarden.triage import baseline as bl
    from leakwarden.triage.post_scan import default_repository

    target = rule_opts.pop("baseline", None) or Path(bl.DEFAULT_BASELINE)
    rule_opts["baseline"] = None
    old = bl.load(target)
    findings, roots, settings = _scan_everything(paths, rule_opts, history)
    ignored = _ignored(settings, roots)
    seen = {f.fingerprint for f in findings}
    kept = [f for f in findings if f.fingerprint not in ignored]
    repository = default_repository(roots)
    if not add_new:
        kept = [f for f in kept if old.match(bl.finding_key(f, repository)) is not None]
    change = bl.update(old, kept, repository)
    bl.write(target, change.baseline)
    for e in change.pruned:
        click.echo(f"pruned: {e.rule_id} {e.fingerprint[:16]} (no longer found)", err=True)
    stale = sorted(fp for fp in ignored if fp not in seen)
    for fp in stale:
        entry = ignored[fp]
        why = f" ({entry.reason})" if entry.reason else ""
        click.echo(f"stale ignore: {fp[:16]}{why} is no longer found; remove it from the ignore file", err=True)
    click.echo(
        f"baseline {target}: {len(change.baseline)} entries, {len(change.added)} added, {len(change.pruned)} pruned; "
        f"{len(stale)} stale ignore entr{'ies' if len(stale) != 1 else 'y'}",
        err=True,
    )

"""`leakwarden scan git | staged | pre-push | pre-receive | ci`: history and the lifecycle gates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from leakwarden.cli.options import build_settings, emit_report, report_options, rule_options


@click.command("git")
@click.argument("repo", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--range", "rev_range", metavar="A..B", help="Only what these commits add (any `git rev-list` range).")
@click.option("--since-commit", metavar="SHA", help="Only commits after SHA up to HEAD (same as --range SHA..HEAD).")
@click.option("--branch", metavar="NAME", help="Only what is reachable from this branch (or any revision).")
@click.option("--max-file-size", default=None, metavar="SIZE", help="Skip blobs larger than this (default 25MB).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Ignore findings at paths matching this gitignore-style pattern (repeatable).")
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes (default: CPU count).")
@report_options
@rule_options
def git(repo: Path | None, rev_range: str | None, since_commit: str | None, branch: str | None, max_file_size: str | None, exclude: tuple[str, ...], jobs: int | None, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan git history: every blob in the repository once (all refs, deleted files, rewritten
    history), attributed to the commits that introduced it. Without --range/--since-commit/
    --branch every object in the repository is read, including ones no ref reaches any more."""
    from leakwarden import api
    from leakwarden.config import parse_size
    from leakwarden.errors import UsageError

    chosen = [x for x in (rev_range, since_commit, branch) if x]
    if len(chosen) > 1:
        raise UsageError("use only one of --range, --since-commit and --branch")
    revs: tuple[str, ...] = ()
    if rev_range:
        revs = (rev_range,)
    elif since_commit:
        revs = (f"{since_commit}..HEAD",)
    elif branch:
        revs = (branch,)
    settings = build_settings(repo, **rule_opts)
    settings = settings.merged(
        max_file_size=parse_size(max_file_size) if max_file_size else None,
        exclude_paths=(*settings.exclude_paths, *exclude) if exclude else None,
        jobs=jobs,
    )
    detector = api.build_detector(settings)
    result = api.scan_git(repo, revs, settings, detector)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="git")

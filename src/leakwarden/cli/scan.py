"""`leakwarden scan ...`: one subcommand per kind of input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from leakwarden.cli.lazy import LazyGroup
from leakwarden.cli.options import build_settings, emit_report, report_options, rule_options

# Other scan targets register here as "name": "module:attribute".
SCAN_COMMANDS: dict[str, str] = {
    "archive": "leakwarden.cli.scan_artifacts:archive",
    "image": "leakwarden.cli.scan_artifacts:image",
    "npm": "leakwarden.cli.scan_artifacts:npm",
    "pypi": "leakwarden.cli.scan_artifacts:pypi",
    "git": "leakwarden.cli.scan_git:git",
    "staged": "leakwarden.cli.scan_git:staged",
    "pre-push": "leakwarden.cli.scan_git:pre_push",
    "pre-receive": "leakwarden.cli.scan_git:pre_receive",
    "ci": "leakwarden.cli.scan_git:ci",
    "org": "leakwarden.cli.scan_org:org",
    "repos": "leakwarden.cli.scan_org:repos",
}


@click.group(cls=LazyGroup, lazy=SCAN_COMMANDS)
def scan() -> None:
    """Scan files, standard input, git history, images and more for secrets."""


@scan.command("path")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--no-ignore", is_flag=True, help="Also scan files that .gitignore excludes.")
@click.option("--max-file-size", default=None, metavar="SIZE", help="Skip files larger than this (default 25MB; e.g. 500KB, 1GB).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links (off by default).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip paths matching this gitignore-style pattern (repeatable).")
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes for large trees (default: CPU count).")
@click.option("--archives", is_flag=True, help="Also look inside archives (zip, jar, whl, tar.gz, ...) met on the way.")
@report_options
@rule_options
def path(paths: tuple[Path, ...], no_ignore: bool, max_file_size: str | None, follow_symlinks: bool, exclude: tuple[str, ...], jobs: int | None, archives: bool, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan files and folders (respects .gitignore; skips binary files)."""
    from leakwarden import api
    from leakwarden.config import parse_size

    roots = paths or (Path("."),)
    settings = build_settings(roots[0], **rule_opts)
    settings = settings.with_excludes(exclude).merged(
        respect_gitignore=False if no_ignore else None,
        max_file_size=parse_size(max_file_size) if max_file_size else None,
        follow_symlinks=True if follow_symlinks else None,
        jobs=jobs,
        scan_archives=True if archives else None,
    )
    detector = api.build_detector(settings)
    result = api.scan_paths(roots, settings, detector)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="path")


@scan.command("stdin")
@click.option("--label", default="<stdin>", help="Name to show as the path in reports.")
@report_options
@rule_options
def stdin(label: str, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan standard input (e.g. a CI log: `cat build.log | leakwarden scan stdin`)."""
    import sys

    from leakwarden import api
    from leakwarden.errors import UsageError

    if sys.stdin is None or getattr(sys.stdin, "buffer", None) is None:  # started with stdin closed (`<&-`)
        raise UsageError("standard input is closed: pipe something in (`... | leakwarden scan stdin`) or use `scan path`")
    settings = build_settings(None, **rule_opts)
    detector = api.build_detector(settings)
    try:
        result = api.scan_stream(sys.stdin.buffer, label, settings, detector)
    except OSError as exc:  # e.g. a descriptor opened for writing only
        raise UsageError(f"cannot read standard input: {exc.strerror or exc}") from None
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="stdin")

"""`leakwarden scan org | repos`: every repository of an org, or of a list, in parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from leakwarden.cli.options import build_settings, emit_report, report_options, rule_options


def _org_options(func: Any) -> Any:
    decorators = [
        click.option("--engine", "run_engine", default="local", show_default=True, metavar="local[:N]|dask://HOST:PORT", help="Where to run: a process pool here (local:8) or a Dask scheduler (dask://host:8786, dask+tls://host:8786)."),
        click.option("--max-file-size", default=None, metavar="SIZE", help="Skip (and do not download) blobs larger than this (default 25MB)."),
        click.option("--max-occurrences", type=click.IntRange(0), default=10, show_default=True, help="Other places a secret occurs to list with each finding."),
        click.option("--retries", type=click.IntRange(0), default=2, show_default=True, help="Run a repository again this many times when its worker dies."),
        click.option("--matcher", type=click.Choice(["auto", "hyperscan", "python"]), default=None, help="Matching engine (default auto)."),
    ]
    # `--engine` here says where repositories are scanned; the matcher choice is `--matcher`.
    func.__click_params__ = [p for p in getattr(func, "__click_params__", []) if p.name != "engine"]
    for d in reversed(decorators):
        func = d(func)
    return func


def _run(locations: list[tuple[str, str]], run_engine: str, max_file_size: str | None, max_occurrences: int, retries: int, matcher: str | None, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, rule_opts: dict[str, Any]) -> None:
    import sys

    from leakwarden import api
    from leakwarden.config import parse_size
    from leakwarden.errors import ExitCode, UsageError
    from leakwarden.org.run import print_summary, run_org_scan

    settings = build_settings(None, engine=matcher, **rule_opts)
    if settings.store_secrets and settings.store is None:
        raise UsageError("--store-secrets needs --store (values are sealed in the findings store)")
    settings = settings.merged(max_file_size=parse_size(max_file_size) if max_file_size else None)
    detector = api.build_detector(settings)
    result, summary = run_org_scan(locations, settings, detector, engine=run_engine, store=settings.store, occurrence_cap=max_occurrences, retries=retries, show_secrets=show_secrets)
    if not quiet or summary.failed:
        print_summary(summary)
    try:
        emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="git")
    except SystemExit as done:
        # No findings but repositories that could not be scanned: not a clean result.
        if done.code == ExitCode.CLEAN and summary.failed and not exit_zero:
            sys.exit(int(ExitCode.ERROR))
        raise


@click.command("org")
@click.argument("target", metavar="PLATFORM:NAME")
@click.option("--include-subgroups", is_flag=True, help="GitLab: also the projects of every subgroup.")
@click.option("--no-forks", is_flag=True, help="Skip forks.")
@click.option("--no-archived", is_flag=True, help="Skip archived repositories.")
@click.option("--max-size", default=None, metavar="SIZE", help="Skip repositories larger than this, as the platform reports (e.g. 2GB).")
@_org_options
@report_options
@rule_options
def org(target: str, include_subgroups: bool, no_forks: bool, no_archived: bool, max_size: str | None, run_engine: str, max_file_size: str | None, max_occurrences: int, retries: int, matcher: str | None, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan every repository of an org: github:ORG (or a user), github-app:[ACCOUNT] (every
    repository a GitHub App's installations can read), gitlab:GROUP, bitbucket:WORKSPACE,
    bitbucket-dc:PROJECT. Tokens come from the environment (GITHUB_TOKEN, GITLAB_TOKEN,
    BITBUCKET_TOKEN, BITBUCKET_DC_TOKEN; for an App LEAKWARDEN_GITHUB_APP_ID and
    LEAKWARDEN_GITHUB_APP_KEY_FILE; see docs/org-scans.md), never from the command line.
    With --store, repositories whose branches and tags did not move since the last scan are
    skipped, and an interrupted scan resumes where it stopped."""
    from leakwarden.config import load_settings, parse_size
    from leakwarden.org.enumerate import RepoFilter, enumerate_repos

    config = load_settings(None, rule_opts.get("config")).org
    repo_filter = RepoFilter(forks=not no_forks, archived=not no_archived, max_size=parse_size(max_size) if max_size else None)
    refs = enumerate_repos(target, include_subgroups=include_subgroups, repo_filter=repo_filter, config=config)
    if not quiet:
        click.echo(f"{target}: {len(refs)} repositories to consider", err=True)
    _run([(r.clone_url, r.platform) for r in refs], run_engine, max_file_size, max_occurrences, retries, matcher, fmt, output, show_secrets, exit_zero, quiet, rule_opts)


@click.command("repos")
@click.option("--from", "from_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="File with one clone URL or local repository path per line (# comments).")
@_org_options
@report_options
@rule_options
def repos(from_file: Path, run_engine: str, max_file_size: str | None, max_occurrences: int, retries: int, matcher: str | None, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan every repository listed in a file (clone URLs or local paths), like `scan org`."""
    from leakwarden.org.run import read_repo_list

    base = from_file.resolve().parent
    locations = []
    for line in read_repo_list(from_file):
        from leakwarden.org.worker import is_local

        if is_local(line) and not Path(line).expanduser().is_absolute():
            line = str(base / line)
        locations.append((line, ""))
    _run(locations, run_engine, max_file_size, max_occurrences, retries, matcher, fmt, output, show_secrets, exit_zero, quiet, rule_opts)

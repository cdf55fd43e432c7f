"""`leakwarden hooks install | uninstall`: git hooks that run the staged and pre-push scans."""

from __future__ import annotations

from pathlib import Path

import click

_MESSAGES = {
    "installed": "installed",
    "updated": "updated (was already a leakwarden hook)",
    "chained": "installed; the existing hook was kept as {chained} and runs first",
    "removed": "removed",
    "restored": "removed; the previous hook was restored",
    "absent": "not installed, nothing to do",
    "foreign": "left alone: not a leakwarden hook",
}


@click.group()
def hooks() -> None:
    """Install or remove git hooks (pre-commit: `scan staged`, pre-push: `scan pre-push`)."""


def _names(pre_commit: bool, pre_push: bool) -> tuple[str, ...]:
    if not pre_commit and not pre_push:
        return ("pre-commit", "pre-push")
    return tuple(n for n, on in (("pre-commit", pre_commit), ("pre-push", pre_push)) if on)


def _common(func):  # type: ignore[no-untyped-def]
    func = click.option("--repo", "-C", type=click.Path(file_okay=False, path_type=Path), default=None, help="Repository (default: the one git finds from here).")(func)
    func = click.option("--global", "global_install", is_flag=True, help="Use the global hooks folder (git config --global core.hooksPath) for every repository.")(func)
    func = click.option("--pre-push", is_flag=True, help="Only the pre-push hook.")(func)
    func = click.option("--pre-commit", is_flag=True, help="Only the pre-commit hook.")(func)
    return func


@hooks.command("install")
@_common
def install(pre_commit: bool, pre_push: bool, global_install: bool, repo: Path | None) -> None:
    """Write the hooks (both unless --pre-commit or --pre-push). An existing hook is kept and
    chained, never overwritten; core.hooksPath is honoured."""
    from leakwarden.integrations.hooks import CHAINED_SUFFIX
    from leakwarden.integrations.hooks import install as do_install

    for change in do_install(_names(pre_commit, pre_push), repo, global_install=global_install):
        msg = _MESSAGES[change.action].format(chained=change.path.name + CHAINED_SUFFIX)
        click.echo(f"{change.name}: {change.path}: {msg}")


@hooks.command("uninstall")
@_common
def uninstall(pre_commit: bool, pre_push: bool, global_install: bool, repo: Path | None) -> None:
    """Remove leakwarden's hooks and restore the hooks they replaced."""
    from leakwarden.integrations.hooks import uninstall as do_uninstall

    for change in do_uninstall(_names(pre_commit, pre_push), repo, global_install=global_install):
        click.echo(f"{change.name}: {change.path}: {_MESSAGES[change.action]}")

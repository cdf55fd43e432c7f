"""`leakwarden hooks install | uninstall`: git hooks that run the staged and pre-push scans."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from leakwarden.integrations.hooks import HookChange

_MESSAGES = {
    "installed": "installed",
    "updated": "updated (was already a leakwarden hook)",
    "chained": "installed; the existing hook was kept as {chained} and runs first",
    "removed": "removed",
    "restored": "removed; the previous hook was restored",
    "absent": "not installed, nothing to do",
    "foreign": "left alone: not a leakwarden hook",
}


def _echo(changes: list[HookChange], chained_suffix: str = "") -> None:
    """One line per leakwarden hook; the global pass-throughs summed up in one line."""
    grouped: dict[str, list[HookChange]] = {}
    for change in changes:
        if change.action in ("passthrough", "foreign-passthrough", "passthrough-removed"):
            grouped.setdefault(change.action, []).append(change)
            continue
        msg = _MESSAGES[change.action].format(chained=change.path.name + chained_suffix)
        click.echo(f"{change.name}: {change.path}: {msg}")
    if grouped.get("passthrough"):
        folder = grouped["passthrough"][0].path.parent
        click.echo(f"{len(grouped['passthrough'])} pass-through hooks in {folder}: each runs the repository's own hooks/<name> (commit-msg, post-checkout, ...)")
    if grouped.get("foreign-passthrough"):
        click.echo(f"left alone (your own global hooks): {', '.join(c.name for c in grouped['foreign-passthrough'])}")
    if grouped.get("passthrough-removed"):
        click.echo(f"{len(grouped['passthrough-removed'])} pass-through hooks removed")


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
    chained, never overwritten; core.hooksPath is honoured. With --global, every other hook git
    knows gets a pass-through that runs the repository's own hooks/<name>."""
    from leakwarden.integrations.hooks import CHAINED_SUFFIX
    from leakwarden.integrations.hooks import install as do_install

    _echo(do_install(_names(pre_commit, pre_push), repo, global_install=global_install), CHAINED_SUFFIX)


@hooks.command("uninstall")
@_common
def uninstall(pre_commit: bool, pre_push: bool, global_install: bool, repo: Path | None) -> None:
    """Remove leakwarden's hooks and restore the hooks they replaced."""
    from leakwarden.integrations.hooks import uninstall as do_uninstall

    _echo(do_uninstall(_names(pre_commit, pre_push), repo, global_install=global_install))

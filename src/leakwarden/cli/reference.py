"""Render every command's `--help` as one Markdown page: `python -m leakwarden.cli.reference`.

docs/cli.md is this output; a test regenerates it and fails when the two differ, so the page
cannot drift from the code.
"""

from __future__ import annotations

import sys

import click

from leakwarden.cli import cli

HEADER = """# Command reference

Generated from `--help` by `python -m leakwarden.cli.reference > docs/cli.md`; do not edit by hand.
Exit codes everywhere: 0 nothing found, 1 findings, 2 usage or runtime error (or nothing found
while part of the target could not be read).
"""


def _walk(command: click.Command, ctx: click.Context, path: list[str]) -> list[str]:
    out = [f"\n## `{' '.join(path)}`\n", "```text", command.get_help(ctx).rstrip(), "```"]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            out += _walk(sub, click.Context(sub, info_name=name, parent=ctx, max_content_width=100, terminal_width=100), [*path, name])
    return out


def render() -> str:
    settings = {**cli.context_settings, "max_content_width": 100, "terminal_width": 100}
    ctx = click.Context(cli, info_name="leakwarden", **settings)
    return HEADER + "\n".join(_walk(cli, ctx, ["leakwarden"])) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

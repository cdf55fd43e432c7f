"""`leakwarden fix PATH`: move hardcoded secrets into a git-ignored .env and read them from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from leakwarden.errors import ExitCode


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", "-n", is_flag=True, help="Show the diff and what would be written; change nothing.")
@click.option("--show-secrets", is_flag=True, help="Show secret values in the diff (redacted by default).")
@click.option("--no-ignore", is_flag=True, help="Also look at files that .gitignore excludes.")
def fix(paths: tuple[Path, ...], dry_run: bool, show_secrets: bool, no_ignore: bool) -> None:
    """Rewrite hardcoded secrets into environment lookups (Python, JS/TS, Go, Java, Ruby, shell, YAML/CI).

    The values go into the project's .env (git-ignored; created with mode 0600) and a placeholder
    into .env.example. A file that changed since the scan is left alone. Dockerfiles and files of
    other kinds get guidance instead of a rewrite.

    Exit codes: 0 nothing left to fix, 1 changes pending (--dry-run) or findings that need a hand,
    2 error.
    """
    from leakwarden.remediation.fix import ENV_FILE, apply_fixes, env_needs, plan_fixes, read_env

    roots = paths or (Path("."),)
    plan = plan_fixes(roots, respect_gitignore=not no_ignore)
    secrets = plan.secrets
    echo = click.echo
    changed = [fp for fp in plan.files if fp.changed]
    for fp in changed:
        sys.stdout.write(fp.diff(secrets, show_secrets))
    verb = "would add" if dry_run else "adding"
    for folder, names in env_needs(plan, changed).items():
        known = read_env(folder / ENV_FILE)
        new = [n for n in names if n in plan.env and n not in known]
        if new:
            echo(f"{verb} to {folder / ENV_FILE}: {', '.join(new)} (values not shown)", err=True)
    for fp in plan.files:
        for note in fp.notes:
            echo(f"note: {fp.display}: {note}", err=True)
        for fx in fp.fixes:
            if not fx.fixed:
                echo(f"manual: {fp.display}:{fx.line}: {fx.rule_id}: {fx.message}", err=True)
    for e in plan.errors:
        echo(f"warning: {e.path}: {e.message}", err=True)
    pending = bool(changed)
    if dry_run:
        echo(f"dry run: {len(changed)} file(s) would change; nothing written", err=True)
    elif changed:
        result = apply_fixes(plan)
        for m in result.messages:
            echo(m, err=True)
        rewritten = [w for w in result.written if w in {fp.display for fp in changed}]
        echo(f"rewrote {len(rewritten)} file(s); refused {len(result.refused)}", err=True)
        pending = bool(result.refused)
        if rewritten:
            echo("next: rotate each secret anyway if it was ever committed or shared (`leakwarden explain RULE_ID`)", err=True)
    if not plan.files:
        echo("no hardcoded secrets found", err=True)
    sys.exit(int(ExitCode.FINDINGS if pending or plan.unfixed else ExitCode.CLEAN))

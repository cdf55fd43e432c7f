"""`leakwarden rules list|show|check`: what leakwarden detects, and a linter for rule files."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click


def _load(rule_files: tuple[Path, ...], config: Path | None):  # type: ignore[no-untyped-def]
    from leakwarden.config import load_settings
    from leakwarden.rules import load_ruleset

    settings = load_settings(None, config)
    return load_ruleset((*settings.extra_rules, *rule_files), settings.disable_rules)


_rules_file_option = click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file (repeatable).")
_config_option = click.option("--config", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Config file.")


@click.group()
def rules() -> None:
    """List, show and check detection rules."""


@rules.command("list")
@click.option("--provider", multiple=True, help="Only rules of this provider id (repeatable).")
@click.option("--tag", multiple=True, help="Only rules with this tag (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="Include helper rules that only feed other rules.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text")
@_rules_file_option
@_config_option
def list_rules(provider: tuple[str, ...], tag: tuple[str, ...], show_all: bool, fmt: str, rule_files: tuple[Path, ...], config: Path | None) -> None:
    """List rules with their provider, severity and tags; prints counts at the end."""
    ruleset = _load(rule_files, config)
    selected = [
        r
        for r in ruleset.rules
        if (show_all or r.visible)
        and (not provider or r.provider in provider)
        and (not tag or set(tag) & set(r.tags))
    ]
    providers = Counter(r.provider for r in selected)
    if fmt == "json":
        json.dump(
            {
                "rules": [
                    {"id": r.id, "name": r.name, "provider": r.provider, "severity": r.severity.value, "confidence": r.confidence.value, "tags": list(r.tags), "verify": r.verify.get("kind", "none")}
                    for r in selected
                ],
                "counts": {"rules": len(selected), "providers": len(providers)},
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return
    width = max((len(r.id) for r in selected), default=10)
    for r in sorted(selected, key=lambda r: (r.provider, r.id)):
        tags = ",".join(r.tags)
        click.echo(f"{r.id:<{width}}  {r.severity.value:<8}  {r.provider:<18}  {r.name}  [{tags}]")
    click.echo(f"\n{len(selected)} rules from {len(providers)} providers")


@rules.command("show")
@click.argument("rule_id")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text")
@_rules_file_option
@_config_option
def show(rule_id: str, fmt: str, rule_files: tuple[Path, ...], config: Path | None) -> None:
    """Show one rule: pattern, gates, examples and playbook summary."""
    ruleset = _load(rule_files, config)
    r = ruleset.get(rule_id)
    if fmt == "json":
        data = {
            "id": r.id, "name": r.name, "provider": r.provider, "description": r.description,
            "severity": r.severity.value, "confidence": r.confidence.value, "tags": list(r.tags),
            "pattern": r.pattern, "keywords": list(r.keywords), "min_entropy": r.min_entropy,
            "checksum": r.checksum, "analyzer": r.analyzer,
            "context": {"keywords": list(r.context.keywords), "within_lines": r.context.within_lines} if r.context else None,
            "requires": [{"rule": q.rule, "as": q.name, "within_lines": q.within_lines} for q in r.requires],
            "verify": r.verify, "playbook": r.playbook, "references": list(r.references), "file": r.file,
        }
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    lines = [
        f"{r.id} — {r.name}",
        f"  provider:    {r.provider_name} ({r.provider})",
        f"  severity:    {r.severity.value}   confidence: {r.confidence.value}",
        f"  tags:        {', '.join(r.tags) or '-'}",
        f"  description: {r.description}",
        f"  pattern:     {r.pattern}",
        f"  keywords:    {', '.join(r.keywords) or '-'}",
    ]
    if r.min_entropy:
        lines.append(f"  entropy:     >= {r.min_entropy} bits/char")
    if r.checksum:
        lines.append(f"  checksum:    {r.checksum}")
    if r.context:
        lines.append(f"  context:     one of {', '.join(r.context.keywords)} within {r.context.within_lines} lines")
    for q in r.requires:
        lines.append(f"  related:     {q.name} from rule {q.rule} within {q.within_lines} lines")
    lines.append(f"  validity:    {r.verify.get('kind', 'none')}" + (f" ({r.verify.get('url')})" if r.verify.get("url") else ""))
    lines.append(f"  env var:     {r.env_var}")
    if r.playbook.get("revoke_url"):
        lines.append(f"  revoke at:   {r.playbook['revoke_url']}")
    lines.append(f"  defined in:  {r.file}")
    lines.append(f"  examples:    {len(r.examples)}, negative examples: {len(r.negative_examples)}")
    lines.append(f"\nFull playbook: leakwarden explain {r.id}")
    click.echo("\n".join(lines))


@rules.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--warnings-as-errors", is_flag=True)
def check(files: tuple[Path, ...], warnings_as_errors: bool) -> None:
    """Lint rules: both engines compile; examples are found, negatives are not; playbooks complete.

    With FILES, checks those rule files (with the built-in rules loaded beside them).
    """
    from leakwarden.rules.lint import lint

    ruleset = _load(files, None)
    only = {r.id for r in ruleset.rules if r.file in {str(f) for f in files}} if files else None
    errors, warnings = lint(ruleset, only)
    for msg in errors:
        click.echo(f"error: {msg}", err=True)
    for msg in warnings:
        click.echo(f"warning: {msg}", err=True)
    checked = len(only) if only is not None else len(ruleset.rules)
    click.echo(f"{checked} rules checked: {len(errors)} errors, {len(warnings)} warnings")
    if errors or (warnings_as_errors and warnings):
        sys.exit(2)

"""`leakwarden explain RULE_ID`: the full remediation playbook of one secret type."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from leakwarden.errors import LeakwardenError

LANG_CHOICES = ("python", "node", "go", "java", "ruby")
STORE_CHOICES = ("env", "aws", "vault", "conjur")


def load_rules_for(rule_files: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    from leakwarden.rules import load_ruleset

    return load_ruleset(tuple(rule_files))


def find_rule(ruleset, rule_id: str):  # type: ignore[no-untyped-def]
    rule = ruleset.by_id.get(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, list(ruleset.by_id), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else " List them with `leakwarden rules list`."
        raise LeakwardenError(f"unknown rule {rule_id!r}.{hint}")
    return rule


def write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from leakwarden.remediation.files import write_atomic

    try:
        write_atomic(output, text.encode("utf-8"))
    except OSError as exc:
        raise LeakwardenError(f"cannot write {output}: {exc.strerror}") from None


@click.command()
@click.argument("rule_id")
@click.option("--lang", type=click.Choice(LANG_CHOICES), help="Show code snippets for this language only (default: all).")
@click.option("--store", type=click.Choice(STORE_CHOICES), help="Show snippets for this secret store only (default: all).")
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of standard output.")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file (repeatable).")
def explain(rule_id: str, lang: str | None, store: str | None, fmt: str, output: Path | None, rule_files: tuple[Path, ...]) -> None:
    """Explain a secret type: what it is, how to check for abuse, rotate it safely and stop hardcoding it."""
    from leakwarden.remediation import playbook

    rule = find_rule(load_rules_for(rule_files), rule_id)
    pb = playbook.build(rule, langs=[lang] if lang else playbook.LANGS, stores=[store] if store else playbook.STORES)
    if fmt == "json":
        text = json.dumps(pb.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = playbook.render_html(pb)
    else:
        text = playbook.render_markdown(pb)
    write_output(text, output)

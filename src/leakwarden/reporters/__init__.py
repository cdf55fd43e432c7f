"""Render the same list of findings in one format each; reporters compute nothing themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from leakwarden.models import ScanResult
from leakwarden.rules import Ruleset


@dataclass(frozen=True)
class ReportContext:
    ruleset: Ruleset
    show_secrets: bool = False
    color: bool = False
    source: str = "path"  # what was scanned: path, stdin, git, ...
    tool_version: str = ""


Reporter = Callable[[ScanResult, ReportContext, IO[str]], None]


def _load() -> dict[str, Reporter]:
    from leakwarden.reporters import csv_report, gitlab, html, json_report, junit, sarif, text

    return {
        "text": text.render,
        "json": json_report.render,
        "jsonl": json_report.render_lines,
        "sarif": sarif.render,
        "csv": csv_report.render,
        "junit": junit.render,
        "gitlab": gitlab.render,
        "html": html.render,
    }


REPORTER_NAMES = ("text", "json", "jsonl", "sarif", "csv", "junit", "gitlab", "html")


def get_reporter(name: str) -> Reporter:
    """The reporter for a format; every one gets a result whose names it can write (`safe`)."""
    from leakwarden.reporters.safe import clean_result

    render = _load()[name]

    def safe_render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
        render(clean_result(result), ctx, out)

    return safe_render

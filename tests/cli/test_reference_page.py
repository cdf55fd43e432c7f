"""docs/cli.md is generated from the commands' --help; it must match the code."""

from __future__ import annotations

from pathlib import Path

from leakwarden.cli.reference import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_page_is_current() -> None:
    page = render()
    assert "## `leakwarden scan git`" in page and "## `leakwarden incidents resolve`" in page
    assert PAGE.read_text(encoding="utf-8") == page, "regenerate: python -m leakwarden.cli.reference > docs/cli.md"

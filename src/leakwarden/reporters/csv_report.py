"""CSV for spreadsheets: one row per finding, a fixed header, formula injection neutralised."""

from __future__ import annotations

import csv
from typing import IO

from leakwarden.models import ScanResult
from leakwarden.reporters import ReportContext
from leakwarden.reporters.rows import COLUMNS, finding_row

# NOTE: a cell starting with one of these runs as a formula in Excel/LibreOffice/Sheets;
# file paths and secrets are attacker-controlled, so such cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in result.findings:
        row = finding_row(f, ctx)
        writer.writerow([_cell(row[c]) for c in COLUMNS])

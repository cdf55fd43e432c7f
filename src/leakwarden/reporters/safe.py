"""Names every report can carry: bytes that are not UTF-8, and control characters on a terminal.

File names (and git paths, commit authors, archive members) are bytes; leakwarden keeps the
bytes that are not valid UTF-8 as lone surrogates (Python's `surrogateescape`), which no UTF-8
writer accepts. Before any report is rendered, `clean_result` turns each such byte into the four
characters `\\xNN` (its hex value): the report stays valid in every format, valid non-ASCII
names are kept as they are, and the original bytes can still be read off the name (a real
backslash followed by `x` in a name is rare enough not to be confused with it).

The text report goes to terminals: there `terminal_text` also shows control characters (a
newline, ESC, ...) as `\\n`, `\\x1b`, so a name cannot split a location line or drive the
terminal. Structured formats (JSON, SARIF, CSV, XML) escape control characters themselves.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from leakwarden.models import Finding, ScanError, ScanResult

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _byte(m: re.Match[str]) -> str:
    code = ord(m.group())
    # surrogateescape keeps byte 0xNN as U+DCNN; any other lone surrogate is not a byte at all
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def clean_text(text: str) -> str:
    """`text` with each undecodable byte written as `\\xNN` (valid non-ASCII text unchanged)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(_byte, text)


def terminal_text(text: str) -> str:
    """`clean_text`, plus control characters written as escapes: safe to print on a terminal."""
    text = clean_text(text)
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    return value


def _clean_finding(f: Finding) -> Finding:
    loc = f.location
    location = replace(loc, path=_clean(loc.path), extra=_clean(loc.extra))
    return replace(f, location=location, line=_clean(f.line), details=_clean(f.details), rule_name=_clean(f.rule_name), decoded=_clean(f.decoded))


def clean_result(result: ScanResult) -> ScanResult:
    """A copy of `result` whose strings every format can write (see the module docstring)."""
    return replace(
        result,
        findings=[_clean_finding(f) for f in result.findings],
        errors=[ScanError(clean_text(e.path), e.kind, clean_text(e.message), e.incomplete) for e in result.errors],
    )

"""`.leakwardenignore`: one secret fingerprint per line, with an optional comment.

Entries are content fingerprints (rule id + secret hash), never positions, so a different
secret on an ignored line is still reported. Lines look like:

    3f2a...e9  # 2026-11-24 alice <alice@example.com>: test fixture

`leakwarden ignore` writes the comment as `DATE AUTHOR: REASON`; older lines with a free comment
(or none) are still read, their comment kept as the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from leakwarden.errors import ConfigError, LeakwardenError

_FP_RE = re.compile(r"^[0-9a-f]{64}$")
_COMMENT_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<author>[^:]+?): (?P<reason>.*)$")


def describe_token(text: str) -> str:
    """How an error names a string that is not a fingerprint: people paste the secret itself
    there, so only its first 4 characters and its length, e.g. "'ghp_…' (40 characters)"."""
    return f"{text[:4]!r}… ({len(text)} character{'s' if len(text) != 1 else ''})" if len(text) > 4 else f"({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    fingerprint: str
    comment: str = ""

    @property
    def date(self) -> str:
        m = _COMMENT_RE.match(self.comment)
        return m.group("date") if m else ""

    @property
    def author(self) -> str:
        m = _COMMENT_RE.match(self.comment)
        return m.group("author") if m else ""

    @property
    def reason(self) -> str:
        m = _COMMENT_RE.match(self.comment)
        return m.group("reason") if m else self.comment


def format_entry(fingerprint: str, reason: str, author: str, date: str) -> str:
    """One line of the ignore file; newlines and '#' in the reason cannot break the format."""
    clean = " ".join(reason.replace("#", "").split())
    who = " ".join(author.replace("#", "").replace(":", "").split()) or "unknown"
    return f"{fingerprint}  # {date} {who}: {clean}"


def add_entries(path: Path, lines: dict[str, str]) -> int:
    """Add (or replace) entries keyed by fingerprint, keeping every other line as it was.

    Returns how many fingerprints were new. The file is rewritten atomically.
    """
    read_ignore_file(path)  # refuse to rewrite a file we cannot parse
    try:
        existing = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        existing = []
    out: list[str] = []
    pending = dict(lines)
    for raw in existing:
        token = raw.partition("#")[0].strip()
        if token in pending:
            out.append(pending.pop(token))
        else:
            out.append(raw)
    added = len(pending)
    out.extend(pending[fp] for fp in sorted(pending))
    from leakwarden.fsutil import write_atomic

    try:
        write_atomic(path, ("\n".join(out) + "\n").encode("utf-8"))
    except OSError as exc:
        raise LeakwardenError(f"cannot write {path}: {exc.strerror or exc}") from None
    return added


def read_ignore_file(path: Path) -> dict[str, IgnoreEntry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ignore file: {exc}") from None
    entries: dict[str, IgnoreEntry] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line, _, comment = raw.partition("#")
        token = line.strip()
        if not token:
            continue
        if not _FP_RE.match(token):
            raise ConfigError(f"{path}:{n}: not a finding fingerprint (64 hex characters): {describe_token(token)}")
        entries[token] = IgnoreEntry(token, comment.strip())
    return entries

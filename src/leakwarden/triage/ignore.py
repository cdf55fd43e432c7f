"""`.leakwardenignore`: one secret fingerprint per line, with an optional comment.

Entries are content fingerprints (rule id + secret hash), never positions, so a different
secret on an ignored line is still reported. Lines look like:

    3f2a...e9  # 2026-11-24 alice: test fixture
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from leakwarden.errors import ConfigError

_FP_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    fingerprint: str
    comment: str = ""


def read_ignore_file(path: Path) -> dict[str, IgnoreEntry]:
    try:
        text = path.read_text(encoding="utf-8")
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
            raise ConfigError(f"{path}:{n}: not a finding fingerprint (64 hex characters): {token[:40]!r}")
        entries[token] = IgnoreEntry(token, comment.strip())
    return entries

"""Record that someone skipped a leakwarden git hook, and why, so a review can find it later.

Bypasses go to the findings store when one is configured (`$LEAKWARDEN_STORE` or the
`store` argument), and to a JSON Lines log in the cache folder, which needs no setup. The git
gates (`cli/scan_git.py`) keep their own log in the git folder and add the store record here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from leakwarden.cache import cache_dir
from leakwarden.errors import LeakwardenError, UsageError

LOG_NAME = "bypasses.jsonl"


def bypass_log_path() -> Path:
    return cache_dir() / LOG_NAME


def record_bypass(reason: str, context: dict[str, Any] | None = None, *, store: str | None = None, author: str | None = None, log: bool = True) -> dict[str, Any]:
    """Append a bypass record (reason, author, time, context) and return it.

    Args:
        reason: why the hook was skipped; required, a bypass without one is refused.
        context: what was skipped, e.g. {"hook": "pre-commit", "fingerprints": [...]}.
            Fingerprints only: the caller must not put secret values here.
        store: findings store path/URL; defaults to $LEAKWARDEN_STORE when set.
        author: defaults to the git identity or login name.
        log: also append to the cache-folder log (callers with a log of their own pass False).
    """
    from leakwarden.triage.author import current_author

    reason = " ".join((reason or "").split())
    if not reason:
        raise UsageError("a hook bypass needs a reason")
    record: dict[str, Any] = {
        "reason": reason,
        "author": author or current_author(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "context": dict(context or {}),
    }
    path = bypass_log_path()
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    if log:
        _append(path, line)
    target = store or os.environ.get("LEAKWARDEN_STORE")
    if target:
        from leakwarden.store import open_store

        with open_store(target) as st:
            record["store_id"] = st.record_bypass(reason, record["context"], record["author"])
    return record


def _append(path: Path, line: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # NOTE: one O_APPEND write per record, so concurrent hooks never interleave lines.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise LeakwardenError(f"cannot record the bypass in {path}: {exc.strerror or exc}") from None


def read_bypass_log() -> list[dict[str, Any]]:
    try:
        text = bypass_log_path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]

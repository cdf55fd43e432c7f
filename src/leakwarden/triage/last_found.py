"""Remember the fingerprints of the latest CLI scan, so `ignore --last-found` can accept them.

Kept in the cache folder (hashes and rule ids only, never a secret), written atomically.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from leakwarden.cache import cache_dir, write_atomic
from leakwarden.errors import LeakwardenError
from leakwarden.models import Finding
from leakwarden.triage.ignore import _FP_RE

FILE_NAME = "last-found.json"


def last_found_path() -> Path:
    return cache_dir() / FILE_NAME


def save(findings: Iterable[Finding], source: str) -> None:
    entries = sorted({(f.fingerprint, f.rule_id, f.location.display()) for f in findings})
    by_fp: dict[str, dict[str, str]] = {}
    for fp, rule_id, where in entries:
        by_fp.setdefault(fp, {"fingerprint": fp, "rule_id": rule_id, "where": where})
    doc = {
        "version": 1,
        "source": source,
        "cwd": str(Path.cwd()),
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "findings": list(by_fp.values()),
    }
    write_atomic(last_found_path(), json.dumps(doc, indent=2, sort_keys=True).encode("utf-8"))


def load() -> list[dict[str, str]]:
    path = last_found_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LeakwardenError("no previous scan recorded: run a scan first, then `leakwarden ignore --last-found`") from None
    except (OSError, ValueError) as exc:
        raise LeakwardenError(f"{path}: cannot read the previous scan's findings: {exc}") from None
    items = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise LeakwardenError(f"{path}: unexpected content; run the scan again")
    found = [i for i in items if isinstance(i, dict) and isinstance(i.get("fingerprint"), str)]
    if len(found) < len(items) or not all(_FP_RE.match(i["fingerprint"]) for i in found):
        # NOTE: `ignore --last-found` writes these into the ignore file, which must stay readable
        raise LeakwardenError(f"{path}: an entry without a valid fingerprint; run the scan again")
    return found

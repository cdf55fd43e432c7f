"""Content-keyed baseline: accept the secrets that exist today, report only new ones.

An entry is keyed by (repository identity, secret fingerprint), where the fingerprint is
sha256(rule id \\0 secret). Nothing positional goes in: edits elsewhere in a file, line shifts
and renames do not churn the file, while a *different* secret on a baselined line is new.
Only hashes are written, entries are sorted and the JSON is stable, so merges stay simple.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from leakwarden.errors import ConfigError, LeakwardenError
from leakwarden.models import Finding
from leakwarden.triage.identity import finding_repository

BASELINE_VERSION = 1
DEFAULT_BASELINE = ".leakwarden-baseline.json"
_HEX = set("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    repository: str
    fingerprint: str
    rule_id: str
    added: str  # ISO date the secret was accepted; kept across updates

    @property
    def key(self) -> tuple[str, str]:
        return (self.repository, self.fingerprint)


@dataclass
class Baseline:
    entries: dict[tuple[str, str], BaselineEntry] = field(default_factory=dict)
    # fingerprint -> entries, built on the first `match` miss (a baseline is not changed after)
    _by_fp: dict[str, list[BaselineEntry]] | None = field(default=None, repr=False, compare=False)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, key: tuple[str, str]) -> BaselineEntry | None:
        """The entry accepting this (repository, fingerprint). The empty identity (a checkout
        without remotes, a folder outside git) matches any repository either way: adding an
        `origin` remote after `baseline create`, or scanning an export without `.git`, must
        not turn every accepted secret into a new one. Repositories compare without case:
        `git@github.com:Acme/App` and `https://github.com/acme/app` are one repository."""
        entry = self.entries.get(key)
        if entry is not None:
            return entry
        if self._by_fp is None:
            self._by_fp = {}
            for e in self.entries.values():
                self._by_fp.setdefault(e.fingerprint, []).append(e)
        repo, fp = key
        for e in self._by_fp.get(fp, ()):
            if not repo or not e.repository or e.repository.lower() == repo.lower():
                return e
        return None

    def to_json(self) -> str:
        rows = sorted(self.entries.values(), key=lambda e: (e.repository, e.rule_id, e.fingerprint))
        doc = {
            "version": BASELINE_VERSION,
            "tool": "leakwarden",
            "key": "sha256(rule_id \\0 secret) per repository",
            "entries": [
                {"repository": e.repository, "rule_id": e.rule_id, "fingerprint": e.fingerprint, "added": e.added}
                for e in rows
            ],
        }
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def finding_key(finding: Finding, default_repository: str) -> tuple[str, str]:
    return (finding_repository(finding, default_repository), finding.fingerprint)


def from_findings(findings: Iterable[Finding], default_repository: str, date: str | None = None) -> Baseline:
    date = date or today()
    out = Baseline()
    for f in findings:
        repo, fp = finding_key(f, default_repository)
        out.entries.setdefault((repo, fp), BaselineEntry(repo, fp, f.rule_id, date))
    return out


@dataclass(frozen=True)
class BaselineUpdate:
    baseline: Baseline
    added: list[BaselineEntry]
    pruned: list[BaselineEntry]  # accepted once, not seen any more


def update(old: Baseline, findings: Iterable[Finding], default_repository: str, date: str | None = None) -> BaselineUpdate:
    """Keep entries still seen (with their original date), add new ones, prune the rest."""
    seen = from_findings(findings, default_repository, date)
    merged = Baseline()
    added: list[BaselineEntry] = []
    kept: set[tuple[str, str]] = set()
    for key, entry in seen.entries.items():
        known = old.match(key)
        if known is not None:
            # under the identity seen now, with the date it was first accepted
            merged.entries[key] = BaselineEntry(entry.repository, entry.fingerprint, entry.rule_id, known.added)
            kept.add(known.key)
        else:
            merged.entries[key] = entry
            added.append(entry)
    pruned = [e for k, e in old.entries.items() if k not in kept]
    return BaselineUpdate(merged, sorted(added, key=_order), sorted(pruned, key=_order))


def _order(e: BaselineEntry) -> tuple[str, str, str]:
    return (e.repository, e.rule_id, e.fingerprint)


def split(findings: Iterable[Finding], baseline: Baseline, default_repository: str) -> tuple[list[Finding], list[Finding]]:
    """(new findings, findings already in the baseline)."""
    new: list[Finding] = []
    known: list[Finding] = []
    for f in findings:
        (known if baseline.match(finding_key(f, default_repository)) is not None else new).append(f)
    return new, known


def load(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed one is a clear error naming the file."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found (create one with `leakwarden baseline create`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc}") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise ConfigError(f"{path}: not a leakwarden baseline (no 'entries' list)")
    if doc.get("version") != BASELINE_VERSION:
        raise ConfigError(f"{path}: unsupported baseline version {doc.get('version')!r} (expected {BASELINE_VERSION})")
    out = Baseline()
    for i, item in enumerate(doc["entries"]):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: entry {i}: expected an object")
        fp = item.get("fingerprint")
        if not isinstance(fp, str) or len(fp) != 64 or not set(fp) <= _HEX:
            raise ConfigError(f"{path}: entry {i}: 'fingerprint' must be 64 lowercase hex characters")
        repo = item.get("repository", "")
        if not isinstance(repo, str):
            raise ConfigError(f"{path}: entry {i}: 'repository' must be a string")
        entry = BaselineEntry(repo, fp, str(item.get("rule_id", "")), str(item.get("added", "")))
        out.entries[entry.key] = entry
    return out


def write(path: Path, baseline: Baseline) -> None:
    """Atomic write (temp file in the same folder + rename): a reader never sees half a file."""
    from leakwarden.fsutil import write_atomic

    try:
        write_atomic(path, baseline.to_json().encode("ascii"))
    except OSError as exc:
        raise LeakwardenError(f"cannot write baseline {path}: {exc.strerror or exc}") from None

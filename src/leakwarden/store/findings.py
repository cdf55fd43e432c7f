"""Turn what the store holds back into Findings, so every reporter can render a store.

The store has no secret values (only hashes), so these findings carry the redacted preview as
their secret — or the real value when it was sealed and the key is given — and keep the
stored fingerprint instead of recomputing it from the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leakwarden.models import (
    Confidence,
    Finding,
    Location,
    ScanResult,
    Secret,
    Severity,
    Validity,
    ValidityState,
)
from leakwarden.rules import Ruleset
from leakwarden.store import Store


@dataclass(frozen=True, slots=True)
class StoredFinding(Finding):
    stored_fingerprint: str = ""

    @property
    def fingerprint(self) -> str:
        return self.stored_fingerprint


class PreviewSecret(Secret):
    """A secret known only by its redacted preview: the store keeps no plaintext, or the value
    never left an org-scan worker. The preview is shown as it is, not redacted again."""

    __slots__ = ()

    @property
    def redacted(self) -> str:
        return self.reveal()


def stored_finding(inc: Any, occ: Any, ruleset: Ruleset | None, secret: Secret, details: dict[str, Any]) -> StoredFinding:
    """A Finding rebuilt from an incident and one of its occurrences."""
    rule = ruleset.by_id.get(inc.rule_id) if ruleset is not None else None
    loc = Location(
        kind=occ.kind, path=occ.path, start_line=occ.line, end_line=occ.line,
        start_column=occ.start_column or 1, end_column=occ.end_column or occ.start_column or 1,
        commit=occ.commit, blob=occ.blob, layer=occ.layer, extra={"repository": occ.repository} if occ.repository else {},
    )
    return StoredFinding(
        rule_id=inc.rule_id,
        rule_name=inc.rule_name,
        provider=inc.provider,
        severity=Severity(inc.severity),
        confidence=rule.confidence if rule is not None else Confidence.MEDIUM,
        secret=secret,
        location=loc,
        details=details,
        validity=Validity(ValidityState(inc.validity)),
        stored_fingerprint=inc.fingerprint,
    )


def result_from_store(
    store: Store,
    ruleset: Ruleset | None = None,
    *,
    status: str | None = None,
    repository: str | None = None,
    valid: bool | None = None,
    passphrase: str | None = None,
) -> ScanResult:
    """One finding per occurrence of each matching incident, ordered by incident."""
    incidents = {i.id: i for i in store.list_incidents(status=status, valid=valid, repository=repository)}
    result = ScanResult()
    secrets: dict[int, str | None] = {}
    for occ in store.occurrences(list(incidents)):
        if repository is not None and occ.repository != repository:
            continue
        inc = incidents[occ.incident_id]
        if passphrase and inc.has_sealed_secret and inc.id not in secrets:
            secrets[inc.id] = store.reveal(inc.id, passphrase)
        value = secrets.get(inc.id)
        details = {
            "incident_id": inc.id, "status": inc.status, "assignee": inc.assignee or "",
            "repository": occ.repository, "present": occ.present,
            "first_seen": occ.first_seen, "last_seen": occ.last_seen,
        }
        result.findings.append(stored_finding(inc, occ, ruleset, Secret(value) if value else PreviewSecret(inc.secret_redacted), details))
    result.stats.files = len({(f.location.path, f.location.commit) for f in result.findings})
    return result

"""Immutable values that cross stage boundaries: chunks, locations, candidates and findings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class ValidityState(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True)
class Validity:
    """Outcome of a validity check; `details` holds what the check learned (user, scopes...)."""

    state: ValidityState = ValidityState.NOT_CHECKED
    reason: str = ""
    checked_at: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


NOT_CHECKED = Validity()


def redact(value: str) -> str:
    """Keep a few leading and trailing characters so a person can recognise the secret.

    A short value (a password) keeps at most a quarter of its characters: reports carry an
    unsalted SHA-256 fingerprint of it, and every character shown is one less to guess.
    Armoured blocks (private keys) show their header line instead, which says what they are.
    """
    if value.startswith("-----BEGIN "):
        header = value[: value.find("-----", 11) + 5] if value.find("-----", 11) > 0 else "-----BEGIN"
        return f"{header}…[{len(value)} chars]"
    n = len(value)
    if n <= 8:
        return "*" * n
    keep = 4 if n >= 20 else n // 8
    return f"{value[:keep]}{'*' * min(n - 2 * keep, 12)}{value[-keep:]}"


class Secret:
    """The raw secret value. `str`/`repr` are redacted; `.reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def redacted(self) -> str:
        return redact(self._value)

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"Secret({self.redacted!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))


def secret_fingerprint(rule_id: str, secret: str) -> str:
    """Stable content fingerprint: the same secret under the same rule, wherever it occurs."""
    return hashlib.sha256(f"{rule_id}\x00{secret}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a chunk of bytes came from. Sources fill what they know; the rest stays None."""

    kind: str  # file, stdin, git, diff, image, archive, ...
    path: str | None = None
    commit: str | None = None
    blob: str | None = None
    layer: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def display(self) -> str:
        return self.path or f"<{self.kind}>"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes to scan plus their provenance. `base_line`/`base_offset` locate a slice of a file."""

    data: bytes
    origin: Origin
    base_line: int = 1
    base_offset: int = 0
    base_column: int = 1  # column of data[0] when a block starts mid-line
    depth: int = 0
    # Findings starting at or past this offset belong to the next, overlapping block.
    own_end: int | None = None
    # Decoded text: only matches overlapping [start, end) can be findings; the rest of `data`
    # is context (the line around an encoded segment, already scanned as plain text).
    focus: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Location:
    kind: str
    path: str | None
    start_line: int
    end_line: int
    start_column: int
    end_column: int
    offset: int = 0
    commit: str | None = None
    blob: str | None = None
    layer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def display(self) -> str:
        where = self.path or f"<{self.kind}>"
        if self.commit:
            where = f"{where}@{self.commit[:12]}"
        return f"{where}:{self.start_line}:{self.start_column}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One occurrence of one secret. `secret` is redacted unless revealed explicitly."""

    rule_id: str
    rule_name: str
    provider: str
    severity: Severity
    confidence: Confidence
    secret: Secret
    location: Location
    line: str = ""  # the source line with every secret on it masked
    details: dict[str, Any] = field(default_factory=dict)
    related: dict[str, Secret] = field(default_factory=dict)
    validity: Validity = NOT_CHECKED
    decoded: str | None = None  # e.g. "base64" when found inside decoded text
    # the same line unmasked, for --show-secrets only (a Secret: printing it shows it redacted)
    raw_line: Secret | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        return secret_fingerprint(self.rule_id, self.secret.reveal())

    @property
    def occurrence_fingerprint(self) -> str:
        loc = self.location
        key = f"{self.fingerprint}\x00{loc.kind}\x00{loc.path}\x00{loc.commit or ''}\x00{loc.layer or ''}"
        return hashlib.sha256(key.encode()).hexdigest()

    def with_validity(self, validity: Validity) -> Finding:
        return replace(self, validity=validity)


# A ScanError kind for a repository's corrupt or missing objects (always `incomplete`).
UNREADABLE_OBJECTS = "unreadable-objects"


@dataclass(frozen=True, slots=True)
class ScanError:
    """A problem with one input that did not stop the scan (unreadable file, too big, ...).

    `incomplete`: part of the scan's own target went unread (a damaged archive or image layer,
    a missing layer, unreadable git objects), not just one item in it: then "nothing found" is
    no all-clear (exit 2)."""

    path: str
    kind: str
    message: str
    incomplete: bool = False

    @property
    def text(self) -> str:
        """`path: message`, or the message alone for an error about the whole scan."""
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(slots=True)
class ScanStats:
    files: int = 0
    bytes: int = 0
    skipped: int = 0
    seconds: float = 0.0
    # Incremental scans: items not read because the store knew them (same rules).
    already_scanned: int = 0
    # Findings hidden by triage, by reason: "baseline", "ignore_file".
    suppressed: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

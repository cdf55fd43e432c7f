"""Triage that needs the whole scan: record it in the store, then drop baselined findings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from leakwarden.config import Settings
from leakwarden.models import ScanResult


def default_repository(roots: Sequence[Path]) -> str:
    from leakwarden.triage.identity import repository_identity

    return repository_identity(roots[0] if roots else Path.cwd())


def after_scan(result: ScanResult, settings: Settings, roots: Sequence[Path] = (), ruleset_hash: str = "") -> ScanResult:
    """Called by `api.finish` once ignore rules are applied; a no-op unless the user asked for
    a store (`--store`) or a baseline (`--baseline`)."""
    if settings.store is None and settings.baseline is None:
        return result
    repository = default_repository(roots)
    if settings.store is not None:
        # NOTE: `finish` gets roots from path, git and archive scans alike, so only a scan that
        # found working-tree files is taken as covering them: their other occurrences in this
        # repository are then marked as no longer present (incidents stay open either way).
        files_seen = bool(roots) and any(f.location.kind == "file" for f in result.findings)
        record_in_store(result, settings, repository, complete_kinds=("file",) if files_seen else (), ruleset_hash=ruleset_hash)
    if settings.baseline is not None:
        from leakwarden.triage import baseline

        result.findings, known = baseline.split(result.findings, baseline.load(settings.baseline), repository)
        if known:
            result.stats.suppressed["baseline"] = result.stats.suppressed.get("baseline", 0) + len(known)
    return result


def record_in_store(result: ScanResult, settings: Settings, repository: str, complete_kinds: Sequence[str], ruleset_hash: str = "") -> None:
    from leakwarden import __version__
    from leakwarden.store import open_store
    from leakwarden.store.crypto import key_from_env

    passphrase = key_from_env() if settings.store_secrets else None
    kinds = sorted({f.location.kind for f in result.findings} | set(complete_kinds))
    source = ",".join(kinds) or "scan"
    assert settings.store is not None
    with open_store(settings.store) as store:
        store.record_scan(
            result.findings,
            repository=repository,
            source=source,
            kinds=complete_kinds,
            tool_version=__version__,
            ruleset_hash=ruleset_hash,
            secret_passphrase=passphrase,
        )

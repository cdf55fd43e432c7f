"""Triage that needs the whole scan: record it in the store, then drop baselined findings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from leakwarden.config import Settings
from leakwarden.models import Finding, ScanResult


def default_repository(roots: Sequence[Path]) -> str:
    from leakwarden.triage.identity import repository_identity

    return repository_identity(roots[0] if roots else Path.cwd())


def after_scan(result: ScanResult, settings: Settings, roots: Sequence[Path] = (), ruleset_hash: str = "", covers_files: bool = False) -> ScanResult:
    """Called by `api.finish` once ignore rules are applied; a no-op unless the user asked for
    a store (`--store`) or a baseline (`--baseline`). `covers_files`: a path scan, which read
    every file under `roots` (its file occurrences there that it did not see are gone)."""
    if settings.store is None and settings.baseline is None:
        return result
    repository = default_repository(roots)
    if settings.store is not None:
        record_in_store(result, settings, repository, complete_kinds=("file",) if covers_files and roots else (), ruleset_hash=ruleset_hash, roots=roots)
    if settings.baseline is not None:
        from leakwarden.triage import baseline

        result.findings, known = baseline.split(result.findings, baseline.load(settings.baseline), repository)
        if known:
            result.stats.suppressed["baseline"] = result.stats.suppressed.get("baseline", 0) + len(known)
    return result


def store_path(path: str, top: Path | None) -> str:
    """A scanned file's path as the store keeps it: relative to `top` (the top of a checkout
    with an identity), else absolute. A report shows paths as typed (`.`, `../app`, `/abs/app`); the store must name
    a file the same way from any folder, or every other spelling is a "new place"."""
    p = Path(path)
    full = Path(os.path.realpath(p.parent)) / p.name
    if top is not None:
        try:
            return full.relative_to(top).as_posix()
        except ValueError:
            pass
    return full.as_posix()


def _for_store(findings: Sequence[Finding], top: Path | None) -> list[Finding]:
    return [
        replace(f, location=replace(f.location, path=store_path(f.location.path, top))) if f.location.kind == "file" and f.location.path else f
        for f in findings
    ]


def record_in_store(
    result: ScanResult, settings: Settings, repository: str, complete_kinds: Sequence[str], ruleset_hash: str = "", roots: Sequence[Path] = ()
) -> None:
    from leakwarden import __version__
    from leakwarden.store import open_store
    from leakwarden.store.crypto import key_from_env

    passphrase = key_from_env() if settings.store_secrets else None
    kinds = sorted({f.location.kind for f in result.findings} | set(complete_kinds))
    source = ",".join(kinds) or "scan"
    assert settings.store is not None
    from leakwarden.triage.identity import worktree_root

    # Relative to the checkout only when the repository has an identity: two checkouts without
    # remotes share the empty one, and their `config.py`s must stay two places.
    top = worktree_root(roots[0]) if roots and repository else None
    with open_store(settings.store) as store:
        store.record_scan(
            _for_store(result.findings, top),
            repository=repository,
            source=source,
            kinds=complete_kinds,
            within=[store_path(r.as_posix() if r.is_file() else os.path.realpath(r), top) for r in roots],
            tool_version=__version__,
            ruleset_hash=ruleset_hash,
            secret_passphrase=passphrase,
        )

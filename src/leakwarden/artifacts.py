"""Scan built artifacts — archives, container images, published packages — into a ScanResult.

These are the API entry points the `scan archive|image|pypi|npm` commands call. Identical
content (same sha256, like a git blob) is scanned once and its findings are reported at every
place it occurs; identical image layers (same digest) are read once; layers already known to be
clean for this ruleset are skipped using a small on-disk cache that never holds secrets.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from leakwarden.api import build_detector, finish
from leakwarden.cache import cache_dir, write_atomic
from leakwarden.candidates import Detector
from leakwarden.config import Settings
from leakwarden.errors import SourceError
from leakwarden.models import Chunk, Finding, Origin, ScanError, ScanResult
from leakwarden.pipeline import record_error, scan_chunk
from leakwarden.sources.archives import ArchiveLimits, ArchiveWalker, archive_origin

_LAYER_CACHE_VERSION = 1


def archive_limits(settings: Settings, **overrides: Any) -> ArchiveLimits:
    values = {"max_member_size": settings.max_file_size, **{k: v for k, v in overrides.items() if v is not None}}
    return ArchiveLimits(**values)


def relocate(finding: Finding, origin: Origin) -> Finding:
    """The same finding at another place holding identical bytes."""
    loc = replace(
        finding.location, kind=origin.kind, path=origin.path, blob=origin.blob, layer=origin.layer,
        commit=origin.commit, extra=dict(origin.extra),
    )
    return replace(finding, location=loc)


class ArtifactScanner:
    """Scan chunks with blob dedup, collecting findings and errors into one result."""

    def __init__(self, detector: Detector, result: ScanResult | None = None) -> None:
        self.detector = detector
        self.result = result or ScanResult()
        self._by_blob: dict[tuple[str, int, tuple[str, ...]], list[Finding]] = {}
        self._blobs_seen: set[str] = set()
        self.cached_layers = 0
        # A path allowlist can accept a blob at one path and not at another: copies are shared
        # only between paths that the same rules' allowlists take in.
        self._path_rules = [(r.id, r.allow.paths) for r in detector.ruleset.rules if r.allow.paths]

    def on_error(self, error: ScanError) -> None:
        record_error(self.result, error)

    def scan(self, chunks: Iterable[Chunk]) -> list[Finding]:
        out: list[Finding] = []
        for chunk in chunks:
            blob = chunk.origin.blob
            if blob is not None and chunk.base_offset == 0 and blob not in self._blobs_seen:
                self.result.stats.files += 1
                self._blobs_seen.add(blob)
            key = (blob, chunk.base_offset, self._allowlisted(chunk.origin.path)) if blob is not None else None
            if key is not None and key in self._by_blob:
                found = [relocate(f, chunk.origin) for f in self._by_blob[key]]
            else:
                self.result.stats.bytes += len(chunk.data) if chunk.own_end is None else chunk.own_end
                found = scan_chunk(self.detector, chunk)
                if key is not None:
                    self._by_blob[key] = found
            out.extend(found)
        self.result.findings.extend(out)
        return out

    def _allowlisted(self, path: str | None) -> tuple[str, ...]:
        """The rules whose path allowlist takes in `path` (what makes two copies scan alike)."""
        if not self._path_rules or not path:
            return ()
        import fnmatch

        return tuple(rid for rid, globs in self._path_rules if any(fnmatch.fnmatch(path, g) for g in globs))


# --- archives -----------------------------------------------------------------------------


def scan_archives(paths: Iterable[str | Path], settings: Settings | None = None, detector: Detector | None = None, limits: ArchiveLimits | None = None) -> ScanResult:
    """Scan archive files (zip family, tar, compressed tar, nested) without extracting them."""
    settings = settings or Settings()
    detector = detector or build_detector(settings)
    limits = limits or archive_limits(settings)
    scanner = ArtifactScanner(detector)
    started = time.perf_counter()
    roots = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise SourceError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
        roots.append(path)
        walker = ArchiveWalker(limits, _target_errors(scanner.on_error, str(path)))
        scanner.scan(walker.walk_file(path, str(path), archive_origin(str(path))))
    scanner.result.stats.seconds = time.perf_counter() - started
    return finish(scanner.result, settings, roots)


# --- images -------------------------------------------------------------------------------


def _layer_cache_key(digest: str, detector: Detector, limits: ArchiveLimits, settings: Settings) -> str:
    basis = json.dumps([_LAYER_CACHE_VERSION, detector.ruleset.hash, digest, repr(limits), settings.decode, settings.min_confidence])
    return hashlib.sha256(basis.encode()).hexdigest()


def _cache_file(key: str) -> Path:
    return cache_dir() / "image-layers" / key[:2] / f"{key}.json"


def _cached_clean(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_cache_file(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("clean") is True else None


def scan_image(
    target: str,
    settings: Settings | None = None,
    detector: Detector | None = None,
    *,
    platform: str | None = None,
    limits: ArchiveLimits | None = None,
    use_cache: bool = True,
    registry_options: dict[str, Any] | None = None,
) -> ScanResult:
    """Scan an image: a `docker save` tarball, an OCI layout folder, or a registry reference.

    Every selected platform's config and layers are scanned; findings carry the layer digest,
    its 1-based index, the instruction that created it, and a note when a later layer deleted
    the file (it is still in the image).
    """
    from leakwarden.sources import images

    settings = settings or Settings()
    detector = detector or build_detector(settings)
    limits = limits or archive_limits(settings)
    scanner = ArtifactScanner(detector)
    started = time.perf_counter()
    roots: list[Path] = []
    store: Any
    if not images.is_local_image(target) and (target.startswith((".", "/", "~")) or target.lower().endswith((".tar", ".tar.gz", ".tgz"))):
        raise SourceError(f"{target}: no such file or folder")
    if images.is_local_image(target):
        manifests, store = images.open_local_image(Path(target), platform, scanner.on_error)
        roots.append(Path(target))
    else:
        from leakwarden.sources import registry

        manifests, store = registry.open_remote_image(target, platform, on_error=scanner.on_error, **(registry_options or {}))
    try:
        _scan_manifests(scanner, manifests, detector, limits, settings, use_cache)
    finally:
        store.close()
    scanner.result.stats.seconds = time.perf_counter() - started
    return finish(scanner.result, settings, roots)


def _scan_manifests(scanner: ArtifactScanner, manifests: list[Any], detector: Detector, limits: ArchiveLimits, settings: Settings, use_cache: bool) -> None:
    from leakwarden.sources import images

    configs_seen: dict[str, list[Finding]] = {}
    layers_done: dict[str, tuple[list[Finding], images.LayerRecord]] = {}
    for manifest in manifests:
        if manifest.config_digest not in configs_seen:
            configs_seen[manifest.config_digest] = scanner.scan(images.config_chunks(manifest))
        # a build arg's value sits in the instruction each layer finding carries: redact it there
        manifest = images.redact_instructions(manifest, [f.secret for f in configs_seen[manifest.config_digest]])
        if len(manifest.layers) > images.MAX_LAYERS:
            scanner.on_error(ScanError(manifest.name, "limit", f"{len(manifest.layers)} layers; only the first {images.MAX_LAYERS} were scanned"))
            manifest = replace(manifest, layers=manifest.layers[: images.MAX_LAYERS])
        records: list[images.LayerRecord] = []
        found: list[tuple[int, Finding]] = []
        for layer in manifest.layers:
            if layer.digest in layers_done:
                first, record = layers_done[layer.digest]
                origin_extra = images.image_extra(manifest, layer_index=layer.index, instruction=layer.instruction)
                moved = [relocate(f, Origin(f.location.kind, f.location.path, None, f.location.blob, layer.digest, origin_extra)) for f in first]
                scanner.result.findings.extend(moved)
                found.extend((layer.index, f) for f in moved)
                records.append(record)
                continue
            key = _layer_cache_key(layer.digest, detector, limits, settings)
            cached = _cached_clean(key) if use_cache else None
            if cached is not None:
                record = images.LayerRecord.from_json(cached)
                layers_done[layer.digest] = ([], record)
                records.append(record)
                scanner.cached_layers += 1
                continue
            record = images.LayerRecord()
            errors_before = len(scanner.result.errors)
            label = f"{manifest.name} layer {layer.index}"
            walker = ArchiveWalker(limits, _prefixed_errors(scanner.on_error, label))
            # what goes wrong with the layer itself (not with a file in it) leaves it unscanned
            layer_findings = scanner.scan(images.layer_chunks(walker, manifest, layer, record, _target_errors(scanner.on_error, None)))
            layers_done[layer.digest] = (layer_findings, record)
            records.append(record)
            found.extend((layer.index, f) for f in layer_findings)
            if use_cache and not layer_findings and len(scanner.result.errors) == errors_before:
                write_atomic(_cache_file(key), json.dumps({"clean": True, **record.to_json()}).encode())
        _note_deletions(scanner.result, found, records)


def _prefixed_errors(on_error: Callable[[ScanError], None], label: str) -> Callable[[ScanError], None]:
    def handle(e: ScanError) -> None:
        on_error(ScanError(f"{label}: {e.path}" if e.path else label, e.kind, e.message, e.incomplete))

    return handle


# Damage that leaves part of a target unread. Limits (bombs, depth, sizes) are the user's own
# ceilings: they stay warnings, as documented for each option.
_DAMAGE_KINDS = frozenset({"corrupt", "unreadable", "unsupported"})


def _target_errors(on_error: Callable[[ScanError], None], top: str | None) -> Callable[[ScanError], None]:
    """Mark damage to the scan's target itself (`top`, or anything when None) as leaving the
    scan incomplete: a truncated archive or a missing layer hides what it did not let us read.
    Damage to a member inside (a corrupt nested zip) is the target's content: a warning."""

    def handle(e: ScanError) -> None:
        hit = e.kind in _DAMAGE_KINDS and (top is None or e.path == top)
        on_error(replace(e, incomplete=True) if hit else e)

    return handle


def _note_deletions(result: ScanResult, found: list[tuple[int, Finding]], records: list[Any]) -> None:
    from leakwarden.sources.images import deleted_in

    if not found:
        return
    replaced: dict[int, Finding] = {}
    for index, f in found:
        later = deleted_in(f.location.path or "", index, records)
        if later is not None:
            extra = {**f.location.extra, "deleted_in_layer": later, "note": f"deleted in layer {later} but still in the image"}
            replaced[id(f)] = replace(f, location=replace(f.location, extra=extra))
    if replaced:
        result.findings[:] = [replaced.get(id(f), f) for f in result.findings]


# --- packages -----------------------------------------------------------------------------


def scan_package(ecosystem: str, spec: str, settings: Settings | None = None, detector: Detector | None = None, *, index_url: str | None = None, all_files: bool = False, limits: ArchiveLimits | None = None) -> ScanResult:
    """Download a published package (PyPI sdist/wheel, npm tarball) and scan it as archives."""
    from leakwarden.sources import packages

    settings = settings or Settings()
    detector = detector or build_detector(settings)
    limits = limits or archive_limits(settings)
    scanner = ArtifactScanner(detector)
    started = time.perf_counter()
    for artifact in packages.fetch(ecosystem, spec, index_url=index_url, all_files=all_files):
        with artifact.stream as fh:
            walker = ArchiveWalker(limits, _target_errors(scanner.on_error, artifact.display))
            scanner.scan(walker.walk_top(fh, artifact.display, archive_origin(artifact.display, kind="package", **artifact.extra)))
    scanner.result.stats.seconds = time.perf_counter() - started
    return finish(scanner.result, settings)


"""Container images: `docker save` tarballs, OCI layout folders (and registry pulls via a store).

An image is resolved to one `ImageManifest` per platform: its config (scanned as text: Env,
Labels, Cmd, history `created_by`, where build args leak) and its layers in order, each tied
to the Dockerfile instruction that made it. Layer tars are streamed through the archive walker;
whiteouts are recorded so a finding in a file deleted by a later layer can say it is still there.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from leakwarden.errors import SourceError
from leakwarden.fsutil import NotRegularFile, open_regular
from leakwarden.models import Chunk, Origin, ScanError, Secret
from leakwarden.sources import OnError, chunks_from_stream
from leakwarden.sources.archives import (
    DAMAGE_ERRORS,
    ArchiveWalker,
    BoundedTarInfo,
    Prefixed,
    Readable,
    StreamLimitError,
    WalkLimitError,
    describe_error,
    sniff,
    zstd_available,
)

INDEX_TYPES = frozenset({
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
})
MANIFEST_TYPES = frozenset({
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
})
_MAX_JSON = 16 * 1024 * 1024
# Manifests and indexes one image may resolve to: a real multi-platform index lists tens, an OCI
# layout a few hundred tags; three levels of indexes listing each other 30 times list 810,000.
MAX_MANIFESTS = 1024
# Layers of one image: Docker stops at 127, other builders at a few hundred. A manifest can list
# one layer 100,000 times, and noting deletions compares every layer with the ones after it.
MAX_LAYERS = 1000
OPAQUE = ".wh..wh..opq"
_READ_REST = 1 << 20
WHITEOUT = ".wh."


class BlobStore(Protocol):
    """Where image blobs live: a tarball, a folder or a registry."""

    def read(self, ref: str) -> bytes: ...

    def open(self, ref: str) -> AbstractContextManager[Readable]: ...


@dataclass(frozen=True, slots=True)
class LayerRef:
    index: int  # 1 = the base layer
    digest: str
    media_type: str
    instruction: str
    opener: Callable[[], AbstractContextManager[Readable]]


@dataclass(frozen=True, slots=True)
class ImageManifest:
    name: str
    platform: str
    config: dict[str, Any]
    config_digest: str
    layers: tuple[LayerRef, ...]


@dataclass(slots=True)
class LayerRecord:
    """What a layer removes from the layers below it."""

    deleted: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)

    def observe(self, info: tarfile.TarInfo, clean: str) -> bool:
        """Record whiteouts; return whether the member is content to scan."""
        base = posixpath.basename(clean)
        folder = posixpath.dirname(clean)
        if base == OPAQUE:
            self.opaque.add(folder)
            return False
        if base.startswith(WHITEOUT):
            self.deleted.add(posixpath.join(folder, base[len(WHITEOUT):]))
            return False
        return True

    def removes(self, path: str) -> bool:
        """Whether `path` or a folder above it is deleted here, or a folder above it is opaque.
        Looked up folder by folder: a layer can hold 200,000 whiteouts."""
        if path in self.deleted:
            return True
        folder = path
        while folder:
            folder = posixpath.dirname(folder)
            if folder in self.opaque or (folder and folder in self.deleted):
                return True
        return False

    def to_json(self) -> dict[str, list[str]]:
        return {"deleted": sorted(self.deleted), "opaque": sorted(self.opaque)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerRecord:
        return cls(set(data.get("deleted", ())), set(data.get("opaque", ())))


def deleted_in(path: str, index: int, records: list[LayerRecord]) -> int | None:
    """The first layer after `index` (1-based) that deletes `path`, if any."""
    inner = path.split("!/", 1)[0].lstrip("/")
    for j in range(index, len(records)):
        if records[j].removes(inner):
            return j + 1
    return None


def clean_instruction(created_by: str) -> str:
    """`/bin/sh -c #(nop)  ENV A=b` → `ENV A=b`; `/bin/sh -c make` → `RUN make`."""
    text = created_by.strip()
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c #(nop)"):
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):].strip()
    return text


def layer_instructions(config: dict[str, Any], count: int) -> list[str]:
    """The `created_by` of each history entry that made a layer, in layer order."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    out = [clean_instruction(str(h.get("created_by", ""))) for h in history]
    return (out + [""] * count)[:count]


def redact_instructions(manifest: ImageManifest, secrets: list[Secret]) -> ImageManifest:
    """The manifest with these secrets redacted in its layers' instructions: a `RUN` with a build
    arg (`|1 TOKEN=...`) holds the value, and every finding in that layer shows the instruction."""
    values = sorted({s.reveal() for s in secrets if s.reveal()}, key=len, reverse=True)
    if not values:
        return manifest
    shown = {v: Secret(v).redacted for v in values}

    def clean(text: str) -> str:
        for value in values:
            text = text.replace(value, shown[value])
        return text

    return replace(manifest, layers=tuple(replace(layer, instruction=clean(layer.instruction)) for layer in manifest.layers))


def _platform_of(config: dict[str, Any], desc: dict[str, Any] | None = None) -> str:
    src = (desc or {}).get("platform") or config
    parts = [str(src.get("os", "")), str(src.get("architecture", ""))]
    if src.get("variant"):
        parts.append(str(src["variant"]))
    return "/".join(p for p in parts if p) or "unknown"


def platform_matches(platform: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    have, want = platform.split("/"), wanted.split("/")
    return have[: len(want)] == want


def _load_json(store: BlobStore, ref: str) -> Any:
    raw = store.read(ref)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise SourceError(f"{ref}: not valid JSON ({exc})") from None


def _load_config(store: BlobStore, ref: str) -> dict[str, Any]:
    """An image config, its shape checked where the scan reads it (Env, Labels, Cmd, history):
    a malformed one raises TypeError, which callers report as malformed metadata."""
    config = _load_json(store, ref)
    if not isinstance(config, dict):
        raise TypeError(f"config {ref} is not an object")
    for key in ("config", "container_config"):
        section = config.get(key)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise TypeError(f"config {ref}: {key} is not an object")
        for field_name, kinds in (("Env", (list,)), ("Labels", (dict,)), ("Cmd", (list, str)), ("Entrypoint", (list, str))):
            value = section.get(field_name)
            if value is not None and not isinstance(value, kinds):
                raise TypeError(f"config {ref}: {key}.{field_name} has type {type(value).__name__}")
    if not isinstance(config.get("history") or [], list | str):  # a string was always read as no history
        raise TypeError(f"config {ref}: history is not a list")
    return config


def _load_manifest(store: BlobStore, digest: str) -> Any:
    """Registries serve manifests and blobs at different endpoints; layouts keep both as blobs."""
    reader = getattr(store, "read_manifest", None)
    if reader is None:
        return _load_json(store, digest)
    try:
        return json.loads(reader(digest))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SourceError(f"{digest}: not valid JSON ({exc})") from None


def _is_attestation(desc: dict[str, Any]) -> bool:
    ann = desc.get("annotations") or {}
    plat = desc.get("platform") or {}
    return ann.get("vnd.docker.reference.type") == "attestation-manifest" or plat.get("os") == "unknown"


@dataclass(slots=True)
class _Resolution:
    """One image's walk through its indexes: each digest resolved once, at most MAX_MANIFESTS."""

    on_error: OnError | None
    seen: set[str] = field(default_factory=set)
    capped: bool = False


def resolve(store: BlobStore, doc: dict[str, Any], name: str, platform: str | None, desc: dict[str, Any] | None = None, depth: int = 0,
            on_error: OnError | None = None, walk: _Resolution | None = None) -> list[ImageManifest]:
    """Turn an index or a manifest into image manifests, one per selected platform. A digest an
    index lists again (or another index lists too) is resolved once; past MAX_MANIFESTS
    documents the rest are left out with a warning to `on_error`."""
    if depth > 4:
        raise SourceError(f"{name}: image indexes nested too deeply")
    walk = walk if walk is not None else _Resolution(on_error)
    media = doc.get("mediaType") or (desc or {}).get("mediaType", "")
    if "manifests" in doc or media in INDEX_TYPES:
        out: list[ImageManifest] = []
        for sub in doc.get("manifests") or []:
            if _is_attestation(sub):
                continue
            plat = sub.get("platform")
            if plat and not platform_matches(_platform_of({}, sub), platform):
                continue
            digest = sub["digest"]
            if not isinstance(digest, str):
                raise TypeError(f"manifest digest {digest!r} is not a string")
            if digest in walk.seen:
                continue
            if len(walk.seen) >= MAX_MANIFESTS:
                if not walk.capped and walk.on_error is not None:
                    walk.on_error(ScanError(name, "limit", f"the image indexes list more than {MAX_MANIFESTS} distinct manifests; only the first {MAX_MANIFESTS} were resolved and scanned"))
                walk.capped = True
                break
            walk.seen.add(digest)
            sub_name = (sub.get("annotations") or {}).get("io.containerd.image.name") or (sub.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            label = name if not sub_name or name.endswith(sub_name) else f"{name} ({sub_name})"
            out.extend(resolve(store, _load_manifest(store, digest), label, platform, sub, depth + 1, walk=walk))
        return out
    if "layers" in doc and "config" in doc:
        config_digest = doc["config"]["digest"]
        config = _load_config(store, config_digest)
        plat = _platform_of(config, desc if desc and desc.get("platform") else None)
        if not platform_matches(plat, platform):
            return []
        layers = doc["layers"]
        instr = layer_instructions(config, len(layers))
        refs = tuple(
            LayerRef(i + 1, d["digest"], d.get("mediaType", ""), instr[i], _opener(store, d["digest"]))
            for i, d in enumerate(layers)
        )
        return [ImageManifest(name, plat, config, config_digest, refs)]
    if doc.get("schemaVersion") == 1:
        raise SourceError(f"{name}: Docker schema 1 manifests are not supported")
    raise SourceError(f"{name}: not an image manifest or index")


def _opener(store: BlobStore, ref: str) -> Callable[[], AbstractContextManager[Readable]]:
    return lambda: store.open(ref)


# --- stores -------------------------------------------------------------------------------


def _blob_path(ref: str) -> str:
    if ":" in ref and "/" not in ref:
        algo, _, hexd = ref.partition(":")
        return f"blobs/{algo}/{hexd}"
    return ref


def _tar_members(members: list[tarfile.TarInfo]) -> dict[str, tarfile.TarInfo]:
    """Regular members by name, and links resolved to the regular member they name: `docker
    save` writes a layer that an image holds twice once, and `<id>/layer.tar` symlinks to it."""
    def key(name: str) -> str:
        return name.lstrip("./").lstrip("/")

    regular = {key(m.name): m for m in members if m.isreg()}
    links = {key(m.name): m for m in members if m.issym() or m.islnk()}
    out = dict(regular)
    for name, first in links.items():
        link: tarfile.TarInfo | None = first
        hops = 0
        while link is not None and hops < 8:  # a chain of links, never a loop
            if link.issym():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(key(link.name)), link.linkname))
            else:
                target = posixpath.normpath(key(link.linkname))
            if target in regular:
                out.setdefault(name, regular[target])
                break
            link, hops = links.get(target), hops + 1
    return out


class TarStore:
    """A `docker save` tarball (plain or gzip): members read by path or digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fh = open_regular(path)
        except NotRegularFile:
            raise SourceError(f"{path}: not a file (a FIFO, device or socket; save the image to a file first)") from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            self.tar = tarfile.open(fileobj=self._fh, mode="r:*", tarinfo=BoundedTarInfo)
            self.members = _tar_members(self.tar.getmembers())
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            self._fh.close()
            raise SourceError(f"{path}: not a readable image tarball ({describe_error(exc)})") from None

    def has(self, ref: str) -> bool:
        return _blob_path(ref) in self.members

    def read(self, ref: str) -> bytes:
        member = self.members.get(_blob_path(ref))
        if member is None:
            raise SourceError(f"{self.path}: {ref} is missing from the tarball")
        if member.size > _MAX_JSON:
            raise SourceError(f"{self.path}: {ref} is too large to be image metadata")
        fh = self.tar.extractfile(member)
        assert fh is not None
        return fh.read()

    @contextmanager
    def open(self, ref: str) -> Iterator[Readable]:
        member = self.members.get(_blob_path(ref))
        if member is None:
            raise SourceError(f"{self.path}: {ref} is missing from the tarball")
        fh = self.tar.extractfile(member)
        assert fh is not None
        try:
            yield fh
        finally:
            fh.close()

    def close(self) -> None:
        self.tar.close()
        self._fh.close()


class DirStore:
    """An OCI image layout folder (oci-layout, index.json, blobs/<algo>/<hex>)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def has(self, ref: str) -> bool:
        return (self.path / _blob_path(ref)).is_file()

    def _file(self, ref: str) -> Path:
        if not isinstance(ref, str):
            raise SourceError(f"{self.path}: refusing blob reference {ref!r} (not a string)")
        rel = _blob_path(ref)
        # a reference names a file inside the layout: never an absolute path, `..` or a NUL
        if ".." in rel.split("/") or os.path.isabs(rel) or "\x00" in rel:
            raise SourceError(f"{self.path}: refusing blob reference {ref!r} (outside the layout)")
        return self.path / rel

    def read(self, ref: str) -> bytes:
        try:
            with open_regular(self._file(ref)) as fh:
                data = fh.read(_MAX_JSON + 1)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read {ref}: {exc.strerror or exc}") from None
        if len(data) > _MAX_JSON:
            raise SourceError(f"{self.path}: {ref} is too large to be image metadata")
        return data

    @contextmanager
    def open(self, ref: str) -> Iterator[Readable]:
        try:
            fh = open_regular(self._file(ref))
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read {ref}: {exc.strerror or exc}") from None
        try:
            yield fh
        finally:
            fh.close()

    def close(self) -> None:
        pass


def _legacy_manifests(store: TarStore, name: str, platform: str | None) -> list[ImageManifest]:
    """`docker save` manifest.json: [{Config, RepoTags, Layers: [paths]}]."""
    entries = _load_json(store, "manifest.json")
    if not isinstance(entries, list):
        raise SourceError(f"{name}: manifest.json is not a list")
    out = []
    for entry in entries:
        config_ref = entry["Config"]
        config = _load_config(store, config_ref)
        plat = _platform_of(config)
        if not platform_matches(plat, platform):
            continue
        paths = list(entry.get("Layers") or [])
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        instr = layer_instructions(config, len(paths))
        tags = entry.get("RepoTags") or []
        label = f"{name} ({tags[0]})" if tags else name
        layers = []
        for i, p in enumerate(paths):
            if not isinstance(p, str):
                raise TypeError(f"layer path {p!r} is not a string")
            if p.startswith("blobs/") and p.count("/") >= 2:
                _, algo, hexd = p.split("/", 2)
                digest = f"{algo}:{hexd}"
            else:
                digest = diff_ids[i] if i < len(diff_ids) else p
            layers.append(LayerRef(i + 1, digest, "application/vnd.docker.image.rootfs.diff.tar", instr[i], _opener(store, p)))
        cfg_digest = config_ref if ":" in config_ref else "sha256:" + posixpath.basename(config_ref).removesuffix(".json")
        out.append(ImageManifest(label, plat, config, cfg_digest, tuple(layers)))
    return out


def open_local_image(path: Path, platform: str | None, on_error: OnError | None = None) -> tuple[list[ImageManifest], TarStore | DirStore]:
    """Resolve a tarball or an OCI layout folder into its image manifests (warnings to `on_error`)."""
    name = str(path)
    store: TarStore | DirStore = DirStore(path) if path.is_dir() else TarStore(path)
    try:
        if store.has("index.json"):
            manifests = resolve(store, _load_json(store, "index.json"), name, platform, on_error=on_error)
            if not manifests and store.has("manifest.json") and isinstance(store, TarStore):
                manifests = _legacy_manifests(store, name, platform)
        elif isinstance(store, TarStore) and store.has("manifest.json"):
            manifests = _legacy_manifests(store, name, platform)
        else:
            raise SourceError(f"{name}: not an image (no index.json or manifest.json; expected `docker save` output or an OCI layout)")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        store.close()
        raise SourceError(f"{name}: malformed image metadata ({type(exc).__name__}: {exc})") from None
    except SourceError:
        store.close()
        raise
    if not manifests:
        store.close()
        raise SourceError(f"{name}: no image matches platform {platform!r}" if platform else f"{name}: the image index lists no images")
    return manifests, store


# --- chunks -------------------------------------------------------------------------------


def image_extra(manifest: ImageManifest, **more: Any) -> tuple[tuple[str, Any], ...]:
    fields: dict[str, Any] = {"image": manifest.name, "platform": manifest.platform, **more}
    return tuple(sorted(fields.items()))


def config_chunks(manifest: ImageManifest) -> Iterator[Chunk]:
    """The config as text, one section per chunk, one item per line (lines point at items)."""
    cfg = manifest.config.get("config") or manifest.config.get("container_config") or {}
    sections: dict[str, list[str]] = {
        "Env": [str(e) for e in cfg.get("Env") or []],
        "Labels": [f"{k}={v}" for k, v in sorted((cfg.get("Labels") or {}).items())],
        "Cmd": [" ".join(map(str, cfg.get("Entrypoint") or [])), " ".join(map(str, cfg.get("Cmd") or []))],
        "history": [str(h.get("created_by", "")).replace("\n", " ") for h in manifest.config.get("history") or [] if isinstance(h, dict)],
    }
    for section, lines in sections.items():
        if not any(lines):
            continue
        origin = Origin("image", path=f"image-config/{section}", extra=image_extra(manifest, config_digest=manifest.config_digest))
        yield from chunks_from_stream(io.BytesIO("\n".join(lines).encode("utf-8", "replace")), origin)


class BlobDigest:
    """The running hash of a blob named `algo:hex`; a name that is no digest (a path in a
    tarball) checks nothing."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        algo, _, self.expected = digest.partition(":")
        self.hash = hashlib.new(algo) if algo in ("sha256", "sha512") else None

    def update(self, data: bytes) -> None:
        if self.hash is not None:
            self.hash.update(data)

    def check(self, what: str = "its content") -> None:
        if self.hash is not None and self.hash.hexdigest() != self.expected.lower():
            raise SourceError(f"blob {self.digest}: {what} does not match its digest")


class _Digesting:
    """Hashes a layer blob as it is read, to compare with its digest once it has been read whole."""

    def __init__(self, inner: Readable, digest: str) -> None:
        self.inner = inner
        self.blob = BlobDigest(digest)

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.blob.update(data)
        return data


def layer_chunks(walker: ArchiveWalker, manifest: ImageManifest, layer: LayerRef, record: LayerRecord, on_error: OnError) -> Iterator[Chunk]:
    """Stream one layer (tar, maybe compressed) and yield its text files as chunks."""
    label = f"{manifest.name} layer {layer.index} ({layer.digest[:19]})"
    extra = image_extra(manifest, layer_index=layer.index, instruction=layer.instruction)

    def origin_for(display: str, blob: str | None) -> Origin:
        return Origin("image", path=display, blob=blob, layer=layer.digest, extra=extra)

    try:
        with layer.opener() as raw:
            # a registry blob checks its own digest; a local layout's or tarball's is checked here,
            # or a damaged or altered blob would be cached as clean under the digest it claims
            fh: Any = raw if getattr(raw, "digest", None) == layer.digest else _Digesting(raw, layer.digest)
            head = fh.read(1024)
            kind = sniff(head)
            stream: Readable = Prefixed(head, fh)
            if kind == "zstd" and not zstd_available():
                on_error(ScanError(label, "unsupported", "zstd-compressed layer needs the `zstandard` package; not scanned"))
                return
            if kind in ("gzip", "bzip2", "xz", "zstd"):
                stream = walker.decompress(kind, stream, label)
            elif kind != "tar" and head.strip(b"\x00"):
                on_error(ScanError(label, "corrupt", "layer is not a tar archive; not scanned"))
                return
            yield from walker.tar(stream, "", 0, origin_for, on_member=record.observe)
            # a registry blob's digest is checked when its body ends: the tar's end marker can
            # come before that, and bytes after it would go unchecked (and the layer cached as clean)
            while fh.read(_READ_REST):
                pass
            if isinstance(fh, _Digesting):
                fh.blob.check()
    except WalkLimitError as exc:
        on_error(ScanError(label, "limit", str(exc)))
    except StreamLimitError as exc:
        on_error(ScanError(label, "limit", str(exc)))
    except DAMAGE_ERRORS as exc:
        on_error(ScanError(label, "corrupt", describe_error(exc)))
    except SourceError as exc:
        on_error(ScanError(label, "unreadable", str(exc)))


def is_local_image(target: str) -> bool:
    return os.path.exists(target)

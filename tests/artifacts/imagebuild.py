"""Build real container images with the standard library: layers, configs, Docker and OCI layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"

# Tokens in the documented formats of rules that ship with leakwarden (not real credentials).
CIRCLE = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
CIRCLE2 = "CCIPAT_t4HDp5zfNQJNg3HpnmMJL1_2073fec8df4f50947aaeb26c57d21fa5d328263d"
CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(files: dict[str, bytes | None], *, whiteouts: tuple[str, ...] = (), opaque: tuple[str, ...] = ()) -> bytes:
    """A layer tar: files (None = a directory), `.wh.` whiteouts and opaque-directory markers."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
        for path in whiteouts:
            folder, _, base = path.rpartition("/")
            info = tarfile.TarInfo(f"{folder}/.wh.{base}" if folder else f".wh.{base}")
            tf.addfile(info, io.BytesIO(b""))
        for folder in opaque:
            info = tarfile.TarInfo(f"{folder}/.wh..wh..opq")
            tf.addfile(info, io.BytesIO(b""))
    return buf.getvalue()


@dataclass
class Layer:
    files: dict[str, bytes | None]
    created_by: str
    whiteouts: tuple[str, ...] = ()
    opaque: tuple[str, ...] = ()

    def tar(self) -> bytes:
        return tar_bytes(self.files, whiteouts=self.whiteouts, opaque=self.opaque)


@dataclass
class Image:
    layers: list[Layer]
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/local/bin:/usr/bin:/bin"])
    labels: dict[str, str] = field(default_factory=dict)
    extra_history: list[str] = field(default_factory=list)  # empty_layer entries (ENV, ARG, ...)
    os: str = "linux"
    arch: str = "amd64"

    def config(self, diff_ids: list[str]) -> bytes:
        history = [{"created_by": h, "empty_layer": True} for h in self.extra_history]
        history += [{"created_by": layer.created_by} for layer in self.layers]
        cfg = {
            "architecture": self.arch,
            "os": self.os,
            "config": {"Env": self.env, "Labels": self.labels, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        return json.dumps(cfg, indent=2).encode()


class Blobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def add(self, data: bytes) -> str:
        digest = sha(data)
        self.blobs[digest] = data
        return digest


def _oci_manifest(image: Image, blobs: Blobs, gzip_layers: bool, zstd_layers: bool = False) -> tuple[str, int]:
    tars = [layer.tar() for layer in image.layers]
    diff_ids = [sha(t) for t in tars]
    layer_descs = []
    for t in tars:
        if zstd_layers:
            import zstandard

            data, media = zstandard.ZstdCompressor(level=3).compress(t), OCI_LAYER + "+zstd"
        else:
            data, media = (gzip.compress(t, mtime=0), OCI_LAYER_GZ) if gzip_layers else (t, OCI_LAYER)
        layer_descs.append({"mediaType": media, "digest": blobs.add(data), "size": len(data)})
    config = image.config(diff_ids)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": blobs.add(config), "size": len(config)},
        "layers": layer_descs,
    }
    raw = json.dumps(manifest).encode()
    return blobs.add(raw), len(raw)


def oci_files(images: list[Image], *, multiarch: bool = False, gzip_layers: bool = True, zstd_layers: bool = False, ref: str = "app:1.0") -> dict[str, bytes]:
    """The files of an OCI image layout: one image, several, or one multi-arch index."""
    blobs = Blobs()
    descs = []
    for img in images:
        digest, size = _oci_manifest(img, blobs, gzip_layers, zstd_layers)
        descs.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": {"os": img.os, "architecture": img.arch}})
    if multiarch:
        inner = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
        top = [{"mediaType": OCI_INDEX, "digest": blobs.add(inner), "size": len(inner), "annotations": {"org.opencontainers.image.ref.name": ref}}]
    else:
        top = [dict(d, annotations={"org.opencontainers.image.ref.name": ref}) for d in descs]
        for d in top:
            d.pop("platform")
    files = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": top}).encode(),
    }
    for digest, data in blobs.blobs.items():
        files["blobs/sha256/" + digest.split(":", 1)[1]] = data
    return files


def docker_save_files(image: Image, tag: str = "app:1.0") -> dict[str, bytes]:
    """The classic `docker save` layout: <id>/layer.tar, <config>.json, manifest.json."""
    files: dict[str, bytes] = {}
    tars = [layer.tar() for layer in image.layers]
    diff_ids = [sha(t) for t in tars]
    paths = []
    for t, d in zip(tars, diff_ids, strict=True):
        folder = hashlib.sha256(d.encode()).hexdigest()
        files[f"{folder}/VERSION"] = b"1.0"
        files[f"{folder}/layer.tar"] = t
        paths.append(f"{folder}/layer.tar")
    config = image.config(diff_ids)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    files[config_name] = config
    files["manifest.json"] = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": paths}]).encode()
    files["repositories"] = json.dumps({tag.split(":")[0]: {tag.split(":")[1]: paths[-1].split("/")[0]}}).encode()
    return files


def write_tar(path: Path, files: dict[str, bytes], *, compress: bool = False) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def write_dir(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def secret_image() -> Image:
    """Base layer, a layer adding a secret file, a layer deleting it, one with a secret in a jar."""
    import zipfile

    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        zf.writestr("application.properties", f"server.port=8080\ncircle.token={CIRCLE2}\n")
    return Image(
        layers=[
            Layer({"etc/": None, "etc/os-release": b"ID=test\n", "usr/bin/tool": b"\x7fELF\x00\x00binary"}, "/bin/sh -c #(nop) ADD file:abc in / "),
            Layer({"app/": None, "app/.env": f"DEBUG=1\nCARGO_REGISTRY_TOKEN={CRATES}\n".encode()}, "COPY .env /app/.env # buildkit"),
            Layer({}, "RUN /bin/sh -c rm /app/.env # buildkit", whiteouts=("app/.env",)),
            Layer({"app/lib/": None, "app/lib/service.jar": jar.getvalue()}, "COPY service.jar /app/lib/ # buildkit"),
        ],
        env=["PATH=/usr/bin", f"CIRCLE_TOKEN={CIRCLE}"],
        labels={"maintainer": "team@example.com"},
        extra_history=[],
    )

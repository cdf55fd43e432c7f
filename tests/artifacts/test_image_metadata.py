"""Hostile image metadata: fanned-out indexes, malformed configs and manifests, odd digests."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leakwarden.api import build_detector
from leakwarden.artifacts import scan_image
from leakwarden.config import Settings
from leakwarden.errors import SourceError
from leakwarden.sources import images
from tests.artifacts.imagebuild import (
    CIRCLE,
    OCI_INDEX,
    Blobs,
    Image,
    Layer,
    oci_files,
    secret_image,
    write_dir,
    write_tar,
)
from tests.conftest import run_cli


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def test_index_fanning_out_resolves_each_digest_once(tmp_path):
    """Three levels of indexes listing the level below 30 times: 810,000 paths, one image."""
    files = oci_files([secret_image()])
    top = json.loads(files["index.json"])["manifests"][0]
    blobs = Blobs()
    ref = top
    for _ in range(3):
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [ref] * 30}).encode()
        ref = {"mediaType": OCI_INDEX, "digest": blobs.add(raw), "size": len(raw)}
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [ref] * 30}).encode()
    files.update({_blob_name(d): b for d, b in blobs.blobs.items()})
    detector = build_detector(Settings())  # built (and its rules compiled) outside the clock
    started = time.monotonic()
    result = scan_image(str(write_dir(tmp_path / "oci", files)), detector=detector, use_cache=False)
    assert time.monotonic() - started < 20  # minutes before
    assert sorted(f.location.path for f in result.findings) == ["/app/.env", "/app/lib/service.jar!/application.properties", "image-config/Env"]
    assert result.errors == []


def test_too_many_distinct_manifests_are_capped_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_MANIFESTS", 20)
    files = oci_files([Image([Layer({"a.txt": b"hello\n"}, "COPY a.txt /")], env=[f"CIRCLE_TOKEN={CIRCLE}"])])
    manifest_desc = json.loads(files["index.json"])["manifests"][0]
    manifest = json.loads(files[_blob_name(manifest_desc["digest"])])
    blobs = Blobs()
    descs = []
    for k in range(50):  # distinct manifests (an annotation apart) of the same image
        raw = json.dumps(dict(manifest, annotations={"n": str(k)})).encode()
        descs.append({"mediaType": manifest_desc["mediaType"], "digest": blobs.add(raw), "size": len(raw)})
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": descs}).encode()
    files.update({_blob_name(d): b for d, b in blobs.blobs.items()})
    result = scan_image(str(write_dir(tmp_path / "oci", files)), use_cache=False)
    (warning,) = result.errors
    assert warning.kind == "limit" and "more than 20 distinct manifests" in warning.message
    assert {f.location.path for f in result.findings} == {"image-config/Env"}


def _docker_save(path, config: bytes, layers: list[str]) -> str:
    return str(write_tar(path, {"c.json": config, "manifest.json": json.dumps([{"Config": "c.json", "Layers": layers}]).encode()}))


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (b'{"config": {"Env": 5}}', "config.Env has type int"),
        (b'{"config": {"Cmd": 5}}', "config.Cmd has type int"),
        (b'{"config": {"Entrypoint": {}}}', "config.Entrypoint has type dict"),
        (b'{"config": "str"}', "config is not an object"),
        (b'{"config": {"Labels": ["a"]}}', "config.Labels has type list"),
        (b'{"container_config": 7}', "container_config is not an object"),
        (b'{"history": 5}', "history is not a list"),
        (b"[1, 2]", "is not an object"),
    ],
)
def test_malformed_config_is_a_clean_error(tmp_path, config, says):
    target = _docker_save(tmp_path / "img.tar", config, [])
    with pytest.raises(SourceError, match="malformed image metadata") as info:
        scan_image(target, use_cache=False)
    assert says in str(info.value)
    proc = run_cli("scan", "image", target)
    assert proc.returncode == 2 and proc.stderr.startswith(b"error: ") and b"malformed image metadata" in proc.stderr


def test_odd_layer_paths_in_docker_save_manifest(tmp_path):
    target = _docker_save(tmp_path / "img.tar", b"{}", ["blobs/sha256"])
    result = scan_image(target, use_cache=False)  # a path with no digest in it: just a missing layer
    assert [e.kind for e in result.errors] == ["unreadable"] and "blobs/sha256 is missing" in result.errors[0].message
    with pytest.raises(SourceError, match="malformed image metadata"):
        scan_image(_docker_save(tmp_path / "int.tar", b"{}", [5]), use_cache=False)  # type: ignore[list-item]


def _layout_with(tmp_path, digest_of_manifest: str | None = None, layer_digest: str | None = None):
    files = oci_files([Image([Layer({"a.txt": b"hello\n"}, "COPY a.txt /")])])
    index = json.loads(files["index.json"])
    if digest_of_manifest is not None:
        index["manifests"][0]["digest"] = digest_of_manifest
    if layer_digest is not None:
        name = _blob_name(index["manifests"][0]["digest"])
        manifest = json.loads(files[name])
        manifest["layers"][0]["digest"] = layer_digest
        raw = json.dumps(manifest).encode()
        blobs = Blobs()
        index["manifests"][0]["digest"] = blobs.add(raw)
        files.update({_blob_name(d): b for d, b in blobs.blobs.items()})
    files["index.json"] = json.dumps(index).encode()
    return str(write_dir(tmp_path / "oci", files))


def test_digests_never_leave_the_layout(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"schemaVersion": 2, "manifests": []}')
    for bad in (str(outside), "/etc/hostname", "sha256:a\u0000b", "sha256:../../x"):
        target = _layout_with(tmp_path / f"m{abs(hash(bad))}", digest_of_manifest=bad)
        with pytest.raises(SourceError, match="outside the layout"):
            scan_image(target, use_cache=False)
        proc = run_cli("scan", "image", target)
        assert proc.returncode == 2 and b"outside the layout" in proc.stderr and b"internal error" not in proc.stderr
    secret = tmp_path / "secret.tar"
    secret.write_bytes(b"")
    for bad in (str(secret), "/dev/zero"):
        result = scan_image(_layout_with(tmp_path / f"l{abs(hash(bad))}", layer_digest=bad), use_cache=False)
        (err,) = result.errors
        assert "outside the layout" in err.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_devices_are_refused_not_read(tmp_path):
    fifo = tmp_path / "f.tar"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        if not os.path.exists(target):
            continue
        for command in ("image", "archive"):
            proc = run_cli("scan", command, target, timeout=60)
            assert proc.returncode == 2 and b"not a file" in proc.stderr, (command, target, proc.stderr)
    # a layout whose blob is a FIFO: that blob is refused, never waited on
    target = _layout_with(tmp_path / "lay")
    index = json.loads((tmp_path / "lay" / "oci" / "index.json").read_text())
    manifest = json.loads((tmp_path / "lay" / "oci" / _blob_name(index["manifests"][0]["digest"])).read_text())
    layer = tmp_path / "lay" / "oci" / _blob_name(manifest["layers"][0]["digest"])
    layer.unlink()
    os.mkfifo(layer)
    started = time.monotonic()
    result = scan_image(target, use_cache=False)
    assert time.monotonic() - started < 30
    (err,) = result.errors
    assert "not a regular file" in err.message


def test_json_nested_too_deep_is_a_clean_error(tmp_path):
    # a few hundred KB of `[` exhaust the JSON parser's recursion: a clear error, not an internal one
    deep = b"[" * 100_000 + b"]" * 100_000
    targets = [
        _docker_save(tmp_path / "config.tar", deep, []),
        str(write_tar(tmp_path / "manifest.tar", {"manifest.json": deep})),
        str(write_dir(tmp_path / "layout", {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": deep})),
    ]
    for target in targets:
        with pytest.raises(SourceError, match="not valid JSON"):
            scan_image(target, use_cache=False)
    proc = run_cli("scan", "image", targets[0])
    assert proc.returncode == 2 and proc.stderr.startswith(b"error: ") and b"not valid JSON" in proc.stderr


@contextlib.contextmanager
def _registry(docs: dict[str, bytes], content_type: str) -> Iterator[str]:
    """A server on 127.0.0.1 speaking just enough of the distribution API to hand out `docs`
    (path -> body; 404 for the rest). Yields its host:port."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            body = docs.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_registry_manifest_of_the_wrong_shape_is_a_clean_error():
    docs = {
        "/v2/": b"{}",
        "/v2/team/list/manifests/1.0": b"[1, 2]",
        "/v2/team/entry/manifests/1.0": json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [5]}).encode(),
        "/v2/team/deep/manifests/1.0": b"[" * 100_000 + b"]" * 100_000,
    }
    with _registry(docs, "application/vnd.oci.image.manifest.v1+json") as host:
        for repo, says in (("list", "malformed manifest"), ("entry", "malformed manifest"), ("deep", "not JSON")):
            with pytest.raises(SourceError, match=says):
                scan_image(f"{host}/team/{repo}:1.0", use_cache=False)


def test_docker_save_layer_stored_once_behind_symlinks(tmp_path):
    # classic `docker save` writes a layer an image holds twice once; the other <id>/layer.tar
    # is a symlink to it, and `tar` re-packing an extracted save stores hard links, in whatever
    # order it walks the folders: here the links are listed before the file they name
    import io
    import tarfile

    from tests.artifacts.imagebuild import docker_save_files

    secret = Layer({"etc/app.env": f"t={CIRCLE}\n".encode()}, "COPY app.env /etc/")
    img = Image(layers=[secret, secret, secret, secret])
    files = docker_save_files(img)
    entry = json.loads(files["manifest.json"])[0]
    first = entry["Layers"][0]
    entry["Layers"] = ["c3/layer.tar", first, "c4/layer.tar", first]
    files["manifest.json"] = json.dumps([entry]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, kind, target in (("c3/layer.tar", tarfile.SYMTYPE, "../" + first), ("c4/layer.tar", tarfile.LNKTYPE, first)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    (tmp_path / "img.tar").write_bytes(buf.getvalue())
    result = scan_image(str(tmp_path / "img.tar"), use_cache=False)
    assert not result.errors
    assert sorted(f.location.extra["layer_index"] for f in result.findings if f.location.path == "/etc/app.env") == [1, 2, 3, 4]


def test_layers_past_the_limit_are_left_out_with_a_warning(tmp_path, monkeypatch):
    # a manifest may list one layer 100,000 times; the deletion notes compare each layer with
    # every later one, so past MAX_LAYERS the rest is left out (5,000 took 10 s of CPU)
    from tests.artifacts.imagebuild import docker_save_files

    monkeypatch.setattr(images, "MAX_LAYERS", 3)
    secret = Layer({"etc/app.env": f"t={CIRCLE}\n".encode()}, "COPY app.env /etc/")
    target = write_tar(tmp_path / "img.tar", docker_save_files(Image(layers=[secret] * 5)))
    result = scan_image(str(target), use_cache=False)
    assert [(e.kind, e.message) for e in result.errors] == [("limit", "5 layers; only the first 3 were scanned")]
    assert sorted(f.location.extra["layer_index"] for f in result.findings if f.location.path == "/etc/app.env") == [1, 2, 3]


def test_registry_layer_with_bytes_after_its_tar_end_is_still_checked_against_its_digest():
    # the digest of a pulled blob is checked when its body ends; the tar walk stops at the tar's
    # end marker, so a mirror serving the right tar followed by other bytes went unnoticed and the
    # layer was cached as clean under a digest its content does not have
    import hashlib

    from tests.artifacts.imagebuild import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, tar_bytes

    def sha(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    layer = tar_bytes({"etc/hostname": b"box\n"})
    config = Image(layers=[Layer({}, "ADD x")]).config([sha(layer)])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha(layer), "size": len(layer)}],
    }).encode()
    docs = {
        "/v2/": b"{}", "/v2/team/app/manifests/1.0": manifest, f"/v2/team/app/blobs/{sha(config)}": config,
        f"/v2/team/app/blobs/{sha(layer)}": layer + os.urandom(600_000),
    }
    with _registry(docs, OCI_MANIFEST) as host:
        for _ in range(2):  # the second scan must not trust a cache entry written by the first
            result = scan_image(f"{host}/team/app:1.0")
            assert [e.kind for e in result.errors] == ["unreadable"]
            assert "does not match its digest" in result.errors[0].message


def test_local_layer_blob_that_does_not_match_its_digest_is_reported_and_not_cached(tmp_path):
    # a blob altered (or damaged) in a layout was scanned as if it were the layer its name claims,
    # and cached as clean: a later scan of the real layer, local or pulled, then skipped it
    from tests.artifacts.imagebuild import tar_bytes

    img = Image(layers=[Layer({"etc/hostname": b"box\n"}, "ADD x"), Layer({"app/.env": f"t={CIRCLE}\n".encode()}, "COPY .env /app/")])
    files = oci_files([img], gzip_layers=False)
    manifest = json.loads(files[_blob_name(json.loads(files["index.json"])["manifests"][0]["digest"])])
    secret_blob = _blob_name(manifest["layers"][1]["digest"])
    real = files[secret_blob]
    files[secret_blob] = tar_bytes({"app/.env": b"t=nothing\n"})
    layout = write_dir(tmp_path / "layout", files)
    altered = scan_image(str(layout))
    assert not altered.findings
    assert [e.kind for e in altered.errors] == ["unreadable"] and "does not match its digest" in altered.errors[0].message
    (layout / secret_blob).write_bytes(real)
    honest = scan_image(str(layout))
    assert [f.location.path for f in honest.findings if f.location.layer] == ["/app/.env"] and not honest.errors

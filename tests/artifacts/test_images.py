"""Images built with the standard library: Docker save and OCI layouts, multi-arch, whiteouts."""

from __future__ import annotations

import json

import pytest

from leakwarden.artifacts import scan_image
from leakwarden.errors import SourceError
from leakwarden.sources.images import clean_instruction
from tests.artifacts.imagebuild import (
    CIRCLE,
    CIRCLE2,
    CRATES,
    Image,
    Layer,
    docker_save_files,
    oci_files,
    secret_image,
    write_dir,
    write_tar,
)
from tests.conftest import run_cli


def _check_secret_image(result, name_contains: str) -> None:
    found = {f.location.path: f for f in result.findings}
    assert set(found) == {"/app/.env", "/app/lib/service.jar!/application.properties", "image-config/Env"}

    env = found["/app/.env"]
    assert env.rule_id == "crates-io-api-token"
    assert (env.location.start_line, env.location.start_column) == (2, 22)
    assert env.location.extra["layer_index"] == 2
    assert env.location.extra["instruction"] == "COPY .env /app/.env"
    assert env.location.extra["deleted_in_layer"] == 3
    assert env.location.extra["note"] == "deleted in layer 3 but still in the image"
    assert env.location.layer.startswith("sha256:")
    assert name_contains in env.location.extra["image"]

    jar = found["/app/lib/service.jar!/application.properties"]
    assert jar.secret.reveal() == CIRCLE2
    assert jar.location.extra["layer_index"] == 4
    assert "deleted_in_layer" not in jar.location.extra

    cfg = found["image-config/Env"]
    assert cfg.secret.reveal() == CIRCLE and cfg.location.start_line == 2
    assert cfg.location.layer is None


def test_docker_save_layout(tmp_path):
    target = write_tar(tmp_path / "app.tar", docker_save_files(secret_image()))
    result = scan_image(str(target), use_cache=False)
    _check_secret_image(result, "app:1.0")
    # The layer digest of a legacy layer.tar is its diff_id.
    assert not [e for e in result.errors if e.kind != "binary"]


def test_oci_layout_in_gzipped_tar(tmp_path):
    target = write_tar(tmp_path / "app.oci.tar.gz", oci_files([secret_image()]), compress=True)
    _check_secret_image(scan_image(str(target), use_cache=False), "app.oci.tar.gz")


def test_oci_layout_folder(tmp_path):
    target = write_dir(tmp_path / "layout", oci_files([secret_image()], gzip_layers=False))
    result = scan_image(str(target), use_cache=False)
    _check_secret_image(result, "layout")
    files = oci_files([secret_image()], gzip_layers=False)
    manifest = json.loads(files["blobs/sha256/" + json.loads(files["index.json"])["manifests"][0]["digest"].split(":")[1]])
    digests = [d["digest"] for d in manifest["layers"]]
    env = next(f for f in result.findings if f.location.path == "/app/.env")
    assert env.location.layer == digests[1]


def test_oci_layout_with_zstd_layers(tmp_path):
    target = write_dir(tmp_path / "layout", oci_files([secret_image()], zstd_layers=True))
    assert any(b"tar+zstd" in data for name, data in oci_files([secret_image()], zstd_layers=True).items() if name.startswith("blobs/"))
    result = scan_image(str(target), use_cache=False)
    assert not [e for e in result.errors if e.kind in ("unsupported", "corrupt")]
    _check_secret_image(result, "layout")


def test_config_only_secrets(tmp_path):
    img = Image(
        layers=[Layer({"etc/hostname": b"box\n"}, "/bin/sh -c #(nop) ADD file:1 in /")],
        env=["PATH=/bin", "HOME=/root"],
        labels={"build.token": CRATES},
        extra_history=[f"/bin/sh -c #(nop)  ARG CIRCLE_TOKEN={CIRCLE}", "/bin/sh -c #(nop)  ENV A=b"],
    )
    target = write_tar(tmp_path / "cfg.tar", oci_files([img]))
    result = scan_image(str(target), use_cache=False)
    found = {f.location.path: f for f in result.findings}
    assert set(found) == {"image-config/Labels", "image-config/history"}
    assert found["image-config/history"].location.start_line == 1  # the first history entry
    assert found["image-config/history"].line.startswith("/bin/sh -c #(nop)  ARG CIRCLE_TOKEN=")
    assert found["image-config/Labels"].location.extra["config_digest"].startswith("sha256:")


def _two_platforms() -> list[Image]:
    shared = Layer({"usr/share/base.conf": f"k={CRATES}\n".encode()}, "ADD base.tar /")
    amd = Image(layers=[shared, Layer({"opt/amd.txt": f"t={CIRCLE}\n".encode()}, "RUN build-amd64")], arch="amd64")
    arm = Image(layers=[shared, Layer({"opt/arm.txt": f"t={CIRCLE2}\n".encode()}, "RUN build-arm64")], arch="arm64", env=["PATH=/bin", "X=1"])
    return [amd, arm]


def test_multi_arch_index_all_platforms_and_filter(tmp_path):
    target = write_dir(tmp_path / "multi", oci_files(_two_platforms(), multiarch=True))
    result = scan_image(str(target), use_cache=False)
    got = sorted((f.location.path, f.location.extra["platform"]) for f in result.findings)
    assert got == [
        ("/opt/amd.txt", "linux/amd64"),
        ("/opt/arm.txt", "linux/arm64"),
        ("/usr/share/base.conf", "linux/amd64"),
        ("/usr/share/base.conf", "linux/arm64"),
    ]
    # The shared base layer was read once: its bytes count once.
    single = scan_image(str(target), platform="linux/arm64", use_cache=False)
    assert sorted(f.location.path for f in single.findings) == ["/opt/arm.txt", "/usr/share/base.conf"]
    assert all(f.location.extra["platform"] == "linux/arm64" for f in single.findings)
    assert result.stats.bytes < 2 * single.stats.bytes

    with pytest.raises(SourceError, match="no image matches platform 'linux/s390x'"):
        scan_image(str(target), platform="linux/s390x", use_cache=False)


def test_opaque_directory_hides_lower_layers(tmp_path):
    img = Image(layers=[
        Layer({"srv/conf/app.ini": f"token={CIRCLE}\n".encode(), "srv/keep.txt": f"k={CRATES}\n".encode()}, "COPY conf /srv/"),
        Layer({"srv/conf/other.ini": b"x=1\n"}, "RUN reset-conf", opaque=("srv/conf",)),
    ])
    result = scan_image(str(write_tar(tmp_path / "o.tar", docker_save_files(img))), use_cache=False)
    found = {f.location.path: f for f in result.findings}
    assert found["/srv/conf/app.ini"].location.extra["deleted_in_layer"] == 2
    assert "deleted_in_layer" not in found["/srv/keep.txt"].location.extra


def test_identical_files_across_layers_scanned_once(tmp_path):
    data = f"t={CIRCLE}\n".encode() + b"#" * 100_000 + b"\n"
    img = Image(layers=[Layer({"a/x.txt": data}, "COPY x /a/"), Layer({"b/x.txt": data}, "COPY x /b/")])
    result = scan_image(str(write_tar(tmp_path / "d.tar", docker_save_files(img))), use_cache=False)
    assert sorted((f.location.path, f.location.extra["layer_index"]) for f in result.findings) == [("/a/x.txt", 1), ("/b/x.txt", 2)]
    assert result.stats.bytes < 2 * len(data)


def test_clean_layer_cache_skips_known_layers(tmp_path):
    img = Image(layers=[Layer({"etc/motd": b"hello\n"}, "ADD motd /etc/")], env=["PATH=/bin"])
    layout = write_dir(tmp_path / "c", oci_files([img], gzip_layers=False))
    assert scan_image(str(layout)).findings == []
    # Tamper with the blob behind the same digest: a cached-clean layer is not read again...
    blob = next(p for p in (layout / "blobs" / "sha256").iterdir() if p.read_bytes()[257:262] == b"ustar")
    from tests.artifacts.imagebuild import tar_bytes

    blob.write_bytes(tar_bytes({"etc/motd": f"token={CIRCLE}\n".encode()}))
    assert scan_image(str(layout)).findings == []
    # ...unless the cache is bypassed.
    assert [f.location.path for f in scan_image(str(layout), use_cache=False).findings] == ["/etc/motd"]


def test_damaged_images_give_clear_errors(tmp_path):
    files = oci_files([secret_image()])
    layer_names = [n for n, d in files.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b"]
    files[layer_names[0]] = files[layer_names[0]][: len(files[layer_names[0]]) // 2]
    result = scan_image(str(write_tar(tmp_path / "cut.tar", files)), use_cache=False)
    assert any(e.kind == "corrupt" and "truncated" in e.message for e in result.errors)

    missing = oci_files([secret_image()])
    del missing[layer_names[0]]
    result = scan_image(str(write_tar(tmp_path / "missing.tar", missing)), use_cache=False)
    assert any("missing from the tarball" in e.message for e in result.errors)

    not_image = write_tar(tmp_path / "plain.tar", {"hello.txt": b"hi"})
    with pytest.raises(SourceError, match="not an image"):
        scan_image(str(not_image))
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"\x00not a tar at all" * 10)
    with pytest.raises(SourceError):
        scan_image(str(garbage))

    proc = run_cli("scan", "image", str(garbage))
    assert proc.returncode == 2 and proc.stderr.startswith(b"error: ")
    with pytest.raises(SourceError, match="no such file or folder"):
        scan_image(str(tmp_path / "typo.tar"))


def test_instruction_cleaning():
    assert clean_instruction("/bin/sh -c #(nop)  ENV A=b") == "ENV A=b"
    assert clean_instruction("/bin/sh -c apt-get update") == "RUN apt-get update"
    assert clean_instruction("RUN /bin/sh -c make # buildkit") == "RUN /bin/sh -c make"


def test_cli_image_reports(tmp_path):
    target = write_tar(tmp_path / "app.tar.gz", docker_save_files(secret_image()), compress=True)
    text = run_cli("scan", "image", str(target), "--no-cache")
    assert text.returncode == 1, text.stderr
    out = text.stdout.decode()
    assert "layer 2 (linux/amd64) sha256:" in out and "COPY .env /app/.env" in out
    assert "deleted in layer 3 but still in the image" in out
    assert CRATES not in out and CIRCLE not in out

    data = json.loads(run_cli("scan", "image", str(target), "-f", "json").stdout)
    env = next(f for f in data["findings"] if f["path"] == "/app/.env")
    assert env["layer"].startswith("sha256:") and env["layer_index"] == 2
    assert env["instruction"] == "COPY .env /app/.env" and env["deleted_in_layer"] == 3
    jar = next(f for f in data["findings"] if f["path"].startswith("/app/lib/"))
    assert jar["path"] == "/app/lib/service.jar!/application.properties"

    sarif = json.loads(run_cli("scan", "image", str(target), "-f", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "app/lib/service.jar!/application.properties" in uris and "app/.env" in uris
    env_res = next(r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/.env")
    assert env_res["properties"]["layer_index"] == 2 and env_res["properties"]["deleted_in_layer"] == 3

    only = run_cli("scan", "image", str(target), "--platform", "linux/arm64")
    assert only.returncode == 2 and b"no image matches platform" in only.stderr



def test_build_arg_in_an_instruction_is_redacted_in_every_layer_finding(tmp_path):
    # `docker history` keeps a RUN's build args (`|1 TOKEN=...`); that instruction labels every
    # finding of its layer, so the value must be redacted there as it is in the config finding.
    img = Image(layers=[
        Layer({"etc/hostname": b"box\n"}, "/bin/sh -c #(nop) ADD file:1 in /"),
        Layer({"root/.cc": f"token={CIRCLE}\n".encode()}, f"RUN |1 TOKEN={CIRCLE2} /bin/sh -c echo $TOKEN > /root/.cc # buildkit"),
    ])
    target = write_tar(tmp_path / "app.tar", docker_save_files(img))
    result = scan_image(str(target), use_cache=False)
    layer = next(f for f in result.findings if f.location.path == "/root/.cc")
    assert layer.location.extra["instruction"].startswith("RUN |1 TOKEN=CCIP")
    assert CIRCLE2 not in layer.location.extra["instruction"]
    assert any(f.secret.reveal() == CIRCLE2 for f in result.findings if f.location.path == "image-config/history")
    for fmt in ("text", "json", "sarif"):
        out = run_cli("scan", "image", str(target), "--no-cache", "-f", fmt)
        assert out.returncode == 1 and CIRCLE2.encode() not in out.stdout and CIRCLE.encode() not in out.stdout, fmt


def test_whiteout_lookup_goes_folder_by_folder():
    # a layer can hold 200,000 whiteouts and an image as many findings: comparing every finding
    # with every whiteout took 110 s of CPU for 20,000 of each, so the sets are never walked
    from leakwarden.sources.images import LayerRecord

    class NoWalk(set):
        def __iter__(self):
            raise AssertionError("whiteouts compared one by one")

    record = LayerRecord(NoWalk({"app/.env", "srv/cache", f"x/{'d' * 10}"}), NoWalk({"opt/tool", "var/lib/apt"}))
    removed = ["app/.env", "srv/cache", "srv/cache/a/b.txt", "opt/tool/conf", "var/lib/apt/lists/x"]
    kept = ["app/.env2", "app", "srv/cache2/a", "opt/tool", "opt/toolbox/x", "var/lib", "etc/passwd"]
    assert [p for p in removed + kept if record.removes(p)] == removed
    root = LayerRecord(NoWalk(), NoWalk({""}))
    assert root.removes("etc/passwd") and root.removes("x")

"""A damaged scan target is no all-clear: a truncated archive or a missing image layer exits 2
when nothing was found, while damage inside the target's content stays a warning."""

from __future__ import annotations

import gzip
import json

from tests.artifacts.imagebuild import CIRCLE, Image, Layer, oci_files, secret_image, write_tar
from tests.artifacts.test_archives import tar_bytes, zip_bytes
from tests.conftest import run_cli

QUIET = {"a.txt": b"nothing here\n" * 3000, "b.txt": b"plain text\n" * 3000}


def test_truncated_archive_target_exits_2(tmp_path):
    data = gzip.compress(tar_bytes(QUIET))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    proc = run_cli("scan", "archive", str(cut))
    assert proc.returncode == 2, proc.stderr
    assert b"incomplete" in proc.stderr and b"truncated" in proc.stdout  # the text report lists the warnings

    report = tmp_path / "r.json"
    proc = run_cli("scan", "archive", str(cut), "-f", "json", "-o", str(report))
    assert proc.returncode == 2
    errors = json.loads(report.read_text())["errors"]
    assert any(e["incomplete"] and e["path"] == str(cut) for e in errors)


def test_truncated_zip_target_exits_2_but_findings_still_exit_1(tmp_path):
    quiet = zip_bytes(QUIET)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(quiet[: len(quiet) // 3])
    assert run_cli("scan", "archive", str(cut)).returncode == 2
    whole = tmp_path / "whole.zip"
    whole.write_bytes(zip_bytes({"ci.env": f"CIRCLE_TOKEN={CIRCLE}\n".encode()}))
    proc = run_cli("scan", "archive", str(cut), str(whole))
    assert proc.returncode == 1, proc.stderr  # a finding says more than the gap


def test_damage_inside_the_target_stays_a_warning(tmp_path):
    inner = zip_bytes(QUIET)
    outer = tmp_path / "outer.tar"
    outer.write_bytes(tar_bytes({"fixtures/broken.zip": inner[: len(inner) // 3], "README": b"hello\n"}))
    proc = run_cli("scan", "archive", str(outer))
    assert proc.returncode == 0, proc.stderr
    assert b"broken.zip" in proc.stdout  # still said

    # a truncated archive met in a folder scan is that folder's content too
    folder = tmp_path / "tree"
    folder.mkdir()
    data = gzip.compress(tar_bytes(QUIET))
    (folder / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    proc = run_cli("scan", "path", str(folder), "--archives")
    assert proc.returncode == 0, proc.stderr
    assert b"truncated" in proc.stdout


def _quiet_image_files() -> tuple[dict[str, bytes], list[str]]:
    image = Image([
        Layer({"etc/motd": b"welcome\n" * 2000}, "ADD rootfs.tar /"),
        Layer({"app/README": b"read me\n" * 2000}, "COPY README /app/"),
    ])
    files = oci_files([image])
    layers = [n for n, d in files.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b"]
    assert len(layers) == 2
    return files, layers


def test_missing_or_truncated_image_layer_exits_2(tmp_path):
    files, layers = _quiet_image_files()
    assert run_cli("scan", "image", str(write_tar(tmp_path / "ok.tar", files)), "--no-cache").returncode == 0

    missing = dict(files)
    del missing[layers[1]]
    proc = run_cli("scan", "image", str(write_tar(tmp_path / "missing.tar", missing)), "--no-cache", "-f", "json")
    assert proc.returncode == 2, proc.stderr
    errors = json.loads(proc.stdout)["errors"]
    assert [e["incomplete"] for e in errors] == [True] and "missing from the tarball" in errors[0]["message"]

    cut = dict(files)
    cut[layers[0]] = files[layers[0]][: len(files[layers[0]]) // 2]
    proc = run_cli("scan", "image", str(write_tar(tmp_path / "cut.tar", cut)), "--no-cache")
    assert proc.returncode == 2, proc.stderr
    assert b"incomplete" in proc.stderr


def test_missing_layer_beside_findings_exits_1(tmp_path):
    files = oci_files([secret_image()])
    layers = [n for n, d in files.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b"]
    quiet = next(n for n in layers if CIRCLE.encode() not in gzip.decompress(files[n]))
    del files[quiet]
    proc = run_cli("scan", "image", str(write_tar(tmp_path / "missing.tar", files)), "--no-cache")
    assert proc.returncode == 1, proc.stderr
    assert b"missing from the tarball" in proc.stdout

"""Bad input gives a clear message and never a traceback or a hang."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from leakwarden.sources.files import FileOptions, file_chunks, iter_files
from tests.conftest import SRC, run_cli

CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"


def _json(proc) -> dict:
    assert proc.returncode in (0, 1), proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_binary_file_is_skipped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "blob.dat2").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + f"token={CRATES}".encode() + bytes(range(256)))
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json"))
    assert data["findings"] == [] and data["stats"]["skipped_binary"] == 1


def test_invalid_utf8_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "latin1.cfg").write_bytes(b"caf\xe9 \xff\xfe\nCARGO_REGISTRY_TOKEN=" + CRATES.encode() + b" \xc3\x28\n")
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json"))
    assert [(f["rule_id"], f["start_line"]) for f in data["findings"]] == [("crates-io-api-token", 2)]
    text = run_cli("scan", "path", str(tmp_path))
    assert text.returncode == 1 and b"Traceback" not in text.stderr


def test_huge_single_line_file(tmp_path: Path) -> None:
    big = tmp_path / "huge.min.js"
    with big.open("wb") as fh:
        block = b"a=1;" * (1 << 20)  # 4 MiB without a newline
        for _ in range(50):
            fh.write(block)
        fh.write(f"k='{CRATES}';".encode())
    # default cap: skipped with a clear warning
    proc = run_cli("scan", "path", str(tmp_path), "-f", "json")
    data = _json(proc)
    assert data["findings"] == []
    assert data["errors"][0]["kind"] == "too-large" and "max-file-size" in data["errors"][0]["message"]
    assert b"huge.min.js" in proc.stderr
    # raised cap: read in overlapping blocks, the secret at the very end is found on line 1
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json", "--max-file-size", "300MB"))
    [f] = data["findings"]
    assert f["start_line"] == 1 and f["start_column"] == 200 * (1 << 20) + 4


def test_secret_across_block_boundary_found_once(tmp_path: Path) -> None:
    from leakwarden.sources import BLOCK_SIZE

    p = tmp_path / "edge.txt"
    pad = b"x" * (BLOCK_SIZE - 10) + b"\n"
    p.write_bytes(pad + f"T={CRATES}\n".encode() + b"y" * 1000)
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json", "--max-file-size", "100MB"))
    assert [(f["start_line"], f["start_column"]) for f in data["findings"]] == [(2, 3)]


def test_file_that_vanishes_after_listing(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text("soon gone\n")
    errors = []
    files = list(iter_files([tmp_path], FileOptions(), errors.append))
    (tmp_path / "gone.txt").unlink()
    chunks = [c for path, display, size in files for c in file_chunks(path, display, size, FileOptions(), errors.append)]
    assert chunks == []
    assert [e.kind for e in errors] == ["vanished"]


def test_file_that_grows_while_read_is_read_up_to_the_size_cap(tmp_path: Path) -> None:
    # a log being written: listed small, much bigger by the time it is read; without the cap a
    # file that keeps growing (`yes >> log`) is read for as long as it grows
    log = tmp_path / "build.log"
    log.write_text(f"CARGO_REGISTRY_TOKEN={CRATES}\n")
    errors = []
    [(path, display, size)] = list(iter_files([tmp_path], FileOptions(), errors.append))
    with log.open("ab") as fh:
        fh.write((b"x" * 1023 + b"\n") * 3 * 1024)
    options = FileOptions(max_file_size=1 << 20)
    chunks = list(file_chunks(path, display, size, options, errors.append))
    assert sum(len(c.data) for c in chunks) == 1 << 20
    assert CRATES.encode() in chunks[0].data
    [err] = errors
    assert err.kind == "too-large" and "grew past the --max-file-size limit" in err.message


def test_permission_denied_file_warns_and_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "secret.env").write_text(f"CARGO_REGISTRY_TOKEN={CRATES}\n")
    locked = tmp_path / "locked.txt"
    locked.write_text("hidden\n")
    os.chmod(locked, 0)
    cmd = [os.sys.executable, "-m", "leakwarden", "scan", "path", str(tmp_path), "-f", "json"]
    if os.geteuid() == 0:
        # root may read any file; without its DAC capabilities the kernel really says no
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        cmd = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", *cmd]
    env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    data = _json(proc)
    assert [f["rule_id"] for f in data["findings"]] == ["crates-io-api-token"]
    assert any(e["kind"] == "unreadable" and "permission denied" in e["message"] for e in data["errors"])
    assert b"locked.txt" in proc.stderr


def test_symlinks_not_followed_unless_asked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "s.env").write_text(f"T={CRATES}\n")
    scan_root = tmp_path / "root"
    scan_root.mkdir()
    (scan_root / "link").symlink_to(outside)
    (scan_root / "loop").symlink_to(scan_root)
    assert run_cli("scan", "path", str(scan_root)).returncode == 0
    data = _json(run_cli("scan", "path", str(scan_root), "--follow-symlinks", "-f", "json"))
    assert len(data["findings"]) == 1


def test_symlink_loop_given_as_the_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for extra in ((), ("--follow-symlinks",)):
        proc = run_cli("scan", "path", str(tmp_path / "a"), *extra)
        assert proc.returncode == 2
        assert b"internal error" not in proc.stderr and b"Traceback" not in proc.stderr
        assert proc.stderr.startswith(b"error: ") and str(tmp_path / "a").encode() in proc.stderr


@pytest.mark.parametrize(
    "payload",
    [
        b"password=" * 200_000,
        b"eyJ" + b"A" * 3_000_000,
        (b"eyJhbGciOiJIUzI1NiJ9." * 100_000),
        b"-----BEGIN PRIVATE KEY-----\n" + b"QUJD" * 500_000,
        b"postgres://u:" + b"p" * 1_000_000 + b"@",
        b"ATATT3xFfGF0" * 200_000,
        b"a@" * 500_000,
        bytes(range(1, 256)) * 10_000,
    ],
    ids=["keyword-flood", "jwt-prefix-run", "jwt-header-repeat", "unterminated-key", "long-userinfo", "prefix-flood", "at-flood", "all-bytes"],
)
def test_pathological_input_finishes(payload: bytes, tmp_path: Path) -> None:
    (tmp_path / "evil.txt").write_bytes(payload)
    proc = run_cli("scan", "path", str(tmp_path), "-f", "json", timeout=60)
    _json(proc)

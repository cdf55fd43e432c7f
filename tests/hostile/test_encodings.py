"""UTF-16 and UTF-32 text (PowerShell's `>`, Windows tools) is read as text, not skipped as binary."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from leakwarden.models import Origin
from leakwarden.sources import BLOCK_SIZE, Transcoded, chunks_from_stream, text_encoding
from tests.conftest import SRC, run_cli

KEY_ID = "AKIAQYLPMN5HHHFPZAM2"
SECRET = "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"
TEXT = f"# deploy\r\nAWS_ACCESS_KEY_ID={KEY_ID}\r\naws_secret_access_key = \"{SECRET}\"\r\n"
ENCODINGS = [("utf-16", "utf-16-le"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32-le")]


def _findings(proc) -> list[tuple[str, int, int, str | None]]:
    assert proc.returncode == 1, proc.stderr.decode()
    return sorted((f["rule_id"], f["start_line"], f["start_column"], f.get("encoding")) for f in json.loads(proc.stdout)["findings"])


@pytest.mark.parametrize(("codec", "name"), ENCODINGS)
def test_path_and_stdin_find_keys_in_utf16_and_utf32(tmp_path: Path, codec: str, name: str) -> None:
    data = TEXT.encode(codec)
    (tmp_path / "creds.txt").write_bytes(data)
    expected = [("aws-access-key-id", 2, 19, name), ("aws-secret-access-key", 3, 26, name)]
    assert _findings(run_cli("scan", "path", str(tmp_path), "-f", "json")) == expected
    assert _findings(run_cli("scan", "stdin", "-f", "json", input=data)) == expected


def test_sniff_is_strict_about_what_it_calls_text() -> None:
    assert text_encoding(TEXT.encode("utf-16-le")) == ("utf-16-le", "utf-16-le")
    assert text_encoding(b"\xff\xfe" + TEXT.encode("utf-16-le")) == ("utf-16", "utf-16-le")
    assert text_encoding(b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le")) == ("utf-32", "utf-32-le")
    assert text_encoding(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256))) is None
    assert text_encoding(b"a\x00" * 10) is None  # too short to tell
    assert text_encoding(b"\x01\x00\x02\x00" * 64) is None  # NUL every other byte, but not text
    assert text_encoding(bytes(1024)) is None


def test_binary_is_still_skipped(tmp_path: Path) -> None:
    (tmp_path / "blob.dat2").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + f"k={KEY_ID}".encode() + bytes(range(256)))
    proc = run_cli("scan", "path", str(tmp_path), "-f", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["stats"]["skipped_binary"] == 1


def test_transcoding_keeps_lines_across_blocks() -> None:
    filler = "x = 1\n" * (BLOCK_SIZE // 6 + 20_000)  # over one block (and its overlap) once transcoded
    data = (filler + TEXT).encode("utf-16")
    stream = Transcoded(io.BytesIO(data[8192:]), "utf-16", data[:8192])
    chunks = list(chunks_from_stream(stream, Origin("file", path="x")))
    assert len(chunks) == 2
    last = chunks[-1]
    assert last.base_line + last.data.count(b"\n") == filler.count("\n") + TEXT.count("\n") + 1
    odd = Transcoded(io.BytesIO(b"\x00\xd8a\x00"), "utf-16-le")  # a lone surrogate: replaced, no crash
    assert odd.read() == "\ufffda".encode()


def test_closed_stdin_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "leakwarden", "scan", "stdin"], stdin=subprocess.DEVNULL, capture_output=True, env={"PYTHONPATH": str(SRC)}, timeout=60)
    assert proc.returncode == 0
    proc = subprocess.run(
        ["/bin/sh", "-c", f'exec "{sys.executable}" -m leakwarden scan stdin <&-'], capture_output=True, env={"PYTHONPATH": str(SRC)}, timeout=60
    )
    assert proc.returncode == 2 and proc.stderr.startswith(b"error: standard input is closed"), proc.stderr


def test_archive_members_in_utf16_are_read_as_text(tmp_path: Path) -> None:
    """A UTF-16 member of a zip (or a tar layer) is transcoded like a file on disk; a real
    binary member is still skipped."""
    import zipfile

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deploy/creds.txt", TEXT.encode("utf-16"))
        z.writestr("deploy/blob.dat", b"\x00\x01\x02" + TEXT.encode())
    found = _findings(run_cli("scan", "archive", str(archive), "-f", "json"))
    assert found == [("aws-access-key-id", 2, 19, "utf-16-le"), ("aws-secret-access-key", 3, 26, "utf-16-le")]

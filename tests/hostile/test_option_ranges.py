"""Archive and image limits are checked when parsed: a clear usage error, never a crash."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from leakwarden.artifacts import scan_archives
from leakwarden.sources.archives import ArchiveLimits
from tests.conftest import run_cli

LINE = b'aws_secret_access_key = "kR8vT2nQ9wZx4Lm7Pb3Yc6Hs1Df5Gj0Ae8Uo2Iy7"\n'


def _nested_gzip(path: Path, levels: int) -> Path:
    data = LINE
    for _ in range(levels):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-ratio", "nan"), ("--max-ratio", "0"), ("--max-ratio", "-5"), ("--max-ratio", "inf"),
        ("--max-archive-depth", "-1"), ("--max-archive-depth", "100000"),
        ("--max-archive-members", "-3"), ("--max-archive-members", "0"),
        ("--max-file-size", "0"), ("--max-file-size", "lots"), ("--max-archive-bytes", "0"),
    ],
)
def test_bad_limit_values_are_usage_errors(tmp_path, option, value):
    target = _nested_gzip(tmp_path / "a.gz", 1)
    for command in ("archive", "image"):
        proc = run_cli("scan", command, str(target), option, value)
        assert proc.returncode == 2, (command, proc.stderr)
        assert f"Invalid value for '{option}'".encode() in proc.stderr and b"Traceback" not in proc.stderr


def test_deepest_allowed_nesting_is_walked_and_deeper_is_refused_cleanly(tmp_path):
    deep = _nested_gzip(tmp_path / "deep64.gz", 64)
    proc = run_cli("scan", "archive", str(deep), "--max-archive-depth", "64", "-f", "json")
    assert proc.returncode == 1, proc.stderr
    deeper = _nested_gzip(tmp_path / "deep300.gz", 300)
    proc = run_cli("scan", "archive", str(deeper), "--max-archive-depth", "64", "-f", "json")
    assert proc.returncode == 0 and b"nested deeper than 64 levels" in proc.stderr and b"recursion" not in proc.stderr


def test_member_size_limit_smaller_than_the_sniffed_head(tmp_path):
    """A 1-byte member limit (a config file may set any size) skips members, never crashes."""
    target = tmp_path / "a.zip"
    import zipfile

    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("a.env", LINE)
    result = scan_archives([target], limits=ArchiveLimits(max_member_size=1))
    assert result.findings == [] and [e.kind for e in result.errors] == ["too-large"]

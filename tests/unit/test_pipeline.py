"""The file pipeline streams the walk into a process pool; it must give the serial result."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from leakwarden import api, pipeline
from leakwarden.config import Settings

CRATES = "cio" + "Kx9QmZ2vR7tLw3NpY8sB4dF6gH1jU5eA0c"


def _tree(root: Path) -> None:
    for i in range(40):
        d = root / f"pkg{i % 7}" / f"sub{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        body = "x = 1\n" * (50 + i)
        if i % 9 == 0:
            body += f"CARGO_REGISTRY_TOKEN={CRATES[:-2]}{i:02d}\n"
        (d / f"m{i}.py").write_text(body)
    (root / "blob.bin").write_bytes(b"\x00\x01" * 100)
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "x.env").write_text(f"CARGO_REGISTRY_TOKEN={CRATES}\n")


@pytest.mark.parametrize("threshold", [1, 10**12])
def test_parallel_stream_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    _tree(tmp_path)
    serial = api.scan_paths([tmp_path], replace(Settings(), jobs=1))
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", threshold)
    monkeypatch.setattr(pipeline, "_BATCH_BYTES", 500)
    streamed = api.scan_paths([tmp_path], replace(Settings(), jobs=2))
    key = [(f.location.path, f.location.start_line, f.fingerprint) for f in serial.findings]
    assert len(key) == 5
    assert sorted(key) == sorted((f.location.path, f.location.start_line, f.fingerprint) for f in streamed.findings)
    assert (serial.stats.files, serial.stats.bytes, serial.stats.skipped) == (streamed.stats.files, streamed.stats.bytes, streamed.stats.skipped)
    assert pipeline._worker_detector is None

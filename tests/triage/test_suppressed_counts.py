"""The report says how many findings the baseline and the ignore file hid (text and JSON)."""

from __future__ import annotations

import io
import json

from leakwarden.api import build_detector, scan_paths
from leakwarden.config import Settings
from leakwarden.models import secret_fingerprint
from leakwarden.reporters import ReportContext, get_reporter
from leakwarden.triage import baseline

A = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
B = "cioR7mYq2WbZk9Lp4Xv8Tn3Hs6Jd1Fg5Ce0"
C = "cioUu3Kx8Pq1Lm6Zr9Wt2Yb5Nc7Vd4Hs0Gj"


def render(result, fmt: str) -> str:
    out = io.StringIO()
    get_reporter(fmt)(result, ReportContext(ruleset=build_detector(Settings()).ruleset), out)
    return out.getvalue()


def test_counts_by_baseline_and_ignore_file(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f'a = "{A}"\nb = "{B}"\n')
    (src / "c.py").write_text(f'c = "{C}"\n')
    everything = scan_paths([src]).findings
    assert len(everything) == 3
    base = tmp_path / "base.json"
    baseline.write(base, baseline.from_findings([f for f in everything if f.secret.reveal() in (A, B)], ""))
    ignore = tmp_path / "ignore"
    ignore.write_text(f"{secret_fingerprint('crates-io-api-token', C)}  # fixture\n")
    result = scan_paths([src], Settings(baseline=base, ignore_file=ignore))
    assert result.findings == []
    assert result.stats.suppressed == {"baseline": 2, "ignore_file": 1}
    assert "2 findings hidden by the baseline, 1 by the ignore file" in render(result, "text")
    assert json.loads(render(result, "json"))["stats"]["suppressed"] == {"baseline": 2, "ignore_file": 1, "inline_allow": 0}
    clean = scan_paths([src])
    assert "hidden" not in render(clean, "text")
    assert json.loads(render(clean, "json"))["stats"]["suppressed"] == {"baseline": 0, "ignore_file": 0, "inline_allow": 0}


def test_counts_inline_allow_comments_serial_and_in_worker_processes(tmp_path, monkeypatch):
    from leakwarden import pipeline

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f'a = "{A}"  # leakwarden:allow\nb = "{B}"\n')
    (src / "b.sql").write_text(f"c = '{C}' -- leakwarden:allow\n")
    (src / "c.py").write_text(f'c = "{C}"\n')
    ignore = tmp_path / "ignore"
    ignore.write_text(f"{secret_fingerprint('crates-io-api-token', C)}\n")
    serial = scan_paths([src], Settings(ignore_file=ignore, jobs=1))
    assert [f.secret.reveal() for f in serial.findings] == [B]
    assert serial.stats.suppressed == {"inline_allow": 2, "ignore_file": 1}
    text = render(serial, "text")
    assert "1 finding hidden by the ignore file (.leakwardenignore), 2 by inline `leakwarden:allow` comments" in text
    assert json.loads(render(serial, "json"))["stats"]["suppressed"] == {"baseline": 0, "ignore_file": 1, "inline_allow": 2}
    # the process pool (normally from 8 MB on) counts them in its workers
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 1)
    parallel = scan_paths([src], Settings(ignore_file=ignore, jobs=2))
    assert [f.secret.reveal() for f in parallel.findings] == [B]
    assert parallel.stats.suppressed == {"inline_allow": 2, "ignore_file": 1}


def test_an_allowed_secret_in_the_overlap_of_two_chunks_is_counted_once():
    from leakwarden.api import scan_chunk_list
    from leakwarden.models import Chunk, Origin

    data = f'a = "{A}"  # leakwarden:allow\n'.encode()
    # a large file is read in overlapping chunks: each owns the bytes before `own_end`
    chunks = [Chunk(data, Origin("file", path="x"), own_end=5), Chunk(data[5:], Origin("file", path="x"), base_offset=5)]
    assert scan_chunk_list(chunks).stats.suppressed == {"inline_allow": 1}


def test_a_staged_scan_counts_the_allows_on_lines_it_adds_only(tmp_path):
    import subprocess

    from tests.conftest import run_cli

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.com"]
    (repo / "a.py").write_text(f'old = "{A}"  # leakwarden:allow\nx = 1\n')
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    # the old allowed line is diff context (-U3): only the new allowed line counts
    (repo / "a.py").write_text(f'old = "{A}"  # leakwarden:allow\nx = 1\nnew = "{B}"  # leakwarden:allow\nn = "{C}"\n')
    subprocess.run([*git, "add", "-A"], check=True)
    res = run_cli("scan", "staged", "-f", "json", cwd=repo)
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert [f["start_line"] for f in doc["findings"]] == [4]
    assert doc["stats"]["suppressed"]["inline_allow"] == 1


def test_an_allow_comment_covers_only_its_own_line_when_lines_end_with_a_bare_cr():
    from leakwarden.api import scan_chunk_list
    from leakwarden.models import Chunk, Origin

    def scan(data: bytes):
        return scan_chunk_list([Chunk(data, Origin("file", path="x"))])

    # classic Mac line ends (or progress output in a CI log): two lines, one allowed
    result = scan(f'a = "{A}"  # leakwarden:allow\rb = "{B}"\r'.encode())
    assert [f.secret.reveal() for f in result.findings] == [B] and result.stats.suppressed == {"inline_allow": 1}
    result = scan(f'a = "{A}"\rb = "{B}"  # leakwarden:allow\r'.encode())
    assert [f.secret.reveal() for f in result.findings] == [A]
    # CRLF and LF lines are unchanged: the marker allows its whole line
    for end in ("\r\n", "\n"):
        result = scan(f'a = "{A}", b = "{B}"  # leakwarden:allow{end}c = "{C}"{end}'.encode())
        assert [f.secret.reveal() for f in result.findings] == [C] and result.stats.suppressed == {"inline_allow": 2}

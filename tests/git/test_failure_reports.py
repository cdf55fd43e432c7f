"""A scan that stops on an error still writes its machine-readable report, saying it failed:
a CI step that uploads the report then shows the error instead of a missing file or a clean run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from gitrepo import Repo, crates_token
from tests.conftest import run_cli
from tests.schemas import sarif_schema

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.commit("initial", {"README.md": "hello\n"})
    return r


def _fail(repo: Repo, fmt: str, out: Path | None, *extra: str):
    args = ["scan", "ci", "-C", str(repo.path), "--range", "no-such-branch..HEAD", "-f", fmt, *extra]
    proc = run_cli(*args, *(["-o", str(out)] if out else []))
    assert proc.returncode == 2 and b"no-such-branch" in proc.stderr
    return proc


def test_sarif_says_the_run_failed_and_matches_the_schema(repo, tmp_path):
    out = tmp_path / "results.sarif"
    _fail(repo, "sarif", out)
    doc = json.loads(out.read_text())
    schema = sarif_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    (run,) = doc["runs"]
    assert run["results"] == []
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "no-such-branch" in note["message"]["text"]


def test_json_on_standard_output_carries_the_fatal_error(repo):
    proc = _fail(repo, "json", None)
    doc = json.loads(proc.stdout)
    assert doc["findings"] == [] and doc["source"] == "ci"
    (error,) = doc["errors"]
    assert error["kind"] == "fatal" and error["incomplete"] is True and "no-such-branch" in error["message"]


def test_junit_counts_an_error_and_never_passes(repo, tmp_path):
    out = tmp_path / "junit.xml"
    _fail(repo, "junit", out)
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("failures") == "0"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["scan incomplete"]
    error = suite.find("testcase/error")
    assert error is not None and "no-such-branch" in (error.get("message") or "")


def test_gitlab_report_has_failure_status(repo, tmp_path):
    out = tmp_path / "gl-secret-detection-report.json"
    _fail(repo, "gitlab", out)
    doc = json.loads(out.read_text())
    jsonschema.Draft7Validator(json.loads((SCHEMAS / "gitlab-secret-detection-required.schema.json").read_text())).validate(doc)
    assert doc["scan"]["status"] == "failure" and doc["vulnerabilities"] == []
    (message,) = doc["scan"]["messages"]
    assert message["level"] == "fatal" and "no-such-branch" in message["value"]


@pytest.mark.parametrize("fmt", ["text", "csv", "html", "jsonl"])
def test_formats_that_cannot_say_so_write_nothing(repo, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    _fail(repo, fmt, out)
    assert not out.exists()


def test_a_history_scan_that_cannot_read_the_refs_writes_its_failure(repo, tmp_path):
    repo.commit("secret", {"app.env": f"T={crates_token(3)}\n"})
    repo.git("pack-refs", "--all")
    with open(repo.path / ".git" / "packed-refs", "a") as fh:
        fh.write("zzzz bad line\n")
    out = tmp_path / "r.json"
    proc = run_cli("scan", "git", str(repo.path), "-f", "json", "-o", str(out))
    assert proc.returncode == 2
    (error,) = json.loads(out.read_text())["errors"]
    assert error["kind"] == "fatal" and "packed-refs" in error["message"]


def test_a_clean_run_is_marked_successful_and_lists_warnings(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.txt").write_text("hello\n")
    out = tmp_path / "ok.sarif"
    proc = run_cli("scan", "path", str(folder), "-f", "sarif", "-o", str(out))
    assert proc.returncode == 0
    (invocation,) = json.loads(out.read_text())["runs"][0]["invocations"]
    assert invocation == {"executionSuccessful": True}
    (folder / "big.txt").write_text("x" * 200 + "\n")
    proc = run_cli("scan", "path", str(folder), "--max-file-size", "100", "-f", "sarif", "-o", str(out))
    assert proc.returncode == 0
    (invocation,) = json.loads(out.read_text())["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and "big.txt" in note["message"]["text"] and "--max-file-size" in note["message"]["text"]


@pytest.mark.parametrize("bad", ["no-such-branch..HEAD", "HEAD..no-such-branch", "no-such-branch"])
def test_a_range_naming_a_missing_revision_is_an_error_not_a_clean_scan(repo, bad):
    repo.commit("secret", {"app.env": f"T={crates_token(4)}\n"})
    proc = run_cli("scan", "ci", "-C", str(repo.path), "--range", bad)
    # `git rev-parse --revs-only` alone drops what it cannot resolve: this passed as "0 findings"
    assert proc.returncode == 2 and b"bad revision" in proc.stderr and b"no-such-branch" in proc.stderr

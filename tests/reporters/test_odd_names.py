"""File names that are not UTF-8, or hold control characters, in every report format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from leakwarden.reporters import REPORTER_NAMES
from leakwarden.reporters.safe import clean_text, terminal_text
from tests.conftest import run_cli

AWS = b'aws_secret_access_key = "kR8vT2nQ9wZx4Lm7Pb3Yc6Hs1Df5Gj0Ae8Uo2Iy7"\n'
NAMES = {b"bad\xff.env": "bad\\xff.env", b"h\xc3\xa9llo.env": "h\u00e9llo.env", b"nl\nx\x1b[31mred.env": "nl\nx\x1b[31mred.env"}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes in names")


def test_helpers():
    assert clean_text("plain/é/日本.env") == "plain/é/日本.env"
    assert clean_text(b"a\xff\xfeb".decode("utf-8", "surrogateescape")) == "a\\xff\\xfeb"
    assert clean_text("lone \ud800") == "lone \ufffd"
    assert terminal_text("a\nb\x1b[31m\t\x9b" + b"\xff".decode("utf-8", "surrogateescape")) == "a\\nb\\x1b[31m\\t\\x9b\\xff"


def _check(fmt: str, data: bytes, expected: dict[bytes, str]) -> None:
    text = data.decode("utf-8")  # valid UTF-8 throughout
    if fmt == "json":
        paths = {f["path"].split("/")[-1] for f in json.loads(text)["findings"]}
        assert paths == set(expected.values())
    elif fmt in ("jsonl",):
        assert {json.loads(line)["path"].split("/")[-1] for line in text.splitlines()} == set(expected.values())
    elif fmt == "sarif":
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].split("/")[-1] for r in json.loads(text)["runs"][0]["results"]}
        assert uris == {"bad%5Cxff.env", "h%C3%A9llo.env", "nl%0Ax%1B%5B31mred.env"}  # as the JSON shows them, percent-encoded
    elif fmt == "gitlab":
        json.loads(text)
        assert "bad\\\\xff.env" in text
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["path"].split("/")[-1] for r in rows} == set(expected.values())
    elif fmt == "junit":
        ET.fromstring(text.split("\n", 1)[1])
    elif fmt == "text":
        assert "\x1b" not in text and "bad\\xff.env" in text and "nl\\nx\\x1b[31mred.env" in text and "h\u00e9llo.env" in text
        assert not any(line.startswith("x") for line in text.splitlines())


@pytest.mark.parametrize("fmt", REPORTER_NAMES)
def test_scan_path_every_format(tmp_path, fmt):
    folder = tmp_path / "n"
    folder.mkdir()
    for raw in NAMES:
        with open(os.path.join(os.fsencode(folder), raw), "wb") as fh:
            fh.write(AWS)
    proc = run_cli("scan", "path", str(folder), "-f", fmt)
    assert proc.returncode == 1, proc.stderr
    _check(fmt, proc.stdout, NAMES)
    out = tmp_path / f"report.{fmt}"
    proc = run_cli("scan", "path", str(folder), "-f", fmt, "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    _check(fmt, out.read_bytes(), NAMES)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "csv", "gitlab"])
def test_scan_git_with_committed_odd_names(tmp_path, fmt):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@a", GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@a", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    for raw in NAMES:
        with open(os.path.join(os.fsencode(repo), raw), "wb") as fh:
            fh.write(AWS)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "x"], check=True, env=env)
    proc = run_cli("scan", "git", str(repo), "-f", fmt)
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout.decode("utf-8")  # one finding: the other files are its other occurrences
    if fmt == "json":
        (finding,) = json.loads(text)["findings"]
        paths = {finding["path"], *(o["path"] for o in finding["details"]["other_occurrences"])}
        assert paths == set(NAMES.values())
    elif fmt == "text":
        assert "\x1b" not in text and "bad\\xff.env" in text
    elif fmt == "csv":
        list(csv.DictReader(io.StringIO(text)))
    else:
        json.loads(text)

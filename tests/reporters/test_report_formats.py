"""Every report format, validated: SARIF against the official 2.1.0 schema, GitLab against its
required-field schema, JUnit against a strict XSD, CSV by parsing, HTML in headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from leakwarden.api import scan_chunk_list
from leakwarden.models import Chunk, Origin, ScanError, Severity, Validity, ValidityState
from leakwarden.reporters import REPORTER_NAMES, ReportContext, get_reporter
from tests.conftest import run_cli
from tests.schemas import sarif_schema
from tests.tooling import require_tool

DATA = Path(__file__).resolve().parents[1] / "data" / "schemas"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HOSTILE_PATH = '=HYPERLINK("http://x")/</script><img src=x onerror=alert(1)>"&\x07.env'


def token(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "cio" + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:32])


@pytest.fixture(scope="module")
def result(ruleset):
    chunks = [
        Chunk(f'token = "{token("one")}"\n'.encode(), Origin("file", path="src/app.py")),
        Chunk(f'x\nCARGO="{token("two")}" ]]> \x01\n'.encode(), Origin("file", path=HOSTILE_PATH)),
        Chunk(f'T={token("three")}\n'.encode(), Origin("git", path="old/cfg.ini", commit="ab" * 20, extra=(("author", "Eve"), ("repository_uri", "https://github.com/acme/app")))),
        Chunk(b'JWT_SECRET="Zq8f!Lm2#vR7pX4tK9wB"\n', Origin("file", path="settings.py")),
    ]
    res = scan_chunk_list(chunks)
    assert len(res.findings) == 4
    res.findings[0] = res.findings[0].with_validity(Validity(ValidityState.VALID, "HTTP 200"))
    jwt = next(i for i, f in enumerate(res.findings) if f.rule_id == "jwt-signing-secret")
    res.findings[jwt] = dataclasses.replace(res.findings[jwt], severity=Severity.MEDIUM)
    res.errors.append(ScanError("big.bin", "too_big", "skipped: larger than 25 MB"))
    res.stats.files = 4
    return res


def render(fmt, result, ruleset, show=False):
    out = io.StringIO()
    get_reporter(fmt)(result, ReportContext(ruleset=ruleset, show_secrets=show, source="path", tool_version="0.1.0"), out)
    return out.getvalue()


def test_all_formats_registered():
    assert set(REPORTER_NAMES) >= {"text", "json", "jsonl", "sarif", "csv", "junit", "gitlab", "html"}


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif", "csv", "junit", "gitlab", "html"])
def test_secrets_redacted_unless_asked(fmt, result, ruleset):
    secret = token("one")
    assert secret not in render(fmt, result, ruleset)
    assert secret in render(fmt, result, ruleset, show=True)


def test_sarif_matches_the_official_schema(result, ruleset):
    schema = sarif_schema()
    doc = json.loads(render("sarif", result, ruleset))
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    assert len(doc["runs"][0]["results"]) == 4


def test_gitlab_report_matches_its_schema(result, ruleset):
    schema = json.loads((DATA / "gitlab-secret-detection-required.schema.json").read_text())
    doc = json.loads(render("gitlab", result, ruleset))
    jsonschema.Draft7Validator(schema).validate(doc)
    vulns = doc["vulnerabilities"]
    assert sorted(v["severity"] for v in vulns) == ["Critical"] * 3 + ["Medium"]
    assert {v["location"]["commit"]["sha"] for v in vulns} == {"0000000", "ab" * 20}
    assert len({v["id"] for v in vulns}) == 4
    # the schema is strict enough to catch a broken report
    broken = json.loads(json.dumps(doc))
    del broken["vulnerabilities"][0]["location"]["commit"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_junit_matches_the_xsd(result, ruleset):
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(DATA / "junit.xsd"))
    text = render("junit", result, ruleset)
    schema.validate(text)
    root = ET.fromstring(text.encode())
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == 4
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == 4
    assert "big.bin" in suite.find("system-err").text
    assert any(HOSTILE_PATH.replace("\x07", "\ufffd") == c.get("file") for c in cases)
    # a clean scan still has one passing test case, so CI shows "1 passed"
    from leakwarden.models import ScanResult

    clean = render("junit", ScanResult(), ruleset)
    schema.validate(clean)
    assert [c.get("name") for c in ET.fromstring(clean.encode()).iter("testcase")] == ["no secrets found"]


def test_csv_parses_and_neutralises_formulas(result, ruleset):
    rows = list(csv.DictReader(io.StringIO(render("csv", result, ruleset), newline="")))
    assert len(rows) == 4
    paths = {r["path"] for r in rows}
    assert "'" + HOSTILE_PATH in paths
    assert {r["validity"] for r in rows} == {"valid", "not_checked"}
    assert all(len(r["fingerprint"]) == 64 for r in rows)


def test_html_is_self_contained(result, ruleset):
    html = render("html", result, ruleset)
    import re

    assert "<img src=x" not in html and "</script><img" not in html
    # nothing that would load from elsewhere: no external elements, sources, links or imports
    html = re.sub(r'(<script type="application/json" id="leakwarden-data">).*?(</script>)', r"\1\2", html, flags=re.S)
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", html)
    assert " src=" not in html and "href=" not in html and "@import" not in html and "url(" not in html
    assert html.count("<script") == 2 and "default-src 'none'" in html


def test_html_report_in_headless_chromium(result, ruleset, tmp_path):
    from tests.cdp import Browser

    binary = require_tool("chromium")
    page = tmp_path / "report.html"
    page.write_text(render("html", result, ruleset), encoding="utf-8")
    browser = Browser(binary)
    try:
        browser.open_page(page.as_uri())
        rows = "document.querySelectorAll('#rows tr.finding').length"
        assert browser.evaluate(rows) == 4
        assert browser.evaluate("document.getElementById('count').textContent") == "4 of 4 findings"
        # the hostile path is shown as text, never parsed as markup
        assert browser.evaluate("document.querySelectorAll('#rows img').length") == 0
        assert browser.evaluate(f"Array.from(document.querySelectorAll('#rows td')).some(td => td.textContent.startsWith({json.dumps(HOSTILE_PATH[:20])}))")

        def choose(key: str, value: str) -> None:
            browser.evaluate(
                f"(() => {{ const s = document.getElementById('f-{key}'); s.value = {json.dumps(value)};"
                " s.dispatchEvent(new Event('change')); })()"
            )

        choose("validity", "valid")
        assert browser.evaluate(rows) == 1
        choose("validity", "*")
        choose("severity", "critical")
        assert browser.evaluate(rows) == 3
        assert browser.evaluate("location.hash") == "#severity=critical"
        choose("repository", "github.com/acme/app")
        assert browser.evaluate(rows) == 1
        choose("status", "resolved")
        assert browser.evaluate(rows) == 0
        assert browser.evaluate("getComputedStyle(document.getElementById('empty')).display") == "block"
        # filters preset in the URL fragment
        browser.evaluate("location.hash = '#severity=medium'")
        assert browser.evaluate("new Promise(r => setTimeout(() => r(document.querySelectorAll('#rows tr.finding').length), 100))") == 1
        assert browser.problems() == []
    finally:
        browser.close()


def test_html_from_store_filters_status(tmp_path, ruleset):
    """A store report carries incident status and assignee into the HTML filters."""
    from tests.cdp import Browser

    binary = require_tool("chromium")
    store = tmp_path / "s.db"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text(f'a = "{token("h1")}"\nb = "{token("h2")}"\n')
    assert run_cli("scan", "path", str(tmp_path / "src"), "--store", str(store)).returncode == 1
    assert run_cli("incidents", "resolve", "1", "--note", "rotated", "--store", str(store)).returncode == 0
    out = tmp_path / "r.html"
    res = run_cli("report", "--store", str(store), "-f", "html", "-o", str(out))
    assert res.returncode == 0, res.stderr
    browser = Browser(binary)
    try:
        browser.open_page(out.as_uri() + "#status=resolved")
        assert browser.evaluate("document.querySelectorAll('#rows tr.finding').length") == 1
        assert browser.evaluate("document.querySelector('#rows tr.finding').dataset.status") == "resolved"
        assert browser.problems() == []
    finally:
        browser.close()


@pytest.mark.parametrize("fmt", ["csv", "junit", "gitlab", "html"])
def test_scan_command_offers_new_formats(fmt, tmp_path):
    (tmp_path / "a.txt").write_text(f'a = "{token("cli")}"\n')
    res = run_cli("scan", "path", str(tmp_path), "-f", fmt)
    assert res.returncode == 1, res.stderr
    assert res.stdout


def test_browser_harness_sees_console_errors(tmp_path):
    """The "no console errors" checks above can fail: a broken page is caught."""
    from tests.cdp import Browser

    binary = require_tool("chromium")
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); notDefined();</script></body></html>")
    browser = Browser(binary)
    try:
        browser.open_page(page.as_uri())
        problems = browser.problems()
    finally:
        browser.close()
    assert any("boom" in p for p in problems) and any("notDefined" in p for p in problems)


def test_sarif_uris_are_valid_relative_references(ruleset):
    """Code scanning reads artifact URIs as URIs: `#` starts a fragment, a space is invalid,
    and `x:` in the first segment is a scheme. Names are percent-encoded and read back whole."""
    import re
    from urllib.parse import unquote

    names = [HOSTILE_PATH, "a b#1?.env", "C:/conf/x.env", "café/100%.env", "release.zip!/lib/app.jar!/c.env"]
    chunks = [Chunk(f'token = "{token(name)}"\n'.encode(), Origin("file", path=name)) for name in names]
    doc = json.loads(render("sarif", scan_chunk_list(chunks), ruleset))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]]
    assert len(uris) == len(names)
    for uri in uris:
        assert re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=@/%]+", uri), uri
        assert ":" not in uri.split("/", 1)[0]
    assert sorted(unquote(u) for u in uris) == sorted(names)
    assert "release.zip!/lib/app.jar!/c.env" in uris

"""`leakwarden remediate` on a real scan report of a folder plus commit-attributed findings.

The git-history scanner lives on another branch; its findings carry `commit`, `author` and `date`
in the JSON report, so the history findings here are real findings of this scanner with those keys
added (the same shape the history scanner writes).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.tooling import require_tool

ATLASSIAN = "ATATT3xFfGF0PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA-2O76UMFxFkM-R5Kjp1vRt_1fjORS-6ilI8ihN5KXSc7Tvo-hBKqFYY-kv5ZJr3J1TWDtkwtDDb_xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po_799NksnRH9uc=0A9214CC"
JWT_SECRET = "Zk3r9_Qm2xVt8LpW4nHc7yBd"
CIO = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
CCI = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
ALL = (ATLASSIAN, JWT_SECRET, CIO, CCI)
COMMIT_A = "3f2a9c1d7e5b4a6f8c0d1e2f3a4b5c6d7e8f9a0b"
COMMIT_B = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"


def _scan_json(folder: Path, out: Path, *extra: str) -> dict:
    proc = run_cli("scan", "path", str(folder), "--format", "json", "-o", str(out), *extra)
    assert proc.returncode == 1, proc.stderr.decode()
    return json.loads(out.read_text())


def _make_report(tmp_path: Path, show_secrets: bool) -> Path:
    """A real scan of a folder (working tree), plus history findings in the history scanner's shape."""
    tree = tmp_path / "project"
    (tree / "config").mkdir(parents=True)
    (tree / "config" / "jira.env").write_text(f"JIRA_BASE_URL=https://acme.atlassian.net\nJIRA_API_TOKEN={ATLASSIAN}\n")
    (tree / "app.py").write_text(f'JWT_SECRET = "{JWT_SECRET}"\n')
    (tree / "publish.sh").write_text(f"cargo publish --token {CIO}\n")
    extra = ("--show-secrets",) if show_secrets else ()
    report = _scan_json(tree, tmp_path / "tree.json", *extra)
    assert {f["rule_id"] for f in report["findings"]} == {"atlassian-api-token", "jwt-signing-secret", "crates-io-api-token"}

    past = tmp_path / "past"
    past.mkdir()
    (past / "ci.sh").write_text(f"export CIRCLE_TOKEN={CCI}\n")
    (past / "publish.sh").write_text(f"cargo publish --token {CIO}\n")
    history = _scan_json(past, tmp_path / "past.json", *extra)["findings"]
    for f in history:
        f["path"] = f["path"].replace(str(past), "").lstrip("/")
        f["source"] = "git"
        f["repository"] = "https://git.example.test/acme/app.git"
        if f["rule_id"] == "circleci-personal-token":
            f.update(commit=COMMIT_A, author="Dev One <one@acme.io>", date="2026-03-01T10:00:00Z")
            f["validity"] = {"state": "valid", "reason": "200 from /api/v2/me"}
        else:
            f.update(commit=COMMIT_B, author="Dev Two <two@acme.io>", date="2026-04-02T11:00:00Z")
    report["findings"] += history
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, indent=2))
    return path


@pytest.fixture
def redacted_report(tmp_path: Path) -> Path:
    return _make_report(tmp_path, show_secrets=False)


def test_markdown_plan_is_ordered_by_urgency_and_complete(redacted_report: Path) -> None:
    proc = run_cli("remediate", str(redacted_report))
    assert proc.returncode == 0, proc.stderr.decode()
    md = proc.stdout.decode()
    for value in ALL:
        assert value not in md, "a secret leaked into the plan"
    plans = re.findall(r"^## (\d+)\. (.+?): `", md, re.M)
    # valid first; then severity (critical before high); then exposure (history before working tree)
    assert [name for _, name in plans] == [
        "CircleCI personal API token",  # valid, high, history
        "crates.io API token",  # critical, history + working tree
        "JWT signing secret",  # critical, working tree
        "Atlassian API token",  # high, working tree
    ]
    blocks = re.split(r"^## \d+\. ", md, flags=re.M)[1:]
    for block in blocks:
        for heading in ("### Which services will stop working", "### Check for abuse", "### Revoke and rotate without an outage",
                        "### Remove it from the code", "#### Pre-rotation checklist", "Full playbook"):
            assert heading in block, heading
    cci, cio, jwt, atl = blocks
    assert "### Purge it from git history" in cci and "### Purge it from git history" in cio
    assert "### Purge it from git history" not in jwt and "### Purge it from git history" not in atl
    assert "| ci.sh:1 (commit 3f2a9c1d7e5b) | https://git.example.test/acme/app.git | 3f2a9c1d7e5b | Dev One <one@acme.io> | 2026-03-01T10:00:00Z |" in cci
    assert "2 occurrence(s), 1 in git history." in cio
    assert "`leakwarden fix " in jwt and "https://id.atlassian.com/manage-profile/security/api-tokens" in atl
    assert "`JIRA_API_TOKEN`" in atl and "Why here: it is confirmed **valid** right now" in cci
    history = md.split("## Purge secrets from git history", 1)[1]
    assert "Rotate first" in history and "force-push affects every clone" in history
    assert "git filter-repo --replace-text leakwarden-replacements.txt" in history
    assert "java -jar bfg.jar --replace-text leakwarden-replacements.txt repo-purge.git" in history
    assert "git clone --mirror https://git.example.test/acme/app.git repo-purge.git" in history
    assert "REDACTED PREVIEW" in history and "==>***REMOVED-circleci-personal-token***" in history
    assert "==>***REMOVED-jwt-signing-secret***" not in history, "working-tree-only secrets are not purged from history"


def test_replacements_need_a_report_with_values(redacted_report: Path, tmp_path: Path) -> None:
    target = tmp_path / "repl.txt"
    proc = run_cli("remediate", str(redacted_report), "--write-replacements", str(target))
    assert proc.returncode == 2
    assert "redacted secrets" in proc.stderr.decode() and "--show-secrets" in proc.stderr.decode()
    assert not target.exists()


def test_replacements_file_is_private_and_really_purges_history(tmp_path: Path) -> None:
    """Write the replace-text file from a report with values, then run git filter-repo with it."""
    report = _make_report(tmp_path, show_secrets=True)
    target = tmp_path / "private" / "repl.txt"
    proc = run_cli("remediate", str(report), "--write-replacements", str(target))
    assert proc.returncode == 0, proc.stderr.decode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = [ln for ln in target.read_text().splitlines() if not ln.startswith("#")]
    assert sorted(lines) == sorted([f"{CCI}==>***REMOVED-circleci-personal-token***", f"{CIO}==>***REMOVED-crates-io-api-token***"])
    md = proc.stdout.decode()
    assert all(v not in md for v in ALL) and f"Written to `{target}`" in md

    filter_repo = require_tool("git-filter-repo")
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}

    def git(*args: str, cwd: Path = repo) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout

    repo.mkdir()
    git("init", "-q")
    (repo / "ci.sh").write_text(f"export CIRCLE_TOKEN={CCI}\n")
    git("add", ".")
    git("commit", "-qm", "add ci")
    (repo / "ci.sh").write_text('export CIRCLE_TOKEN="$CIRCLECI_TOKEN"\n')
    git("commit", "-qam", "remove token")
    assert CCI in git("log", "--all", "-p")
    clone = tmp_path / "clone"
    git("clone", "-q", "--no-local", str(repo), str(clone), cwd=tmp_path)
    subprocess.run([filter_repo, "--replace-text", str(target)], cwd=clone, env=env, check=True, capture_output=True)
    log = git("log", "--all", "-p", cwd=clone)
    assert CCI not in log and "***REMOVED-circleci-personal-token***" in log


def test_replacement_file_holds_only_replacement_lines(tmp_path: Path) -> None:
    """--replace-text has no comment syntax: a '# ...' header is one more literal that
    filter-repo replaces in every file of the history that contains it."""
    report = _make_report(tmp_path, show_secrets=True)
    target = tmp_path / "repl.txt"
    proc = run_cli("remediate", str(report), "--write-replacements", str(target))
    assert proc.returncode == 0, proc.stderr.decode()
    assert sorted(target.read_text().splitlines()) == sorted([f"{CCI}==>***REMOVED-circleci-personal-token***", f"{CIO}==>***REMOVED-crates-io-api-token***"])

    filter_repo = require_tool("git-filter-repo")
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}
    repo.mkdir()
    notes = "# leakwarden: git filter-repo / BFG --replace-text file. It holds live secrets: delete it when done.\n"
    (repo / "incident.md").write_text(notes)
    (repo / "ci.sh").write_text(f"export CIRCLE_TOKEN={CCI}\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "add"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    subprocess.run([filter_repo, "--force", "--replace-text", str(target)], cwd=repo, env=env, check=True, capture_output=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, env=env, check=True)
    assert (repo / "incident.md").read_text() == notes, "a line of the file that is no replacement rewrote other text"
    assert (repo / "ci.sh").read_text() == "export CIRCLE_TOKEN=***REMOVED-circleci-personal-token***\n"


def test_html_plan_is_self_contained_and_renders_in_chromium(redacted_report: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.html"
    proc = run_cli("remediate", str(redacted_report), "--format", "html", "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    page = out.read_text()
    assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
    assert not re.search(r"""\b(?:src|srcset)\s*=|url\(""", page), "an external asset"
    assert all(v not in page for v in ALL)
    dom, console = _chromium(out)
    assert console == [], console
    assert dom.count('<article class="plan"') == 4
    order = re.findall(r'<article class="plan" id="[^"]+" data-rule="([^"]+)"', dom)
    assert order == ["circleci-personal-token", "crates-io-api-token", "jwt-signing-secret", "atlassian-api-token"]
    for sid in ("impact", "abuse", "rotate"):
        assert dom.count(f'data-section="{sid}"') >= 4
    assert 'id="history"' in dom and "git filter-repo --replace-text" in dom
    for rule in order:  # the full playbook of each type is one click away
        assert f'href="#playbook-{rule}"' in dom and f'id="playbook-{rule}"' in dom


def _chromium(page: Path) -> tuple[str, list[str]]:
    chromium = require_tool("chromium")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={page.parent / 'chromium-profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Refused to" in ln or "Uncaught" in ln]
    return proc.stdout, console


def test_chromium_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check above can fail: a page that logs an error and breaks its CSP is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><title>t</title></head><body><script>console.error('boom-42')</script></body></html>")
    _, console = _chromium(page)
    assert any("boom-42" in ln for ln in console)


def test_bad_reports_give_clear_errors(tmp_path: Path) -> None:
    cases = {
        "missing.json": (None, "no such file"),
        "notjson.json": ("this is not json", "not JSON"),
        "wrong.json": ('{"hello": 1}', "not a leakwarden JSON report"),
        "schema.json": ('{"schema_version": 9, "findings": []}', "unsupported report schema_version"),
        "finding.json": ('{"schema_version": 1, "findings": [{"rule_id": "x"}]}', "missing 'secret'"),
        "commit.json": ('{"findings": [{"rule_id": "jwt", "secret": "x", "fingerprint": "ab", "commit": 5}]}', "finding 0: 'commit' must be a string, not int"),
        "layer.json": ('{"findings": [{"rule_id": "jwt", "secret": "x", "fingerprint": "ab", "layer": {"digest": 1}}]}', "'layer' must be a string"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        proc = run_cli("remediate", str(path))
        assert proc.returncode == 2, name
        assert message in proc.stderr.decode(), (name, proc.stderr.decode())
        assert "Traceback" not in proc.stderr.decode()


def test_empty_report_and_unknown_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('{"schema_version": 1, "findings": []}')
    proc = run_cli("remediate", str(empty))
    assert proc.returncode == 0 and "Nothing to do" in proc.stdout.decode()
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps({"schema_version": 1, "findings": [
        {"rule_id": "acme-internal-key", "rule_name": "ACME internal key", "severity": "high", "secret": "acme********1234",
         "secret_redacted": True, "fingerprint": "ab" * 32, "path": "x.py", "start_line": 3},
    ]}))
    proc = run_cli("remediate", str(custom))
    assert proc.returncode == 0, proc.stderr.decode()
    md = proc.stdout.decode()
    assert "## 1. ACME internal key: `acme********1234`" in md and "### Revoke and rotate without an outage" in md

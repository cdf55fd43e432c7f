"""End-to-end: `python -m leakwarden scan ...` on temp folders, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import run_cli
from tests.schemas import sarif_schema

CIRCLE = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
CRATES_2 = "ciocxvjcnqcMUP6n0a0uARxlNtencYFJEeA"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "deploy.sh").write_text(f"#!/bin/sh\nexport CIRCLE_TOKEN={CIRCLE}\ncurl -H \"Circle-Token: $CIRCLE_TOKEN\" https://circleci.com/api/v2/me\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "src" / "cargo.toml").write_text(f'[registry]\ntoken = "{CRATES}"\n')
    return tmp_path


def _json(proc) -> dict:
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return json.loads(proc.stdout)


def test_exit_codes_and_redaction(repo: Path, tmp_path_factory) -> None:
    proc = run_cli("scan", "path", str(repo))
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "circleci-personal-token" in out and "crates-io-api-token" in out
    assert CIRCLE not in out and CRATES not in out, "secrets must be redacted by default"
    assert "deploy.sh" in out and "2:" in out

    clean = tmp_path_factory.mktemp("clean")
    (clean / "a.txt").write_text("nothing to see\n")
    proc = run_cli("scan", "path", str(clean))
    assert proc.returncode == 0, proc.stderr.decode()
    assert run_cli("scan", "path", str(repo), "--exit-zero").returncode == 0
    assert run_cli("scan", "path", str(repo / "missing")).returncode == 2
    assert run_cli("scan", "path", str(repo), "--format", "nope").returncode == 2


def test_json_report_schema_fields(repo: Path) -> None:
    data = _json(run_cli("scan", "path", str(repo), "-f", "json"))
    assert data["schema_version"] == 1
    by_rule = {f["rule_id"]: f for f in data["findings"]}
    f = by_rule["circleci-personal-token"]
    assert f["path"].endswith("deploy.sh")
    assert (f["start_line"], f["end_line"]) == (2, 2)
    assert f["start_column"] == len("export CIRCLE_TOKEN=") + 1
    assert f["end_column"] == f["start_column"] + len(CIRCLE)
    assert f["secret"] != CIRCLE and f["secret"].startswith("CCIP") and f["secret_redacted"] is True
    assert len(f["fingerprint"]) == 64
    shown = _json(run_cli("scan", "path", str(repo), "-f", "json", "--show-secrets"))
    assert CIRCLE in {x["secret"] for x in shown["findings"]}


def test_jsonl_one_object_per_finding(repo: Path) -> None:
    proc = run_cli("scan", "path", str(repo), "-f", "jsonl")
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert {x["rule_id"] for x in lines} == {"circleci-personal-token", "crates-io-api-token"}


def test_sarif_validates_against_official_schema(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "leaks.sarif"
    proc = run_cli("scan", "path", str(repo), "--format", "sarif", "--output", str(out))
    assert proc.returncode == 1
    log = json.loads(out.read_text())
    jsonschema.validate(log, sarif_schema())
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert "Revoke" in rules["crates-io-api-token"]["help"]["markdown"]
    assert all(CRATES not in json.dumps(r) for r in run["results"])


def test_stdin(repo: Path) -> None:
    log = f"step 3/7: deploying\nusing token {CRATES_2} for publish\n".encode()
    proc = run_cli("scan", "stdin", "-f", "json", input=log)
    data = _json(proc)
    assert [(f["rule_id"], f["start_line"]) for f in data["findings"]] == [("crates-io-api-token", 2)]
    assert data["findings"][0]["path"] == "<stdin>"


def test_inline_allow_and_ignore_file(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(f"TOKEN={CRATES}  # leakwarden:allow test fixture\nOTHER={CRATES_2}\n")
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json"))
    assert [f["start_line"] for f in data["findings"]] == [2]
    fp = data["findings"][0]["fingerprint"]
    (tmp_path / ".leakwardenignore").write_text(f"{fp}  # accepted: rotated 2026-11-01\n")
    assert run_cli("scan", "path", str(tmp_path)).returncode == 0
    # the ignore file holds content fingerprints: a different secret on the same line still fails
    (tmp_path / "a.env").write_text(f"TOKEN={CRATES}  # leakwarden:allow\nOTHER={CRATES}\n")
    data = _json(run_cli("scan", "path", str(tmp_path), "-f", "json"))
    assert [f["start_line"] for f in data["findings"]] == [2]


def test_bad_ignore_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".leakwardenignore").write_text("not-a-fingerprint\n")
    proc = run_cli("scan", "path", str(tmp_path))
    assert proc.returncode == 2
    assert b".leakwardenignore:1" in proc.stderr and b"Traceback" not in proc.stderr


def test_gitignore_respected_unless_no_ignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.txt").write_text(f"t={CRATES}\n")
    (tmp_path / "debug.log").write_text(f"t={CRATES_2}\n")
    assert run_cli("scan", "path", str(tmp_path)).returncode == 0
    data = _json(run_cli("scan", "path", str(tmp_path), "--no-ignore", "-f", "json"))
    assert len(data["findings"]) == 2


def test_config_file_disables_rule_and_adds_rules(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(f"x={CRATES}\nINTERNAL_KEY=acme_live_Zq8Rk2Lp9Wv4Xn7T\n")
    (tmp_path / "my-rules.toml").write_text(CUSTOM_RULE)
    (tmp_path / ".leakwarden.toml").write_text('disable_rules = ["crates-io-api-token"]\nextra_rules = ["my-rules.toml"]\n')
    data = _json(run_cli("scan", "path", str(src), "-f", "json"))
    assert [f["rule_id"] for f in data["findings"]] == ["acme-internal-key"]
    # the same through pyproject.toml
    (tmp_path / ".leakwarden.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[tool.leakwarden]\ndisable_rules = ["acme-internal-key"]\nextra_rules = ["my-rules.toml"]\n')
    data = _json(run_cli("scan", "path", str(src), "-f", "json"))
    assert [f["rule_id"] for f in data["findings"]] == ["crates-io-api-token"]
    # --rules on the command line
    (tmp_path / "pyproject.toml").unlink()
    data = _json(run_cli("scan", "path", str(src), "-f", "json", "--rules", str(tmp_path / "my-rules.toml"), "--disable-rule", "crates-io-api-token"))
    assert [f["rule_id"] for f in data["findings"]] == ["acme-internal-key"]


def test_bad_rule_file_names_file_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(CUSTOM_RULE.replace('severity = "high"', 'severity = "urgent"'))
    proc = run_cli("scan", "path", str(tmp_path), "--rules", str(bad))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert str(bad) in err and "acme-internal-key" in err and "'severity'" in err
    assert "Traceback" not in err
    bad.write_text(CUSTOM_RULE.replace('pattern = ', 'pattern = "[unclosed"\n#'))
    proc = run_cli("rules", "check", str(bad))
    assert proc.returncode == 2 and b"'pattern'" in proc.stderr


def test_rules_list_and_show() -> None:
    proc = run_cli("rules", "list")
    assert proc.returncode == 0
    out = proc.stdout.decode()
    for rid in ("atlassian-api-token", "atlassian-oauth-client-secret", "jwt", "circleci-personal-token", "crates-io-api-token"):
        assert rid in out
    assert "rules from" in out
    proc = run_cli("rules", "show", "atlassian-api-token")
    assert proc.returncode == 0 and b"atlassian-crc32" in proc.stdout
    assert run_cli("rules", "show", "no-such-rule").returncode == 2
    listed = json.loads(run_cli("rules", "list", "--tag", "priority", "-f", "json").stdout)
    assert listed["counts"]["rules"] >= 9


def test_rules_check_passes_on_builtin_rules() -> None:
    proc = run_cli("rules", "check")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"0 errors" in proc.stdout


def test_python_engine_flag_gives_same_findings(repo: Path) -> None:
    a = _json(run_cli("scan", "path", str(repo), "-f", "json", "--engine", "python"))
    b = _json(run_cli("scan", "path", str(repo), "-f", "json", "--engine", "hyperscan"))
    key = lambda d: sorted((f["rule_id"], f["path"], f["start_line"], f["fingerprint"]) for f in d["findings"])  # noqa: E731
    assert key(a) == key(b) and key(a)
    c = _json(run_cli("scan", "path", str(repo), "-f", "json", env={"LEAKWARDEN_ENGINE": "python"}))
    assert key(c) == key(a)


CUSTOM_RULE = """
schema = 1
[provider]
id = "acme"
name = "ACME internal"

[[rules]]
id = "acme-internal-key"
name = "ACME internal API key"
description = "Our own service key."
severity = "high"
confidence = "high"
pattern = '''\\b(acme_live_[A-Za-z0-9]{16})\\b'''
keywords = ["acme_live_"]
references = ["https://wiki.acme.invalid/keys"]
examples = [{ text = "k = acme_live_Zq8Rk2Lp9Wv4Xn7T", secret = "acme_live_Zq8Rk2Lp9Wv4Xn7T" }]
negative_examples = ["acme_live_short"]
[rules.playbook]
what = "An ACME key."
risk = "Access to ACME."
abuse_checks = ["ACME logs."]
revoke_steps = ["Revoke in the ACME console."]
env_var = "ACME_KEY"
"""


def test_output_to_a_special_file_writes_in_place(repo: Path, tmp_path: Path) -> None:
    """`-o /dev/null` or a FIFO must not be replaced by a plain file (a rename would do that)."""
    import os
    import stat
    import threading

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    proc = run_cli("scan", "path", str(repo), "-f", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 1, proc.stderr.decode()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(received[0])["findings"]


def test_this_repository_scans_clean():
    """The README's `make scan` scans this repository: its own code must stay free of findings
    (rule data, tests, docs and benchmarks hold example secrets and are excluded in
    .leakwarden.toml)."""
    from tests.conftest import SRC

    root = SRC.parent
    res = run_cli("scan", "path", str(root), "-f", "json", cwd=root)
    assert res.returncode == 0, [(f["rule_id"], f["path"], f["start_line"]) for f in json.loads(res.stdout)["findings"]]

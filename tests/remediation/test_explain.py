"""`leakwarden explain` renders every rule with every section; formats, filters, errors; SARIF help."""

from __future__ import annotations

import json
import re

import pytest
from tests.conftest import run_cli

from leakwarden.remediation import playbook
from leakwarden.rules import load_ruleset

RULE_IDS = sorted(r.id for r in load_ruleset().rules)
# Self-contained tokens and their signing secrets have no page to revoke them at.
NO_REVOKE_PAGE = {"jwt", "jwt-signing-secret"}
PRIORITY_PREFIXES = ("atlassian-api-token", "jira-datacenter-pat", "atlassian-oauth-client-secret", "jwt", "circleci-", "crates-io-")


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_renders_every_section(rule_id: str, ruleset) -> None:
    rule = ruleset.by_id[rule_id]
    pb = playbook.build(rule)
    assert [s.id for s in pb.sections] == list(playbook.SECTION_IDS)
    md = playbook.render_markdown(pb)
    for _, title in playbook.SECTIONS:
        assert re.search(rf"^## {re.escape(title)}$", md, re.M), title
    for sec in pb.sections:
        text = " ".join(b.text + " ".join(b.items) for b in sec.blocks)
        assert len(text) > 80, f"section {sec.id} of {rule_id} is nearly empty"
    snippets = [b for b in pb.section("stop-hardcoding").blocks if b.kind == "code"]
    assert {(b.store, b.lang) for b in snippets} == {(s, lang) for s in playbook.STORES for lang in playbook.LANGS}
    assert all(rule.env_var in b.text for b in snippets)
    html = playbook.render_html(pb)
    for sid in playbook.SECTION_IDS:
        assert f'data-section="{sid}"' in html
    assert json.loads(json.dumps(pb.to_dict()))["rule_id"] == rule_id


# Invisible helper rules (site hosts, project slugs) are not secrets and carry no playbook depth.
@pytest.mark.parametrize("rule_id", [r.id for r in load_ruleset().rules if r.id.startswith(PRIORITY_PREFIXES) and r.visible])
def test_priority_types_have_full_depth(rule_id: str, ruleset) -> None:
    """Priority types fill every playbook field themselves, not only the shared text."""
    p = ruleset.by_id[rule_id].playbook
    for key in ("what", "generated_by", "causes", "risk", "abuse_checks", "revoke_url", "revoke_steps", "rotate_steps",
                "prevent", "env_var", "rotation_period", "log_location", "consumers"):
        if key == "revoke_url" and rule_id in NO_REVOKE_PAGE:
            assert not p.get(key), f"{rule_id}: nothing can be revoked at a URL"
            continue
        assert p.get(key), f"{rule_id}: playbook.{key} missing"


def test_jwt_playbooks_say_how_a_token_stops_working(ruleset) -> None:
    """No "Revoke at <an RFC>": a JWT stops working when its issuer rotates the signing key or
    revokes the session."""
    md = playbook.render_markdown(playbook.build(ruleset.by_id["jwt"]))
    assert "Revoke at" not in md and "rfc8725" not in md.split("## ")[0]
    steps = " ".join(ruleset.by_id["jwt"].playbook["revoke_steps"])
    assert "rotating its signing key" in steps and "revoking the session" in steps


def test_jwt_playbooks_explain_signing_key_rotation(ruleset) -> None:
    for rid in ("jwt", "jwt-signing-secret"):
        md = playbook.render_markdown(playbook.build(ruleset.by_id[rid]))
        assert "kid" in md and "signing key" in md.lower(), rid


def test_cli_markdown_with_filters() -> None:
    proc = run_cli("explain", "crates-io-api-token", "--lang", "go", "--store", "vault")
    assert proc.returncode == 0, proc.stderr.decode()
    md = proc.stdout.decode()
    assert md.startswith("# crates.io API token (`crates-io-api-token`)")
    assert md.count("```go") == 1 and "```python" not in md
    assert 'os.Getenv("CARGO_REGISTRY_TOKEN_VAULT_PATH")' in md


def test_cli_json_and_html(tmp_path) -> None:
    proc = run_cli("explain", "jwt", "--format", "json", "--lang", "python")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["env_var"] == "JWT_TOKEN" and [s["id"] for s in data["sections"]] == list(playbook.SECTION_IDS)
    out = tmp_path / "jwt.html"
    proc = run_cli("explain", "jwt", "--format", "html", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == b""
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and 'id="playbook-jwt-rotate"' in page


def test_cli_unknown_rule_suggests() -> None:
    proc = run_cli("explain", "atlassian-api-tokn")
    assert proc.returncode == 2
    assert "unknown rule 'atlassian-api-tokn'" in proc.stderr.decode() and "atlassian-api-token" in proc.stderr.decode()


def test_sarif_help_is_the_full_playbook(tmp_path, ruleset) -> None:
    (tmp_path / "a.py").write_text('JWT_SECRET = "Zk3r9_Qm2xVt8LpW4nHc7yBd"\n')
    proc = run_cli("scan", "path", str(tmp_path), "--format", "sarif")
    assert proc.returncode == 1
    rule = json.loads(proc.stdout)["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["help"]["markdown"] == playbook.render_markdown(playbook.build(ruleset.by_id["jwt-signing-secret"]))
    assert "## Stop hardcoding it" in rule["help"]["markdown"]


def test_json_and_text_reports_point_to_the_playbook(tmp_path) -> None:
    (tmp_path / "a.py").write_text('JWT_SECRET = "Zk3r9_Qm2xVt8LpW4nHc7yBd"\n')
    data = json.loads(run_cli("scan", "path", str(tmp_path), "--format", "json").stdout)
    assert data["findings"][0]["playbook"] == "leakwarden explain jwt-signing-secret"
    text = run_cli("scan", "path", str(tmp_path)).stdout.decode()
    assert "run `leakwarden explain jwt-signing-secret`" in text


def test_env_names_near_keeps_names_and_drops_token_fragments() -> None:
    lines = [
        'JIRA_API_TOKEN=ATAT************14CC',
        '  "client_secret": "ATOA****", jwtSecret: x',
        'other: ATATT3xFfGF0PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA=0A9214CC',
        'curl https://acme.atlassian.net/x?a=1 ci.token=abc',
    ]
    assert playbook.env_names_near(lines) == ["JIRA_API_TOKEN", "client_secret", "jwtSecret", "other", "ci.token"]

"""End to end: `scan ... --verify / --only-valid` and `leakwarden verify`, against a local provider."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.verifier.provider import Request

GOOD = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"
BAD = "CCIPAT_t4HDp5zfNQJNg3HpnmMJL1_2073fec8df4f50947aaeb26c57d21fa5d328263d"


def circleci(req: Request):
    if req.header("Circle-Token") == GOOD:
        return 200, {}, {"id": "u-42", "login": "release-bot"}
    return 401, {}, {"message": "You must log in first."}


def project(tmp_path, provider, *, enabled: bool = False):
    provider.handler = circleci
    (tmp_path / ".git").mkdir()
    (tmp_path / ".leakwarden.toml").write_text(
        "[verify]\n"
        f"enabled = {'true' if enabled else 'false'}\n"
        "allow_private = true\n"
        "cache_ttl = 0\n"
        f'base_urls = {{ "circleci.com" = "{provider.base_url}" }}\n'
    )
    (tmp_path / "ci.env").write_text(f"CIRCLE_TOKEN={GOOD}\nOLD_CIRCLE_TOKEN={BAD}\nAGAIN={GOOD}\n")
    return tmp_path


def test_scan_without_verify_stays_offline(tmp_path, provider):
    root = project(tmp_path, provider)
    r = run_cli("scan", "path", ".", "--format", "json", cwd=root)
    assert r.returncode == 1, r.stderr
    states = {f["validity"]["state"] for f in json.loads(r.stdout)["findings"]}
    assert states == {"not_checked"} and provider.requests == []


def test_scan_verify_json(tmp_path, provider):
    root = project(tmp_path, provider)
    r = run_cli("scan", "path", ".", "--verify", "--format", "json", cwd=root)
    assert r.returncode == 1, r.stderr
    findings = json.loads(r.stdout)["findings"]
    by_line = {f["start_line"]: f["validity"] for f in findings}
    assert by_line[1]["state"] == "valid" and by_line[1]["details"] == {"login": "release-bot", "user_id": "u-42"}
    assert by_line[2]["state"] == "invalid" and "401" in by_line[2]["reason"]
    assert by_line[3]["state"] == "valid" and by_line[3]["checked_at"].endswith("Z")
    assert len(provider.requests) == 2  # two unique secrets, three occurrences
    assert GOOD.encode() not in r.stderr and BAD.encode() not in r.stdout


def test_scan_only_valid_text_and_sarif(tmp_path, provider):
    root = project(tmp_path, provider)
    r = run_cli("scan", "path", ".", "--only-valid", cwd=root)
    assert r.returncode == 1, r.stderr
    out = r.stdout.decode()
    assert "validity: valid" in out and "login=release-bot" in out and "invalid" not in out
    assert "2 findings" in out and "secrets 1 valid" in out
    r = run_cli("scan", "path", ".", "--verify", "--format", "sarif", cwd=root)
    results = json.loads(r.stdout)["runs"][0]["results"]
    props = sorted((x["properties"]["validity"], x["properties"].get("validity_reason", "")) for x in results)
    assert [p[0] for p in props] == ["invalid", "valid", "valid"] and all(p[1] for p in props)


def test_config_can_turn_verification_on_and_the_flag_off(tmp_path, provider):
    root = project(tmp_path, provider, enabled=True)
    r = run_cli("scan", "stdin", "--format", "json", input=f"token: {GOOD}\n".encode(), cwd=root)
    assert json.loads(r.stdout)["findings"][0]["validity"]["state"] == "valid"
    n = len(provider.requests)
    r = run_cli("scan", "stdin", "--no-verify", "--format", "json", input=f"token: {GOOD}\n".encode(), cwd=root)
    assert json.loads(r.stdout)["findings"][0]["validity"]["state"] == "not_checked"
    assert len(provider.requests) == n


def test_only_valid_with_nothing_live_exits_clean(tmp_path, provider):
    root = project(tmp_path, provider)
    (root / "ci.env").write_text(f"OLD_CIRCLE_TOKEN={BAD}\n")
    r = run_cli("scan", "path", ".", "--only-valid", "--format", "json", cwd=root)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["findings"] == []


def test_verify_command_reads_stdin(tmp_path, provider):
    root = project(tmp_path, provider)
    r = run_cli("verify", "--rule", "circleci-personal-token", input=f"{GOOD}\n".encode(), cwd=root)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith(b"circleci-personal-token: valid") and b"login: release-bot" in r.stdout
    r = run_cli("verify", "--rule", "circleci-personal-token", "--format", "json", input=BAD.encode(), cwd=root)
    assert r.returncode == 0 and json.loads(r.stdout)["validity"]["state"] == "invalid"
    assert BAD.encode() not in r.stdout


def test_verify_command_related_values(tmp_path, provider):
    root = project(tmp_path, provider)
    token = "ATATT3xFfGF0PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA-2O76UMFxFkM-R5Kjp1vRt_1fjORS-6ilI8ihN5KXSc7Tvo-hBKqFYY-kv5ZJr3J1TWDtkwtDDb_xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po_799NksnRH9uc=0A9214CC"
    r = run_cli("verify", "--rule", "atlassian-api-token", "--related", "site=acme.atlassian.net", input=token.encode(), cwd=root)
    assert r.returncode == 3 and b"e-mail" in r.stdout
    r = run_cli("verify", "--rule", "atlassian-api-token", "--related", "site", input=token.encode(), cwd=root)
    assert r.returncode == 2 and b"NAME=VALUE" in r.stderr
    # a value passed without its name (a password, say) is not echoed into the error
    r = run_cli("verify", "--rule", "atlassian-api-token", "--related", "Xk9-pW2_vQz8", input=token.encode(), cwd=root)
    assert r.returncode == 2 and b"NAME=VALUE" in r.stderr and b"pW2_vQz8" not in r.stderr, r.stderr


def test_verify_command_refuses_empty_stdin_and_unknown_rule(tmp_path, provider):
    root = project(tmp_path, provider)
    r = run_cli("verify", "--rule", "circleci-personal-token", input=b"\n", cwd=root)
    assert r.returncode == 2 and b"no secret" in r.stderr
    r = run_cli("verify", "--rule", "no-such-rule", input=GOOD.encode(), cwd=root)
    assert r.returncode == 2 and b"no such rule" in r.stderr


def test_bad_verify_config_is_exit_2(tmp_path, provider):
    root = project(tmp_path, provider)
    (root / ".leakwarden.toml").write_text("[verify]\nconcurrency = 0\n")
    r = run_cli("scan", "path", ".", "--verify", cwd=root)
    assert r.returncode == 2 and b"verify.concurrency" in r.stderr

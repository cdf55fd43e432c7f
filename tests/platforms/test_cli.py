"""`leakwarden serve` and `leakwarden monitor install|status` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SRC, run_cli
from tests.platforms.conftest import SECRET, github_headers, write_config
from tests.platforms.servers import FakeApi, free_port

ENV = {"LW_TEST_HOOK_SECRET": SECRET, "LW_TEST_API_TOKEN": "api-token-for-tests"}


def test_install_github_and_gitlab_hooks(tmp_path: Path, api: FakeApi, monkeypatch) -> None:
    cfg = write_config(tmp_path, api, monkeypatch)
    r = run_cli("monitor", "install", "github", "--org", "acme", "--url", "https://hooks.example/hooks/github", "--config", str(cfg),
                env={**ENV, "GITHUB_TOKEN": "gh-admin-token"})
    assert r.returncode == 0, r.stderr.decode()
    (call,) = api.calls("POST", "/orgs/acme/hooks")
    body = call.json()
    assert call.headers["authorization"] == "Bearer gh-admin-token"
    assert body["events"] == ["push", "pull_request"] and body["config"]["url"] == "https://hooks.example/hooks/github"
    assert body["config"]["secret"] == SECRET and body["config"]["content_type"] == "json"
    r = run_cli("monitor", "install", "gitlab", "--group", "platform/backend", "--url", "https://hooks.example/hooks/gitlab", "--config", str(cfg),
                env={**ENV, "GITLAB_TOKEN": "gl-owner-token"})
    assert r.returncode == 0, r.stderr.decode()
    (call,) = api.calls("POST", "/groups/platform%2Fbackend/hooks")
    assert call.headers["private-token"] == "gl-owner-token" and call.json()["merge_requests_events"] is True
    assert call.json()["tag_push_events"] is True  # a tag can bring commits that no branch has


def test_install_bitbucket_cloud_and_dc_hooks(tmp_path: Path, api: FakeApi, monkeypatch) -> None:
    cfg = write_config(tmp_path, api, monkeypatch)
    r = run_cli("monitor", "install", "bitbucket", "--workspace", "acme-ws", "--url", "https://hooks.example/hooks/bitbucket", "--config", str(cfg),
                env={**ENV, "BITBUCKET_TOKEN": "bb-ws-token"})
    assert r.returncode == 0, r.stderr.decode()
    (call,) = api.calls("POST", "/workspaces/acme-ws/hooks")
    body = call.json()
    assert call.headers["authorization"] == "Bearer bb-ws-token"
    assert body["events"] == ["repo:push", "pullrequest:created", "pullrequest:updated"] and body["secret"] == SECRET
    assert body["url"] == "https://hooks.example/hooks/bitbucket" and body["active"] is True
    r = run_cli("monitor", "install", "bitbucket-dc", "--project", "PLAT", "--url", "https://hooks.example/hooks/bitbucket-dc", "--config", str(cfg),
                env={**ENV, "BITBUCKET_DC_TOKEN": "bbdc-admin-token"})
    assert r.returncode == 0, r.stderr.decode()
    (call,) = api.calls("POST", "/rest/api/latest/projects/PLAT/webhooks")
    body = call.json()
    assert call.headers["authorization"] == "Bearer bbdc-admin-token"
    assert body["configuration"] == {"secret": SECRET} and "repo:refs_changed" in body["events"] and "pr:from_ref_updated" in body["events"]
    assert b"bbdc-admin-token" not in r.stdout + r.stderr and SECRET.encode() not in r.stdout + r.stderr


def test_install_without_a_token_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    cfg = write_config(tmp_path, None, monkeypatch)
    cfg.write_text(cfg.read_text().replace('token_env = "LW_TEST_API_TOKEN"\n', ""))
    r = run_cli("monitor", "install", "github", "--org", "acme", "--url", "https://x/hooks/github", "--config", str(cfg),
                env={**ENV, "GITHUB_TOKEN": ""})
    assert r.returncode == 2 and b"GITHUB_TOKEN" in r.stderr


def test_serve_receives_stops_on_sigterm_and_status_reports(tmp_path: Path, monkeypatch) -> None:
    cfg = write_config(tmp_path, None, monkeypatch)
    port = free_port()
    env = {**os.environ, **ENV, "PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "leakwarden", "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode() if proc.poll() is not None else "no answer"
            time.sleep(0.05)
        # A push to a repository nobody serves: the job is queued, then fails (and is retried).
        body = json.dumps({"ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40,
                           "repository": {"full_name": "acme/app", "clone_url": "http://127.0.0.1:9/acme/app.git"}}).encode()
        r = httpx.post(f"http://127.0.0.1:{port}/hooks/github", content=body, headers=github_headers(body, "cli-1"))
        assert r.status_code == 202
        bad = httpx.post(f"http://127.0.0.1:{port}/hooks/github", content=body, headers=github_headers(body, "cli-2", secret="nope"))
        assert bad.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=40)
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()
    logs = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert {"delivery.accepted", "delivery.rejected", "job.failed", "monitor.stopped"} <= {e["event"] for e in logs}
    assert SECRET.encode() not in err and b"api-token-for-tests" not in err
    r = run_cli("monitor", "status", "--config", str(cfg), "--format", "json", env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    status = json.loads(r.stdout)
    assert sum(status["counts"].values()) == 1 and status["recent"][0]["delivery"] == "cli-1"
    text = run_cli("monitor", "status", "--config", str(cfg), env=ENV).stdout.decode()
    assert text.startswith("queue: ") and "acme/app" in text


def test_serve_rejects_a_bad_listen_address(tmp_path: Path, monkeypatch) -> None:
    cfg = write_config(tmp_path, None, monkeypatch)
    r = run_cli("serve", "--config", str(cfg), "--listen", "nope", env=ENV)
    assert r.returncode == 2 and b"HOST:PORT" in r.stderr


@pytest.mark.parametrize(("setting", "message"), [
    ('workers = "two"', b"[monitor] workers: not a whole number"),
    ('max_body = "lots"', b"[monitor] max_body: not a size"),
    ('max_blob_size = [1]', b"[monitor] max_blob_size: not a size"),
])
def test_bad_numbers_in_monitor_toml_are_config_errors(tmp_path: Path, monkeypatch, setting: str, message: bytes) -> None:
    cfg = write_config(tmp_path, None, monkeypatch)
    cfg.write_text(cfg.read_text().replace("workers = 1\n", setting + "\n"))
    r = run_cli("monitor", "status", "--config", str(cfg), env=ENV)
    assert r.returncode == 2 and message in r.stderr and b"internal error" not in r.stderr, r.stderr


def test_platform_settings_of_the_wrong_type_are_config_errors(tmp_path: Path, monkeypatch) -> None:
    """`report = "false"` must not be read as true (a string is truthy)."""
    for key, value, message in (("report", '"false"', b"[github] report: not true or false"),
                                ("replay_hours", '"x"', b"[github] replay_hours: not a number of hours")):
        cfg = write_config(tmp_path, None, monkeypatch, **{key: "PLACEHOLDER"})
        cfg.write_text(cfg.read_text().replace('"PLACEHOLDER"', value))
        r = run_cli("monitor", "status", "--config", str(cfg), env=ENV)
        assert r.returncode == 2 and message in r.stderr, r.stderr


def test_sizes_are_read_with_units(tmp_path: Path, monkeypatch) -> None:
    from leakwarden.platforms import config as monitor_config

    cfg = monitor_config.load(write_config(tmp_path, None, monkeypatch, extra='max_body = "64KB"\nmax_blob_size = 1048576'))
    assert (cfg.max_body, cfg.max_blob_size) == (64_000, 1_048_576)


def test_a_queue_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    cfg = write_config(tmp_path, None, monkeypatch)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jobs.sqlite").write_bytes(b"this is not a database, it is a note\n" * 100)
    r = run_cli("monitor", "status", "--config", str(cfg), env=ENV)
    assert r.returncode == 2 and b"cannot open the job queue" in r.stderr and b"internal error" not in r.stderr, r.stderr

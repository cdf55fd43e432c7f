"""Report-back against a fake platform API on 127.0.0.1: batching, in-place notes, rate
limits with an injected clock, pagination kept on its origin, no secret in any outbound body."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from leakwarden.platforms import config as monitor_config
from leakwarden.platforms.http import ApiClient, ApiError, Clock
from leakwarden.platforms.report import MARKER
from leakwarden.platforms.worker import Scanner
from tests.git.gitrepo import crates_token
from tests.platforms.conftest import Remote, all_bodies, write_config
from tests.platforms.servers import FakeApi, FakeClock

TOKENS = [crates_token(100 + i) for i in range(60)]


def _rsa_pem(tmp: Path) -> tuple[Path, object]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp / "app.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path, key.public_key()


def _push_many(remote: Remote) -> tuple[str, str]:
    remote.commit({"keys.env": "".join(f"TOKEN_{i} = \"{t}\"\n" for i, t in enumerate(TOKENS))})
    return remote.push()


def test_github_app_check_run_with_annotations_in_batches_of_50(tmp_path: Path, daemon, api: FakeApi, monkeypatch, detector) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pem, public = _rsa_pem(tmp_path)
    api.responders.append(lambda m, p, b: (201, {}, {"token": "ghs_installation_token_for_tests"}) if p.endswith("/access_tokens") else None)
    api.responders.append(lambda m, p, b: (201, {}, {"id": 4242}) if m == "POST" and p.endswith("/check-runs") else None)
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch, app_id="123", private_key_file=str(pem)))
    remote = Remote(tmp_path, daemon)
    before, after = _push_many(remote)
    summary = Scanner(cfg, detector=detector).run({"platform": "github", "kind": "push", "repo": "acme/app", "clone_url": remote.url,
                                                   "ref": "refs/heads/main", "before": before, "after": after, "pr": None, "installation": 5})
    assert "60 new" in summary
    (token_call,) = api.calls("POST", "/app/installations/5/access_tokens")
    jwt = token_call.headers["authorization"].removeprefix("Bearer ")
    head, payload, sig = jwt.split(".")
    public.verify(base64.urlsafe_b64decode(sig + "=="), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    assert json.loads(base64.urlsafe_b64decode(payload + "=="))["iss"] == "123"
    (create,) = api.calls("POST", "/repos/acme/app/check-runs")
    (update,) = api.calls("PATCH", "/repos/acme/app/check-runs/4242")
    assert create.headers["authorization"] == "token ghs_installation_token_for_tests"
    body = create.json()
    assert body["head_sha"] == after and body["conclusion"] == "failure" and len(body["output"]["annotations"]) == 50
    assert len(update.json()["output"]["annotations"]) == 10
    assert all(a["path"] == "keys.env" for a in body["output"]["annotations"])
    sent = all_bodies(api)
    assert not any(t.encode() in sent for t in TOKENS)


def test_baseline_findings_do_not_fail_the_check(tmp_path: Path, daemon, api: FakeApi, monkeypatch, detector) -> None:
    from leakwarden.api import scan_text
    from leakwarden.triage import baseline

    remote = Remote(tmp_path, daemon)
    known = crates_token(7)
    known_finding = scan_text(f"t = \"{known}\"\n", detector=detector)
    repo_id = f"127.0.0.1:{daemon.port}/app"
    baseline.write(tmp_path / "baseline.json", baseline.from_findings(known_finding, repo_id))
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch, extra='baseline = "baseline.json"'))
    remote.commit({"a.txt": f"t = \"{known}\"\n"})
    before, after = remote.push()
    summary = Scanner(cfg, detector=detector).run({"platform": "github", "kind": "push", "repo": "acme/app", "clone_url": remote.url,
                                                   "ref": "refs/heads/main", "before": before, "after": after, "pr": None})
    assert "0 new, 1 known" in summary
    assert api.requests[-1].json()["state"] == "success"
    # The store still records it, as the CLI would.
    from leakwarden.store import open_store

    with open_store(cfg.store) as store:
        (inc,) = store.list_incidents()
        (occ,) = store.occurrences([inc.id])
        assert occ.commit == after and occ.path == "a.txt" and occ.repository == repo_id


def test_gitlab_status_and_one_merge_request_note_updated_in_place(tmp_path: Path, daemon, api: FakeApi, monkeypatch, detector) -> None:
    notes: list[dict] = []

    def notes_api(m: str, p: str, b: bytes):
        if "/merge_requests/3/notes" not in p:
            return None
        if m == "GET":
            return 200, {}, notes
        if m == "POST":
            notes.append({"id": 77, "body": json.loads(b)["body"]})
            return 201, {}, notes[-1]
        if m == "PUT":
            notes[0]["body"] = json.loads(b)["body"]
            return 200, {}, notes[0]
        return None

    api.responders.append(notes_api)
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch))
    scanner = Scanner(cfg, detector=detector)
    remote = Remote(tmp_path, daemon)
    remote.commit({"readme": "x\n"})
    base = remote.push()[1]
    remote.dev.git("checkout", "-q", "-b", "topic")
    remote.commit({"ci.env": f"T = \"{TOKENS[0]}\"\n"})
    remote.dev.git("push", "-q", "origin", "HEAD:refs/merge-requests/3/head")
    head = remote.head("refs/merge-requests/3/head")
    job = {"platform": "gitlab", "kind": "pr", "repo": "grp/app", "clone_url": remote.url, "ref": "refs/merge-requests/3/head",
           "before": base, "after": head, "pr": 3, "project_id": 42}
    scanner.run(job)
    remote.commit({"ci.env": "T = from-vault\n"})
    remote.dev.git("push", "-q", "-f", "origin", "HEAD:refs/merge-requests/3/head")
    scanner.run({**job, "after": remote.head("refs/merge-requests/3/head")})
    statuses = api.calls("POST", "/projects/42/statuses/")
    assert [s.json()["state"] for s in statuses] == ["failed", "failed"]  # the secret is still in the MR's history
    assert len(api.calls("POST", "/merge_requests/3/notes")) == 1 and len(api.calls("PUT", "/merge_requests/3/notes/77")) == 1
    assert len(notes) == 1 and notes[0]["body"].startswith(MARKER)
    assert TOKENS[0].encode() not in all_bodies(api)


@pytest.mark.parametrize("platform", ["bitbucket", "bitbucket-dc"])
def test_bitbucket_build_status_and_code_insights(tmp_path: Path, daemon, api: FakeApi, monkeypatch, detector, platform: str) -> None:
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch))
    remote = Remote(tmp_path, daemon)
    before, after = _push_many(remote)
    job = {"platform": platform, "kind": "push", "repo": "ws/app" if platform == "bitbucket" else "PRJ/app", "clone_url": remote.url,
           "ref": "refs/heads/main", "before": before, "after": after, "pr": None, "project_key": "PRJ", "slug": "app"}
    Scanner(cfg, detector=detector).run(job)
    if platform == "bitbucket":
        (status,) = api.calls("POST", f"/repositories/ws/app/commit/{after}/statuses/build")
        (report,) = api.calls("PUT", f"/repositories/ws/app/commit/{after}/reports/leakwarden")
        assert status.json()["state"] == "FAILED" and report.json()["result"] == "FAILED"
        assert len(api.calls("POST", "/reports/leakwarden/annotations")) == 1  # 60 fit in one call of 100
        assert len(api.calls("POST", "/reports/leakwarden/annotations")[0].json()) == 60
    else:
        (status,) = api.calls("POST", f"/rest/build-status/1.0/commits/{after}")
        (report,) = api.calls("PUT", f"/rest/insights/1.0/projects/PRJ/repos/app/commits/{after}/reports/leakwarden")
        assert status.json()["state"] == "FAILED" and report.json()["result"] == "FAIL"
        assert len(api.calls("POST", "/reports/leakwarden/annotations")[0].json()["annotations"]) == 60
    sent = all_bodies(api)
    assert not any(t.encode() in sent for t in TOKENS)


def test_rate_limits_403_and_429_wait_with_the_injected_clock(api: FakeApi) -> None:
    clock = FakeClock()
    answers = [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.t) + 120)}, {"message": "API rate limit exceeded"}),
        (429, {"retry-after": "7"}, {"message": "slow down"}),
        (403, {"retry-after": "3"}, {"message": "secondary rate limit"}),
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.t) + 1000)}, {"ok": 1}),
    ]
    api.responders.append(lambda m, p, b: answers.pop(0) if answers else None)
    client = ApiClient(api.url, clock=Clock(clock.now, clock.sleep))
    assert client.json("GET", "/thing") == {"ok": 1}
    assert clock.sleeps == [120.0, 7.0, 3.0]
    # The quota is now exhausted until the reset: the next call waits for it first.
    client.json("GET", "/thing")
    assert len(clock.sleeps) == 4 and clock.t >= 1_700_000_000 + 1000
    assert len(api.requests) == 5
    client.close()


def test_retry_after_as_a_date_and_gitlab_ratelimit_headers(api: FakeApi) -> None:
    from email.utils import formatdate

    clock = FakeClock()
    answers = [
        (429, {"retry-after": formatdate(clock.t + 42, usegmt=True)}, {"message": "slow down"}),
        (429, {"ratelimit-remaining": "0", "ratelimit-reset": str(int(clock.t) + 500)}, {"message": "Retry later"}),
        (200, {}, {"ok": 1}),
    ]
    api.responders.append(lambda m, p, b: answers.pop(0) if answers else None)
    client = ApiClient(api.url, clock=Clock(clock.now, clock.sleep))
    assert client.json("GET", "/thing") == {"ok": 1}
    # the date is 42 s ahead of the clock; GitLab's reset 500 s after the start (42 s went by)
    assert [round(s) for s in clock.sleeps] == [42, 458]
    client.close()


def test_secondary_limit_without_headers_waits_a_minute(api: FakeApi) -> None:
    clock = FakeClock()
    answers = [(403, {}, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}), (200, {}, {"ok": 1})]
    api.responders.append(lambda m, p, b: answers.pop(0) if answers else None)
    client = ApiClient(api.url, clock=Clock(clock.now, clock.sleep))
    assert client.json("GET", "/thing") == {"ok": 1}
    assert clock.sleeps == [60.0]
    client.close()


def test_plain_403_is_an_error_not_a_wait(api: FakeApi) -> None:
    clock = FakeClock()
    api.responders.append(lambda m, p, b: (403, {"x-ratelimit-remaining": "4999"}, {"message": "forbidden"}))
    client = ApiClient(api.url, clock=Clock(clock.now, clock.sleep))
    with pytest.raises(ApiError, match="HTTP 403"):
        client.request("GET", "/x")
    assert clock.sleeps == [] and len(api.requests) == 1
    client.close()


def test_pagination_refuses_another_origin(api: FakeApi) -> None:
    other = FakeApi()
    try:
        api.responders.append(lambda m, p, b: (200, {"link": f'<{api.url}/page2>; rel="next"'}, [1]) if p == "/page1" else None)
        api.responders.append(lambda m, p, b: (200, {"link": f'<{other.url}/page3>; rel="next"'}, [2]) if p == "/page2" else None)
        client = ApiClient(api.url)
        got = []
        with pytest.raises(ApiError, match="another origin"):
            for item in client.paginate("/page1"):
                got.append(item)
        assert got == [1, 2] and other.requests == []
        client.close()
    finally:
        other.close()


def test_missed_github_deliveries_are_redelivered_once(tmp_path: Path, api: FakeApi, monkeypatch) -> None:
    from leakwarden.platforms.github import GitHubReporter

    pem, _ = _rsa_pem(tmp_path)
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch, app_id="123", private_key_file=str(pem)))
    page1 = [
        {"id": 14, "guid": "A", "delivered_at": "2023-11-14T22:10:00Z", "status": "OK", "status_code": 202},
        {"id": 11, "guid": "B", "delivered_at": "2023-11-14T22:05:00Z", "status": "Invalid HTTP Response: 502", "status_code": 502},
        {"id": 12, "guid": "C", "delivered_at": "2023-11-14T22:04:00Z", "status": "timed out", "status_code": 0},
    ]
    page2 = [
        {"id": 10, "guid": "B", "delivered_at": "2023-11-14T22:03:00Z", "status": "Invalid HTTP Response: 502", "status_code": 502},
        {"id": 9, "guid": "E", "delivered_at": "2023-11-14T22:02:00Z", "status": "OK", "status_code": 202},
        {"id": 5, "guid": "D", "delivered_at": "2023-11-14T20:00:00Z", "status": "timed out", "status_code": 0},
    ]
    api.responders.append(lambda m, p, b: (200, {"link": f'<{api.url}/app/hook/deliveries?cursor=2>; rel="next"'}, page1)
                          if m == "GET" and p.startswith("/app/hook/deliveries?") and "cursor" not in p else None)
    api.responders.append(lambda m, p, b: (200, {}, page2) if m == "GET" and "cursor=2" in p else None)
    clock = FakeClock(start=1_700_000_000.0)  # 2023-11-14T22:13:20Z
    reporter = GitHubReporter(cfg.platforms["github"], Clock(clock.now, clock.sleep))
    since = clock.t - 3600  # 21:13:20: D is older and ends the walk
    assert reporter.replay_missed(known={"C"}, since=since) == 1
    assert [r.path for r in api.calls("POST")] == ["/app/hook/deliveries/11/attempts"]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in api.requests)

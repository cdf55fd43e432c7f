"""The receiver in-process (httpx ASGITransport): verify before parse, dedupe, queue, 202."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from leakwarden.platforms import config as monitor_config
from leakwarden.platforms.app import create_app
from leakwarden.platforms.queue import JobQueue
from tests.platforms.conftest import SECRET, Z40, github_headers, write_config

SHA_A = "a" * 40
SHA_B = "b" * 40


def _push_body() -> bytes:
    return json.dumps({
        "ref": "refs/heads/main", "before": SHA_A, "after": SHA_B,
        "repository": {"full_name": "acme/app", "clone_url": "https://example.invalid/acme/app.git"},
    }).encode()


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = monitor_config.load(write_config(tmp_path, None, monkeypatch, extra="max_body = 65536"))
    queue = JobQueue(cfg.queue_path)
    app = create_app(cfg, queue, workers=False)

    def post(path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as c:
                return await c.post(path, content=body, headers=headers)

        return asyncio.run(go())

    return post, queue


def test_valid_github_push_is_queued(receiver) -> None:
    post, queue = receiver
    body = _push_body()
    r = post("/hooks/github", body, github_headers(body, "d-1"))
    assert r.status_code == 202 and r.json() == {"status": "queued"}
    job = queue.claim()
    assert job is not None and job.data["repo"] == "acme/app" and job.data["before"] == SHA_A and job.data["after"] == SHA_B


def test_bad_signature_is_401_and_queues_nothing(receiver) -> None:
    post, queue = receiver
    body = _push_body()
    headers = github_headers(body, "d-2", secret=SECRET + "!")
    assert post("/hooks/github", body, headers).status_code == 401
    # A valid signature of another body does not pass either.
    assert post("/hooks/github", body + b" ", github_headers(body, "d-3")).status_code == 401
    unsigned = {k: v for k, v in github_headers(body, "d-4").items() if k != "x-hub-signature-256"}
    assert post("/hooks/github", body, unsigned).status_code == 401
    assert queue.counts() == {}


def test_unparsable_body_with_bad_signature_is_401_not_400(receiver) -> None:
    """Verification runs before parsing: garbage without a valid signature is never parsed."""
    post, queue = receiver
    assert post("/hooks/github", b"{not json", {"x-github-event": "push", "x-github-delivery": "x", "x-hub-signature-256": "sha256=00"}).status_code == 401
    body = b"{not json"
    assert post("/hooks/github", body, github_headers(body, "d-5")).status_code == 400
    assert queue.counts() == {}


def test_duplicate_delivery_gives_one_job(receiver) -> None:
    post, queue = receiver
    body = _push_body()
    assert post("/hooks/github", body, github_headers(body, "same")).json() == {"status": "queued"}
    assert post("/hooks/github", body, github_headers(body, "same")).json() == {"status": "duplicate"}
    assert queue.counts() == {"queued": 1}


def test_body_cap(receiver) -> None:
    post, queue = receiver
    body = b'{"pad": "' + b"x" * 70000 + b'"}'
    assert post("/hooks/github", body, github_headers(body, "big")).status_code == 413
    assert queue.counts() == {}


def test_pull_request_actions(receiver) -> None:
    post, queue = receiver
    for i, action in enumerate(("opened", "synchronize", "reopened", "closed", "labeled")):
        body = json.dumps({
            "action": action, "number": 7,
            "pull_request": {"base": {"sha": SHA_A}, "head": {"sha": SHA_B}},
            "repository": {"full_name": "acme/app", "clone_url": "https://example.invalid/acme/app.git"},
        }).encode()
        assert post("/hooks/github", body, github_headers(body, f"pr-{i}", "pull_request")).status_code == 202
    assert queue.counts() == {"queued": 3, "ignored": 2}
    job = queue.claim()
    assert job is not None and job.data["kind"] == "pr" and job.data["pr"] == 7 and job.data["ref"] == "refs/pull/7/head"


def test_gitlab_bitbucket_and_dc(receiver) -> None:
    import hashlib
    import hmac

    post, queue = receiver
    gl = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "before": Z40, "after": SHA_B, "checkout_sha": SHA_B,
                     "project": {"id": 42, "path_with_namespace": "grp/app", "git_http_url": "https://gl.invalid/grp/app.git"}}).encode()
    assert post("/hooks/gitlab", gl, {"x-gitlab-token": "wrong", "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "g1"}).status_code == 401
    assert post("/hooks/gitlab", gl, {"x-gitlab-token": SECRET, "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "g1"}).status_code == 202

    def sig(b: bytes) -> str:
        return "sha256=" + hmac.new(SECRET.encode(), b, hashlib.sha256).hexdigest()

    bb = json.dumps({"repository": {"full_name": "ws/app"}, "push": {"changes": [
        {"old": {"name": "main", "target": {"hash": SHA_A}}, "new": {"name": "main", "target": {"hash": SHA_B}}}]}}).encode()
    assert post("/hooks/bitbucket", bb, {"x-hub-signature": sig(bb + b"x"), "x-event-key": "repo:push", "x-request-uuid": "b1"}).status_code == 401
    assert post("/hooks/bitbucket", bb, {"x-hub-signature": sig(bb), "x-event-key": "repo:push", "x-request-uuid": "b1"}).status_code == 202
    dc = json.dumps({"repository": {"slug": "app", "project": {"key": "PRJ"}, "links": {"clone": [{"name": "http", "href": "https://bb.invalid/scm/prj/app.git"}]}},
                     "changes": [{"refId": "refs/heads/main", "fromHash": SHA_A, "toHash": SHA_B}]}).encode()
    assert post("/hooks/bitbucket-dc", dc, {"x-hub-signature": sig(dc), "x-event-key": "repo:refs_changed", "x-request-id": "c1"}).status_code == 202
    jobs = [queue.claim() for _ in range(3)]
    assert [(j.platform, j.data["repo"]) for j in jobs if j] == [("gitlab", "grp/app"), ("bitbucket", "ws/app"), ("bitbucket-dc", "PRJ/app")]
    assert jobs[2] is not None and jobs[2].data["clone_url"] == "https://bb.invalid/scm/prj/app.git"


@pytest.mark.parametrize("patch", [
    {"ref": "refs/heads/../../x"}, {"ref": "main"}, {"ref": "refs/heads/a b"}, {"after": "zz" * 20}, {"before": 7},
    {"repository": {"full_name": "acme/app", "clone_url": "file:///etc"}}, {"repository": {"full_name": "acme/app", "clone_url": "-uhello"}},
    {"repository": "not an object"},
])
def test_hostile_payloads_are_400_and_queue_nothing(receiver, patch) -> None:
    post, queue = receiver
    payload = {**json.loads(_push_body()), **patch}
    body = json.dumps(payload).encode()
    r = post("/hooks/github", body, github_headers(body, "hostile"))
    assert r.status_code == 400 and r.json()["error"].startswith("bad payload")
    assert queue.counts() == {}


def _sig(body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_a_bitbucket_push_of_several_refs_queues_one_job_per_ref(receiver) -> None:
    """One push can move several branches and tags: each change is scanned, not the first only."""
    post, queue = receiver
    sha_c = "c" * 40
    bb = json.dumps({"repository": {"full_name": "ws/app"}, "push": {"changes": [
        {"old": {"type": "branch", "name": "main", "target": {"hash": SHA_A}}, "new": {"type": "branch", "name": "main", "target": {"hash": SHA_B}}},
        {"old": None, "new": {"type": "branch", "name": "topic", "target": {"hash": sha_c}}},
        {"old": None, "new": {"type": "tag", "name": "v1", "target": {"hash": sha_c}}},
    ]}}).encode()
    headers = {"x-hub-signature": _sig(bb), "x-event-key": "repo:push", "x-request-uuid": "multi"}
    assert post("/hooks/bitbucket", bb, headers).json() == {"status": "queued"}
    assert post("/hooks/bitbucket", bb, headers).json() == {"status": "duplicate"}
    dc = json.dumps({"repository": {"slug": "app", "project": {"key": "PRJ"}, "links": {"clone": [{"name": "http", "href": "https://bb.invalid/scm/prj/app.git"}]}},
                     "changes": [{"refId": "refs/heads/main", "fromHash": SHA_A, "toHash": SHA_B},
                                 {"refId": "refs/tags/v2", "fromHash": Z40, "toHash": sha_c}]}).encode()
    assert post("/hooks/bitbucket-dc", dc, {"x-hub-signature": _sig(dc), "x-event-key": "repo:refs_changed", "x-request-id": "multi"}).status_code == 202
    assert queue.counts() == {"queued": 5}
    jobs = []
    while (job := queue.claim()) is not None:
        jobs.append((job.platform, job.data["ref"], job.data["before"], job.data["after"], job.data["delivery"]))
    assert jobs == [
        ("bitbucket", "refs/heads/main", SHA_A, SHA_B, "multi"),
        ("bitbucket", "refs/heads/topic", Z40, sha_c, "multi"),
        ("bitbucket", "refs/tags/v1", Z40, sha_c, "multi"),
        ("bitbucket-dc", "refs/heads/main", SHA_A, SHA_B, "multi"),
        ("bitbucket-dc", "refs/tags/v2", Z40, sha_c, "multi"),
    ]


def test_pull_requests_from_forks_name_where_their_head_is(receiver) -> None:
    """Bitbucket Cloud: the fork's branch is fetched from the fork (`head_url`); Data Center
    keeps a fork request's head in the target repository as refs/pull-requests/<id>/from."""
    post, queue = receiver
    cloud = json.dumps({"repository": {"full_name": "ws/app", "links": {"html": {"href": "https://bitbucket.org/ws/app"}}}, "pullrequest": {
        "id": 4,
        "source": {"branch": {"name": "fix"}, "commit": {"hash": SHA_B[:12]},
                   "repository": {"full_name": "someone/app-fork", "links": {"html": {"href": "https://bitbucket.org/someone/app-fork"}}}},
        "destination": {"branch": {"name": "main"}, "commit": {"hash": SHA_A[:12]}, "repository": {"full_name": "ws/app"}},
    }}).encode()
    same = json.dumps({"repository": {"full_name": "ws/app"}, "pullrequest": {
        "id": 5, "source": {"branch": {"name": "topic"}, "commit": {"hash": SHA_B[:12]}, "repository": {"full_name": "ws/app"}},
        "destination": {"branch": {"name": "main"}, "commit": {"hash": SHA_A[:12]}},
    }}).encode()
    repo = {"slug": "app", "project": {"key": "PRJ"}, "links": {"clone": [{"name": "http", "href": "https://bb.invalid/scm/prj/app.git"}]}}
    dc = json.dumps({"repository": repo, "pullRequest": {
        "id": 12,
        "fromRef": {"id": "refs/heads/fix", "latestCommit": SHA_B, "repository": {"slug": "app", "project": {"key": "~ALICE"}}},
        "toRef": {"id": "refs/heads/main", "latestCommit": SHA_A, "repository": repo},
    }}).encode()
    for path, body, headers in (
        ("/hooks/bitbucket", cloud, {"x-event-key": "pullrequest:created", "x-request-uuid": "f1"}),
        ("/hooks/bitbucket", same, {"x-event-key": "pullrequest:created", "x-request-uuid": "f2"}),
        ("/hooks/bitbucket-dc", dc, {"x-event-key": "pr:opened", "x-request-id": "f3"}),
    ):
        assert post(path, body, {"x-hub-signature": _sig(body), **headers}).json() == {"status": "queued"}
    jobs = []
    while (job := queue.claim()) is not None:
        jobs.append((job.data["ref"], job.data.get("head_url"), job.data["clone_url"]))
    assert jobs == [
        ("refs/heads/fix", "https://bitbucket.org/someone/app-fork.git", "https://bitbucket.org/ws/app.git"),
        ("refs/heads/topic", None, "https://bitbucket.org/ws/app.git"),
        ("refs/pull-requests/12/from", None, "https://bb.invalid/scm/prj/app.git"),
    ]


def test_events_we_do_not_scan_are_accepted_without_a_repository(receiver) -> None:
    """An App's `installation` events and Bitbucket Data Center's "Test connection"
    (`diagnostics:ping`) carry no repository; they are answered 2xx, not refused as bad."""
    post, queue = receiver
    inst = json.dumps({"action": "created", "installation": {"id": 5}, "repositories": []}).encode()
    assert post("/hooks/github", inst, github_headers(inst, "i-1", "installation")).json() == {"status": "ignored"}
    ping = json.dumps({"test": True}).encode()
    assert post("/hooks/bitbucket-dc", ping, {"x-hub-signature": _sig(ping), "x-event-key": "diagnostics:ping", "x-request-id": "p-1"}).status_code == 202
    issue = json.dumps({"issue": {"id": 1}}).encode()
    assert post("/hooks/bitbucket", issue, {"x-hub-signature": _sig(issue), "x-event-key": "issue:created", "x-request-uuid": "u-1"}).status_code == 202
    assert queue.counts() == {"ignored": 3}


@pytest.mark.parametrize(("platform", "event", "body"), [
    ("github", "push", json.dumps({**json.loads(_push_body()), "repository": {"full_name": {"a": 1}, "clone_url": "https://example.invalid/a.git"}}).encode()),
    ("github", "pull_request", json.dumps({"action": "opened", "number": [7], "pull_request": {"base": {"sha": SHA_A}, "head": {"sha": SHA_B}},
                                           "repository": {"full_name": "acme/app", "clone_url": "https://example.invalid/acme/app.git"}}).encode()),
    ("github", "push", b"[" * 30_000 + b"]" * 30_000),
    ("gitlab", "Merge Request Hook", json.dumps({"object_kind": "merge_request", "object_attributes": "open"}).encode()),
    ("bitbucket", "repo:push", json.dumps({"repository": {"full_name": "ws/app"}, "push": {"changes": "main"}}).encode()),
])
def test_authentic_but_malformed_payloads_are_400_not_500(receiver, platform: str, event: str, body: bytes) -> None:
    post, queue = receiver
    headers = {**github_headers(body, "m-1", event), "x-gitlab-token": SECRET, "x-gitlab-event": event, "x-gitlab-event-uuid": "m-1",
               "x-hub-signature": _sig(body), "x-event-key": event, "x-request-uuid": "m-1"}
    r = post(f"/hooks/{platform}", body, headers)
    assert r.status_code == 400 and r.json()["error"].startswith("bad payload")
    assert queue.counts() == {}


def test_a_gitlab_tag_push_is_scanned_like_a_push(receiver) -> None:
    """GitHub and Bitbucket send tag pushes as pushes; GitLab sends `Tag Push Hook`, which was
    ignored, so commits reachable only from a tag were never scanned."""
    post, queue = receiver
    body = json.dumps({"object_kind": "tag_push", "ref": "refs/tags/v1.0", "before": Z40, "after": SHA_B, "checkout_sha": SHA_A,
                       "project": {"id": 42, "path_with_namespace": "grp/app", "git_http_url": "https://gl.invalid/grp/app.git"}}).encode()
    r = post("/hooks/gitlab", body, {"x-gitlab-token": SECRET, "x-gitlab-event": "Tag Push Hook", "x-gitlab-event-uuid": "t1"})
    assert r.json() == {"status": "queued"}
    job = queue.claim()
    assert job is not None and (job.data["kind"], job.data["ref"], job.data["after"]) == ("push", "refs/tags/v1.0", SHA_A)

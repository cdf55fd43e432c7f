"""Workers against real git servers on loopback: only new blobs are fetched and scanned."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakwarden.errors import SourceError
from leakwarden.platforms import config as monitor_config
from leakwarden.platforms.queue import JobQueue
from leakwarden.platforms.worker import Scanner, WorkerPool
from tests.git.gitrepo import crates_token
from tests.platforms.conftest import Z40, Remote, all_bodies, write_config
from tests.platforms.servers import HttpGitServer


def _job(remote: Remote, branch: str, before: str, after: str, url: str | None = None) -> dict:
    return {"platform": "github", "kind": "push", "repo": f"acme/{remote.name}", "clone_url": url or remote.url,
            "ref": f"refs/heads/{branch}", "before": before, "after": after, "pr": None}


@pytest.fixture
def scanner(tmp_path: Path, api, monkeypatch: pytest.MonkeyPatch, detector) -> Scanner:
    return Scanner(monitor_config.load(write_config(tmp_path, api, monkeypatch)), detector=detector)


def _cache_blobs(scanner: Scanner) -> set[str]:
    import subprocess

    (cache,) = scanner.config.cache_dir.glob("*.git")
    out = subprocess.run(["git", "-C", str(cache), "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)"],
                         capture_output=True, text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith("blob")}


def test_push_scans_only_the_new_blobs(tmp_path: Path, daemon, api, scanner: Scanner) -> None:
    remote = Remote(tmp_path, daemon)
    old_secret, new_secret = crates_token(1), crates_token(2)
    remote.commit({"old.txt": f"token = \"{old_secret}\"\n", "big.txt": "filler\n" * 1000})
    first = remote.push()
    scanner.run(_job(remote, "main", *first))
    assert len(api.calls("POST", "/statuses/")) == 1 and api.requests[-1].json()["state"] == "failure"

    blobs_before = _cache_blobs(scanner)
    remote.commit({"new.txt": f"token = \"{new_secret}\"\n"})
    second = remote.push()
    api.requests.clear()
    summary = scanner.run(_job(remote, "main", *second))
    # Exactly one new blob came over: the one the push introduced.
    assert len(_cache_blobs(scanner) - blobs_before) == 1
    assert "1 commit(s), 1 blob(s), 1 new" in summary and "fetched 1 blob(s)" in summary
    body = api.requests[-1].json()
    assert body["state"] == "failure" and api.requests[-1].path == f"/repos/acme/app/statuses/{second[1]}"
    assert old_secret.encode() not in all_bodies(api) and new_secret.encode() not in all_bodies(api)


def test_first_push_fetches_no_blob_outside_the_range(tmp_path: Path, daemon, api, scanner: Scanner) -> None:
    remote = Remote(tmp_path, daemon)
    remote.commit({"a.txt": "one\n", "b.txt": "two\n"})
    base = remote.push()
    remote.commit({"c.txt": "three\n"})
    before, after = remote.push()
    assert base[1] == before
    summary = scanner.run(_job(remote, "main", before, after))
    assert "fetched 1 blob(s)" in summary
    assert len(_cache_blobs(scanner)) == 1


def test_branch_create_delete_and_force_push(tmp_path: Path, daemon, api, scanner: Scanner) -> None:
    remote = Remote(tmp_path, daemon)
    remote.commit({"readme.md": "hello\n"})
    scanner.run(_job(remote, "main", *remote.push()))
    # A new branch off main: only its own commit is scanned, not main's history again.
    remote.dev.git("checkout", "-q", "-b", "feature")
    remote.commit({"feature.txt": f"token = \"{crates_token(3)}\"\n"})
    before, after = remote.push("feature")
    assert before == Z40
    summary = scanner.run(_job(remote, "feature", before, after))
    assert summary.startswith("1 commit(s), 1 blob(s), 1 new"), summary
    # Force push: rewrite the branch (drop the secret) on top of main; the new commit is the
    # only one not reachable from another known ref.
    remote.dev.git("reset", "-q", "--hard", "main")
    remote.commit({"feature.txt": "clean now\n"})
    before, after = remote.push("feature", force=True)
    summary = scanner.run(_job(remote, "feature", before, after))
    assert summary.startswith("1 commit(s), 1 blob(s), 0 new"), summary
    assert api.requests[-1].json()["state"] == "success"
    # A force push to an unrelated history (orphan) with no usable `before` scans the orphan
    # commits only.
    remote.dev.git("checkout", "-q", "--orphan", "orphan")
    remote.dev.git("rm", "-rqf", ".")
    remote.commit({"o.txt": f"k = \"{crates_token(4)}\"\n"}, "orphan root")
    remote.commit({"o2.txt": "more\n"})
    _, after = remote.push("feature", force=True)
    summary = scanner.run(_job(remote, "feature", "f" * 40, after))
    assert summary.startswith("2 commit(s), 2 blob(s), 1 new"), summary
    # Deletion: nothing scanned, nothing reported, the branch is forgotten.
    api.requests.clear()
    before, after = remote.push("feature", delete=True)
    assert after == Z40
    assert scanner.run(_job(remote, "feature", before, after)) == "branch deleted: nothing to scan"
    assert api.requests == []


def test_server_without_filter_support_falls_back_to_a_full_fetch(tmp_path: Path, daemon, api, scanner: Scanner) -> None:
    remote = Remote(tmp_path, daemon, filters=False)
    remote.commit({"a.txt": f"token = \"{crates_token(5)}\"\n"})
    summary = scanner.run(_job(remote, "main", *remote.push()))
    assert "1 new" in summary and "fetched 0 blob(s)" in summary
    remote.commit({"b.txt": "two\n"})
    summary = scanner.run(_job(remote, "main", *remote.push()))
    assert summary.startswith("1 commit(s), 1 blob(s), 0 new"), summary


def test_http_backend_with_basic_auth_gets_the_token_from_the_environment(tmp_path: Path, api, scanner: Scanner) -> None:
    remote = Remote(tmp_path, None)
    server = HttpGitServer(remote.bare.parent, "x-access-token", "api-token-for-tests")
    try:
        remote.commit({"a.txt": f"token = \"{crates_token(6)}\"\n"})
        before, after = remote.push()
        summary = scanner.run(_job(remote, "main", before, after, server.url("app.git")))
        assert "1 new" in summary and "fetched 1 blob(s)" in summary
        assert server.expected in server.auth_seen
        (cache,) = scanner.config.cache_dir.glob("*.git")
        assert "api-token-for-tests" not in (cache / "config").read_text()
    finally:
        server.close()


def test_wrong_token_fails_the_job_without_leaking_it(tmp_path: Path, api, scanner: Scanner, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = Remote(tmp_path, None)
    server = HttpGitServer(remote.bare.parent, "x-access-token", "another-token")
    queue = JobQueue(scanner.config.queue_path, max_attempts=1)
    try:
        remote.commit({"a.txt": "x\n"})
        queue.enqueue_all("github", "d1", "push", [_job(remote, "main", *remote.push(), server.url("app.git"))])
        assert WorkerPool(scanner.config, queue, scanner).run_one()
        (failed,) = queue.recent(state="failed")
        assert "could not fetch" in failed["error"] and "api-token-for-tests" not in failed["error"]
    finally:
        server.close()


@pytest.mark.parametrize("short_ids", [False, True])
def test_pull_request_on_a_fresh_cache_excludes_its_base(tmp_path: Path, daemon, api, scanner: Scanner, short_ids: bool) -> None:
    """The base branch (with an old secret) is fetched first, so the request is judged on its
    own commits only; Bitbucket Cloud's 12-character ids resolve the same way."""
    remote = Remote(tmp_path, daemon)
    remote.commit({"old.txt": f"t = \"{crates_token(21)}\"\n"})
    base = remote.push()[1]
    remote.dev.git("checkout", "-q", "-b", "topic")
    remote.commit({"topic.txt": "clean\n"})
    remote.dev.git("push", "-q", "origin", "HEAD:refs/pull/9/head")
    head = remote.head("refs/pull/9/head")
    job = {"platform": "github", "kind": "pr", "repo": "acme/app", "clone_url": remote.url, "ref": "refs/pull/9/head",
           "before": base[:12] if short_ids else base, "after": head[:12] if short_ids else head, "pr": 9, "base_ref": "refs/heads/main"}
    summary = scanner.run(job)
    assert summary.startswith("1 commit(s), 1 blob(s), 0 new"), summary
    assert api.requests[-1].path == f"/repos/acme/app/statuses/{head}" and api.requests[-1].json()["state"] == "success"


def test_pull_request_from_a_fork_is_fetched_from_the_fork(tmp_path: Path, daemon, api, scanner: Scanner) -> None:
    """The request's branch exists only in the fork (Bitbucket Cloud): its commits come from
    there, judged against the target's base like any request."""
    target = Remote(tmp_path, daemon)
    target.commit({"old.txt": f"t = \"{crates_token(31)}\"\n"})
    base = target.push()[1]
    fork = Remote(tmp_path, daemon, name="fork")
    fork.dev.git("fetch", "-q", str(target.bare), "main")
    fork.dev.git("checkout", "-q", "-B", "fix", "FETCH_HEAD")
    leaked = crates_token(32)
    fork.commit({"fix.txt": f"t = \"{leaked}\"\n"})
    head = fork.push("fix")[1]
    job = {"platform": "github", "kind": "pr", "repo": "acme/app", "clone_url": target.url, "ref": "refs/heads/fix",
           "before": base, "after": head, "pr": 4, "base_ref": "refs/heads/main", "head_url": fork.url}
    summary = scanner.run(job)
    assert summary.startswith("1 commit(s), 1 blob(s), 1 new"), summary
    assert api.requests[-1].path == f"/repos/acme/app/statuses/{head}" and api.requests[-1].json()["state"] == "failure"
    assert leaked.encode() not in all_bodies(api)

    # a source on another host is refused, not fetched
    job = {**job, "head_url": "https://elsewhere.invalid/someone/app.git"}
    with pytest.raises(SourceError, match="another host"):
        scanner.run(job)

"""The service as it runs: uvicorn on 127.0.0.1 with its workers, a git server, a fake API."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from leakwarden.platforms import config as monitor_config
from leakwarden.platforms.app import create_app
from leakwarden.platforms.queue import JobQueue
from leakwarden.platforms.worker import Scanner
from tests.git.gitrepo import crates_token
from tests.platforms.conftest import Remote, all_bodies, github_headers, github_push, write_config
from tests.platforms.servers import HttpGitServer, free_port


class Service:
    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _deliver(url: str, remote: Remote, before: str, after: str, delivery: str) -> httpx.Response:
    body = json.dumps(github_push(remote, "main", before, after)).encode()
    return httpx.post(f"{url}/hooks/github", content=body, headers=github_headers(body, delivery), timeout=10)


@pytest.fixture
def setup(tmp_path: Path, api, monkeypatch, detector):
    cfg = monitor_config.load(write_config(tmp_path, api, monkeypatch))
    remote = Remote(tmp_path, None)
    git = HttpGitServer(remote.bare.parent, "x-access-token", "api-token-for-tests")
    remote.url = git.url("app.git")
    yield cfg, remote, git, Scanner(cfg, detector=detector)
    git.close()


def test_handler_answers_while_a_scan_is_blocked(setup, api) -> None:
    cfg, remote, git, scanner = setup
    queue = JobQueue(cfg.queue_path)
    service = Service(create_app(cfg, queue, scanner=scanner, shutdown_grace=10))
    try:
        assert httpx.get(f"{service.url}/healthz").json()["status"] == "ok"
        token = crates_token(11)
        remote.commit({"a.txt": f"key = \"{token}\"\n"})
        first = remote.push()
        git.gate.clear()  # the git server now holds every request
        assert _deliver(service.url, remote, *first, "one").status_code == 202
        assert git.waiting.wait(10), "the worker never reached the git server"
        remote.commit({"b.txt": "clean\n"})
        second = remote.push()
        # The worker is stuck inside a fetch, yet the receiver still answers and queues.
        assert _deliver(service.url, remote, *second, "two").status_code == 202
        assert queue.counts() == {"running": 1, "queued": 1}
        assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok", "queued": 1, "running": 1}
        git.gate.set()
        wait_for(lambda: queue.counts() == {"done": 2})
    finally:
        git.gate.set()
        service.stop()
    states = [c.json()["state"] for c in api.calls("POST", "/statuses/")]
    assert states == ["failure", "success"]
    assert token.encode() not in all_bodies(api)


def test_restart_with_queued_and_interrupted_jobs_loses_none(setup, api) -> None:
    cfg, remote, git, scanner = setup
    queue = JobQueue(cfg.queue_path)
    receiver_only = Service(create_app(cfg, queue, workers=False))
    try:
        for i in range(3):
            remote.commit({f"f{i}.txt": f"v{i}\n"})
            assert _deliver(receiver_only.url, remote, *remote.push(), f"d{i}").status_code == 202
        # A worker took the first job and died with it (the process was killed).
        assert queue.claim() is not None
    finally:
        receiver_only.stop()
    assert queue.counts() == {"running": 1, "queued": 2}
    service = Service(create_app(cfg, JobQueue(cfg.queue_path), scanner=scanner))
    try:
        wait_for(lambda: queue.counts() == {"done": 3})
    finally:
        service.stop()
    assert len(api.calls("POST", "/statuses/")) == 3


def test_shutdown_lets_the_running_job_finish(setup, api) -> None:
    cfg, remote, git, scanner = setup
    queue = JobQueue(cfg.queue_path)
    service = Service(create_app(cfg, queue, scanner=scanner, shutdown_grace=10))
    remote.commit({"a.txt": "one\n"})
    git.gate.clear()
    assert _deliver(service.url, remote, *remote.push(), "s1").status_code == 202
    assert git.waiting.wait(10)
    stopping = threading.Thread(target=service.stop)
    stopping.start()
    wait_for(lambda: service.server.should_exit)
    git.gate.set()
    stopping.join(15)
    assert not service.thread.is_alive()
    assert queue.counts() == {"done": 1}
    assert len(api.calls("POST", "/statuses/")) == 1

"""The webhook receiver: verify, deduplicate, queue, answer 202. Scanning never runs here.

`create_app(config)` returns a Starlette app; its lifespan starts the worker threads (unless
`workers=False`, for tests that drive them by hand) and stops them on shutdown, putting any job
they were running back in the queue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leakwarden.platforms import events, signatures
from leakwarden.platforms.config import MonitorConfig, PlatformConfig
from leakwarden.platforms.logs import log
from leakwarden.platforms.queue import JobQueue

EVENT_HEADER = {"github": "x-github-event", "gitlab": "x-gitlab-event", "bitbucket": "x-event-key", "bitbucket-dc": "x-event-key"}


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        parts.append(chunk)
    return b"".join(parts)


def authentic(platform: PlatformConfig, headers: Any, body: bytes) -> str | None:
    if platform.name == "github":
        return signatures.github(headers, body, platform.webhook_secret)
    if platform.name == "gitlab":
        return signatures.gitlab(headers, body, platform.webhook_secret, platform.signing_token or None)
    return signatures.bitbucket(headers, body, platform.webhook_secret)


def replay_missed(config: MonitorConfig, queue: JobQueue, pool: Any) -> None:
    """At start-up: have GitHub redeliver what failed while the service was down."""
    pc = config.platforms.get("github")
    if pc is None or pc.replay_hours <= 0 or not (pc.app_id and pc.private_key):
        return
    reporter = pool.scanner.reporters["github"]
    now = reporter.clock.now()
    since = max(now - pc.replay_hours * 3600, (queue.last_received("github") or now) - 3600)
    try:
        count = reporter.replay_missed(queue.known_deliveries("github", since - 3600), since)
    except Exception as exc:  # noqa: BLE001 - replay is best effort; the service runs regardless
        log("replay.failed", logging.WARNING, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        return
    log("replay.requested", platform="github", count=count)


def create_app(config: MonitorConfig, queue: JobQueue | None = None, workers: bool = True, scanner: Any = None, shutdown_grace: float = 30.0) -> Starlette:
    queue = queue or JobQueue(config.queue_path)
    state: dict[str, Any] = {"pool": None}

    async def hook(request: Request) -> JSONResponse:
        name = request.path_params["platform"]
        platform = config.platforms.get(name)
        if platform is None:
            return JSONResponse({"error": "platform not enabled"}, status_code=404)
        try:
            body = await read_capped(request, config.max_body)
        except BodyTooLarge:
            log("delivery.rejected", logging.WARNING, platform=name, reason="body too large")
            return JSONResponse({"error": "body too large"}, status_code=413)
        # Verify before parsing: nothing from an unauthenticated body is ever interpreted.
        reason = authentic(platform, request.headers, body)
        if reason is not None:
            log("delivery.rejected", logging.WARNING, platform=name, reason=reason)
            return JSONResponse({"error": "signature verification failed"}, status_code=401)
        event = request.headers.get(EVENT_HEADER[name], "")
        delivery = signatures.delivery_id(name, request.headers)
        if not delivery:
            return JSONResponse({"error": "no delivery id header"}, status_code=400)
        if name == "github" and event == "ping":
            return JSONResponse({"status": "pong"}, status_code=200)
        try:
            jobs = events.parse(name, event, json.loads(body))
        except RecursionError:
            log("delivery.bad_payload", logging.WARNING, platform=name, delivery=delivery, reason="JSON nested too deeply")
            return JSONResponse({"error": "bad payload: JSON nested too deeply"}, status_code=400)
        except (ValueError, events.EventError) as exc:
            log("delivery.bad_payload", logging.WARNING, platform=name, delivery=delivery, reason=str(exc)[:200])
            return JSONResponse({"error": f"bad payload: {str(exc)[:200]}"}, status_code=400)
        added = queue.enqueue_all(name, delivery, event, jobs)
        log("delivery.accepted", platform=name, delivery=delivery, event_type=event, queued=len(jobs) if added else 0, duplicate=not added)
        if added and jobs and state["pool"] is not None:
            state["pool"].wake()
        status = "queued" if jobs else "ignored"
        return JSONResponse({"status": status if added else "duplicate"}, status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        counts = queue.counts()
        return JSONResponse({"status": "ok", "queued": counts.get("queued", 0), "running": counts.get("running", 0)})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = None
        requeued = queue.requeue_running()
        if requeued:
            log("queue.requeued", count=requeued)
        if workers:
            from leakwarden.platforms.worker import WorkerPool

            pool = WorkerPool(config, queue, scanner)
            pool.start()
            threading.Thread(target=replay_missed, args=(config, queue, pool), name="leakwarden-replay", daemon=True).start()
        state["pool"] = pool
        try:
            yield
        finally:
            state["pool"] = None
            if pool is not None:
                pool.stop(shutdown_grace)
            log("monitor.stopped", **queue.counts())

    app = Starlette(
        routes=[Route("/hooks/{platform}", hook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.queue = queue
    return app

"""Where repository tasks run: a process pool on this machine (`local:N`, the default) or a Dask
cluster (`dask://host:port`, `dask+tls://host:port`). Both give results as tasks complete.

An engine owns retries: a task whose worker died is run again on another worker (up to
`retries` more times), then reported as a failed repository. Results are only returned; the
driver alone writes them into the store.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from leakwarden.errors import UsageError
from leakwarden.org.worker import RepoResult, RepoTask, WorkerSetup, init_worker, scan_repo

TaskFn = Callable[[RepoTask, "str | None"], RepoResult]


class Engine(Protocol):
    def map_repos(self, tasks: Iterable[RepoTask]) -> Iterator[RepoResult]:
        """Run one task per repository; yield each result as soon as it is there."""
        ...

    def close(self) -> None: ...


def _failed(task: RepoTask, why: str) -> RepoResult:
    return RepoResult(task.repo, "failed", error=why)


class LocalEngine:
    """A process pool, one Detector per worker process, rebuilt if a worker dies."""

    def __init__(self, workers: int, setup: WorkerSetup, task_fn: TaskFn = scan_repo, retries: int = 2) -> None:
        self.workers = max(1, workers)
        self.setup = setup
        self.task_fn = task_fn
        self.retries = retries

    def _pool(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.workers, initializer=init_worker, initargs=(self.setup,))

    def map_repos(self, tasks: Iterable[RepoTask]) -> Iterator[RepoResult]:
        from concurrent.futures import FIRST_COMPLETED, Future, wait
        from concurrent.futures.process import BrokenProcessPool

        queue: deque[tuple[int, RepoTask]] = deque(enumerate(tasks))
        # Tasks that were in the pool when a worker died. Any of them may be the killer, so
        # they run one at a time: only a task that kills its worker alone is charged a retry.
        suspects: deque[tuple[int, RepoTask]] = deque()
        attempts: dict[int, int] = {}
        inflight: dict[Future[RepoResult], tuple[int, RepoTask]] = {}
        pool = self._pool()
        try:
            while queue or suspects or inflight:
                if suspects:
                    if not inflight:
                        i, task = suspects.popleft()
                        inflight[pool.submit(self.task_fn, task, self.setup.key)] = (i, task)
                else:
                    # NOTE: a bounded number of tasks in flight keeps what a dying pool loses small.
                    while queue and len(inflight) < 2 * self.workers:
                        i, task = queue.popleft()
                        inflight[pool.submit(self.task_fn, task, self.setup.key)] = (i, task)
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                lost: list[tuple[int, RepoTask]] = []
                for fut in done:
                    i, task = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        lost.append((i, task))
                    except Exception as exc:  # noqa: BLE001 - a task's crash is that repository's failure
                        yield _failed(task, f"{exc.__class__.__name__}: {exc}")
                if not lost:
                    continue
                # The pool is unusable once a worker died: every task still in it is lost too.
                lost.extend(inflight.values())
                inflight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = self._pool()
                if len(lost) == 1:
                    i, task = lost[0]
                    attempts[i] = attempts.get(i, 0) + 1
                    if attempts[i] > self.retries:
                        yield _failed(task, f"its worker process died {attempts[i]} times")
                        continue
                suspects.extend(lost)
        finally:
            # Interrupted (Ctrl-C, a failed store write): do not wait for long clones to end;
            # each worker still deletes its scratch when its task finishes.
            pool.shutdown(wait=not inflight, cancel_futures=True)

    def close(self) -> None:
        pass


class DaskEngine:
    """Tasks on a Dask cluster. A worker plugin prepares each worker (again after a restart);
    the scheduler reschedules the tasks of a lost worker."""

    def __init__(self, client: Any, setup: WorkerSetup, task_fn: TaskFn = scan_repo, retries: int = 2, own_client: bool = False) -> None:
        from leakwarden.org.dask_plugin import SetupPlugin

        self.client = client
        self.setup = setup
        self.task_fn = task_fn
        self.retries = retries
        self.own_client = own_client
        client.register_plugin(SetupPlugin(setup), name=f"leakwarden-{setup.key[:16]}")

    def map_repos(self, tasks: Iterable[RepoTask]) -> Iterator[RepoResult]:
        from distributed import as_completed

        futures = {}
        for task in tasks:
            fut = self.client.submit(self.task_fn, task, self.setup.key, retries=self.retries, pure=False)
            futures[fut.key] = (fut, task)
        for fut in as_completed([f for f, _ in futures.values()]):
            _, task = futures.pop(fut.key)
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost scheduler state: that repository failed
                yield _failed(task, f"{exc.__class__.__name__}: {exc}")
            finally:
                fut.release()

    def close(self) -> None:
        if self.own_client:
            self.client.close()


def dask_address(spec: str) -> str:
    """`dask://host:port` → `tcp://host:port`; `dask+tls://` → `tls://`."""
    for prefix, scheme in (("dask+tls://", "tls://"), ("dask://", "tcp://")):
        if spec.startswith(prefix):
            rest = spec[len(prefix):].rstrip("/")
            if not rest or "/" in rest:
                break
            return scheme + (rest if ":" in rest else rest + ":8786")
    raise UsageError(f"not a Dask scheduler address: {spec!r} (use dask://host:port or dask+tls://host:port)")


def open_engine(spec: str | None, setup: WorkerSetup, task_fn: TaskFn = scan_repo, retries: int = 2) -> Engine:
    """`local`, `local:N` or a Dask scheduler address."""
    spec = spec or "local"
    if spec == "local" or spec.startswith("local:"):
        count = spec.partition(":")[2]
        if count and not count.isdigit():
            raise UsageError(f"not a worker count: {spec!r} (use local:8)")
        workers = int(count) if count else (os.cpu_count() or 1)
        if workers < 1:
            raise UsageError("local:N needs at least one worker")
        return LocalEngine(workers, setup, task_fn, retries)
    if spec.startswith(("dask://", "dask+tls://")):
        address = dask_address(spec)
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("the Dask engine needs the optional extra: pip install 'leakwarden[dask]'") from None
        try:
            # With tls:// the certificates come from Dask's configuration (distributed.comm.tls.*).
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise UsageError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
        return DaskEngine(client, setup, task_fn, retries, own_client=True)
    raise UsageError(f"unknown engine {spec!r} (use local, local:N, dask://host:port or dask+tls://host:port)")

"""The Dask worker plugin that prepares leakwarden on each worker (imported only with Dask).

Dask runs `setup` on every worker present when the plugin is registered and on every worker
that joins later, including a worker the nanny restarted after it died: the Detector (and its
Hyperscan database, shipped as bytes) is then rebuilt in the new process.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from leakwarden.org.worker import WorkerSetup, init_worker


class SetupPlugin(WorkerPlugin):
    def __init__(self, worker_setup: WorkerSetup) -> None:
        self.worker_setup = worker_setup

    def setup(self, worker: Any) -> None:
        init_worker(self.worker_setup)

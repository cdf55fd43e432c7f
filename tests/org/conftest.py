"""Fixtures shared by the org-scan tests: a dozen bare repositories and a real Dask cluster."""

from __future__ import annotations

import pytest

from tests.org.repos import build_repos


@pytest.fixture(scope="package")
def repos(tmp_path_factory):
    return build_repos(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="package")
def cluster():
    """A scheduler and two single-threaded worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0") as c:
        with distributed.Client(c) as client:
            yield c, client


@pytest.fixture(scope="package")
def detector():
    from leakwarden import api
    from leakwarden.config import Settings

    settings = Settings()
    return settings, api.build_detector(settings)

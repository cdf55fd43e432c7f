"""Org scans of a dozen real bare repositories: the local pool and a real Dask cluster on
127.0.0.1 give identical stores; a worker killed mid-run costs nothing; runs resume."""

from __future__ import annotations

import functools

import pytest

from leakwarden.org.run import run_org_scan
from leakwarden.org.worker import make_setup
from leakwarden.store import open_store
from tests.org.repos import crash_always, crash_once, push_commit


def snapshot(path) -> dict:
    """What a store says, without ids and timestamps that differ from run to run."""
    with open_store(path) as st:
        q = st.db.execute
        return {
            "incidents": sorted(tuple(r) for r in q("SELECT fingerprint, rule_id, secret_redacted, status FROM incidents")),
            "occurrences": sorted(
                tuple(r) for r in q("SELECT i.fingerprint, o.repository, o.kind, o.path, o.commit_id, o.blob_id, o.line, o.present"
                                    " FROM occurrences o JOIN incidents i ON i.id = o.incident_id")
            ),
            "repo_scans": sorted(tuple(r) for r in q("SELECT repository, head, ruleset_hash, findings FROM repo_scans")),
        }


def _locations(paths):
    return [(str(p), "") for p in paths]


def _dask_engine(client, settings, det, **kw):
    from leakwarden.org.engines import DaskEngine

    return DaskEngine(client, make_setup(settings, det), **kw)


def test_local_pool_and_dask_cluster_give_identical_stores(repos, detector, cluster, tmp_path):
    paths, expected = repos
    settings, det = detector
    res_local, sum_local = run_org_scan(_locations(paths), settings, det, engine="local:2", store=str(tmp_path / "local.db"))
    assert (sum_local.scanned, sum_local.failed) == (12, 0)
    assert {f.fingerprint for f in res_local.findings} == expected
    # r05's deleted file repeats r00's token: one incident, two repositories.
    shared = [f for f in res_local.findings if f.location.path == "old.env"]
    assert len(shared) == 1 and shared[0].location.commit

    _, client = cluster
    res_dask, sum_dask = run_org_scan(_locations(paths), settings, det, engine=_dask_engine(client, settings, det), store=str(tmp_path / "dask.db"))
    assert (sum_dask.scanned, sum_dask.failed) == (12, 0)
    local, dask = snapshot(tmp_path / "local.db"), snapshot(tmp_path / "dask.db")
    assert local == dask
    assert len(local["repo_scans"]) == 12 and len(local["incidents"]) == len(expected)
    assert {o[1].rsplit("/", 1)[1] for o in local["occurrences"]} == {"r00", "r03", "r05", "r06", "r09"}
    # Workers send masked values only: nothing in the results or the store holds a secret.
    from tests.org.repos import token

    dump = repr(snapshot(tmp_path / "dask.db")) + repr([f.secret.reveal() for f in res_dask.findings])
    assert not any(token(i) in dump for i in range(12))


def test_a_dask_worker_killed_mid_run_still_completes_every_repository(repos, detector, cluster, tmp_path):
    paths, expected = repos
    settings, det = detector
    _, client = cluster
    marker = tmp_path / "killed"
    fn = functools.partial(crash_once, str(marker), "r04")
    result, summary = run_org_scan(_locations(paths), settings, det, engine=_dask_engine(client, settings, det, task_fn=fn), store=str(tmp_path / "s.db"))
    assert marker.exists(), "the worker was not killed"
    assert (summary.scanned, summary.failed) == (12, 0), summary.failures
    assert {f.fingerprint for f in result.findings} == expected
    # The restarted worker was prepared again by the plugin (it scanned, so it had a Detector).
    client.wait_for_workers(2, timeout=30)


def test_a_local_worker_killed_mid_run_is_replaced(repos, detector, tmp_path):
    paths, expected = repos
    settings, det = detector
    marker = tmp_path / "killed"
    fn = functools.partial(crash_once, str(marker), "r07")
    result, summary = run_org_scan(_locations(paths), settings, det, engine="local:2", task_fn=fn, store=str(tmp_path / "s.db"))
    assert marker.exists()
    assert (summary.scanned, summary.failed) == (12, 0), summary.failures
    assert {f.fingerprint for f in result.findings} == expected


def test_a_task_that_always_kills_its_worker_fails_alone(repos, detector, tmp_path):
    paths, _ = repos
    settings, det = detector
    fn = functools.partial(crash_always, "r02")
    _, summary = run_org_scan(_locations(paths[:4]), settings, det, engine="local:2", task_fn=fn, retries=1)
    assert summary.scanned == 3 and summary.failed == 1
    assert summary.failures[0][0].endswith("r02") and "died 2 times" in summary.failures[0][1]


class _Interrupted(Exception):
    pass


class _StopAfter:
    """An engine that dies (as a killed driver would) after `n` results were taken."""

    def __init__(self, inner, n):
        self.inner, self.n = inner, n

    def map_repos(self, tasks):
        for i, r in enumerate(self.inner.map_repos(tasks)):
            if i == self.n:
                raise _Interrupted
            yield r

    def close(self):
        pass


def test_an_interrupted_run_resumes_and_unchanged_repositories_are_skipped(repos, detector, tmp_path):
    from leakwarden.org.engines import LocalEngine

    paths, expected = repos
    settings, det = detector
    store = str(tmp_path / "s.db")
    setup = make_setup(settings, det)
    with pytest.raises(_Interrupted):
        run_org_scan(_locations(paths), settings, det, engine=_StopAfter(LocalEngine(2, setup), 5), store=store)
    assert len(snapshot(store)["repo_scans"]) == 5

    _, second = run_org_scan(_locations(paths), settings, det, engine="local:2", store=store)
    assert (second.unchanged, second.scanned, second.failed) == (5, 7, 0)
    _, third = run_org_scan(_locations(paths), settings, det, engine="local:2", store=store)
    assert (third.unchanged, third.scanned) == (12, 0)
    with open_store(store) as st:
        assert st.scan_count() == 12  # every repository recorded exactly once

    push_commit(paths[1], {"notes.txt": "nothing secret\n"})
    _, fourth = run_org_scan(_locations(paths), settings, det, engine="local:2", store=store)
    assert (fourth.unchanged, fourth.scanned) == (11, 1)
    snap = snapshot(store)
    assert {i[0] for i in snap["incidents"]} == expected
    assert len(snap["repo_scans"]) == 13  # r01 at two ref states

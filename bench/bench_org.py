"""Org scan benchmark: many local repositories with 1 and 2 workers, local pool and Dask.

Builds N bare repositories under bench/.work/org (each a few commits of generated source text,
some with a planted token), then times `run_org_scan` over all of them:

- per engine (local:W, and a Dask LocalCluster with W single-threaded worker processes when
  `distributed` is installed) and per worker count W in --workers (default 1 2);
- speed-up = wall(1 worker) / wall(W workers), same engine;
- per-repository overhead = wall time per repository for *tiny* repositories (one small commit:
  the clone, git process start-ups, result shipping and the store write dominate), 1 worker;
- task seconds = the sum of in-worker time per repository (clone + scan), to compare with wall.

Every run starts with a fresh store, so every repository is cloned and scanned.

    PYTHONPATH=src python bench/bench_org.py --repos 48 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
WORK = ROOT / "bench" / ".work" / "org"


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.org", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.org")
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def build(kind: str, n: int, commits: int, kb_per_commit: int) -> list[Path]:
    base = WORK / f"{kind}-{n}-{commits}-{kb_per_commit}"
    done = base / "done"
    if done.exists():
        return sorted(base.glob("*.git"))
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    rng = random.Random(n)
    words = ["def", "return", "config", "value", "client", "request", "import", "self", "data", "for", "in", "if"]
    for i in range(n):
        work = base / "work" / f"r{i:03d}"
        work.mkdir(parents=True)
        _git(work, "init", "-q", "-b", "main")
        for c in range(commits):
            lines = []
            while sum(len(x) for x in lines) < kb_per_commit * 1024:
                lines.append(" ".join(rng.choice(words) for _ in range(10)) + f" # {rng.random()}\n")
            (work / f"mod{c % 7}.py").write_text("".join(lines))
            if c == 0 and i % 5 == 0:
                tok = "cio" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
                (work / "settings.toml").write_text(f'token = "{tok}"\n')
            _git(work, "add", "-A")
            _git(work, "commit", "-q", "-m", f"c{c}")
        _git(base, "clone", "-q", "--bare", str(work), f"r{i:03d}.git")
    done.write_text("ok")
    return sorted(base.glob("*.git"))


def run(paths: list[Path], engine: object, settings: object, detector: object) -> dict[str, float]:
    from leakwarden.org.run import run_org_scan

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result, summary = run_org_scan([(str(p), "") for p in paths], settings, detector, engine=engine, store=str(Path(tmp) / "s.db"))
        wall = time.perf_counter() - started
    assert summary.failed == 0, summary.failures
    return {"wall": wall, "repos": summary.scanned, "mb": summary.bytes / 1e6, "findings": summary.findings}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=48)
    ap.add_argument("--commits", type=int, default=12)
    ap.add_argument("--kb", type=int, default=64, help="KB of new source text per commit")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()

    from leakwarden import api
    from leakwarden.config import Settings
    from leakwarden.org.engines import DaskEngine
    from leakwarden.org.worker import make_setup

    settings = Settings()
    detector = api.build_detector(settings)
    setup = make_setup(settings, detector)
    sized = build("sized", args.repos, args.commits, args.kb)
    tiny = build("tiny", args.repos, 1, 1)
    rows = []
    engines = ["local"]
    try:
        import distributed  # noqa: F401

        engines.append("dask")
    except ImportError:
        pass
    for eng in engines:
        for w in args.workers:
            for label, paths in (("sized", sized), ("tiny", tiny)):
                best = None
                for _ in range(args.runs):
                    if eng == "local":
                        r = run(paths, f"local:{w}", settings, detector)
                    else:
                        import distributed

                        with distributed.LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0") as c, distributed.Client(c) as client:
                            r = run(paths, DaskEngine(client, setup), settings, detector)
                    best = r if best is None or r["wall"] < best["wall"] else best
                assert best is not None
                rows.append({"engine": eng, "workers": w, "kind": label, **best})
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(f"{args.repos} repositories; sized: {args.commits} commits x {args.kb} KB; tiny: 1 commit of 1 KB; best of {args.runs}; {os.cpu_count()} CPUs")
    print("| engine | workers | repositories | wall s | MB scanned | MB/s | speed-up vs 1 worker | s per repository |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        one = next(x for x in rows if x["engine"] == r["engine"] and x["kind"] == r["kind"] and x["workers"] == args.workers[0])
        print(f"| {r['engine']} | {r['workers']} | {r['kind']} | {r['wall']:.2f} | {r['mb']:.1f} | {r['mb'] / r['wall']:.1f} | {one['wall'] / r['wall']:.2f} | {r['wall'] / r['repos']:.3f} |")


if __name__ == "__main__":
    main()

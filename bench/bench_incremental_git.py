"""Incremental git-history re-scan through the store, vs the first scan and a full re-scan.

Builds a synthetic history with `git fast-import` (commits that each edit a few files, so most
blobs are old versions), then:

1. first scan: list every blob (`git_history.list_blobs`), ask the store which are unscanned
   (all), read and scan them (`BlobReader` + `scan_batch`), record findings, mark them scanned;
2. unchanged re-scan: list blobs again, the store says none is new, nothing is read;
3. after N new commits: only the new blobs are read and scanned;
4. for comparison, `api.scan_git` re-scanning the whole history without the store.

    python bench/bench_incremental_git.py [--commits 400] [--files 200] [--per-commit 12] [--kb 8]

With --repo PATH it measures the wired path instead, on a real history: `api.scan_git` with a
store (what `leakwarden scan git --store DB` runs): first scan, unchanged re-scan, and re-scan
after one new commit (made in a throwaway clone under /tmp; the source repository is never
written). Wall and CPU time (user+sys, this process and its children) are printed.

    python bench/bench_incremental_git.py --repo /path/to/repo.git [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from leakwarden.api import build_detector, scan_git  # noqa: E402
from leakwarden.config import Settings  # noqa: E402
from leakwarden.sources.git_history import BlobReader, list_blobs, scan_batch  # noqa: E402
from leakwarden.sources.gitcmd import Git  # noqa: E402
from leakwarden.store import open_store  # noqa: E402

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
WORDS = "def class return import self value config token user data path result error list".split()


def _content(rnd: random.Random, kb: int, secret: bool) -> bytes:
    lines, size = [], 0
    while size < kb * 1024:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 12))) + f" = {rnd.randint(0, 10**6)}"
        lines.append(line)
        size += len(line) + 1
    if secret:
        lines.insert(rnd.randint(0, len(lines)), 'token = "cio' + "".join(rnd.choice(ALNUM) for _ in range(32)) + '"')
    return ("\n".join(lines) + "\n").encode()


def add_commits(repo: Path, start: int, commits: int, files: int, per_commit: int, kb: int, seed: int) -> None:
    """Append commits with `git fast-import` (fast, and no working tree needed)."""
    rnd = random.Random(seed)
    out = bytearray()
    for c in range(start, start + commits):
        when = 1_700_000_000 + c * 60
        out += b"commit refs/heads/main\n"
        out += f"committer Bench <bench@example.com> {when} +0000\n".encode()
        msg = f"change {c}".encode()
        out += b"data %d\n%s\n" % (len(msg), msg)
        if c > 0 and c == start:
            out += b"from refs/heads/main^0\n"  # continue the existing branch in a new import
        targets = range(files) if c == 0 else rnd.sample(range(files), per_commit)
        for f in targets:
            data = _content(rnd, kb, secret=rnd.random() < 0.01)
            out += f"M 100644 inline src/mod{f:04d}.py\n".encode()
            out += b"data %d\n" % len(data) + data + b"\n"
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(out), check=True)


def incremental(git: Git, store, detector, repo_id: str, ruleset_hash: str) -> tuple[int, int, int, float, float]:
    """(blobs listed, blobs scanned, findings, seconds, of which store lookup)."""
    started = time.perf_counter()
    refs = [(oid, size, path) for kind, oid, size, path in list_blobs(git, ()) if kind == "blob" and size]
    t0 = time.perf_counter()
    todo = set(store.filter_unscanned(repo_id, [r[0] for r in refs], ruleset_hash))
    lookup = time.perf_counter() - t0
    batch = [r for r in refs if r[0] in todo]
    findings = []
    if batch:
        reader = BlobReader(git)
        try:
            for i in range(0, len(batch), 512):
                res = scan_batch(detector, reader, batch[i : i + 512])
                findings.extend(f for _, found in res.findings for f in found)
        finally:
            reader.close()
        if findings:
            store.record_scan(findings, repository=repo_id, source="git")
        store.mark_scanned(repo_id, [r[0] for r in batch], ruleset_hash)
    return len(refs), len(batch), len(findings), time.perf_counter() - started, lookup


def _cpu() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def real_repo(source: str, jobs: int, store_target: str | None) -> None:
    """First scan, unchanged re-scan, re-scan after one commit, through `api.scan_git`."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo.git"
        # --shared: the clone borrows the source's objects (nothing copied, nothing written there)
        subprocess.run(["git", "clone", "-q", "--bare", "--shared", source, str(repo)], check=True)
        settings = Settings(store=store_target or os.path.join(tmp, "bench.db"), jobs=jobs)
        detector = build_detector(settings)

        def run(label: str, **kw: object) -> float:
            w0, c0 = time.perf_counter(), _cpu()
            res = scan_git(repo, settings=settings, detector=detector, **kw)
            wall, cpu = time.perf_counter() - w0, _cpu() - c0
            old = sum(1 for f in res.findings if f.details.get("previously_seen"))
            print(f"{label:26s} wall {wall:7.2f}s  cpu {cpu:7.2f}s  blobs read {res.stats.files + res.stats.skipped:7d}"
                  f"  already scanned {res.stats.already_scanned:7d}  {res.stats.bytes / 1e6:7.1f} MB"
                  f"  findings {len(res.findings)} ({old} from the store)")
            return wall

        first = run("first scan (store empty)")
        again = run("unchanged re-scan")
        print(f"  = {100 * again / first:.1f}% of the first scan")
        env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
        work = Path(tmp) / "work"
        subprocess.run(["git", "clone", "-q", "--shared", str(repo), str(work)], check=True)
        rnd = random.Random(7)
        token = "cio" + "".join(rnd.choice(ALNUM) for _ in range(32))
        (work / "bench_new.py").write_text(f'TOKEN = "{token}"\nprint("new file")\n')
        subprocess.run(["git", "-C", str(work), "add", "bench_new.py"], check=True, env=env)
        subprocess.run(["git", "-C", str(work), "commit", "-qm", "bench commit"], check=True, env=env)
        subprocess.run(["git", "-C", str(work), "push", "-q", str(repo), "HEAD:refs/heads/bench"], check=True, env=env)
        newer = run("after one new commit")
        print(f"  = {100 * newer / first:.1f}% of the first scan")
        run("unchanged, --new-only", new_only=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=400)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--per-commit", type=int, default=12)
    ap.add_argument("--kb", type=int, default=8)
    ap.add_argument("--new-commits", type=int, default=10)
    ap.add_argument("--store", default=None, help="store path or postgresql:// URL (default: a temp SQLite file)")
    ap.add_argument("--repo", default=None, help="measure `api.scan_git --store` on this real repository instead")
    ap.add_argument("--jobs", type=int, default=0)
    args = ap.parse_args()
    if args.repo:
        real_repo(args.repo, args.jobs, args.store)
        return
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo.git"
        subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
        add_commits(repo, 0, args.commits, args.files, args.per_commit, args.kb, seed=1)
        git = Git(repo)
        detector = build_detector(Settings(jobs=1))
        store = open_store(args.store or os.path.join(tmp, "bench.db"))
        h = detector.ruleset.hash
        n, scanned, found, first, _ = incremental(git, store, detector, "bench/repo", h)
        mb = sum(size for _, _, size, _ in list_blobs(git, ())) / 1e6
        print(f"history: {args.commits} commits, {n} blobs, {mb:.1f} MB; store {store.db.kind}")
        print(f"first scan:        {scanned:6d}/{n} blobs read and scanned, {found} findings, {first:.3f}s")
        n, scanned, found, again, lookup = incremental(git, store, detector, "bench/repo", h)
        print(f"unchanged re-scan: {scanned:6d}/{n} blobs read, {again:.3f}s = {100 * again / first:.1f}% of first"
              f" (listing blobs {again - lookup:.3f}s, store lookup {lookup:.3f}s)")
        add_commits(repo, args.commits, args.new_commits, args.files, args.per_commit, args.kb, seed=2)
        n, scanned, found, newer, _ = incremental(git, store, detector, "bench/repo", h)
        print(f"+{args.new_commits} commits:       {scanned:6d}/{n} blobs read and scanned, {found} findings, {newer:.3f}s = {100 * newer / first:.1f}% of first")
        t0 = time.perf_counter()
        full = scan_git(repo, settings=Settings(jobs=1), detector=detector)
        whole = time.perf_counter() - t0
        print(f"api.scan_git without the store (whole history, with attribution): {whole:.3f}s, {len(full.findings)} findings")
        store.close()


if __name__ == "__main__":
    main()

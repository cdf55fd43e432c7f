"""Real-history quietness: scan the full histories (every blob of every ref, so the trees too) of
requests, sqlalchemy and rails with leakwarden and gitleaks; print findings per tool, per 100 MB
of blob text, the findings diff, and a label for each leakwarden finding.

    /tmp/venv/bin/python bench/quietness_git.py [--repo NAME=GITDIR ...]

Default repositories are the bare mirrors under /work/.mirror (brought by the fetch tool; never
commit them). Raw reports are cached in bench/.work/quietness_git/ (gitignored); --fresh reruns.

Labels come from bench/quietness_git_labels.tsv, written by reading each finding:
`repo  rule_id  sha256(secret)[:16]  label  note`, label one of real / test-key / fp.
Findings with no label line print as `unlabelled` (a new finding someone has to read).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "quietness_git"
LABELS = HERE / "quietness_git_labels.tsv"
GITLEAKS = "/tmp/venv/bin/gitleaks"
DEFAULT = {
    "requests": "/work/.mirror/psf+requests/repo",
    "sqlalchemy": "/work/.mirror/sqlalchemy+sqlalchemy/repo",
    "rails": "/work/.mirror/rails+rails/repo",
}


def blob_bytes(gitdir: str) -> int:
    """Uncompressed size of every blob: what a full-history scan reads (each blob once)."""
    out = subprocess.run(["git", "--git-dir", gitdir, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(s) for t, s in (ln.split() for ln in out.splitlines()) if t == "blob")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run cmd; (wall seconds, child CPU seconds user+sys)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    import os

    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_leakwarden(name: str, gitdir: str, fresh: bool) -> tuple[list[dict], str]:
    out = WORK / f"{name}.leakwarden.jsonl"
    t = ""
    if fresh or not out.exists():
        wall, cpu = timed([sys.executable, "-m", "leakwarden", "scan", "git", gitdir, "-f", "jsonl", "--show-secrets",
                           "--exit-zero", "-o", str(out)])  # PYTHONPATH: this checkout's leakwarden, not an installed one
        t = f"{wall:.0f} s wall, {cpu:.0f} s CPU"
    rows = [json.loads(ln) for ln in out.read_text().splitlines() if ln.strip()]
    return [r for r in rows if "rule_id" in r], t


def run_gitleaks(name: str, gitdir: str, fresh: bool) -> tuple[list[dict], str]:
    out = WORK / f"{name}.gitleaks.json"
    t = ""
    if fresh or not out.exists():
        # gitleaks' `git log -p` stops at the first missing object (and exits 0): scan a copy
        # where the objects a snapshot left out are replaced by the empty blob
        sys.path.insert(0, str(HERE))
        import tempfile

        from bench_git import missing_objects, repaired_copy

        missing = missing_objects(gitdir)
        with tempfile.TemporaryDirectory() as tmp:
            if missing:
                gitdir = repaired_copy(gitdir, missing, tmp)
            wall, cpu = timed([GITLEAKS, "git", gitdir, "--log-opts=--all", "--no-banner", "--exit-code", "0", "-f", "json", "-r", str(out)])
        t = f"{wall:.0f} s wall, {cpu:.0f} s CPU" + (f" ({len(missing)} missing objects replaced)" if missing else "")
    return json.loads(out.read_text() or "[]"), t


def key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def load_labels() -> dict[tuple[str, str, str], tuple[str, str]]:
    labels = {}
    if LABELS.exists():
        for ln in LABELS.read_text().splitlines():
            if ln.strip() and not ln.startswith("#"):
                repo, rule, h, label, note = (ln.split("\t") + [""])[:5]
                labels[(repo, rule, h)] = (label, note)
    return labels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", action="append", default=[], help="NAME=GITDIR (default: requests, sqlalchemy, rails)")
    ap.add_argument("--fresh", action="store_true", help="rescan even when a cached report exists")
    args = ap.parse_args()
    repos = dict(r.split("=", 1) for r in args.repo) or DEFAULT
    WORK.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE.parent / "src"))
    labels = load_labels()
    totals = {"mb": 0.0, "lw": 0, "gl": 0}
    counts: dict[str, int] = {}
    rows, details = [], []
    for name, gitdir in repos.items():
        mb = blob_bytes(gitdir) / 1e6
        ours, t_ours = run_leakwarden(name, gitdir, args.fresh)
        theirs, t_theirs = run_gitleaks(name, gitdir, args.fresh)
        totals["mb"] += mb
        totals["lw"] += len(ours)
        totals["gl"] += len(theirs)
        rows.append((name, mb, len(ours), len(theirs), t_ours, t_theirs))
        # diff by secret value: a leakwarden finding is one secret (occurrences folded in);
        # gitleaks reports every commit/line, so compare distinct secrets
        our_secrets = {f["secret"] for f in ours}
        their_secrets = {f["Secret"] for f in theirs}
        only_theirs = sorted(their_secrets - our_secrets)
        for f in ours:
            label, note = labels.get((name, f["rule_id"], key(f["secret"])), ("unlabelled", ""))
            counts[label] = counts.get(label, 0) + 1
            also = "both" if f["secret"] in their_secrets else "lw only"
            details.append(f"  {name:10} {label:10} {also:8} {f['rule_id']:32} {key(f['secret'])} {f['path']}:{f['start_line']}  {note}")
        gl_rules: dict[str, int] = {}
        for f in theirs:
            if f["Secret"] in only_theirs:
                gl_rules[f["RuleID"]] = gl_rules.get(f["RuleID"], 0) + 1
        details.append(f"  {name:10} gitleaks only: {len(only_theirs)} distinct secrets ({sum(gl_rules.values())} reports) by rule: "
                       + ", ".join(f"{k} {v}" for k, v in sorted(gl_rules.items(), key=lambda kv: -kv[1])))
    per = lambda n, mb: n / mb * 100 if mb else 0.0  # noqa: E731
    print("| repo | blob MB | leakwarden | per 100 MB | gitleaks | per 100 MB | leakwarden time | gitleaks time |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for name, mb, lw, gl, t1, t2 in rows:
        print(f"| {name} | {mb:.0f} | {lw} | {per(lw, mb):.2f} | {gl} | {per(gl, mb):.2f} | {t1 or 'cached'} | {t2 or 'cached'} |")
    print(f"| total | {totals['mb']:.0f} | {totals['lw']} | {per(totals['lw'], totals['mb']):.2f} | {totals['gl']} | "
          f"{per(totals['gl'], totals['mb']):.2f} | | |")
    print("\nleakwarden findings by label: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("(leakwarden counts distinct secrets per rule with occurrences folded in; gitleaks counts every commit/line report)\n")
    print("\n".join(details))


if __name__ == "__main__":
    main()

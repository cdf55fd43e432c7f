"""Real-code quietness: scan unpacked sdists of popular packages (clean code, so nearly every
finding is a false positive or a documented test key) with leakwarden and gitleaks; report
findings per 100 MB for both and list ours.

    /tmp/venv/bin/python bench/quietness.py [pkg ...]   # default: a fixed list of popular packages

Sdists are fetched with `pip download --no-binary :all: --no-deps` into bench/.work/sdists
(gitignored) and unpacked into bench/.work/src; extra directories (e.g. git trees) can be given
with --tree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
WORK = HERE / ".work"
PACKAGES = ["requests", "sqlalchemy", "django", "flask", "boto3", "botocore", "paramiko", "urllib3", "jinja2", "httpx", "rich", "click"]
GITLEAKS = "/tmp/venv/bin/gitleaks"


def fetch(packages: list[str]) -> list[Path]:
    sd = WORK / "sdists"
    sd.mkdir(parents=True, exist_ok=True)
    for p in packages:
        if not any(f.name.lower().startswith(p.lower().replace("-", "_") + "-") or f.name.lower().startswith(p.lower() + "-") for f in sd.iterdir()):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d", str(sd), p],
                           capture_output=True)
    roots = []
    for f in sorted(sd.iterdir()):
        dest = WORK / "src" / f.name.split(".tar")[0].removesuffix(".zip")
        if not dest.exists():
            dest.mkdir(parents=True)
            if f.suffix == ".zip":
                zipfile.ZipFile(f).extractall(dest)
            else:
                with tarfile.open(f) as tf:
                    tf.extractall(dest, filter="data")
        roots.append(dest)
    return roots


def size_of(roots: list[Path]) -> int:
    return sum(p.stat().st_size for r in roots for p in r.rglob("*") if p.is_file())


def run_leakwarden(roots: list[Path]):
    from leakwarden import scan_paths

    return scan_paths(roots).findings


def run_gitleaks(roots: list[Path]) -> list[dict]:
    out = []
    for root in roots:
        with tempfile.TemporaryDirectory() as tmp:
            rep = Path(tmp) / "r.json"
            subprocess.run([GITLEAKS, "dir", str(root), "--no-banner", "--exit-code", "0", "-f", "json", "-r", str(rep)], capture_output=True)
            out += json.loads(rep.read_text() or "[]")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("packages", nargs="*", default=PACKAGES)
    ap.add_argument("--tree", action="append", default=[], help="an extra directory to scan (e.g. a git work tree)")
    args = ap.parse_args()
    roots = fetch(args.packages) + [Path(t) for t in args.tree]
    mb = size_of(roots) / 1e6
    t0 = time.perf_counter()
    ours = run_leakwarden(roots)
    t1 = time.perf_counter()
    theirs = run_gitleaks(roots) if Path(GITLEAKS).exists() else []
    t2 = time.perf_counter()
    per = lambda n: n / mb * 100  # noqa: E731
    print(f"input: {len(roots)} trees, {mb:.1f} MB")
    print(f"{'':12}{'findings':>10}{'per 100 MB':>12}{'seconds':>10}")
    print(f"{'leakwarden':12}{len(ours):>10}{per(len(ours)):>12.1f}{t1 - t0:>10.1f}")
    print(f"{'gitleaks':12}{len(theirs):>10}{per(len(theirs)):>12.1f}{t2 - t1:>10.1f}")
    by_rule: dict[str, int] = {}
    for f in theirs:
        by_rule[f["RuleID"]] = by_rule.get(f["RuleID"], 0) + 1
    print("gitleaks by rule:", ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items(), key=lambda kv: -kv[1])))
    print("\nleakwarden findings:")
    for f in ours:
        rel = Path(f.location.path).relative_to(WORK) if str(f.location.path).startswith(str(WORK)) else f.location.path
        print(f"  {f.rule_id:34} {rel}:{f.location.start_line}  {f.line[:110]}")


if __name__ == "__main__":
    main()

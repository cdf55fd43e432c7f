"""Benchmark: `leakwarden scan git` against `gitleaks git` and Kingfisher on a local repository,
plus the start-up-included time of the pre-commit hook on a small staged change.

    python bench/bench_git.py /path/to/repo [--runs 1] [--tools leakwarden,gitleaks,kingfisher]
                              [--leakwarden-args "..."] [--hook-runs 15]

The repository is only read; a partial clone, or one missing objects, is benchmarked through a
hard-linked copy that is an ordinary complete repository (`repaired_copy`). Wall time and the CPU time of the tool and its children are
reported; on a shared machine, CPU time is the steadier number. Findings are compared by secret
value across tools (the rule sets differ, so the overlap is what to read, not the totals).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def which(tool: str) -> str | None:
    """On PATH, or beside this Python (a virtualenv's bin folder)."""
    return shutil.which(tool) or shutil.which(tool, path=os.path.dirname(sys.executable))


def _memory(pid: str) -> tuple[int, int]:
    """(proportional set size, its anonymous part) of one process in bytes. PSS shares a page
    mapped by several processes among them: the pack files that git and the workers all map
    count once, not once per process."""
    pss = anon = 0
    with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
        for line in fh:
            if line.startswith(b"Pss:"):
                pss = int(line.split()[1]) * 1024
            elif line.startswith(b"Pss_Anon:"):
                anon = int(line.split()[1]) * 1024
    return pss, anon


def tree_memory(root: int) -> tuple[int, int]:
    """PSS and anonymous PSS of a process and all its descendants (from /proc; 0 elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rpartition(b")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    pss = anon = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            p, a = _memory(str(pid))
        except (OSError, ValueError, IndexError):
            p = a = 0
        pss, anon = pss + p, anon + a
        todo.extend(children.get(pid, ()))
    return pss, anon


def run_timed(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None, memory: bool = False) -> tuple[float, float, int, bytes, tuple[int, int]]:
    """Wall and CPU seconds (the whole process tree), exit code, standard error, and with
    `memory` the peaks of the tree's PSS and of its anonymous part (sampled every 0.1 s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0, 0]

    def sample() -> None:
        while memory and proc.poll() is None:
            pss, anon = tree_memory(proc.pid)
            peak[0], peak[1] = max(peak[0], pss), max(peak[1], anon)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, err, (peak[0], peak[1])


def leakwarden_cmd(repo: str, out: str, extra: list[str]) -> list[str]:
    return [PY, "-m", "leakwarden", "scan", "git", repo, "-f", "json", "-o", out, "--show-secrets", "--exit-zero", *extra]


def gitleaks_cmd(repo: str, out: str) -> list[str]:
    return [which("gitleaks") or "gitleaks", "git", repo, "-f", "json", "-r", out, "--exit-code", "0", "--no-banner", "-l", "error"]


def kingfisher_cmd(repo: str, out: str) -> list[str]:
    return [which("kingfisher") or "kingfisher", "scan", repo, "--no-validate", "--format", "json", "--output", out, "--no-update-check"]


def secrets_leakwarden(path: str) -> set[str]:
    return {f["secret"] for f in json.load(open(path))["findings"]}


def secrets_gitleaks(path: str) -> set[str]:
    return {f["Secret"] for f in json.load(open(path))}


def secrets_kingfisher(path: str) -> set[str]:
    data = json.load(open(path))
    out = set()
    for f in data.get("findings", []):
        finding = f.get("finding", f)
        for key in ("snippet", "secret", "match", "value"):
            if isinstance(finding.get(key), str):
                out.add(finding[key])
                break
    return out


TOOLS = {
    "leakwarden": (leakwarden_cmd, secrets_leakwarden),
    "gitleaks": (gitleaks_cmd, secrets_gitleaks),
    "kingfisher": (kingfisher_cmd, secrets_kingfisher),
}


def bench_history(repo: str, tools: list[str], runs: int, lw_extra: list[str], memory: bool = False) -> dict[str, set[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    found: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm the engine cache and the page cache once, untimed.
        subprocess.run([PY, "-m", "leakwarden", "scan", "stdin", "-q"], input=b"", env=env, check=False)
        subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch-check"], stdout=subprocess.DEVNULL, check=False)
        for tool in tools:
            make, parse = TOOLS[tool]
            if tool != "leakwarden" and which(tool) is None:
                print(f"{tool:>11}: not installed, skipped")
                continue
            out = os.path.join(tmp, f"{tool}.json")
            argv = make(repo, out, lw_extra) if tool == "leakwarden" else make(repo, out)
            walls, cpus, peaks = [], [], []
            for _ in range(runs):
                wall, cpu, rc, err, peak = run_timed(argv, env=env, memory=memory)
                if rc not in (0, 1, 200, 205):  # kingfisher: 200 findings, 205 validated findings
                    print(f"{tool}: exit {rc}: {err.decode(errors='replace')[-500:]}")
                    break
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(peak)
                if tool != "leakwarden" and (b"fatal:" in err or b"ERR" in err):
                    # gitleaks stops its `git log -p` at the first unreadable object and still exits 0.
                    print(f"{tool}: reported errors, its result may cover only part of the history: {err.decode(errors='replace')[-300:].strip()}")
            if not walls:
                continue
            try:
                found[tool] = parse(out)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(f"{tool}: could not read its report: {exc}")
                found[tool] = set()
            mem = f"  peak memory {max(p for p, _ in peaks) / 2**20:.0f} MiB PSS ({max(a for _, a in peaks) / 2**20:.0f} anonymous)" if memory else ""
            print(f"{tool:>11}: wall {min(walls):7.2f}s (median {statistics.median(walls):.2f}s)  cpu {min(cpus):7.2f}s{mem}  unique secrets {len(found[tool])}")
    return found


def bench_hook(runs: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "init", "-q", tmp], check=True)
        for i in range(50):
            Path(tmp, f"module_{i}.py").write_text("".join(f"def f{j}():\n    return {j}\n" for j in range(40)))
        subprocess.run(["git", "-C", tmp, "add", "."], check=True)
        subprocess.run(["git", "-C", tmp, "commit", "-qm", "init"], check=True, env=env)
        Path(tmp, "module_3.py").write_text(Path(tmp, "module_3.py").read_text() + "TIMEOUT = 30\nURL = 'https://example.org'\n")
        Path(tmp, "new_file.py").write_text("import os\n\nTOKEN = os.environ['CARGO_REGISTRY_TOKEN']\n")
        subprocess.run(["git", "-C", tmp, "add", "."], check=True)
        argv = [PY, "-m", "leakwarden", "scan", "staged", "--quiet"]
        run_timed(argv, env=env, cwd=tmp)  # warm the engine cache
        walls = [run_timed(argv, env=env, cwd=tmp)[0] for _ in range(runs)]
        bare = [run_timed([PY, "-c", "pass"], env=env, cwd=tmp)[0] for _ in range(runs)]
        print(f"pre-commit hook (scan staged, 2 files changed, start-up included): median {statistics.median(walls) * 1000:.0f} ms, "
              f"best {min(walls) * 1000:.0f} ms  (bare `python -c pass`: {statistics.median(bare) * 1000:.0f} ms)")


def plant(repo: str, tmp: str) -> tuple[str, set[str]]:
    """A local clone of `repo` plus commits carrying every rule example with a known secret:
    some deleted again, some only on a side branch. Returns the clone and the planted secrets."""
    _leakwarden_source()
    from leakwarden.rules import load_ruleset

    clone = os.path.join(tmp, "planted")
    subprocess.run(["git", "clone", "-q", "--no-checkout", repo, clone], check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}
    git = lambda *a: subprocess.run(["git", "-C", clone, *a], check=True, env=env, capture_output=True)  # noqa: E731
    git("checkout", "-q", "-b", "planted")
    secrets: set[str] = set()
    examples = [(r.id, e) for r in load_ruleset().rules if r.visible for e in r.examples if e.secret]
    for n, (rule_id, example) in enumerate(examples):
        if n % 3 == 2:
            git("checkout", "-q", "-B", "side", "planted")
        path = Path(clone, "planted", f"{rule_id}-{n}.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(example.text)
        git("add", "-f", str(path))
        git("commit", "-qm", f"plant {rule_id}")
        if n % 3 == 1:
            git("rm", "-q", str(path))
            git("commit", "-qm", f"remove {rule_id}")
        if n % 3 == 2:
            git("checkout", "-q", "planted")
        secrets.add(example.secret)
    return clone, secrets


def missing_objects(repo: str) -> list[str]:
    """Objects reachable from a ref but absent (snapshots may leave out their largest blobs)."""
    out = subprocess.run(["git", "-C", repo, "rev-list", "--objects", "--all", "--missing=print"], capture_output=True, text=True).stdout
    return [line[1:] for line in out.splitlines() if line.startswith("?")]


def _leakwarden_source() -> None:
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))


def is_partial(repo: str) -> bool:
    """A partial clone, as leakwarden decides it (then it counts missing objects beside the scan)."""
    _leakwarden_source()
    from leakwarden.sources.git_partial import is_partial_clone
    from leakwarden.sources.gitcmd import Git

    return is_partial_clone(Git(repo))


def repaired_copy(repo: str, missing: list[str], tmp: str) -> str:
    """A hard-linked copy of `repo` that is an ordinary, complete repository: each missing object
    is replaced by the empty blob, so `git log -p` (gitleaks) reads the whole history instead of
    stopping at the first gap, and a partial clone's promisor markers are dropped, so leakwarden
    does not count missing objects beside the scan (a check only partial clones pay: 5 CPU-s on
    rails) when every tool reads a complete history."""
    copy = os.path.join(tmp, "repaired")
    if subprocess.run(["cp", "-al", repo, copy], stderr=subprocess.DEVNULL).returncode != 0:
        shutil.rmtree(copy, ignore_errors=True)
        subprocess.run(["cp", "-a", repo, copy], check=True)  # another file system: no hard links
    empty = subprocess.run(["git", "-C", copy, "hash-object", "-w", "--stdin"], input="", capture_output=True, text=True, check=True).stdout.strip()
    for oid in missing:
        subprocess.run(["git", "-C", copy, "replace", "-f", oid, empty], check=True)
    _leakwarden_source()
    from leakwarden.sources.gitcmd import Git

    objects = Git(copy).objects_path()
    for marker in glob.glob(os.path.join(glob.escape(objects), "pack", "*.promisor")) if objects else ():
        os.unlink(marker)  # a hard link: the original keeps its own
    config = subprocess.run(["git", "-C", copy, "config", "--get-regexp", r"^(remote\..*\.promisor|extensions\.partialclone)$"], capture_output=True, text=True).stdout
    for key in {line.split()[0] for line in config.splitlines() if line.strip()}:
        # git writes a new config file (lock and rename): the original's stays as it was
        subprocess.run(["git", "-C", copy, "config", "--unset-all", key], check=True)
    return copy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", nargs="?", help="a local git repository (read only)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tools", default="leakwarden,gitleaks,kingfisher")
    ap.add_argument("--leakwarden-args", default="", help="extra arguments for `leakwarden scan git`")
    ap.add_argument("--memory", action="store_true", help="sample each tool's peak memory (PSS of its process tree, every 0.1 s; the sampling slows the runs a little)")
    ap.add_argument("--hook-runs", type=int, default=15, help="0 to skip the hook timing")
    ap.add_argument("--plant", action="store_true", help="scan a local clone with rule examples committed on top (recall check)")
    args = ap.parse_args()
    planted_dir = tempfile.TemporaryDirectory()
    planted: set[str] = set()
    if args.repo:
        repo = os.path.abspath(args.repo)
        if args.plant:
            repo, planted = plant(repo, planted_dir.name)
        missing = missing_objects(repo)
        if missing:
            print(f"repository misses {len(missing)} reachable objects; benchmarking a hard-linked copy where "
                  "they are replaced by the empty blob (gitleaks would otherwise stop at the first)")
        if missing or is_partial(repo):
            print("benchmarking an ordinary complete repository: a hard-linked copy without the partial clone's promisor markers")
            repo = repaired_copy(repo, missing, planted_dir.name)
        count = subprocess.run(["git", "-C", repo, "rev-list", "--all", "--count"], capture_output=True, text=True).stdout.strip()
        print(f"repository: {repo} ({count} commits), {os.cpu_count()} CPUs")
        found = bench_history(repo, args.tools.split(","), args.runs, shlex.split(args.leakwarden_args), args.memory)
        if "leakwarden" in found:
            for other in (t for t in found if t != "leakwarden"):
                both = found["leakwarden"] & found[other]
                print(f"findings diff vs {other}: both {len(both)}, only leakwarden {len(found['leakwarden'] - found[other])}, only {other} {len(found[other] - found['leakwarden'])}")
        for tool, secrets in found.items():
            if planted:
                hit = {p for p in planted if any(p in s or s in p for s in secrets if len(s) >= 16)}
                print(f"planted secrets found by {tool}: {len(hit)}/{len(planted)}")
    if args.hook_runs:
        bench_hook(args.hook_runs)
    planted_dir.cleanup()


if __name__ == "__main__":
    main()

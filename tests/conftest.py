"""Shared fixtures: an isolated cache folder, the loaded ruleset, both engines."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["LEAKWARDEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.pop("LEAKWARDEN_ENGINE", None)
    os.environ["NO_COLOR"] = "1"


@pytest.fixture(scope="session")
def ruleset():
    from leakwarden.rules import load_ruleset

    return load_ruleset()


@pytest.fixture(scope="session")
def detectors(ruleset):
    from leakwarden.candidates import Detector
    from leakwarden.matcher import select_matcher

    return {engine: Detector(ruleset, select_matcher(ruleset, engine)) for engine in ("hyperscan", "python")}


def run_cli(*args: str, input: bytes | None = None, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m leakwarden` in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(SRC), "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "leakwarden", *args],
        input=input,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        timeout=timeout,
    )


def run_cli_on_pty(args: list[str], cwd: Path, extra_env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with standard error on a pseudo-terminal (progress forced past its size
    threshold); return (exit code, what it printed there)."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(SRC), "LEAKWARDEN_PROGRESS_ALWAYS": "1", "COLUMNS": "120", "TERM": "xterm", **extra_env}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "leakwarden", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")

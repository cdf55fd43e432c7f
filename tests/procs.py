"""Run child processes side by side and always reap them, even when a test fails midway."""

from __future__ import annotations

import subprocess


def finish_all(procs: list[subprocess.Popen[bytes]], timeout: float) -> list[tuple[int, bytes, bytes]]:
    """Wait for every process; (returncode, stdout, stderr) each. Kills the rest on a timeout,
    so no process or pipe outlives the test (pytest reports leaked ones in a later test)."""
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append((p.returncode, out or b"", err or b""))
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                p.communicate()
    return results

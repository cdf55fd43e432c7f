"""External tools for tests: skipped on a developer machine without them, required in CI.

CI (`CI=true`, see .ci/run) installs every tool the suite uses, so a missing tool there is a
failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{name} is required in CI but not installed (add it to .ci/run)")
    pytest.skip(f"{name} not installed")
    raise AssertionError("unreachable")

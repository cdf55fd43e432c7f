"""Official report schemas for validation tests, taken from registry packages (never the web).

SARIF 2.1.0: the OASIS schema as shipped in the npm package @microsoft/jest-sarif.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from tests.tooling import require_tool

_CACHE = Path(os.environ.get("LEAKWARDEN_TEST_SCHEMAS", Path.home() / ".cache" / "leakwarden-test-schemas"))


def sarif_schema() -> dict[str, Any]:
    target = _CACHE / "sarif-2.1.0-rtm.5.json"
    if not target.exists():
        npm = require_tool("npm")
        _CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([npm, "pack", "@microsoft/jest-sarif@1.0.0-beta.0", "--silent"], cwd=tmp, capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"npm pack failed: {proc.stderr[-500:]}")
            tgz = next(Path(tmp).glob("*.tgz"))
            with tarfile.open(tgz) as tar:
                member = tar.extractfile("package/lib/schemas/sarif-2.1.0-rtm.5.json")
                assert member is not None
                target.write_bytes(member.read())
    return json.loads(target.read_text(encoding="utf-8"))

"""Published schemas the report tests validate against, fetched once with the npm client.

SARIF 2.1.0 (OASIS, rtm.5) ships inside the npm package @microsoft/jest-sarif. It is packed
into a cache folder on first use (.ci/run fetches it before the suite runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tooling import require_tool

SARIF_PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0"
SARIF_MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"


def schema_cache() -> Path:
    base = os.environ.get("LEAKWARDEN_TEST_SCHEMAS") or os.path.join(os.path.expanduser("~"), ".cache", "leakwarden-test-schemas")
    return Path(base)


def sarif_schema() -> dict[str, Any]:
    target = schema_cache() / "sarif-2.1.0-rtm.5.json"
    if not target.is_file():
        npm = require_tool("npm")
        target.parent.mkdir(parents=True, exist_ok=True)
        out = subprocess.run([npm, "pack", SARIF_PACKAGE, "--silent", "--pack-destination", str(target.parent)], capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            import pytest

            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"npm pack {SARIF_PACKAGE} failed: {out.stderr}")
            pytest.skip(f"cannot fetch the SARIF schema with npm: {out.stderr.strip()[:200]}")
        tgz = target.parent / out.stdout.strip().splitlines()[-1]
        with tarfile.open(tgz) as tar:
            member = tar.extractfile(SARIF_MEMBER)
            assert member is not None
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(member.read())
            tmp.replace(target)
    return json.loads(target.read_text(encoding="utf-8"))

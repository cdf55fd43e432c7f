"""Benchmark the verifier against a local fake provider (not part of the test suite).

    python bench/bench_verify.py [--secrets 400] [--occurrences 10] [--latency 0.02]

Prints wall time, requests sent and the peak number of requests in flight, for a few
concurrency settings. The provider sleeps `latency` seconds per request, like a remote API.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ.setdefault("LEAKWARDEN_CACHE_DIR", tempfile.mkdtemp(prefix="lw-bench-"))

from tests.verifier.conftest import finding  # noqa: E402
from tests.verifier.provider import FakeProvider  # noqa: E402

from leakwarden.config import Settings  # noqa: E402
from leakwarden.verifier import verify_findings  # noqa: E402

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrets", type=int, default=400)
    ap.add_argument("--occurrences", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.02)
    args = ap.parse_args()
    rng = random.Random(0)
    tokens = ["CCIPAT_" + "".join(rng.choice(B58) for _ in range(22)) + "_" + "".join(rng.choice("0123456789abcdef") for _ in range(40)) for _ in range(args.secrets)]
    findings = [finding("circleci-personal-token", t, line=i) for t in tokens for i in range(args.occurrences)]

    def handler(req):
        time.sleep(args.latency)
        return 200, {}, {"id": "u", "login": "bot"}

    print(f"{len(findings)} findings, {len(tokens)} unique secrets, provider latency {args.latency * 1000:.0f} ms")
    for concurrency, per_host in ((1, 1), (8, 2), (8, 8), (32, 32)):
        p = FakeProvider(handler=handler).start()
        settings = Settings(verify={"enabled": True, "allow_private": True, "cache_ttl": 0, "concurrency": concurrency, "per_host": per_host, "base_urls": {"circleci.com": p.base_url}})
        started = time.perf_counter()
        out = verify_findings(findings, settings)
        took = time.perf_counter() - started
        p.stop()
        valid = sum(f.validity.state.value == "valid" for f in out)
        print(f"concurrency={concurrency:>2} per_host={per_host:>2}: {took:6.2f}s  requests={len(p.requests)}  peak in flight={p.peak}  valid={valid}  ({len(tokens) / took:.0f} secrets/s)")


if __name__ == "__main__":
    main()

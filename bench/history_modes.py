"""Check that the delta-aware history scan finds exactly what matching every blob whole finds.

    python bench/history_modes.py /path/to/repo

Runs the whole-repository history scan twice in this process (pack deltas, then
`--whole-blobs`) and compares the raw findings per blob: (blob id, rule, secret, offset). Prints
both counts and any difference. Not part of the test suite (it takes minutes on long histories).
"""

from __future__ import annotations

import sys
import time

from leakwarden.api import build_detector
from leakwarden.models import ScanResult
from leakwarden.sources import git_history
from leakwarden.sources.gitcmd import Git


def main() -> None:
    repo = sys.argv[1]
    detector = build_detector(None)
    git = Git(repo)
    keys = []
    for whole in (False, True):
        started = time.perf_counter()
        found = git_history._scan_all_objects(git, repo, detector, git_history.HistoryOptions(whole_blobs=whole), ScanResult(), git_history.BlobsRead())
        keys.append({(oid, f.rule_id, f.secret.reveal(), f.location.offset) for oid, fs in found.items() for f in fs})
        print(f"{'whole blobs' if whole else 'pack deltas'}: {len(keys[-1])} findings in {len(found)} blobs, {time.perf_counter() - started:.1f} s")
    deltas, whole = keys
    for oid, rule, _, offset in sorted(deltas - whole):
        print(f"only with deltas: {oid} {rule} at {offset}")
    for oid, rule, _, offset in sorted(whole - deltas):
        print(f"only with whole blobs: {oid} {rule} at {offset}")
    print("identical" if deltas == whole else "DIFFERENT")


if __name__ == "__main__":
    main()

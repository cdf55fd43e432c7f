"""Partial clones: history a scan cannot see because the clone never downloaded it.

A clone made with `--filter` (blob:none, blob:limit=...) keeps commits and trees but only some
blobs; the rest stay on the promisor remote. A history scan reads only what is local, so without
a word it would report such a clone clean. When the repository is a partial clone, a
`git rev-list --objects --missing=print` runs beside the scan (it lists ids without fetching
anything) and the objects it finds missing become a warning that says how to fetch them.
"""

from __future__ import annotations

import glob
import os
import subprocess
import threading

from leakwarden.models import ScanError
from leakwarden.sources.gitcmd import Git, finish_process


def promisor_remote(git: Git) -> str | None:
    """The remote a partial clone fetches missing objects from (`remote.<name>.promisor`, or the
    older `extensions.partialClone`), if it names one."""
    out = git.run("config", "--get-regexp", r"^remote\..*\.promisor$", check=False).stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lower() in ("true", "yes", "on", "1"):
            return key[len("remote.") : -len(".promisor")]
    return git.run("config", "--get", "extensions.partialclone", check=False).stdout.decode("utf-8", "replace").strip() or None


def is_partial_clone(git: Git) -> bool:
    """A promisor pack (what a filtered clone or fetch writes) or a configured promisor remote."""
    objects = git.objects_path()
    if objects is not None and glob.glob(os.path.join(glob.escape(objects), "pack", "*.promisor")):
        return True
    return promisor_remote(git) is not None


class MissingObjects:
    """Counts, in the background, the objects reachable from `revs` (all refs when empty) that
    are not in the repository. `warning()` waits for the count."""

    def __init__(self, git: Git, revs: tuple[str, ...] = ()) -> None:
        self.git = git
        self.count = 0
        args = ["rev-list", "--objects", "--missing=print", *(revs or ("--all",))]
        self._proc = git.popen(args, stdin=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        self.count = sum(1 for line in out if line.startswith(b"?"))

    def warning(self) -> ScanError | None:
        self._reader.join()
        finish_process(self._proc)
        if self._proc.returncode != 0 or not self.count:
            return None
        remote = promisor_remote(self.git)
        fix = (
            f"fetch them first (git config --unset remote.{remote}.partialclonefilter && git fetch --refetch {remote}) or scan a full clone"
            if remote else "the repository names no remote to fetch them from: scan a full clone"
        )
        return ScanError(
            "<git>", "missing-objects",
            f"{self.count} object(s) reachable from the scanned history are not in this partial clone and were not scanned; {fix}",
        )

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._reader.join()
        finish_process(self._proc)

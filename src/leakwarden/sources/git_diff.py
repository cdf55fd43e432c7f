"""What a change adds: staged changes, commit ranges, pre-push and pre-receive updates.

Each diff hunk becomes one Chunk of the *new* file's lines (context and added lines, so rules
that need a keyword nearby still see it), located at the new file's line numbers. A finding is
kept only when it touches an added line. Merge commits are read as combined diffs: a line the
merge adds relative to every parent (a conflict resolution, an "evil merge") counts as added.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from leakwarden.candidates import Detector
from leakwarden.errors import SourceError
from leakwarden.models import Chunk, Finding, Origin, ScanResult
from leakwarden.sources.gitcmd import (
    COMMIT_FORMAT,
    EMPTY_TREE,
    Z40,
    CommitInfo,
    Git,
    finish_process,
    unquote_path,
)

_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "-U3", "--src-prefix=a/", "--dst-prefix=b/")


@dataclass(slots=True)
class Hunk:
    path: str
    start: int  # new-file line number of the first line
    lines: list[bytes] = field(default_factory=list)
    added: set[int] = field(default_factory=set)  # indexes into `lines`


@dataclass(slots=True)
class DiffStats:
    files: int = 0
    binary: int = 0
    bytes: int = 0


def parse_diff(stream: IO[bytes], stats: DiffStats) -> Iterator[tuple[CommitInfo | None, Hunk]]:
    """Parse `git diff`/`git log -p --cc` output into hunks of new-file lines."""
    commit: CommitInfo | None = None
    path: str | None = None
    hunk: Hunk | None = None
    parents = 1
    in_header = False
    for raw in stream:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.startswith(b"\x01"):
            if hunk is not None:
                yield commit, hunk
                hunk = None
            commit = CommitInfo.parse(line[1:].decode("utf-8", "surrogateescape"))
            path, in_header = None, False
            continue
        if line.startswith((b"diff --git ", b"diff --cc ", b"diff --combined ")):
            if hunk is not None:
                yield commit, hunk
                hunk = None
            path, in_header = None, True
            stats.files += 1
            continue
        if in_header:
            if line.startswith(b"+++ "):
                # git ends the name with a tab when it contains a space.
                target = unquote_path(line[4:].decode("utf-8", "surrogateescape").rstrip("\t"))
                path = None if target == "/dev/null" else target[2:] if target.startswith("b/") else target
            elif line.startswith((b"Binary files ", b"GIT binary patch")):
                stats.binary += 1
            elif line.startswith(b"@@"):
                in_header = False
            else:
                continue
        if line.startswith(b"@@"):
            if hunk is not None:
                yield commit, hunk
                hunk = None
            if path is None:
                continue
            marks = len(line) - len(line.lstrip(b"@"))
            parents = max(1, marks - 1)
            try:
                new_range = line.split(b" +", 1)[1].split(b" ", 1)[0]
                start = int(new_range.split(b",", 1)[0])
            except (IndexError, ValueError):
                continue
            hunk = Hunk(path, start)
            continue
        if hunk is None or not line or line.startswith(b"\\"):
            continue
        prefix, content = line[:parents], line[parents:]
        if b"-" in prefix:
            continue
        if prefix.strip(b"+") == b"" and b"+" in prefix:
            hunk.added.add(len(hunk.lines))
        stats.bytes += len(content) + 1
        hunk.lines.append(content)
    if hunk is not None:
        yield commit, hunk


def hunk_chunk(hunk: Hunk, commit: CommitInfo | None, kind: str, repository_uri: str | None = None) -> Chunk:
    extra: dict[str, str] = dict(commit.extra()) if commit is not None else {}
    if repository_uri and commit is not None:
        extra["repository_uri"] = repository_uri
    origin = Origin(kind, path=hunk.path, commit=commit.sha if commit else None, extra=tuple(extra.items()))
    return Chunk(b"\n".join(hunk.lines) + b"\n", origin, base_line=hunk.start)


def scan_hunks(detector: Detector, hunks: Iterator[tuple[CommitInfo | None, Hunk]], kind: str, result: ScanResult, repository_uri: str | None = None, deadline: float | None = None) -> bool:
    """Scan hunks; keep findings on added lines. Returns False when the deadline passed."""
    for commit, hunk in hunks:
        if not hunk.added:
            continue
        if deadline is not None and time.monotonic() > deadline:
            return False
        for f in detector.scan(hunk_chunk(hunk, commit, kind, repository_uri)):
            if _touches_added(f, hunk):
                result.findings.append(f)
    return True


def _touches_added(f: Finding, hunk: Hunk) -> bool:
    first = f.location.start_line - hunk.start
    last = f.location.end_line - hunk.start
    return any(i in hunk.added for i in range(first, last + 1))


# --- sources ----------------------------------------------------------------------------------


def staged_diff(git: Git) -> list[str]:
    """The diff of the index against HEAD (or against the empty tree before the first commit)."""
    base = "HEAD" if git.has_head() else EMPTY_TREE
    return ["diff", "--cached", *_DIFF_FLAGS, "--diff-filter=d", base, "--"]


def log_diff(revs: Sequence[str]) -> list[str]:
    """Per-commit patches of every commit in `revs`, oldest first, merges as combined diffs."""
    return ["log", "--reverse", "-p", "--cc", *_DIFF_FLAGS, f"--format=\x01{COMMIT_FORMAT}", *revs, "--"]


def scan_git_diff(git: Git, args: list[str], detector: Detector, kind: str, result: ScanResult, deadline: float | None = None) -> bool:
    """Run a git diff/log command and scan what it adds. False when the deadline passed."""
    stats = DiffStats()
    proc = git.popen(args)
    assert proc.stdout is not None
    uri = git.repository_uri() if kind == "git" else None
    finished = False
    # A watchdog, because git may spend the whole budget on one huge diff before printing it.
    timer = None
    expired = threading.Event()
    if deadline is not None:

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        timer.daemon = True
        timer.start()
    try:
        finished = scan_hunks(detector, parse_diff(proc.stdout, stats), kind, result, uri, deadline)
    finally:
        if timer is not None:
            timer.cancel()
        if not finished:
            proc.kill()
        err = finish_process(proc)
    finished = finished and not expired.is_set()
    if finished and proc.returncode != 0:
        raise SourceError(f"git {args[0]} failed: {err.splitlines()[-1] if err else proc.returncode}")
    result.stats.files += stats.files
    result.stats.bytes += stats.bytes
    result.stats.skipped += stats.binary
    return finished


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One line of git's hook input: a ref moving from `old` to `new` (Z40 = none)."""

    ref: str
    old: str
    new: str

    @property
    def is_delete(self) -> bool:
        return self.new == Z40


def parse_pre_push(text: str) -> list[RefUpdate]:
    """`<local ref> <local sha> <remote ref> <remote sha>` per line (githooks(5), pre-push)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise SourceError(f"pre-push input line {n}: expected '<local ref> <local sha> <remote ref> <remote sha>', got {line!r}")
        out.append(RefUpdate(parts[2], old=parts[3], new=parts[1]))
    return out


def parse_pre_receive(text: str) -> list[RefUpdate]:
    """`<old sha> <new sha> <ref>` per line (githooks(5), pre-receive)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise SourceError(f"pre-receive input line {n}: expected '<old sha> <new sha> <ref>', got {line!r}")
        out.append(RefUpdate(parts[2], old=parts[0], new=parts[1]))
    return out


def update_revs(git: Git, updates: Sequence[RefUpdate], known: str) -> list[str]:
    """Revisions for the commits these updates bring that are not already known.

    `known` is `--remotes` on the client (pre-push: commits on any remote-tracking ref were
    already pushed somewhere) and `--all` on the server (pre-receive: refs not yet updated).
    New branches, force pushes and already-pushed commits all fall out of the same rule:
    new tips, minus old tips we have, minus everything already known. Deleted refs add nothing.
    """
    tips = [u.new for u in updates if not u.is_delete and git.has_commit(u.new)]
    if not tips:
        return []
    olds = [f"^{u.old}" for u in updates if u.old != Z40 and git.has_commit(u.old)]
    return [*tips, *olds, "--not", known]

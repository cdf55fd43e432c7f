"""What a change adds: staged changes, commit ranges, pre-push and pre-receive updates.

Each diff hunk becomes one Chunk of the *new* file's lines (context and added lines, so rules
that need a keyword nearby still see it), located at the new file's line numbers. A finding is
kept only when it touches an added line. Merge commits are read as combined diffs: a line the
merge adds relative to every parent (a conflict resolution, an "evil merge") counts as added.
"""

from __future__ import annotations

import io
import os
import subprocess
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
    read_batch,
    unquote_path,
)

# What the gates parse must not depend on the user's own git settings: each flag and `-c`
# setting below pins something that changes which files, lines, names or line numbers git prints
# (diff.relative: only the current folder; suppressBlankEmpty: empty context lines dropped, so
# line numbers shift; noprefix/mnemonicPrefix: other path prefixes; log.showRoot=false: the first
# commit's content left out; external diff, textconv, colour, signatures, notes, submodule logs).
_DIFF_FLAGS = (
    "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--submodule=short",
    "-M", "-U3", "--src-prefix=a/", "--dst-prefix=b/",
)
_LOG_FLAGS = ("--root", "--no-show-signature", "--no-notes", "--encoding=UTF-8")
DIFF_CONFIG = (
    "diff.relative=false",
    "diff.suppressBlankEmpty=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.submodule=short",
    "log.showRoot=true",
    "log.showSignature=false",
    "core.attributesFile=" + os.devnull,  # a personal attributes file could mark files binary
)
# Environment variables that change diff output (context size, an external diff program).
DIFF_ENV_DROP = ("GIT_DIFF_OPTS", "GIT_EXTERNAL_DIFF")


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
    # Files git printed as "Binary files ... differ": (commit, new path, new blob id as printed).
    # git decides that by content or by a `-diff`/`binary` attribute; the attribute can be set
    # in the repository itself, so these are checked afterwards (`scan_binary_claims`).
    binary_claims: list[tuple[CommitInfo | None, str, str]] = field(default_factory=list)


def parse_diff(stream: IO[bytes], stats: DiffStats) -> Iterator[tuple[CommitInfo | None, Hunk]]:
    """Parse `git diff`/`git log -p --cc` output into hunks of new-file lines."""
    commit: CommitInfo | None = None
    path: str | None = None
    hunk: Hunk | None = None
    parents = 1
    in_header = False
    new_blob = ""
    renamed_to: str | None = None
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
            path, in_header, new_blob, renamed_to = None, True, "", None
            stats.files += 1
            continue
        if in_header:
            if line.startswith((b"rename to ", b"copy to ")):
                renamed_to = unquote_path(line.split(b" to ", 1)[1].decode("utf-8", "surrogateescape"))
                continue
            if line.startswith(b"index "):
                # `index OLD..NEW [mode]`, or `index A,B..NEW` for a combined diff
                new_blob = line[6:].split(b" ", 1)[0].rpartition(b"..")[2].decode("ascii", "replace")
                continue
            if line.startswith(b"Binary files "):
                target = _binary_target(line, renamed_to)
                if target is not None and new_blob.strip("0"):
                    stats.binary_claims.append((commit, target, new_blob))
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


def _binary_target(line: bytes, renamed_to: str | None = None) -> str | None:
    """The new path of `Binary files a/X and b/Y differ` (None for a deletion or a shape we
    cannot split; our flags fix the prefixes to a/ and b/).

    " and " may be part of a name, so the split is the one whose sides agree: the same name
    twice, or a new file from /dev/null. A rename or copy names its target in the header."""
    if renamed_to is not None:
        return renamed_to
    text = line.decode("utf-8", "surrogateescape").removeprefix("Binary files ").removesuffix(" differ")
    at = text.find(" and ")
    while at >= 0:
        old, new = _prefixed(text[:at], "a/"), _prefixed(text[at + 5 :], "b/")
        if new is not None and (old == new or text[:at] == "/dev/null"):
            return new
        at = text.find(" and ", at + 1)
    return None


def _prefixed(name: str, prefix: str) -> str | None:
    path = unquote_path(name)
    return path[len(prefix) :] if path.startswith(prefix) else None


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
        allowed = sum(1 for line in detector.allowed_lines if line - hunk.start in hunk.added)
        if allowed:
            result.stats.suppressed["inline_allow"] = result.stats.suppressed.get("inline_allow", 0) + allowed
    return True


def _touches_added(f: Finding, hunk: Hunk) -> bool:
    first = f.location.start_line - hunk.start
    last = f.location.end_line - hunk.start
    return any(i in hunk.added for i in range(first, last + 1))


# --- sources ----------------------------------------------------------------------------------


def staged_diff(git: Git, base: str | None = None) -> list[str]:
    """The diff of the index against `base`: by default HEAD (or the empty tree before the
    first commit)."""
    base = base or ("HEAD" if git.has_head() else EMPTY_TREE)
    return ["diff", "--cached", *_DIFF_FLAGS, "--diff-filter=d", base, "--"]


@dataclass(slots=True)
class AddedLines:
    """What the index adds against one commit: new-file line numbers per path, and the paths
    git printed as binary."""

    lines: dict[str, set[int]]
    binary: set[str]


def staged_added_against(git: Git, base: str) -> AddedLines:
    stats = DiffStats()
    proc = git.popen(staged_diff(git, base), config=DIFF_CONFIG, drop_env=DIFF_ENV_DROP)
    assert proc.stdout is not None
    added = AddedLines({}, set())
    try:
        for _, hunk in parse_diff(proc.stdout, stats):
            added.lines.setdefault(hunk.path, set()).update(hunk.start + i for i in hunk.added)
    finally:
        err = finish_process(proc)
    if proc.returncode != 0:
        raise SourceError(f"git diff failed: {err.splitlines()[-1] if err else proc.returncode}")
    added.binary = {path for _, path, _ in stats.binary_claims}
    return added


def merging_added(git: Git) -> list[AddedLines]:
    """While a merge is being committed: what the index adds against each other parent
    (MERGE_HEAD; several for an octopus). Empty otherwise."""
    try:
        text = (git.git_dir / "MERGE_HEAD").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return []
    return [staged_added_against(git, sha) for sha in text.split() if git.has_commit(sha)]


def new_to_every_parent(hunks: Iterator[tuple[CommitInfo | None, Hunk]], others: Sequence[AddedLines]) -> Iterator[tuple[CommitInfo | None, Hunk]]:
    """While a merge is being committed, keep as added only what is new against the merged
    commits too, as a merge commit's combined diff does: what the other branch already
    committed is in its history, not added by this commit."""
    for commit, hunk in hunks:
        hunk.added = {i for i in hunk.added if all(hunk.start + i in o.lines.get(hunk.path, ()) for o in others)}
        yield commit, hunk


def log_diff(revs: Sequence[str]) -> list[str]:
    """Per-commit patches of every commit in `revs`, oldest first, merges as combined diffs."""
    return ["log", "--reverse", "-p", "--cc", *_DIFF_FLAGS, *_LOG_FLAGS, f"--format=\x01{COMMIT_FORMAT}", *revs, "--"]


def scan_git_diff(git: Git, args: list[str], detector: Detector, kind: str, result: ScanResult, deadline: float | None = None,
                  merging: Sequence[AddedLines] = ()) -> bool:
    """Run a git diff/log command and scan what it adds. False when the deadline passed.

    `merging`: what the index adds against each other parent of a merge being committed;
    only what is new against all of them counts (see `new_to_every_parent`)."""
    stats = DiffStats()
    proc = git.popen(args, config=DIFF_CONFIG, drop_env=DIFF_ENV_DROP)
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
        hunks = parse_diff(proc.stdout, stats)
        if merging:
            hunks = new_to_every_parent(hunks, merging)
        finished = scan_hunks(detector, hunks, kind, result, uri, deadline)
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
    if merging:
        stats.binary_claims = [c for c in stats.binary_claims if all(c[1] in o.binary for o in merging)]
    if finished and stats.binary_claims:
        finished = scan_binary_claims(git, stats.binary_claims, detector, kind, result, uri, deadline)
    return finished


def scan_binary_claims(git: Git, claims: Sequence[tuple[CommitInfo | None, str, str]], detector: Detector, kind: str, result: ScanResult,
                       repository_uri: str | None = None, deadline: float | None = None) -> bool:
    """Read in full the files git printed as binary whose content is text: a committed
    `.gitattributes` line such as `*.env -diff` would otherwise hide them from every gate.
    The whole file counts as added (git gave no line diff). UTF-16/32 text (Windows tools,
    PowerShell's `>`), which git takes for binary, is transcoded and scanned; real binaries (a
    NUL byte in the first 8 KB, git's own test) are skipped as before."""
    wanted = list(dict.fromkeys(oid for _, _, oid in claims))
    listed = git.run("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)", input="".join(f"{o}\n" for o in wanted).encode(), check=False)
    full: dict[str, tuple[str, int]] = {}
    for short, line in zip(wanted, listed.stdout.decode("utf-8", "replace").splitlines(), strict=False):
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            full[short] = (parts[0], int(parts[2]))
    blobs: list[tuple[str, str, int]] = []
    origins: dict[tuple[str, str], Origin] = {}
    for commit, path, short in claims:
        if short not in full:
            continue
        oid, size = full[short]
        extra: dict[str, str] = dict(commit.extra()) if commit is not None else {}
        if repository_uri and commit is not None:
            extra["repository_uri"] = repository_uri
        origins[oid, path] = Origin(kind, path=path, commit=commit.sha if commit else None, blob=oid, extra=tuple(extra.items()))
        blobs.append((oid, path, size))
    from leakwarden.config import DEFAULT_MAX_FILE_SIZE

    files, skipped = result.stats.files, result.stats.skipped
    finished = scan_blobs(git, blobs, detector, result, DEFAULT_MAX_FILE_SIZE, deadline, origins)
    # The diff already counted each of these files, and each as skipped binary: those read
    # here as text are no longer skipped.
    too_large = sum(1 for _, _, size in blobs if size > DEFAULT_MAX_FILE_SIZE)
    read = result.stats.files - files
    still_binary = result.stats.skipped - skipped - too_large
    result.stats.files = files
    result.stats.skipped = skipped - (read - still_binary)
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
    """Revisions for what these updates bring that is not already known.

    `known` is `--remotes` on the client (pre-push: commits on any remote-tracking ref were
    already pushed somewhere) and `--all` on the server (pre-receive: refs not yet updated).
    New branches, force pushes and already-pushed commits all fall out of the same rule:
    new tips, minus old tips we have, minus everything already known. Deleted refs add nothing.
    A tip need not be a commit: a tag may point at a blob or a tree (directly or through an
    annotated tag); `scan_commits` reads those objects themselves (see `split_tips`).
    """
    present = existing_objects(git, [u.new for u in updates if not u.is_delete] + [u.old for u in updates if u.old != Z40])
    for u in updates:
        if not u.is_delete and u.new not in present:
            # git always has what it is about to push or accept: a missing tip means we look at
            # the wrong object store, and skipping it would pass the update unread.
            raise SourceError(
                f"{u.ref}: object {u.new[:12]} is not in this repository, so what it brings cannot be checked. "
                "In a pre-receive hook, run leakwarden with the environment git gives the hook "
                "(GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_QUARANTINE_PATH), "
                "not through sudo, env -i or a wrapper that clears it"
            )
    tips = [u.new for u in updates if not u.is_delete]
    if not tips:
        return []
    olds = [f"^{u.old}" for u in updates if u.old != Z40 and u.old in present]
    return [*tips, *olds, "--not", known]


def existing_objects(git: Git, oids: Sequence[str]) -> set[str]:
    """Which of these object ids the repository has (any type), asked in one `cat-file`."""
    wanted = [o for o in dict.fromkeys(oids) if o and o != Z40]
    if not wanted:
        return set()
    proc = git.run("cat-file", "--batch-check=%(objectname)", input="".join(f"{o}\n" for o in wanted).encode(), check=False)
    if proc.returncode != 0:
        return set()
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return {o for o, line in zip(wanted, lines, strict=False) if not line.endswith(" missing")}


@dataclass(frozen=True, slots=True)
class Tips:
    """What `revs` name: whether any tip is a commit, and the tips that peel to a blob or tree."""

    commits: bool
    objects: tuple[tuple[str, str, str], ...] = ()  # (tip as named, peeled object id, its type)
    negatives: tuple[str, ...] = ()  # object ids excluded by `revs` (`^x`, `--not ...`)


def split_tips(git: Git, revs: Sequence[str]) -> Tips:
    """Expand `revs` (`git rev-parse --revs-only`) and sort the positive tips by what they peel
    to. `git log` silently skips a tip that is not a commit, so a tag of a blob or a tree would
    otherwise pass every gate unread."""
    if not revs:
        return Tips(False)
    # `--` makes an unknown revision an error: alone, --revs-only drops it, and a gate or a
    # --range that names a missing branch would pass with nothing scanned.
    proc = git.run("rev-parse", "--revs-only", *revs, "--", check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1].removeprefix("fatal: ") if lines else f"git rev-parse exit {proc.returncode}"
        raise SourceError(f"cannot read the commits to scan: {reason}")
    positives: list[str] = []
    negatives: list[str] = []
    for line in proc.stdout.decode("utf-8", "replace").split():
        (negatives.append(line[1:]) if line.startswith("^") else positives.append(line))
    if not positives:
        return Tips(False)
    query = "".join(f"{p}^{{}}\n" for p in positives).encode()
    check = git.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input=query, check=False)
    commits = False
    objects: list[tuple[str, str, str]] = []
    for tip, line in zip(positives, check.stdout.decode("utf-8", "replace").splitlines(), strict=False):
        oid, _, kind = line.partition(" ")
        if kind == "commit":
            commits = True
        elif kind in ("blob", "tree"):
            objects.append((tip, oid, kind))
    return Tips(commits, tuple(objects), tuple(negatives))


def object_blobs(git: Git, tips: Tips, labels: dict[str, str] | None = None) -> list[tuple[str, str, int]]:
    """(blob id, path, size) of every blob the non-commit tips bring that the excluded revisions
    do not already have: a tagged blob itself, or each blob of a tagged tree."""
    if not tips.objects:
        return []
    names = labels or {}
    query = "".join(f"{oid}\n" for _, oid, _ in tips.objects) + "".join(f"^{n}\n" for n in tips.negatives)
    listed = git.run("rev-list", "--objects", "--stdin", input=query.encode(), check=True)
    entries: list[tuple[str, str]] = []
    tip_names = {oid: names.get(tip, names.get(oid, "")) for tip, oid, _ in tips.objects}
    for raw in listed.stdout.decode("utf-8", "surrogateescape").splitlines():
        oid, _, path = raw.partition(" ")
        if oid:
            entries.append((oid, path or tip_names.get(oid, "") or f"(tagged blob {oid[:12]})"))
    if not entries:
        return []
    check = git.run("cat-file", "--batch-check=%(objecttype) %(objectsize)", input="".join(f"{o}\n" for o, _ in entries).encode(), check=False)
    out = []
    for (oid, path), line in zip(entries, check.stdout.decode("utf-8", "replace").splitlines(), strict=False):
        kind, _, size = line.partition(" ")
        if kind == "blob":
            out.append((oid, path, int(size)))
    return out


def scan_blobs(git: Git, blobs: Sequence[tuple[str, str, int]], detector: Detector, result: ScanResult, max_size: int, deadline: float | None = None,
               origins: dict[tuple[str, str], Origin] | None = None) -> bool:
    """Scan whole blobs (every line counts as added). False when the deadline passed.
    `origins` gives a (blob, path) its own provenance (a commit); by default a tagged object."""
    from leakwarden.models import ScanError
    from leakwarden.sources import blob_text, chunks_from_stream, with_encoding

    wanted = []
    for oid, path, size in blobs:
        if size > max_size:
            result.errors.append(ScanError(path, "size", f"skipped: blob {oid[:12]} is larger than {max_size} bytes"))
            result.stats.skipped += 1
        else:
            wanted.append((oid, path))
    if not wanted:
        return True
    proc = git.popen(["cat-file", "--batch"], stdin=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    writer = threading.Thread(target=_feed, args=(proc.stdin, [o for o, _ in wanted]), daemon=True)
    writer.start()
    finished = True
    try:
        answers = read_batch(proc.stdout)
        for oid, path in wanted:
            _, data = next(answers, (b"", None))
            if data is None:
                raise SourceError(f"git cat-file: unexpected answer for {oid[:12]}")
            if deadline is not None and time.monotonic() > deadline:
                finished = False
                break
            result.stats.files += 1
            text = blob_text(data)
            if text is None:
                result.stats.skipped += 1
                continue
            data, encoding = text  # UTF-16/32 text (git diffs it as binary) is transcoded
            result.stats.bytes += len(data)
            origin = (origins or {}).get((oid, path)) or Origin("git", path=path, blob=oid, extra=(("object", f"blob {oid}"),))
            for chunk in chunks_from_stream(io.BytesIO(data), with_encoding(origin, encoding)):
                result.findings.extend(detector.scan(chunk))
    finally:
        proc.kill()
        writer.join(timeout=5)
        finish_process(proc)
    return finished


def _feed(stream: IO[bytes], oids: Sequence[str]) -> None:
    try:
        for oid in oids:
            stream.write(f"{oid}\n".encode())
        stream.close()
    except OSError:
        pass

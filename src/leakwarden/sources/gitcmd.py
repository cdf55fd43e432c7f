"""Run git as a subprocess: repository checks, commit metadata, C-quoted paths, errors made clear.

NOTE: git's environment (GIT_DIR, GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES,
GIT_QUARANTINE_PATH) is passed through untouched when we run inside a hook, so a pre-receive
hook sees the pushed objects that still sit in git's quarantine directory. When the user names a
repository explicitly, variables that would point git elsewhere are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from leakwarden.errors import SourceError

Z40 = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# Variables that redirect git to another repository; dropped when a repository is named.
_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_COMMON_DIR")
# Field separator for --format strings; never appears in names or subjects.
SEP = "\x1f"
COMMIT_FORMAT = SEP.join(("%H", "%an", "%ae", "%aI", "%s", "%cI"))


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    date: str  # author date: when the change was written
    subject: str
    committed: str = ""  # committer date: tells an original from its later cherry-picks

    @classmethod
    def parse(cls, line: str) -> CommitInfo:
        parts = line.split(SEP)
        parts += [""] * (6 - len(parts))
        return cls(*parts[:6])

    def extra(self) -> dict[str, str]:
        return {"author": self.author, "email": self.email, "date": self.date, "subject": self.subject}


def git_executable() -> str:
    exe = shutil.which("git")
    if exe is None:
        raise SourceError("git is not installed or not on PATH")
    return exe


class Git:
    """A repository: `git -C <path>` with an environment that points at it (or at the hook's)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.exe = git_executable()
        env = dict(os.environ)
        if path is not None:
            for var in _LOCATION_VARS:
                env.pop(var, None)
        env["GIT_TERMINAL_PROMPT"] = "0"
        env.setdefault("LC_ALL", "C")
        self.env = env
        self.cwd = str(path) if path is not None else None
        out = self.run("rev-parse", "--git-dir", check=False)
        if out.returncode != 0:
            where = path if path is not None else os.getcwd()
            raise SourceError(f"{where}: not a git repository")
        git_dir = out.stdout.decode("utf-8", "surrogateescape").strip()
        self.git_dir = Path(self.cwd or ".", git_dir) if not os.path.isabs(git_dir) else Path(git_dir)
        self._objects: str | None = ""  # "": not asked yet (see `objects_path`)

    def argv(self, *args: str, config: Sequence[str] = ()) -> list[str]:
        # core.quotePath=false keeps non-ASCII names readable; other odd bytes are still C-quoted.
        base = [self.exe, "-c", "core.quotePath=false"]
        for setting in config:
            base += ["-c", setting]
        if self.cwd is not None:
            base += ["-C", self.cwd]
        return [*base, *args]

    def run(self, *args: str, check: bool = True, input: bytes | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        try:
            proc = subprocess.run(self.argv(*args), input=input, capture_output=True, env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} took longer than {timeout:.0f}s") from None
        if check and proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SourceError(f"git {' '.join(args[:2])} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
        return proc

    def text(self, *args: str, check: bool = True) -> str:
        return self.run(*args, check=check).stdout.decode("utf-8", "surrogateescape")

    def popen(self, args: Sequence[str], *, stdin: int | IO[bytes] | None = None, stdout: int | None = subprocess.PIPE, config: Sequence[str] = (), drop_env: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        """Start git; `config` adds `-c name=value` settings, `drop_env` removes variables."""
        env = self.env if not drop_env else {k: v for k, v in self.env.items() if k not in drop_env}
        return subprocess.Popen(self.argv(*args, config=config), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env, bufsize=1 << 20)

    def objects_path(self) -> str | None:
        """The absolute path of the object folder (`--git-path objects`: a linked worktree's
        objects live in the main repository's folder), or None when git cannot tell. Asked once:
        a history scan needs it for the packs and for the partial-clone check."""
        if self._objects == "":
            out = self.run("rev-parse", "--git-path", "objects", check=False)
            path = out.stdout.decode("utf-8", "surrogateescape").strip()
            if out.returncode != 0 or not path:
                self._objects = None
            else:
                self._objects = path if os.path.isabs(path) else os.path.join(self.cwd or os.getcwd(), path)
        return self._objects

    def has_commit(self, rev: str) -> bool:
        if not rev or rev == Z40:
            return False
        return self.run("cat-file", "-e", f"{rev}^{{commit}}", check=False).returncode == 0

    def resolve(self, rev: str) -> str:
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            kind = self.run("cat-file", "-t", "--end-of-options", rev, check=False) if not rev.startswith("-") else None
            if kind is not None and kind.returncode == 0:
                raise SourceError(f"{rev} is a {kind.stdout.decode().strip()}, not a commit")
            raise SourceError(f"unknown revision: {rev}")
        return proc.stdout.decode().strip()

    def has_head(self) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0

    def is_shallow(self) -> bool:
        return self.text("rev-parse", "--is-shallow-repository", check=False).strip() == "true"

    def repository_uri(self) -> str | None:
        """The origin URL with any credentials removed (SARIF versionControlProvenance)."""
        url = self.text("config", "--get", "remote.origin.url", check=False).strip()
        if not url:
            return None
        return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


def read_batch(out: IO[bytes]) -> Iterator[tuple[bytes, bytes | None]]:
    """(object id, content or None when missing) for each object `git cat-file --batch` writes
    to `out`, until it closes."""
    while True:
        header = out.readline()
        if not header:
            return
        fields = header.split()
        if len(fields) < 3 or fields[1] == b"missing":
            yield (fields[0] if fields else b""), None
            continue
        data = out.read(int(fields[2]))
        out.read(1)  # the newline after the content; reading it apart avoids copying the blob
        yield fields[0], data


def finish_process(proc: subprocess.Popen[bytes]) -> str:
    """Wait for a process, close its pipes, and return what it wrote to stderr."""
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            try:
                stream.close()
            except OSError:
                pass
    err = b""
    if proc.stderr is not None:
        err = proc.stderr.read()
        proc.stderr.close()
    proc.wait()
    return err.decode("utf-8", "replace").strip()


_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote_path(raw: str) -> str:
    """Undo git's C-style quoting of unusual path names ("a\\tb" with octal escapes for bytes)."""
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and i + 3 < len(body) + 1:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")

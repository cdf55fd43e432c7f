"""Name the repository a finding belongs to, the same way on every clone of it."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from leakwarden.models import Finding

_CRED_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.\-]*://)(?:[^@/]*@)?", re.IGNORECASE)


def normalize_remote(url: str) -> str:
    """`git@host:org/repo.git`, `https://user:tok@host/org/repo` → `host/org/repo`.

    NOTE: credentials embedded in a remote URL are dropped, so they never reach a baseline.
    """
    url = url.strip()
    m = _CRED_RE.match(url)
    if m:
        url = url[m.end():]
    elif "@" in url.split(":", 1)[0] or re.match(r"^[\w.\-]+:", url):
        # scp-like syntax: [user@]host:path
        url = url.split("@", 1)[-1].replace(":", "/", 1)
    url = url.rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    host, _, rest = url.partition("/")
    return f"{host.lower()}/{rest}" if rest else host.lower()


def find_git_dir(start: Path) -> Path | None:
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # worktree or submodule: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[7:].strip())
                return target if target.is_absolute() else (folder / target).resolve()
    return None


def worktree_root(start: Path) -> Path | None:
    """The folder holding the `.git` (folder or file) of the checkout around `start`, else None."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _config_files(git_dir: Path) -> list[Path]:
    files = [git_dir / "config"]
    common = git_dir / "commondir"
    if common.is_file():
        base = Path(common.read_text(encoding="utf-8").strip())
        files.insert(0, (base if base.is_absolute() else git_dir / base) / "config")
    return files


def repository_identity(start: Path | None) -> str:
    """The normalised `origin` remote of the repository holding `start`, else "".

    An empty identity means "the local checkout": a baseline committed inside a repository
    then matches on every clone, whatever the clone's folder is called.
    """
    if start is None:
        return ""
    git_dir = find_git_dir(start)
    if git_dir is None:
        return ""
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read([str(p) for p in _config_files(git_dir)], encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return ""
    for section in ('remote "origin"', *(s for s in parser.sections() if s.startswith('remote "'))):
        if parser.has_option(section, "url"):
            return normalize_remote(parser.get(section, "url"))
    return ""


def finding_repository(finding: Finding, default: str = "") -> str:
    """A source that knows its repository says so in the location; else the scan's default."""
    extra = finding.location.extra
    for key in ("repository", "repository_uri"):
        value = extra.get(key)
        if value:
            return normalize_remote(str(value))
    return default

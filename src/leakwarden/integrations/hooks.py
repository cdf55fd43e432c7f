"""Install and remove git hooks that run leakwarden, without clobbering the user's own hooks.

A hook we write carries MARKER, so we only ever overwrite or delete our own. A hook that was
already there is renamed `<name>.pre-leakwarden` and chained: it runs first, with the same
arguments and standard input, and its failure stops the commit or push. `uninstall` puts it
back. `core.hooksPath` is honoured; `--global` installs into the global hooks path (setting
`git config --global core.hooksPath` when none is set, and unsetting it on uninstall), plus a
pass-through for every other hook git knows, so each repository's own hooks keep running.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from leakwarden.errors import UsageError
from leakwarden.sources.gitcmd import Git

MARKER = "# leakwarden-managed-hook"
CHAINED_SUFFIX = ".pre-leakwarden"
HOOKS = ("pre-commit", "pre-push")
# Every other hook git runs from the hooks folder (githooks(5)). With a global core.hooksPath git
# looks for them there and no longer in each repository, so a global install writes a small
# pass-through for each that runs the repository's own hooks/<name> (same arguments and input).
# proc-receive is left out: its mere presence changes how receive-pack talks to it.
PASSTHROUGH_HOOKS = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-merge-commit", "prepare-commit-msg",
    "commit-msg", "post-commit", "pre-rebase", "post-checkout", "post-merge", "post-rewrite",
    "pre-auto-gc", "reference-transaction", "push-to-checkout", "sendemail-validate",
    "fsmonitor-watchman", "post-index-change", "p4-changelist", "p4-prepare-changelist",
    "p4-post-changelist", "p4-pre-submit", "pre-receive", "update", "post-receive", "post-update",
)
# Left in a global hooks folder we created, so uninstall knows to unset core.hooksPath.
_STATE = ".leakwarden-set-hookspath"

_COMMANDS = {"pre-commit": "scan staged --quiet", "pre-push": "scan pre-push --quiet"}

_TEMPLATE = """#!/bin/sh
{marker} ({name})
# Installed by `leakwarden hooks install`; `leakwarden hooks uninstall` removes it and restores
# any hook it replaced (kept as {name}{suffix} and run first).
HOOK_DIR=$(dirname -- "$0")
CHAINED="$HOOK_DIR/{name}{suffix}"
LEAKWARDEN_PYTHON={python}
leakwarden_run() {{
    if [ -x "$LEAKWARDEN_PYTHON" ]; then
        "$LEAKWARDEN_PYTHON" -m leakwarden "$@"
    elif command -v leakwarden >/dev/null 2>&1; then
        leakwarden "$@"
    else
        echo "leakwarden: not found ($LEAKWARDEN_PYTHON is gone and leakwarden is not on PATH)." >&2
        echo "Reinstall it, or remove this hook with 'leakwarden hooks uninstall'." >&2
        exit 1
    fi
}}
{body}"""

_BODY = {
    "pre-commit": """if [ -x "$CHAINED" ]; then "$CHAINED" "$@" || exit $?; fi
{local}leakwarden_run {command}
""",
    # git gives pre-push its ref list on standard input: keep it for both hooks, and give it
    # back as it came (nothing at all when there is nothing to push, not an empty line).
    "pre-push": """LEAKWARDEN_INPUT=$(cat)
leakwarden_input() {{ if [ -n "$LEAKWARDEN_INPUT" ]; then printf '%s\\n' "$LEAKWARDEN_INPUT"; fi; }}
if [ -x "$CHAINED" ]; then leakwarden_input | "$CHAINED" "$@" || exit $?; fi
{local}leakwarden_input | leakwarden_run {command} "$@"
""",
}

# With a global hooks path git ignores the repository's own hooks; run them too. They live in
# the common git folder (a linked worktree's own git folder has none); `--git-path hooks` would
# answer core.hooksPath itself.
_FIND_LOCAL = """LOCAL_HOOK=
if LOCAL_DIR=$(git rev-parse --git-common-dir 2>/dev/null) && [ -f "$LOCAL_DIR/hooks/{name}" ] && [ -x "$LOCAL_DIR/hooks/{name}" ] \\
    && [ "$(cd "$LOCAL_DIR/hooks" && pwd -P)" != "$(cd "$HOOK_DIR" && pwd -P)" ]; then
    LOCAL_HOOK="$LOCAL_DIR/hooks/{name}"
fi
"""
_LOCAL = {
    "pre-commit": _FIND_LOCAL + """if [ -n "$LOCAL_HOOK" ]; then "$LOCAL_HOOK" "$@" || exit $?; fi
""",
    "pre-push": _FIND_LOCAL + """if [ -n "$LOCAL_HOOK" ]; then leakwarden_input | "$LOCAL_HOOK" "$@" || exit $?; fi
""",
}

_PASSTHROUGH = """#!/bin/sh
{marker} ({name}, pass-through)
# Installed by `leakwarden hooks install --global`: with a global core.hooksPath git no longer
# runs each repository's own hooks, so this runs the repository's own hooks/{name}, if any,
# with the same arguments and input. `leakwarden hooks uninstall --global` removes it.
HOOK_DIR=$(dirname -- "$0")
{find}if [ -n "$LOCAL_HOOK" ]; then exec "$LOCAL_HOOK" "$@"; fi
{fallback}"""

# What git does when there is no such hook, for the hooks whose mere presence changes that.
_FALLBACK = {
    # receive.denyCurrentBranch=updateInstead: update a clean work tree to the pushed commit.
    "push-to-checkout": """git update-index -q --ignore-submodules --refresh || exit 1
git diff-files --quiet --ignore-submodules -- || { echo "Working directory has unstaged changes" >&2; exit 1; }
if git rev-parse --verify --quiet HEAD >/dev/null; then BASE=HEAD; else BASE=$(git hash-object -t tree /dev/null); fi
git diff-index --quiet --cached --ignore-submodules "$BASE" -- || { echo "Working directory has staged changes" >&2; exit 1; }
exec git read-tree -u -m "$1"
""",
}


@dataclass(frozen=True, slots=True)
class HookChange:
    name: str
    path: Path
    action: str  # installed | updated | chained | removed | restored | absent | foreign | passthrough | foreign-passthrough | passthrough-removed


def passthrough_script(name: str) -> str:
    return _PASSTHROUGH.format(marker=MARKER, name=name, find=_FIND_LOCAL.format(name=name), fallback=_FALLBACK.get(name, "exit 0\n"))


def hook_script(name: str, *, global_install: bool = False, python: str | None = None) -> str:
    local = _LOCAL[name].format(name=name) if global_install else ""
    body = _BODY[name].format(command=_COMMANDS[name], local=local)
    return _TEMPLATE.format(marker=MARKER, name=name, suffix=CHAINED_SUFFIX, python=shlex.quote(python or sys.executable), body=body)


def is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(4096)
    except OSError:
        return False


def default_global_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "leakwarden" / "hooks"


def hooks_dir(repo: Path | None, global_install: bool) -> tuple[Path, bool]:
    """The folder git runs hooks from; for a global install, whether we must set hooksPath."""
    if global_install:
        current = _global_config()
        if current:
            return Path(os.path.expanduser(current)), False
        return default_global_dir(), True
    git = Git(repo)
    # Relative answers are relative to where git ran (-C repo), with core.hooksPath applied.
    raw = git.text("rev-parse", "--git-path", "hooks").strip()
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = Path(git.cwd or os.getcwd()) / path
    return path.resolve(), False


def _git_global(*args: str, check: bool = True) -> str:
    import subprocess

    from leakwarden.sources.gitcmd import git_executable

    proc = subprocess.run([git_executable(), "config", "--global", *args], capture_output=True)
    if check and proc.returncode != 0:
        raise UsageError(f"git config --global {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "replace").strip()


def _global_config() -> str:
    return _git_global("--get", "core.hooksPath", check=False)


def install(names: tuple[str, ...], repo: Path | None = None, *, global_install: bool = False) -> list[HookChange]:
    folder, set_config = hooks_dir(repo, global_install)
    folder.mkdir(parents=True, exist_ok=True)
    changes = []
    for name in names:
        target = folder / name
        chained = folder / f"{name}{CHAINED_SUFFIX}"
        action = "installed"
        if _present(target):
            if is_ours(target):
                action = "updated"
            elif _present(chained):
                raise UsageError(f"{target} exists and so does {chained.name}; move one of them away first")
            else:
                os.replace(target, chained)
                action = "chained"
        _write(target, hook_script(name, global_install=global_install))
        changes.append(HookChange(name, target, action))
    if global_install:
        for name in PASSTHROUGH_HOOKS:
            target = folder / name
            if (target.exists() or target.is_symlink()) and not is_ours(target):
                # Already a global hook of the user's own: it ran before us and still does.
                changes.append(HookChange(name, target, "foreign-passthrough"))
                continue
            _write(target, passthrough_script(name))
            changes.append(HookChange(name, target, "passthrough"))
    if set_config:
        _git_global("core.hooksPath", str(folder))
        (folder / _STATE).write_text("set by leakwarden hooks install --global\n", encoding="utf-8")
    return changes


def _present(path: Path) -> bool:
    """Whether there is anything at `path`: a symlink to a missing script counts."""
    return path.exists() or path.is_symlink()


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.leakwarden-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    os.replace(tmp, target)


def uninstall(names: tuple[str, ...], repo: Path | None = None, *, global_install: bool = False) -> list[HookChange]:
    if global_install:
        current = _global_config()
        folder = Path(os.path.expanduser(current)) if current else default_global_dir()
    else:
        folder, _ = hooks_dir(repo, False)
    changes = []
    for name in names:
        target = folder / name
        chained = folder / f"{name}{CHAINED_SUFFIX}"
        if not _present(target):
            changes.append(HookChange(name, target, "absent"))
            continue
        if not is_ours(target):
            changes.append(HookChange(name, target, "foreign"))
            continue
        target.unlink()
        if _present(chained):
            os.replace(chained, target)
            changes.append(HookChange(name, target, "restored"))
        else:
            changes.append(HookChange(name, target, "removed"))
    if global_install and not any(is_ours(folder / n) for n in HOOKS):
        # The pass-throughs only make sense while leakwarden's global hooks are there.
        for name in PASSTHROUGH_HOOKS:
            target = folder / name
            if is_ours(target):
                target.unlink()
                changes.append(HookChange(name, target, "passthrough-removed"))
    state = folder / _STATE
    if global_install and state.exists() and not any((folder / n).exists() for n in HOOKS):
        _git_global("--unset", "core.hooksPath", check=False)
        state.unlink()
    return changes

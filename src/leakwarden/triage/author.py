"""Who is acting: the git identity (`user.name <user.email>`), else the login name."""

from __future__ import annotations

import getpass
import os
import subprocess


def _git_config(key: str) -> str:
    try:
        out = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def current_author() -> str:
    name, email = _git_config("user.name"), _git_config("user.email")
    if name and email:
        return f"{name} <{email}>"
    if name or email:
        return name or email
    for var in ("USER", "USERNAME", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

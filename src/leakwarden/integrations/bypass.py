"""An explicit, logged way past a gate: `git push -o leakwarden-skip=<reason>` or LEAKWARDEN_SKIP.

A bypass always needs a reason (one without is refused) and always leaves a line in `<git dir>/leakwarden/bypass.log`
(JSON lines) and on standard error, so a skipped check is visible afterwards.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from leakwarden.errors import UsageError

PUSH_OPTION = "leakwarden-skip"
ENV_VAR = "LEAKWARDEN_SKIP"


def push_options(env: Mapping[str, str]) -> list[str]:
    """The `git push -o` values a pre-receive hook sees (GIT_PUSH_OPTION_COUNT / _N)."""
    try:
        count = int(env.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        return []
    return [env.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(count)]


class BypassWithoutReason(UsageError):
    """A bypass was asked for without saying why: refused, the check runs as usual."""


def bypass_reason(env: Mapping[str, str], *, use_push_options: bool = False) -> str | None:
    """The reason given for skipping, or None when no bypass was asked for.

    A bypass without a reason (`-o leakwarden-skip` with no or a blank `=reason`,
    LEAKWARDEN_SKIP=1 / true / yes) is refused with BypassWithoutReason, whose message says how
    to give one. LEAKWARDEN_SKIP unset, empty, 0, false or no asks for no bypass.
    """
    if use_push_options:
        for opt in push_options(env):
            name, _, reason = opt.partition("=")
            if name.strip() == PUSH_OPTION:
                reason = " ".join(reason.split())
                if not reason:
                    raise BypassWithoutReason(
                        f"a bypass needs a reason, it is logged: git push -o {PUSH_OPTION}=\"<reason>\" ..."
                    )
                return reason
    value = " ".join(env.get(ENV_VAR, "").split())
    if not value or value.lower() in ("0", "false", "no"):
        return None
    if value.lower() in ("1", "true", "yes"):
        raise BypassWithoutReason(f"a bypass needs a reason, it is logged: {ENV_VAR}=\"<reason>\" git commit ... (or git push ...)")
    return value


def log_bypass(git_dir: Path, gate: str, reason: str, refs: Sequence[str] = ()) -> Path | None:
    """Append one JSON line describing the bypass; returns the log path (None if unwritable)."""
    user = os.environ.get("GL_USERNAME") or os.environ.get("REMOTE_USER") or os.environ.get("GITHUB_ACTOR")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "gate": gate, "user": user, "reason": reason, "refs": list(refs)}
    path = git_dir / "leakwarden" / "bypass.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    except OSError:
        return None
    return path

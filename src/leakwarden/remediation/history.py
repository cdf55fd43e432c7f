"""Purge secrets from git history: the `git filter-repo --replace-text` file, the commands, the BFG way.

The replacement file necessarily holds the secrets themselves, so it is only written on request,
to a file only its owner can read; otherwise a redacted preview is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leakwarden.models import redact

REPLACEMENTS_NAME = "leakwarden-replacements.txt"

WARNINGS = (
    "Rotate first. Rewriting history does not un-leak anything: the values are already in every clone, fork, CI cache and backup. Purge only after each secret below is revoked and replaced.",
    "Rewriting history changes every commit hash from the first affected commit on, and a force-push affects every clone: tell every collaborator beforehand, freeze merges while you do it, and have everyone re-clone afterwards (merging an old clone back brings the secrets back).",
    "Hosting services keep old commits reachable through pull-request refs, forks and caches; ask the host's support to purge them (GitHub: contact support with the affected commit hashes).",
)


@dataclass(frozen=True, slots=True)
class Replacement:
    rule_id: str
    value: str | None  # None when the report was redacted
    display: str

    def line(self, reveal: bool) -> str:
        target = f"***REMOVED-{self.rule_id}***"
        literal = self.value if reveal and self.value is not None else self.display
        return f"{literal}==>{target}"


def literals(value: str) -> list[str]:
    """filter-repo and BFG match one line at a time: a multi-line secret becomes one literal per line."""
    if "\n" not in value:
        return [value]
    return [ln.strip() for ln in value.splitlines() if len(ln.strip()) >= 16 and not ln.strip().startswith("-----")]


def replacements(secrets: Sequence[tuple[str, str | None, str]]) -> list[Replacement]:
    """(rule_id, value or None, redacted display) per secret → one replacement per literal line."""
    out: list[Replacement] = []
    for rule_id, value, display in secrets:
        if value is None:
            out.append(Replacement(rule_id, None, display))
            continue
        lits = literals(value)
        if len(lits) == 1 and lits[0] == value:
            out.append(Replacement(rule_id, value, redact(value)))
            continue
        # A multi-line secret (a private key): its lines are shown as the whole secret is
        # everywhere else (header and length), never a few characters of each line.
        whole = redact(value)
        for i, lit in enumerate(lits, 1):
            out.append(Replacement(rule_id, lit, f"{whole} (line {i} of {len(lits)})"))
    return out


def replacements_text(reps: Sequence[Replacement], reveal: bool) -> str:
    """The real file is replacement lines only: `--replace-text` has no comments, so a header
    line would be one more literal replaced throughout the history. The preview has a header."""
    head = "" if reveal else "# REDACTED PREVIEW — the real file needs the full values (see below).\n"
    return head + "".join(r.line(reveal) + "\n" for r in reps)


def commands(repo_url: str | None, replacements_path: str) -> dict[str, list[str]]:
    """The shell commands, in order, for git filter-repo and for the BFG Repo-Cleaner."""
    url = repo_url or "<REPOSITORY-URL>"
    filter_repo = [
        "# 0. Every secret below is already revoked and replaced (see each plan).",
        "# 1. Work on a fresh mirror clone, not your working copy:",
        f"git clone --mirror {url} repo-purge.git",
        "cd repo-purge.git",
        "# 2. Replace each value with ***REMOVED-<rule>*** in every commit, branch and tag:",
        f"git filter-repo --replace-text {replacements_path}",
        "# 3. Check: the history scan must come back clean (or grep the log for the first characters):",
        "leakwarden scan git .",
        "# 4. filter-repo removes the 'origin' remote as a safety catch; add it back and force-push:",
        f"git remote add origin {url}",
        "git push --force --all origin",
        "git push --force --tags origin",
    ]
    bfg = [
        "# BFG protects the files of the latest commit: commit the code fix first (leakwarden fix).",
        f"git clone --mirror {url} repo-purge.git",
        f"java -jar bfg.jar --replace-text {replacements_path} repo-purge.git",
        "cd repo-purge.git",
        "git reflog expire --expire=now --all",
        "git gc --prune=now --aggressive",
        "git push --force --all",
        "git push --force --tags",
    ]
    after = [
        "# Afterwards, every collaborator: re-clone (or fetch and hard-reset every branch, dropping old local branches).",
        f"shred -u {replacements_path}  # the replacement file holds the secrets",
    ]
    return {"filter-repo": filter_repo, "bfg": bfg, "after": after}

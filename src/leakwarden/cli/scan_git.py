"""`leakwarden scan git | staged | pre-push | pre-receive | ci`: history and the lifecycle gates."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from leakwarden.cli.options import build_settings, emit_report, report_options, rule_options


@click.command("git")
@click.argument("repo", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--range", "rev_range", metavar="A..B", help="Only what these commits add (any `git rev-list` range).")
@click.option("--since-commit", metavar="SHA", help="Only commits after SHA up to HEAD (same as --range SHA..HEAD).")
@click.option("--branch", metavar="NAME", help="Only what is reachable from this branch (or any revision).")
@click.option("--max-file-size", default=None, metavar="SIZE", help="Skip blobs larger than this (default 25MB).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Ignore findings at paths matching this gitignore-style pattern (repeatable).")
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes (default: CPU count).")
@click.option("--max-occurrences", type=click.IntRange(0), default=10, show_default=True, help="Other places a secret occurs to list with each finding.")
@click.option("--whole-blobs", is_flag=True, help="Match every blob version in full instead of only what each pack delta changes (slower; the same findings, for comparison).")
@click.option("--new-only", is_flag=True, help="With --store: report only secrets in blobs this scan read, not the open incidents the store already knows in older blobs.")
@report_options
@rule_options
def git(repo: Path | None, rev_range: str | None, since_commit: str | None, branch: str | None, max_file_size: str | None, exclude: tuple[str, ...], jobs: int | None, max_occurrences: int, whole_blobs: bool, new_only: bool, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan git history: every blob in the repository once (all refs, deleted files, rewritten
    history), attributed to the commits that introduced it. Without --range/--since-commit/
    --branch every object in the repository is read, including ones no ref reaches any more.

    With --store, blobs already scanned under the same rules are not read again; open
    incidents in them are still reported (marked as previously seen) unless --new-only."""
    from leakwarden import api
    from leakwarden.config import parse_size
    from leakwarden.errors import UsageError

    chosen = [x for x in (rev_range, since_commit, branch) if x]
    if len(chosen) > 1:
        raise UsageError("use only one of --range, --since-commit and --branch")
    revs: tuple[str, ...] = ()
    if rev_range:
        revs = (rev_range,)
    elif since_commit:
        revs = (f"{since_commit}..HEAD",)
    elif branch:
        revs = (branch,)
    settings = build_settings(repo, **rule_opts).with_excludes(exclude).merged(
        max_file_size=parse_size(max_file_size) if max_file_size else None,
        jobs=jobs,
    )
    detector = api.build_detector(settings)
    if new_only and settings.store is None:
        raise UsageError("--new-only needs --store (the store knows what was scanned before)")
    result = api.scan_git(repo, revs, settings, detector, occurrence_cap=max_occurrences, new_only=new_only, whole_blobs=whole_blobs)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="git")


def _repo_option(func: Any) -> Any:
    return click.option("--repo", "-C", "repo", type=click.Path(file_okay=False, path_type=Path), default=None, help="Repository (default: the one git finds from here).")(func)


def _exclude_option(func: Any) -> Any:
    return click.option("--exclude", multiple=True, metavar="GLOB", help="Ignore findings at paths matching this gitignore-style pattern (repeatable; adds to exclude_paths from the config).")(func)


def _gate_settings(repo: Path | None, exclude: tuple[str, ...], rule_opts: dict[str, Any]) -> Any:
    """Settings for a gate: the config file (exclude_paths included) plus --exclude."""
    return build_settings(repo, **rule_opts).with_excludes(exclude)


def _bypassed(gate: str, refs: list[str] = (), *, use_push_options: bool = False, repo: Path | None = None) -> bool:  # type: ignore[assignment]
    """Honour an explicit bypass: log it and say so on standard error. A bypass without a
    reason is refused (BypassWithoutReason, exit code 2, with how to give one)."""
    import os

    from leakwarden.integrations.bypass import bypass_reason

    reason = bypass_reason(os.environ, use_push_options=use_push_options)
    if reason is None:
        return False
    logged = _log_bypass(gate, reason, list(refs), repo)
    click.echo(f"leakwarden: {gate} check skipped on request, reason: {reason}{logged}", err=True)
    return True


def _log_bypass(gate: str, reason: str, refs: list[str], repo: Path | None) -> str:
    """Append to `<git dir>/leakwarden/bypass.log` (and the team store when one is set); return
    "; logged to ..." for the message."""
    import os

    from leakwarden.integrations.bypass import log_bypass
    from leakwarden.sources.gitcmd import Git

    where = log_bypass(Git(repo).git_dir, gate, reason, refs)
    logged = f"; logged to {where}" if where else ""
    if os.environ.get("LEAKWARDEN_STORE"):
        # A team store keeps bypasses next to incidents; a hook never fails because of it.
        from leakwarden.errors import LeakwardenError
        from leakwarden.triage.bypass import record_bypass

        try:
            record_bypass(reason, {"gate": gate, "refs": refs, "repo": str(repo or ".")}, log=False)
            logged += "; recorded in the findings store"
        except LeakwardenError as exc:
            click.echo(f"leakwarden: warning: bypass not recorded in the store: {exc}", err=True)
    return logged


def _fingerprint_lines(findings: list[Any]) -> str:
    """One line per secret: where it is and the fingerprint to put in .leakwardenignore."""
    seen: dict[str, str] = {}
    for f in findings:
        seen.setdefault(f.fingerprint, f"{f.location.path or '?'}:{f.location.start_line}")
    return "".join(f"  {fp}  {where}\n" for fp, where in seen.items())


def _report_gate(result: Any, ruleset: Any, hint: str, **report: Any) -> None:
    """Report, then tell the user how to get past the gate properly (and the logged bypass)."""
    try:
        emit_report(result, ruleset, **report)
    except SystemExit:
        if result.findings and not report.get("exit_zero"):
            if report.get("fmt") == "text":
                hint = f"leakwarden: fingerprints (for .leakwardenignore or `leakwarden ignore FINGERPRINT -r REASON`):\n{_fingerprint_lines(result.findings)}{hint}"
            click.echo(hint, err=True)
        raise


@click.command("staged")
@_repo_option
@_exclude_option
@report_options
@rule_options
def staged(repo: Path | None, exclude: tuple[str, ...], fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan what the index adds (pre-commit). Only added lines are reported, at their line
    numbers in the new file. Skip with LEAKWARDEN_SKIP=<reason> (logged)."""
    from leakwarden import api

    if _bypassed("pre-commit", repo=repo):
        sys.exit(0)
    settings = _gate_settings(repo, exclude, rule_opts)
    detector = api.build_detector(settings)
    result = api.scan_staged(repo, settings, detector)
    hint = (
        "leakwarden: commit blocked. Remove the secret from the staged files (keep it in an environment\n"
        "variable or a secret manager), then `git add` again. If it is a false positive, add its\n"
        "fingerprint (above) to .leakwardenignore or put `leakwarden:allow` on the line.\n"
        "To skip this once (logged): LEAKWARDEN_SKIP=\"<reason>\" git commit ..."
    )
    _report_gate(result, detector.ruleset, hint, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="staged")


@click.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@_repo_option
@_exclude_option
@report_options
@rule_options
def pre_push(remote: str | None, url: str | None, repo: Path | None, exclude: tuple[str, ...], fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan the commits a push sends (git's pre-push hook protocol on standard input).

    Only commits not yet on any remote-tracking ref are scanned: new branches, force pushes and
    already-pushed commits are handled; deleted refs are skipped.
    Skip with LEAKWARDEN_SKIP=<reason> (logged)."""
    import os

    from leakwarden import api
    from leakwarden.sources.git_diff import parse_pre_push, update_revs
    from leakwarden.sources.gitcmd import Git

    updates = parse_pre_push(sys.stdin.read())
    if _bypassed("pre-push", [u.ref for u in updates], repo=repo):
        sys.exit(0)
    settings = _gate_settings(repo, exclude, rule_opts)
    detector = api.build_detector(settings)
    git = Git(repo)
    revs = update_revs(git, updates, "--remotes")
    if not updates and os.environ.get("PRE_COMMIT") == "1":
        # The pre-commit framework keeps git's stdin and passes the range in its environment.
        to_ref, from_ref = os.environ.get("PRE_COMMIT_TO_REF"), os.environ.get("PRE_COMMIT_FROM_REF")
        if to_ref:
            revs = [to_ref, *([f"^{from_ref}"] if from_ref and git.has_commit(from_ref) else []), "--not", "--remotes"]
        elif git.has_head():
            revs = ["HEAD", "--not", "--remotes"]
    result, _ = api.scan_commits(repo, revs, settings, detector, labels={u.new: u.ref for u in updates})
    hint = (
        "leakwarden: push blocked. The secret is in a commit you are about to push: rewrite that\n"
        "commit (`git rebase -i`, `git commit --amend`; a tag: `git tag -d`) and rotate the secret if\n"
        "it was shared. If it is a false positive, add its fingerprint (above) to .leakwardenignore.\n"
        "To skip this once (logged): LEAKWARDEN_SKIP=\"<reason>\" git push ..."
    )
    _report_gate(result, detector.ruleset, hint, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="pre-push")


# The scan itself stops at the deadline; this much later every other step (loading the rules,
# resolving the pushed refs, a slow store) is cut short too, so the hook never holds a push.
HARD_LIMIT_GRACE = 2.0


class _OutOfTime(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise _OutOfTime in the block after `seconds` (SIGALRM, where the platform has it)."""
    import signal

    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@click.command("pre-receive")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Time budget in seconds for the whole check.")
@click.option("--on-timeout", type=click.Choice(["allow", "reject"]), default="allow", show_default=True, help="What to do with a push whose check ran out of time.")
@click.option("--show-secrets", is_flag=True, help="Print secret values in full in the rejection (redacted by default).")
@_exclude_option
@rule_options
def pre_receive(timeout: float, on_timeout: str, show_secrets: bool, exclude: tuple[str, ...], **rule_opts: Any) -> None:
    """Server-side hook: reject pushes that add secrets (stdin: `<old> <new> <ref>` lines).

    Reads pushed objects from git's quarantine directory (the environment git gives the hook).
    Bypass with `git push -o leakwarden-skip=<reason>` (needs receive.advertisePushOptions) or
    LEAKWARDEN_SKIP=<reason> in the server environment; every bypass is logged."""
    import time

    from leakwarden import api
    from leakwarden.models import ScanResult
    from leakwarden.sources.git_diff import parse_pre_receive, update_revs
    from leakwarden.sources.gitcmd import Git

    deadline = time.monotonic() + timeout
    updates = parse_pre_receive(sys.stdin.read())
    if _bypassed("pre-receive", [u.ref for u in updates], use_push_options=True):
        sys.exit(0)
    try:
        with _alarm(timeout + HARD_LIMIT_GRACE):
            git = Git(None)
            settings = _gate_settings(None, exclude, rule_opts)
            detector = api.build_detector(settings)
            revs = update_revs(git, updates, "--all")
            result, finished = api.scan_commits(None, revs, settings, detector, deadline, labels={u.new: u.ref for u in updates})
    except _OutOfTime:  # outside the block too: the signal may land while it is being disarmed
        result, finished = ScanResult(), False
    out = sys.stderr
    if result.findings:
        n = len(result.findings)
        out.write(f"leakwarden: push rejected: {n} secret{'s' if n != 1 else ''} in the pushed commits\n\n")
        for f in result.findings:
            secret = f.secret.reveal() if show_secrets else f.secret.redacted
            out.write(f"  {f.location.path}:{f.location.start_line}  {f.rule_name} ({f.rule_id})  {secret}\n")
            if f.location.commit:
                who = f.location.extra.get("author", "")
                out.write(f"      commit {f.location.commit[:12]} by {who}: {f.location.extra.get('subject', '')}\n")
            else:
                out.write(f"      {f.location.extra.get('object', 'object')} (pushed as a tag, not in a commit)\n")
            out.write(f"      fingerprint {f.fingerprint}\n")
        out.write(
            "\nRemove the secret from those commits (rewrite them) or tags, rotate it, and push again.\n"
            "If this is a false positive, add its fingerprint to .leakwardenignore on the server\n"
            "or bypass once (logged): git push -o leakwarden-skip=\"<reason>\"\n"
        )
        sys.exit(1)
    if not finished:
        if on_timeout == "reject":
            out.write(f"leakwarden: push rejected: the secret check did not finish within {timeout:.0f}s.\n"
                      "Push fewer commits at a time, or bypass (logged): git push -o leakwarden-skip=\"<reason>\"\n")
            sys.exit(1)
        logged = _log_bypass("pre-receive", f"check did not finish within {timeout:g}s (--on-timeout allow)", [u.ref for u in updates], None)
        out.write(f"leakwarden: warning: the secret check did not finish within {timeout:.0f}s; push allowed unchecked{logged}.\n")
    sys.exit(0)


@click.command("ci")
@click.option("--range", "rev_range", metavar="A..B", help="Scan this range instead of working it out from the CI environment.")
@_repo_option
@_exclude_option
@report_options
@rule_options
def ci(rev_range: str | None, repo: Path | None, exclude: tuple[str, ...], fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool, **rule_opts: Any) -> None:
    """Scan the commits a CI build brings: detects GitHub Actions, GitLab CI, CircleCI, Jenkins,
    Bitbucket Pipelines, Azure Pipelines and Travis CI, and works out the range for pushes,
    pull/merge requests, first builds of a branch and force pushes. --range overrides."""
    import os

    from leakwarden import api
    from leakwarden.errors import UsageError
    from leakwarden.integrations.ci import check_not_cut, compute_range, detect
    from leakwarden.sources.gitcmd import Git

    git = Git(repo)
    if rev_range:
        if rev_range.startswith("-"):
            raise UsageError(f"not a range: {rev_range}")
        revs: tuple[str, ...] = (rev_range,)
        check_not_cut(git, revs, "--range")
        click.echo(f"leakwarden: scanning {rev_range} (--range)", err=True)
    else:
        found = compute_range(git, detect(os.environ))
        revs = found.revs
        click.echo(f"leakwarden: {found.description}", err=True)
    settings = _gate_settings(repo, exclude, rule_opts)
    detector = api.build_detector(settings)
    result, _ = api.scan_commits(repo, revs, settings, detector)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="ci")

"""Work out which commits a CI build should scan, from the CI provider's own environment.

Each provider documents variables for the commit being built and, for pushes and pull/merge
requests, a base to compare with. The result is a list of `git log` revisions:
- push with a known previous commit that we have: `before..after`;
- pull/merge request: `base..head`;
- first build of a branch, unknown or missing previous commit (force push, shallow fetch):
  the commits on this branch that no other remote branch has (`after --not <other refs>`).
When the provider cannot be recognised, or it gives no commit at all, CIError says what to pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from leakwarden.errors import UsageError
from leakwarden.sources.gitcmd import Z40, Git


class CIError(UsageError):
    pass


@dataclass(frozen=True, slots=True)
class CIContext:
    """What the provider told us: the commit built, a base if any, the branch and the event."""

    provider: str
    event: str  # push | pull_request
    head: str
    base: str | None = None  # commit or ref to compare with
    branch: str | None = None  # the branch being built (excluded from "other refs")
    target_branch: str | None = None  # PR/MR target branch name


@dataclass(frozen=True, slots=True)
class CIRange:
    provider: str
    event: str
    revs: tuple[str, ...]
    description: str


def _z(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if not value or value == Z40 or set(value) == {"0"} else value


def _github(env: Mapping[str, str]) -> CIContext | None:
    if env.get("GITHUB_ACTIONS") != "true":
        return None
    event_name = env.get("GITHUB_EVENT_NAME", "")
    payload: dict = {}
    if env.get("GITHUB_EVENT_PATH"):
        try:
            with open(env["GITHUB_EVENT_PATH"], encoding="utf-8") as fh:
                payload = json.load(fh)
        except (OSError, ValueError):
            payload = {}
    if event_name in ("pull_request", "pull_request_target") and isinstance(payload.get("pull_request"), dict):
        pr = payload["pull_request"]
        return CIContext("github", "pull_request", head=pr.get("head", {}).get("sha") or env.get("GITHUB_SHA", ""), base=pr.get("base", {}).get("sha"), branch=env.get("GITHUB_HEAD_REF"), target_branch=env.get("GITHUB_BASE_REF"))
    if event_name == "merge_group" and isinstance(payload.get("merge_group"), dict):
        # A merge queue builds its group on a temporary branch: what it adds to the target.
        group = payload["merge_group"]
        target = str(group.get("base_ref") or "").removeprefix("refs/heads/") or None
        return CIContext("github", "pull_request", head=group.get("head_sha") or env.get("GITHUB_SHA", ""), base=group.get("base_sha"), branch=env.get("GITHUB_REF_NAME"), target_branch=target)
    ref = env.get("GITHUB_REF", "")
    branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else env.get("GITHUB_REF_NAME")
    return CIContext("github", "push", head=payload.get("after") or env.get("GITHUB_SHA", ""), base=_z(payload.get("before")), branch=branch)


def _gitlab(env: Mapping[str, str]) -> CIContext | None:
    if env.get("GITLAB_CI") != "true":
        return None
    head = env.get("CI_COMMIT_SHA", "")
    if env.get("CI_MERGE_REQUEST_IID"):
        base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or env.get("CI_MERGE_REQUEST_TARGET_BRANCH_SHA")
        return CIContext("gitlab", "pull_request", head=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or head, base=_z(base) or _remote(env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")), branch=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"), target_branch=env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"))
    return CIContext("gitlab", "push", head=head, base=_z(env.get("CI_COMMIT_BEFORE_SHA")), branch=env.get("CI_COMMIT_BRANCH") or env.get("CI_COMMIT_REF_NAME"))


def _circleci(env: Mapping[str, str]) -> CIContext | None:
    if env.get("CIRCLECI") != "true":
        return None
    head = env.get("CIRCLE_SHA1", "")
    base = None
    compare = env.get("CIRCLE_COMPARE_URL", "")
    if "/compare/" in compare:
        spec = compare.rsplit("/compare/", 1)[1]
        left = spec.split("...")[0].split("..")[0]
        base = _z(left) if left and "^" not in left else None
    event = "pull_request" if env.get("CIRCLE_PULL_REQUEST") else "push"
    return CIContext("circleci", event, head=head, base=base, branch=env.get("CIRCLE_BRANCH"))


def _jenkins(env: Mapping[str, str]) -> CIContext | None:
    if not (env.get("JENKINS_URL") or env.get("JENKINS_HOME")):
        return None
    head = env.get("GIT_COMMIT", "")
    if env.get("CHANGE_ID"):
        return CIContext("jenkins", "pull_request", head=head, base=_remote(env.get("CHANGE_TARGET")), branch=env.get("CHANGE_BRANCH") or env.get("BRANCH_NAME"), target_branch=env.get("CHANGE_TARGET"))
    base = _z(env.get("GIT_PREVIOUS_SUCCESSFUL_COMMIT")) or _z(env.get("GIT_PREVIOUS_COMMIT"))
    branch = (env.get("GIT_BRANCH") or env.get("BRANCH_NAME") or "").removeprefix("origin/") or None
    return CIContext("jenkins", "push", head=head, base=base, branch=branch)


def _bitbucket(env: Mapping[str, str]) -> CIContext | None:
    if not env.get("BITBUCKET_BUILD_NUMBER"):
        return None
    head = env.get("BITBUCKET_COMMIT", "")
    if env.get("BITBUCKET_PR_ID"):
        target = env.get("BITBUCKET_PR_DESTINATION_BRANCH")
        base = _z(env.get("BITBUCKET_PR_DESTINATION_COMMIT")) or _remote(target)
        return CIContext("bitbucket", "pull_request", head=head, base=base, branch=env.get("BITBUCKET_BRANCH"), target_branch=target)
    return CIContext("bitbucket", "push", head=head, branch=env.get("BITBUCKET_BRANCH"))


def _azure(env: Mapping[str, str]) -> CIContext | None:
    if (env.get("TF_BUILD") or "").lower() != "true":
        return None
    head = env.get("BUILD_SOURCEVERSION", "")
    if env.get("SYSTEM_PULLREQUEST_PULLREQUESTID") or env.get("BUILD_REASON") == "PullRequest":
        target = (env.get("SYSTEM_PULLREQUEST_TARGETBRANCH") or "").removeprefix("refs/heads/") or None
        source = (env.get("SYSTEM_PULLREQUEST_SOURCEBRANCH") or "").removeprefix("refs/heads/") or None
        return CIContext("azure", "pull_request", head=env.get("SYSTEM_PULLREQUEST_SOURCECOMMITID") or head, base=_remote(target), branch=source, target_branch=target)
    branch = (env.get("BUILD_SOURCEBRANCH") or "").removeprefix("refs/heads/") or None
    return CIContext("azure", "push", head=head, branch=branch)


def _travis(env: Mapping[str, str]) -> CIContext | None:
    if env.get("TRAVIS") != "true":
        return None
    head = env.get("TRAVIS_COMMIT", "")
    rng = env.get("TRAVIS_COMMIT_RANGE", "")
    left = rng.split("...")[0].split("..")[0] if rng else ""
    if env.get("TRAVIS_PULL_REQUEST", "false") != "false":
        target = env.get("TRAVIS_BRANCH")
        return CIContext("travis", "pull_request", head=env.get("TRAVIS_PULL_REQUEST_SHA") or head, base=_z(left) or _remote(target), branch=env.get("TRAVIS_PULL_REQUEST_BRANCH"), target_branch=target)
    return CIContext("travis", "push", head=head, base=_z(left), branch=env.get("TRAVIS_BRANCH"))


def _remote(branch: str | None) -> str | None:
    return f"refs/remotes/origin/{branch}" if branch else None


PROVIDERS: dict[str, Callable[[Mapping[str, str]], CIContext | None]] = {
    "github": _github,
    "gitlab": _gitlab,
    "circleci": _circleci,
    "jenkins": _jenkins,
    "bitbucket": _bitbucket,
    "azure": _azure,
    "travis": _travis,
}


def detect(env: Mapping[str, str]) -> CIContext:
    for read in PROVIDERS.values():
        ctx = read(env)
        if ctx is not None:
            if not ctx.head:
                raise CIError(f"{ctx.provider}: the environment does not say which commit is built; pass --range A..B")
            return ctx
    raise CIError(
        "could not tell which CI this is (looked for GitHub Actions, GitLab CI, CircleCI, Jenkins, "
        "Bitbucket Pipelines, Azure Pipelines and Travis CI variables); pass --range A..B"
    )


def _other_refs(git: Git, branch: str | None, head: str) -> list[str]:
    """Tips of every remote-tracking and local branch except the one being built."""
    out = git.text("for-each-ref", "--format=%(objectname) %(refname)", "refs/remotes", "refs/heads", check=False)
    skip = {f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"} if branch else set()
    tips = []
    for line in out.splitlines():
        sha, _, name = line.partition(" ")
        if name in skip or name.endswith("/HEAD") or sha == head:
            continue
        tips.append(f"^{sha}")
    return sorted(set(tips))


def shallow_cut(git: Git, revs: Sequence[str]) -> str | None:
    """A commit of `revs` whose parents this shallow clone did not fetch, if any. git shows such
    a commit as if it had no parents: its diff is its whole tree, and what the commits behind it
    added (and removed again) is never read."""
    if not git.is_shallow() or not revs:
        return None
    where = git.text("rev-parse", "--git-path", "shallow", check=False).strip()
    try:
        with open(os.path.join(git.cwd or "", where), encoding="ascii") as fh:
            grafted = set(fh.read().split())
    except OSError:
        return None
    listed = git.run("rev-list", *revs, "--", check=False).stdout.decode("ascii", "replace").split()
    for sha in listed:
        # A true root commit may be listed as shallow too; only one with parents is cut.
        if sha in grafted and b"\nparent " in git.run("cat-file", "commit", sha, check=False).stdout.split(b"\n\n", 1)[0]:
            return sha
    return None


def check_not_cut(git: Git, revs: Sequence[str], who: str) -> None:
    """Refuse a range that reaches past a shallow clone's cut rather than pass it half-read."""
    cut = shallow_cut(git, revs)
    if cut is not None:
        raise CIError(
            f"{who}: this clone is shallow and the commits to scan reach past what it fetched (the parents of "
            f"{cut[:12]} are missing), so they cannot all be read; fetch full history (fetch-depth: 0, GIT_DEPTH: 0, "
            "or `git fetch --unshallow`) or pass a --range inside the fetched history"
        )


def compute_range(git: Git, ctx: CIContext) -> CIRange:
    found = _compute_range(git, ctx)
    check_not_cut(git, found.revs, ctx.provider)
    return found


def _compute_range(git: Git, ctx: CIContext) -> CIRange:
    head = ctx.head
    if not git.has_commit(head):
        raise CIError(f"{ctx.provider}: commit {head[:12]} is not in this clone; fetch it (e.g. actions/checkout with fetch-depth: 0) or pass --range")
    if ctx.base:
        base_sha = None
        if git.has_commit(ctx.base):
            base_sha = git.resolve(ctx.base)
        if base_sha is not None:
            if ctx.event == "pull_request":
                # Only what the PR adds: commits on head that are not on the target.
                return CIRange(ctx.provider, ctx.event, (head, f"^{base_sha}"), f"{ctx.provider} pull request: {base_sha[:12]}..{head[:12]}")
            forced = git.run("merge-base", "--is-ancestor", base_sha, head, check=False).returncode != 0
            what = "force push" if forced else "push"
            return CIRange(ctx.provider, ctx.event, (head, f"^{base_sha}"), f"{ctx.provider} {what}: {base_sha[:12]}..{head[:12]}")
    others = _other_refs(git, ctx.branch, head)
    why = "previous commit unknown or not fetched" if ctx.base else "first build of the branch or no previous commit given"
    if git.is_shallow() and not others:
        raise CIError(f"{ctx.provider}: {why}, and this clone is shallow with no other branches to compare with; fetch full history (fetch-depth: 0) or pass --range")
    return CIRange(ctx.provider, ctx.event, (head, *others), f"{ctx.provider} {ctx.event}: commits of {ctx.branch or head[:12]} not on any other branch ({why})")

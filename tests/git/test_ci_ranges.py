"""CI range detection for seven providers, push and pull/merge request, on a real clone."""

from __future__ import annotations

import json
import subprocess

import pytest
from gitrepo import Repo, crates_token, git_env
from tests.conftest import run_cli

from leakwarden.api import scan_commits
from leakwarden.integrations.ci import CIError, compute_range, detect
from leakwarden.sources.gitcmd import Git

S0, S1, S2, S3 = (crates_token(i) for i in (21, 22, 23, 24))
Z40 = "0" * 40
PROVIDER_MARKERS = ("GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "JENKINS_URL", "JENKINS_HOME", "BITBUCKET_BUILD_NUMBER", "TF_BUILD", "TRAVIS")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """origin: main = c0 (S0); other = f1 (S1); feature = f2 (S2 on top of f1). A CI clone of it,
    plus a commit x that is not an ancestor of f2 (the old tip before a force push)."""
    tmp = tmp_path_factory.mktemp("ci")
    origin = Repo(tmp / "origin.git", bare=True)
    dev = Repo(tmp / "dev")
    c0 = dev.commit("base", {"base.env": f"T={S0}\n"})
    dev.git("checkout", "-q", "-b", "feature")
    f1 = dev.commit("f1", {"one.env": f"T={S1}\n"})
    dev.git("branch", "other")
    f2 = dev.commit("f2", {"two.env": f"T={S2}\n"})
    dev.git("checkout", "-q", "-b", "rewritten", c0)
    x = dev.commit("old tip", {"x.env": f"T={S3}\n"})
    dev.git("remote", "add", "origin", str(origin.path))
    dev.git("push", "-q", "origin", "main", "feature", "other", "rewritten")
    ci = tmp / "ci"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(ci)], check=True, env=git_env(dev.home))
    repo = Repo(ci, init=False, home=dev.home)
    repo.git("checkout", "-q", "--detach", f2)
    repo.git("push", "-q", "origin", ":rewritten")  # the old tip is gone from the remote...
    repo.git("fetch", "-q", "--prune")  # ...but its objects stay in the clone
    return {"repo": repo, "c0": c0, "f1": f1, "f2": f2, "x": x, "tmp": tmp}


def github_event(world, name, payload):
    p = world["tmp"] / f"{name}.json"
    p.write_text(json.dumps(payload))
    return str(p)


def envs(w):
    c0, f1, f2, x = w["c0"], w["f1"], w["f2"], w["x"]
    gh = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": f2, "GITHUB_REF": "refs/heads/feature"}
    return {
        # name: (environment, expected secrets)
        "github-push": ({**gh, "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": github_event(w, "push", {"before": f1, "after": f2})}, {S2}),
        "github-first-build": ({**gh, "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": github_event(w, "new", {"before": Z40, "after": f2})}, {S2}),
        "github-force-push": ({**gh, "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": github_event(w, "force", {"before": x, "after": f2, "forced": True})}, {S1, S2}),
        "github-pr": ({**gh, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature", "GITHUB_EVENT_PATH": github_event(w, "pr", {"pull_request": {"base": {"sha": c0}, "head": {"sha": f2}}})}, {S1, S2}),
        "github-merge-queue-pr": ({**gh, "GITHUB_EVENT_NAME": "merge_group", "GITHUB_REF": "refs/heads/gh-readonly-queue/main/pr-3-abc", "GITHUB_EVENT_PATH": github_event(w, "queue", {"merge_group": {"head_sha": f2, "base_sha": c0, "base_ref": "refs/heads/main", "head_ref": "refs/heads/gh-readonly-queue/main/pr-3-abc"}})}, {S1, S2}),
        "gitlab-push": ({"GITLAB_CI": "true", "CI_COMMIT_SHA": f2, "CI_COMMIT_BEFORE_SHA": f1, "CI_COMMIT_BRANCH": "feature"}, {S2}),
        "gitlab-first-build": ({"GITLAB_CI": "true", "CI_COMMIT_SHA": f2, "CI_COMMIT_BEFORE_SHA": Z40, "CI_COMMIT_BRANCH": "feature"}, {S2}),
        "gitlab-force-push-unfetched": ({"GITLAB_CI": "true", "CI_COMMIT_SHA": f2, "CI_COMMIT_BEFORE_SHA": "1" * 40, "CI_COMMIT_BRANCH": "feature"}, {S2}),
        "gitlab-mr": ({"GITLAB_CI": "true", "CI_COMMIT_SHA": f2, "CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_DIFF_BASE_SHA": c0, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}, {S1, S2}),
        "circleci-push": ({"CIRCLECI": "true", "CIRCLE_SHA1": f2, "CIRCLE_BRANCH": "feature"}, {S2}),
        "circleci-push-compare-url": ({"CIRCLECI": "true", "CIRCLE_SHA1": f2, "CIRCLE_BRANCH": "feature", "CIRCLE_COMPARE_URL": f"https://github.com/acme/app/compare/{c0[:12]}...{f2[:12]}"}, {S1, S2}),
        "circleci-pr": ({"CIRCLECI": "true", "CIRCLE_SHA1": f2, "CIRCLE_BRANCH": "feature", "CIRCLE_PULL_REQUEST": "https://github.com/acme/app/pull/3"}, {S2}),
        "jenkins-push": ({"JENKINS_URL": "http://jenkins.local/", "GIT_COMMIT": f2, "GIT_PREVIOUS_SUCCESSFUL_COMMIT": f1, "GIT_BRANCH": "origin/feature"}, {S2}),
        "jenkins-pr": ({"JENKINS_URL": "http://jenkins.local/", "GIT_COMMIT": f2, "CHANGE_ID": "3", "CHANGE_TARGET": "main", "CHANGE_BRANCH": "feature"}, {S1, S2}),
        "bitbucket-push": ({"BITBUCKET_BUILD_NUMBER": "9", "BITBUCKET_COMMIT": f2, "BITBUCKET_BRANCH": "feature"}, {S2}),
        "bitbucket-pr": ({"BITBUCKET_BUILD_NUMBER": "9", "BITBUCKET_COMMIT": f2, "BITBUCKET_BRANCH": "feature", "BITBUCKET_PR_ID": "4", "BITBUCKET_PR_DESTINATION_BRANCH": "main"}, {S1, S2}),
        "azure-push": ({"TF_BUILD": "True", "BUILD_SOURCEVERSION": f2, "BUILD_SOURCEBRANCH": "refs/heads/feature", "BUILD_REASON": "IndividualCI"}, {S2}),
        "azure-pr": ({"TF_BUILD": "True", "BUILD_SOURCEVERSION": f2, "BUILD_REASON": "PullRequest", "SYSTEM_PULLREQUEST_PULLREQUESTID": "5", "SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main", "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature", "SYSTEM_PULLREQUEST_SOURCECOMMITID": f2}, {S1, S2}),
        "travis-push": ({"TRAVIS": "true", "TRAVIS_COMMIT": f2, "TRAVIS_COMMIT_RANGE": f"{f1}...{f2}", "TRAVIS_BRANCH": "feature", "TRAVIS_PULL_REQUEST": "false"}, {S2}),
        "travis-first-build": ({"TRAVIS": "true", "TRAVIS_COMMIT": f2, "TRAVIS_COMMIT_RANGE": "", "TRAVIS_BRANCH": "feature", "TRAVIS_PULL_REQUEST": "false"}, {S2}),
        "travis-pr": ({"TRAVIS": "true", "TRAVIS_COMMIT": f2, "TRAVIS_PULL_REQUEST": "12", "TRAVIS_BRANCH": "main", "TRAVIS_PULL_REQUEST_SHA": f2, "TRAVIS_PULL_REQUEST_BRANCH": "feature"}, {S1, S2}),
    }


CASES = [
    "github-push", "github-first-build", "github-force-push", "github-pr", "github-merge-queue-pr",
    "gitlab-push", "gitlab-first-build", "gitlab-force-push-unfetched", "gitlab-mr",
    "circleci-push", "circleci-push-compare-url", "circleci-pr",
    "jenkins-push", "jenkins-pr", "bitbucket-push", "bitbucket-pr",
    "azure-push", "azure-pr", "travis-push", "travis-first-build", "travis-pr",
]


@pytest.mark.parametrize("case", CASES)
def test_provider_range(world, case):
    env, expected = envs(world)[case]
    ctx = detect(env)
    assert ctx.provider == case.split("-")[0]
    assert ctx.event == ("pull_request" if case.endswith(("-pr", "-mr")) else "push")
    rng = compute_range(Git(world["repo"].path), ctx)
    result, _ = scan_commits(world["repo"].path, rng.revs)
    assert {f.secret.reveal() for f in result.findings} == expected, rng
    if "force" in case and "unfetched" not in case:
        assert "force push" in rng.description


def cli_env(extra):
    return {**{k: "" for k in PROVIDER_MARKERS}, **extra}


def test_scan_ci_cli_and_range_override(world):
    env, _ = envs(world)["gitlab-push"]
    proc = run_cli("scan", "ci", "-f", "json", cwd=world["repo"].path, env=cli_env(env))
    assert proc.returncode == 1, proc.stderr
    assert b"gitlab push" in proc.stderr
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["two.env"]
    proc = run_cli("scan", "ci", "--range", f"{world['c0']}..{world['f1']}", "-f", "json", cwd=world["repo"].path, env=cli_env({}))
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["one.env"]


def test_unknown_ci_and_missing_commit_are_clear_errors(world):
    proc = run_cli("scan", "ci", cwd=world["repo"].path, env=cli_env({}))
    assert proc.returncode == 2 and b"could not tell which CI" in proc.stderr and b"--range" in proc.stderr
    with pytest.raises(CIError, match="does not say which commit"):
        detect({"GITLAB_CI": "true"})
    with pytest.raises(CIError, match="not in this clone"):
        compute_range(Git(world["repo"].path), detect({"GITLAB_CI": "true", "CI_COMMIT_SHA": "2" * 40}))


def test_a_shallow_clone_that_cuts_the_range_is_an_error_not_an_all_clear(tmp_path):
    """actions/checkout with fetch-depth: 2 (or GitLab's GIT_DEPTH) on a pull request: the base
    is present, but the early commits of the branch are not. git shows the oldest fetched
    commit as if it had no parents, so a secret added and removed behind it went unseen."""
    origin = Repo(tmp_path / "origin.git", bare=True)
    dev = Repo(tmp_path / "dev")
    c0 = dev.commit("base", {"README": "hi\n"})
    dev.git("checkout", "-q", "-b", "feature")
    dev.commit("add", {"app.env": f"T={S1}\n"})
    b = dev.commit("remove", remove=("app.env",))
    c = dev.commit("more", {"README": "hi again\n"})
    dev.git("remote", "add", "origin", str(origin.path))
    dev.git("push", "-q", "origin", "main", "feature")
    ci = Repo(tmp_path / "ci", home=dev.home)
    ci.git("remote", "add", "origin", f"file://{origin.path}")
    ci.git("fetch", "-q", "--depth=2", "origin", "+refs/heads/feature:refs/remotes/origin/feature")
    ci.git("fetch", "-q", "--depth=1", "origin", "+refs/heads/main:refs/remotes/origin/main")
    ci.git("checkout", "-q", "--detach", c)
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"pull_request": {"base": {"sha": c0}, "head": {"sha": c}}}))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event), "GITHUB_SHA": c, "GITHUB_HEAD_REF": "feature", "GITHUB_BASE_REF": "main"}
    with pytest.raises(CIError, match=f"shallow.*parents of {b[:12]}.*fetch-depth: 0"):
        compute_range(Git(ci.path), detect(env))
    proc = run_cli("scan", "ci", cwd=ci.path, env=cli_env(env))
    assert proc.returncode == 2 and b"shallow" in proc.stderr, proc.stderr
    proc = run_cli("scan", "ci", "--range", f"{c0}..{c}", cwd=ci.path, env=cli_env({}))
    assert proc.returncode == 2 and b"shallow" in proc.stderr, proc.stderr
    # A range inside the fetched history is fine.
    proc = run_cli("scan", "ci", "--range", f"{b}..{c}", cwd=ci.path, env=cli_env({}))
    assert proc.returncode == 0, proc.stderr

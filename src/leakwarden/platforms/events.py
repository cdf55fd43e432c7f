"""Turn a verified webhook payload into scan jobs (none for events we do not scan).

A job is a plain dict (JSON in the queue): platform, kind ("push" or "pr"), repo (a display
name such as `acme/app`), clone_url, ref, before, after, pr (number or None), plus what the
report-back needs (GitHub installation id, GitLab project id, Bitbucket workspace/project).
A Bitbucket push can change several branches and tags at once: one job per change. A Bitbucket
Cloud request from a fork also carries `head_url`, the fork to fetch its branch from.

The event type is looked at first, so an event we do not scan (an App's `installation`
events, Bitbucket Data Center's `diagnostics:ping`) is never required to name a repository.
"""

from __future__ import annotations

from typing import Any

Z40 = "0" * 40
PR_ACTIONS_GITHUB = {"opened", "synchronize", "reopened"}
MR_ACTIONS_GITLAB = {"open", "update", "reopen"}


class EventError(ValueError):
    """A payload that is not the shape its event type promises."""


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            raise EventError(f"payload lacks {'.'.join(path)}")
        d = d[p]
    return d


def _obj(d: Any, *path: str) -> dict[str, Any]:
    value = _get(d, *path)
    if not isinstance(value, dict):
        raise EventError(f"payload's {'.'.join(path)} is not an object")
    return value


def _opt(d: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional sub-object: {} when absent or not an object."""
    value = d.get(key)
    return value if isinstance(value, dict) else {}


def _name(d: Any, *path: str) -> str:
    value = _get(d, *path)
    if not isinstance(value, str) or not value:
        raise EventError(f"payload's {'.'.join(path)} is not a name")
    return value


def _number(d: Any, *path: str) -> int:
    value = _get(d, *path)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise EventError(f"payload's {'.'.join(path)} is not a number")
    return int(value)


def _sha(value: Any) -> str:
    if not isinstance(value, str) or len(value) not in (40, 64) or any(c not in "0123456789abcdef" for c in value.lower()):
        if value in (None, ""):
            return Z40
        raise EventError(f"not a commit id: {str(value)[:80]!r}")
    return value.lower()


def parse(platform: str, event: str, payload: Any) -> list[dict[str, Any]]:
    """The jobs a delivery asks for; [] for an event we do not scan."""
    if not isinstance(payload, dict):
        raise EventError("payload is not a JSON object")
    return {"github": _github, "gitlab": _gitlab, "bitbucket": _bitbucket, "bitbucket-dc": _bitbucket_dc}[platform](event, payload)


def _job(platform: str, kind: str, repo: str, clone_url: str, ref: str, before: str, after: str, pr: int | None = None, **extra: Any) -> dict[str, Any]:
    if not isinstance(clone_url, str) or not clone_url.startswith(("https://", "http://", "git://", "ssh://")):
        raise EventError("payload has no usable clone URL")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ".." in ref or any(c in ref for c in " ~^:?*[\\\x00\n"):
        raise EventError(f"not a ref name: {str(ref)[:100]!r}")
    return {"platform": platform, "kind": kind, "repo": repo, "clone_url": clone_url, "ref": ref, "before": before, "after": after, "pr": pr, **extra}


def _github(event: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    if event != "push" and not (event == "pull_request" and p.get("action") in PR_ACTIONS_GITHUB):
        return []
    repo = _name(p, "repository", "full_name")
    extra = {"installation": _opt(p, "installation").get("id")}
    if event == "push":
        return [_job("github", "push", repo, _get(p, "repository", "clone_url"), _get(p, "ref"), _sha(p.get("before")), _sha(p.get("after")), **extra)]
    pr, number = _obj(p, "pull_request"), _number(p, "number")
    return [_job(
        "github", "pr", repo, _get(p, "repository", "clone_url"), f"refs/pull/{number}/head",
        _sha(_get(pr, "base", "sha")), _sha(_get(pr, "head", "sha")), number,
        base_ref=_branch(_opt(pr, "base").get("ref")), **extra,
    )]


def _gitlab(event: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    kind = p.get("object_kind") or event
    if kind in ("push", "Push Hook", "tag_push", "Tag Push Hook"):  # a tag can bring commits no branch has
        project = _obj(p, "project")
        return [_job("gitlab", "push", _name(project, "path_with_namespace"), _get(project, "git_http_url"), _get(p, "ref"),
                     _sha(p.get("before")), _sha(p.get("checkout_sha") or p.get("after")), project_id=_number(project, "id"))]
    if kind in ("merge_request", "Merge Request Hook"):
        attrs = _obj(p, "object_attributes")
        if attrs.get("action") not in MR_ACTIONS_GITLAB:
            return []
        project = _obj(p, "project")
        iid = _number(attrs, "iid")
        base = _opt(attrs, "diff_refs").get("base_sha") or (attrs.get("oldrev") or "")
        return [_job("gitlab", "pr", _name(project, "path_with_namespace"), _get(project, "git_http_url"), f"refs/merge-requests/{iid}/head",
                     _sha(base), _sha(_get(attrs, "last_commit", "id")), iid, project_id=_number(project, "id"),
                     base_ref=_branch(attrs.get("target_branch")))]
    return []


def _changes(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise EventError("payload's changes are not a list of objects")
    return value


def _bitbucket(event: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    if event not in ("repo:push", "pullrequest:created", "pullrequest:updated"):
        return []
    repo = _name(p, "repository", "full_name")
    clone = _bitbucket_clone_url(_obj(p, "repository"), repo)
    if event == "repo:push":
        jobs = []
        for c in _changes(_get(p, "push", "changes")):
            new, old = _opt(c, "new"), _opt(c, "old")
            # A change names a branch or a tag (`type`); a deletion has only `old`.
            prefix = "refs/tags/" if (new or old).get("type") == "tag" else "refs/heads/"
            name = new.get("name") or old.get("name")
            jobs.append(_job("bitbucket", "push", repo, clone, prefix + (name if isinstance(name, str) else ""),
                             _sha(_opt(old, "target").get("hash")), _sha(_opt(new, "target").get("hash"))))
        return jobs
    pr = _obj(p, "pullrequest")
    # A request from a fork: its branch lives in the fork, fetched from there (`head_url`).
    source = _opt(_opt(pr, "source"), "repository")
    fork = source.get("full_name")
    extra = {"head_url": _bitbucket_clone_url(source, fork)} if isinstance(fork, str) and fork and fork != repo else {}
    return [_job("bitbucket", "pr", repo, clone, "refs/heads/" + _name(pr, "source", "branch", "name"),
                 _sha_prefix(_get(pr, "destination", "commit", "hash")), _sha_prefix(_get(pr, "source", "commit", "hash")),
                 _number(pr, "id"), base_ref=_branch(_get(pr, "destination", "branch", "name")), **extra)]


def _bitbucket_clone_url(repository: dict[str, Any], full_name: str) -> str:
    """The HTTPS clone URL of a Bitbucket Cloud repository: its web link plus `.git`."""
    html = _opt(_opt(repository, "links"), "html").get("href")
    if isinstance(html, str) and html:
        return html.rstrip("/") + ".git"
    return f"https://bitbucket.org/{full_name}.git"


def _branch(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    return name if name.startswith("refs/") else f"refs/heads/{name}"


def _sha_prefix(value: Any) -> str:
    """Bitbucket Cloud PR payloads carry 12-character commit ids; the worker resolves them."""
    if not isinstance(value, str) or not value or any(c not in "0123456789abcdef" for c in value.lower()):
        raise EventError(f"not a commit id: {str(value)[:80]!r}")
    return value.lower()


def _bitbucket_dc(event: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    if event not in ("repo:refs_changed", "pr:opened", "pr:from_ref_updated"):
        return []  # also `diagnostics:ping`, the server's "Test connection"
    repo = _obj(p, "repository")
    project_key, slug = _name(repo, "project", "key"), _name(repo, "slug")
    clone = ""
    links = _opt(repo, "links").get("clone")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("name") in ("http", "https"):
            clone = link.get("href", "")
    extra: dict[str, Any] = {"project_key": project_key, "slug": slug}
    if event == "repo:refs_changed":
        return [_job("bitbucket-dc", "push", f"{project_key}/{slug}", clone, _get(c, "refId"), _sha(c.get("fromHash")), _sha(c.get("toHash")), **extra)
                for c in _changes(_get(p, "changes"))]
    pr = _obj(p, "pullRequest")
    from_ref = _get(pr, "fromRef", "id")
    fork = _opt(_obj(pr, "fromRef"), "repository")
    if fork and (_opt(fork, "project").get("key"), fork.get("slug")) != (project_key, slug):
        # A request from a fork: the server keeps its head in the target repository too.
        from_ref = f"refs/pull-requests/{_number(pr, 'id')}/from"
    return [_job("bitbucket-dc", "pr", f"{project_key}/{slug}", clone, from_ref,
                 _sha(_get(pr, "toRef", "latestCommit")), _sha(_get(pr, "fromRef", "latestCommit")), _number(pr, "id"),
                 base_ref=_branch(_get(pr, "toRef", "id")), **extra)]

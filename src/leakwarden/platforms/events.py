"""Turn a verified webhook payload into a scan job (or None for events we do not scan).

A job is a plain dict (JSON in the queue): platform, kind ("push" or "pr"), repo (a display
name such as `acme/app`), clone_url, ref, before, after, pr (number or None), plus what the
report-back needs (GitHub installation id, GitLab project id, Bitbucket workspace/project).
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


def _sha(value: Any) -> str:
    if not isinstance(value, str) or len(value) not in (40, 64) or any(c not in "0123456789abcdef" for c in value.lower()):
        if value in (None, ""):
            return Z40
        raise EventError(f"not a commit id: {str(value)[:80]!r}")
    return value.lower()


def parse(platform: str, event: str, payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        raise EventError("payload is not a JSON object")
    return {"github": _github, "gitlab": _gitlab, "bitbucket": _bitbucket, "bitbucket-dc": _bitbucket_dc}[platform](event, payload)


def _job(platform: str, kind: str, repo: str, clone_url: str, ref: str, before: str, after: str, pr: int | None = None, **extra: Any) -> dict[str, Any]:
    if not isinstance(clone_url, str) or not clone_url.startswith(("https://", "http://", "git://", "ssh://")):
        raise EventError("payload has no usable clone URL")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ".." in ref or any(c in ref for c in " ~^:?*[\\\x00\n"):
        raise EventError(f"not a ref name: {str(ref)[:100]!r}")
    return {"platform": platform, "kind": kind, "repo": repo, "clone_url": clone_url, "ref": ref, "before": before, "after": after, "pr": pr, **extra}


def _github(event: str, p: dict[str, Any]) -> dict[str, Any] | None:
    repo = _get(p, "repository", "full_name")
    extra = {"installation": (p.get("installation") or {}).get("id")}
    if event == "push":
        return _job("github", "push", repo, _get(p, "repository", "clone_url"), _get(p, "ref"), _sha(p.get("before")), _sha(p.get("after")), **extra)
    if event == "pull_request" and p.get("action") in PR_ACTIONS_GITHUB:
        pr = _get(p, "pull_request")
        return _job(
            "github", "pr", repo, _get(p, "repository", "clone_url"), f"refs/pull/{int(_get(p, 'number'))}/head",
            _sha(_get(pr, "base", "sha")), _sha(_get(pr, "head", "sha")), int(_get(p, "number")),
            base_ref=_branch(pr.get("base", {}).get("ref")), **extra,
        )
    return None


def _gitlab(event: str, p: dict[str, Any]) -> dict[str, Any] | None:
    kind = p.get("object_kind") or event
    if kind in ("push", "Push Hook"):
        project = _get(p, "project")
        return _job("gitlab", "push", _get(project, "path_with_namespace"), _get(project, "git_http_url"), _get(p, "ref"),
                    _sha(p.get("before")), _sha(p.get("checkout_sha") or p.get("after")), project_id=_get(project, "id"))
    if kind in ("merge_request", "Merge Request Hook"):
        attrs = _get(p, "object_attributes")
        if attrs.get("action") not in MR_ACTIONS_GITLAB:
            return None
        project = _get(p, "project")
        iid = int(_get(attrs, "iid"))
        base = (attrs.get("diff_refs") or {}).get("base_sha") or (attrs.get("oldrev") or "")
        return _job("gitlab", "pr", _get(project, "path_with_namespace"), _get(project, "git_http_url"), f"refs/merge-requests/{iid}/head",
                    _sha(base), _sha(_get(attrs, "last_commit", "id")), iid, project_id=_get(project, "id"),
                    base_ref=_branch(attrs.get("target_branch")))
    return None


def _bitbucket(event: str, p: dict[str, Any]) -> dict[str, Any] | None:
    repo = _get(p, "repository", "full_name")
    clone = f"https://bitbucket.org/{repo}.git"
    links = (p.get("repository") or {}).get("links") or {}
    if isinstance(links.get("html"), dict) and links["html"].get("href"):
        clone = links["html"]["href"].rstrip("/") + ".git"
    if event == "repo:push":
        changes = _get(p, "push", "changes")
        if not changes:
            return None
        c = changes[0]
        new, old = c.get("new") or {}, c.get("old") or {}
        ref = "refs/heads/" + (new.get("name") or old.get("name") or "")
        return _job("bitbucket", "push", repo, clone, ref, _sha((old.get("target") or {}).get("hash")),
                    _sha((new.get("target") or {}).get("hash")), changes=len(changes))
    if event in ("pullrequest:created", "pullrequest:updated"):
        pr = _get(p, "pullrequest")
        return _job("bitbucket", "pr", repo, clone, "refs/heads/" + _get(pr, "source", "branch", "name"),
                    _sha_prefix(_get(pr, "destination", "commit", "hash")), _sha_prefix(_get(pr, "source", "commit", "hash")),
                    int(_get(pr, "id")), base_ref=_branch(_get(pr, "destination", "branch", "name")))
    return None


def _branch(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    return name if name.startswith("refs/") else f"refs/heads/{name}"


def _sha_prefix(value: Any) -> str:
    """Bitbucket Cloud PR payloads carry 12-character commit ids; the worker resolves them."""
    if not isinstance(value, str) or not value or any(c not in "0123456789abcdef" for c in value.lower()):
        raise EventError(f"not a commit id: {str(value)[:80]!r}")
    return value.lower()


def _bitbucket_dc(event: str, p: dict[str, Any]) -> dict[str, Any] | None:
    repo = _get(p, "repository")
    project_key, slug = _get(repo, "project", "key"), _get(repo, "slug")
    clone = ""
    for link in ((repo.get("links") or {}).get("clone") or []):
        if isinstance(link, dict) and link.get("name") in ("http", "https"):
            clone = link.get("href", "")
    extra = {"project_key": project_key, "slug": slug}
    if event == "repo:refs_changed":
        changes = _get(p, "changes")
        if not changes:
            return None
        c = changes[0]
        return _job("bitbucket-dc", "push", f"{project_key}/{slug}", clone, _get(c, "refId"), _sha(c.get("fromHash")), _sha(c.get("toHash")), **extra)
    if event in ("pr:opened", "pr:from_ref_updated"):
        pr = _get(p, "pullRequest")
        return _job("bitbucket-dc", "pr", f"{project_key}/{slug}", clone, _get(pr, "fromRef", "id"),
                    _sha(_get(pr, "toRef", "latestCommit")), _sha(_get(pr, "fromRef", "latestCommit")), int(_get(pr, "id")),
                    base_ref=_get(pr, "toRef", "id"), **extra)
    return None

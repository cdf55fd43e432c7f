"""Enumeration against imitations of the GitHub, GitLab and Bitbucket APIs on 127.0.0.1."""

from __future__ import annotations

import pytest

from leakwarden.errors import SourceError, UsageError
from leakwarden.org.enumerate import RepoFilter, enumerate_repos, parse_target
from tests.org.fakeapi import FakeApi, FakeClock


def _gh_repo(i: int) -> dict:
    return {
        "full_name": f"acme/r{i:03d}",
        "clone_url": f"https://github.example/acme/r{i:03d}.git",
        "fork": i % 10 == 0,
        "archived": i % 7 == 0,
        "size": i * 100,  # KB
    }


def test_github_org_pages_through_link_headers_and_waits_out_rate_limits():
    clock = FakeClock()
    repos = [_gh_repo(i) for i in range(1, 251)]
    limited = {"2": "403", "3": "429"}

    def handler(path, query, headers):
        assert path == "/orgs/acme/repos"
        assert headers["authorization"] == "Bearer ghp_fake"
        page = query.get("page", "1")
        per = int(query["per_page"])
        if limited.pop(page, None) == "403":
            return 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.now) + 30)}, {"message": "API rate limit exceeded"}
        if page == "3" and "3" not in limited and not getattr(handler, "retried", False):
            handler.retried = True
            return 429, {"Retry-After": "7"}, {"message": "secondary rate limit"}
        start = (int(page) - 1) * per
        body = repos[start : start + per]
        extra = {"x-ratelimit-remaining": "4000"}
        if start + per < len(repos):
            extra["Link"] = f'<{api.url}/orgs/acme/repos?per_page={per}&type=all&page={int(page) + 1}>; rel="next", <{api.url}/orgs/acme/repos?page=3>; rel="last"'
        return 200, extra, body

    with FakeApi(handler) as api:
        env = {"LEAKWARDEN_GITHUB_URL": api.url, "GITHUB_TOKEN": "ghp_fake"}
        found = enumerate_repos("github:acme", env=env, clock=clock.time, sleep=clock.sleep)
        assert [r.name for r in found] == [f"acme/r{i:03d}" for i in range(1, 251)]
        assert clock.sleeps == [31.0, 7.0]
        assert found[0].size == 100 * 1024 and found[9].fork and found[6].archived
        pages = [q.get("page", "1") for _, q, _ in api.requests]
        assert pages == ["1", "2", "2", "3", "3"]

        kept = enumerate_repos("github:acme", env=env, clock=clock.time, sleep=clock.sleep, repo_filter=RepoFilter(forks=False, archived=False, max_size=10_000 * 1024))
        assert all(not r.fork and not r.archived and r.size <= 10_000 * 1024 for r in kept)
        assert len(kept) == len([i for i in range(1, 101) if i % 10 and i % 7])


def test_a_secondary_limit_without_headers_waits_a_minute_and_a_plain_403_fails():
    clock = FakeClock()
    answers = [(403, {}, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})]

    def handler(path, query, headers):
        if answers:
            return answers.pop(0)
        if path == "/orgs/acme/repos":
            return 200, {}, [_gh_repo(1)]
        return 403, {}, {"message": "Resource not accessible by integration"}

    with FakeApi(handler) as api:
        env = {"LEAKWARDEN_GITHUB_URL": api.url, "GITHUB_TOKEN": "ghp_fake"}
        assert [r.name for r in enumerate_repos("github:acme", env=env, clock=clock.time, sleep=clock.sleep)] == ["acme/r001"]
        assert clock.sleeps == [60.0]
        with pytest.raises(SourceError, match="403"):
            enumerate_repos("github:other", env=env, clock=clock.time, sleep=clock.sleep)
        assert clock.sleeps == [60.0]


def test_github_falls_back_to_a_user_and_works_without_a_token():
    def handler(path, query, headers):
        assert "authorization" not in headers
        if path == "/orgs/alice/repos":
            return 404, {}, {"message": "Not Found"}
        assert path == "/users/alice/repos" and query["type"] == "owner"
        return 200, {}, [_gh_repo(1)]

    with FakeApi(handler) as api:
        found = enumerate_repos("github:alice", env={"LEAKWARDEN_GITHUB_URL": api.url})
    assert [r.clone_url for r in found] == ["https://github.example/acme/r001.git"]


def test_a_pagination_link_to_another_origin_is_refused_before_any_request():
    def handler(path, query, headers):
        return 200, {"Link": '<http://127.0.0.2:9/steal?page=2>; rel="next"'}, [_gh_repo(1)]

    with FakeApi(handler) as api:
        with pytest.raises(SourceError, match="another origin"):
            enumerate_repos("github:acme", env={"LEAKWARDEN_GITHUB_URL": api.url, "GITHUB_TOKEN": "t"})
        assert len(api.requests) == 1


def test_a_rate_limit_longer_than_we_wait_is_a_clear_error():
    clock = FakeClock()

    def handler(path, query, headers):
        return 429, {"Retry-After": "86400"}, {}

    with FakeApi(handler) as api:
        with pytest.raises(SourceError, match="rate limited by the API for another 86400s"):
            enumerate_repos("github:acme", env={"LEAKWARDEN_GITHUB_URL": api.url}, clock=clock.time, sleep=clock.sleep)
    assert clock.sleeps == []


def test_clone_urls_must_be_http():
    def handler(path, query, headers):
        return 200, {}, [{**_gh_repo(1), "clone_url": "ext::sh -c touch% /tmp/pwned"}]

    with FakeApi(handler) as api:
        with pytest.raises(SourceError, match="not http"):
            enumerate_repos("github:acme", env={"LEAKWARDEN_GITHUB_URL": api.url})


def test_gitlab_group_with_subgroups_follows_x_next_page():
    projects = [
        {"path_with_namespace": f"platform/{'core/' if i % 2 else ''}p{i}", "http_url_to_repo": f"https://gitlab.example/platform/p{i}.git",
         "archived": i == 3, **({"forked_from_project": {"id": 1}} if i == 4 else {}), "statistics": {"repository_size": i * 1000}}
        for i in range(1, 8)
    ]

    def handler(path, query, headers):
        assert path == "/api/v4/groups/platform%2Fteam/projects"
        assert query["include_subgroups"] == "true" and query["with_shared"] == "false"
        assert headers["private-token"] == "glpat-fake"
        page = int(query.get("page", "1"))
        body = projects[(page - 1) * 3 : page * 3]
        extra = {"X-Next-Page": str(page + 1) if page * 3 < len(projects) else ""}
        return 200, extra, body

    with FakeApi(handler) as api:
        env = {"LEAKWARDEN_GITLAB_URL": api.url, "GITLAB_TOKEN": "glpat-fake"}
        found = enumerate_repos("gitlab:platform/team", include_subgroups=True, env=env)
        assert [r.name for r in found] == [p["path_with_namespace"] for p in projects]
        assert [q.get("page", "1") for _, q, _ in api.requests] == ["1", "2", "3"]
        kept = enumerate_repos("gitlab:platform/team", include_subgroups=True, env=env, repo_filter=RepoFilter(forks=False, archived=False, max_size=6000))
        assert [r.name.rsplit("/", 1)[1] for r in kept] == ["p1", "p2", "p5", "p6"]


def test_bitbucket_cloud_follows_next_and_strips_user_names_from_clone_links():
    def repo(i):
        return {"full_name": f"ws/r{i}", "size": 10, "links": {"clone": [
            {"name": "https", "href": f"https://someone@bitbucket.example/ws/r{i}.git"},
            {"name": "ssh", "href": f"git@bitbucket.example:ws/r{i}.git"}]}, **({"parent": {"full_name": "x/y"}} if i == 2 else {})}

    def handler(path, query, headers):
        assert path == "/2.0/repositories/ws"
        page = int(query.get("page", "1"))
        body = {"values": [repo(page * 2 - 1), repo(page * 2)]}
        if page < 3:
            body["next"] = f"{api.url}/2.0/repositories/ws?pagelen=100&page={page + 1}"
        return 200, {}, body

    with FakeApi(handler) as api:
        found = enumerate_repos("bitbucket:ws", env={"LEAKWARDEN_BITBUCKET_URL": api.url, "BITBUCKET_TOKEN": "bb"})
        assert [r.clone_url for r in found] == [f"https://bitbucket.example/ws/r{i}.git" for i in range(1, 7)]
        assert [r.fork for r in found] == [False, True, False, False, False, False]
        assert api.requests[0][2]["authorization"] == "Bearer bb"


def test_bitbucket_data_center_pages_with_next_page_start():
    def handler(path, query, headers):
        assert path == "/rest/api/1.0/projects/SEC/repos"
        start = int(query["start"])
        values = [{"slug": f"r{i}", "project": {"key": "SEC"}, "archived": i == 4,
                   "links": {"clone": [{"name": "http", "href": f"https://bb.example/scm/sec/r{i}.git"}]}} for i in range(start, min(start + 2, 5))]
        last = start + 2 >= 5
        return 200, {}, {"values": values, "isLastPage": last, **({} if last else {"nextPageStart": start + 2})}

    with FakeApi(handler) as api:
        found = enumerate_repos("bitbucket-dc:SEC", env={"LEAKWARDEN_BITBUCKET_DC_URL": api.url}, repo_filter=RepoFilter(archived=False))
        assert [r.name for r in found] == ["SEC/r0", "SEC/r1", "SEC/r2", "SEC/r3"]
        assert [q["start"] for _, q, _ in api.requests] == ["0", "2", "4"]


def test_bitbucket_data_center_size_limit_asks_each_repository_its_size():
    sizes = {"r0": 10_000, "r1": 5 * 1024 * 1024, "r2": None, "r3": "big"}  # r2: no sizes resource

    def handler(path, query, headers):
        assert headers["authorization"] == "Bearer dc-token"
        if path == "/rest/api/1.0/projects/SEC/repos":
            values = [{"slug": s, "project": {"key": "SEC"}, "links": {"clone": [{"name": "http", "href": f"https://bb.example/scm/sec/{s}.git"}]}} for s in sizes]
            return 200, {}, {"values": values, "isLastPage": True}
        slug = path.removeprefix("/projects/SEC/repos/").removesuffix("/sizes")
        if sizes.get(slug) is None:
            return 404, {}, {"errors": [{"message": "not found"}]}
        if slug == "r1":  # a spent quota: the client waits, then asks again
            handler.calls = getattr(handler, "calls", 0) + 1
            if handler.calls == 1:
                return 429, {"Retry-After": "7"}, {}
        return 200, {}, {"repository": sizes[slug], "attachments": 3}

    clock = FakeClock()
    with FakeApi(handler) as api:
        env = {"LEAKWARDEN_BITBUCKET_DC_URL": api.url, "BITBUCKET_DC_TOKEN": "dc-token"}
        found = enumerate_repos("bitbucket-dc:SEC", env=env, repo_filter=RepoFilter(max_size=1024 * 1024), clock=clock.time, sleep=clock.sleep)
        # r1 is over the limit; r2 and r3 have no usable size, so they are kept (never filtered blind).
        assert [(r.name, r.size) for r in found] == [("SEC/r0", 10_000), ("SEC/r2", None), ("SEC/r3", None)]
        assert clock.sleeps == [7.0]
        n = len(api.requests)
        # Without a size limit no size is asked for.
        enumerate_repos("bitbucket-dc:SEC", env=env)
        assert [p for p, _, _ in api.requests[n:]] == ["/rest/api/1.0/projects/SEC/repos"]


def test_targets_and_missing_server_urls_are_usage_errors():
    for bad in ("acme", "svn:acme", "github:", "github:/"):
        with pytest.raises(UsageError):
            parse_target(bad)
    with pytest.raises(UsageError, match="LEAKWARDEN_BITBUCKET_DC_URL"):
        enumerate_repos("bitbucket-dc:SEC", env={})


def test_an_answer_that_is_not_a_list_is_a_clear_error():
    def handler(path, query, headers):
        return 200, {}, {"message": "surprise"}

    with FakeApi(handler) as api:
        with pytest.raises(SourceError, match="unexpected answer shape"):
            enumerate_repos("github:acme", env={"LEAKWARDEN_GITHUB_URL": api.url})

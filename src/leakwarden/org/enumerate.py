"""List every repository of a GitHub org or user, a GitLab group, a Bitbucket workspace or a
Bitbucket Data Center project, through the platform's REST API.

Each platform paginates its own way (GitHub: `Link` headers; GitLab: `X-Next-Page` or `Link`;
Bitbucket Cloud: `next` in the JSON; Bitbucket DC: `isLastPage` / `nextPageStart`). Rate limits
are honoured: `Retry-After`, or `x-ratelimit-remaining: 0` with `x-ratelimit-reset`, make us
wait (through an injectable clock and sleep, so tests need not). Tokens come from environment
variables only (never the command line, where `ps` and shell history would keep them); which
variable can be chosen in the `[org]` table of `.leakwarden.toml`, as can every base URL.

NOTE: a pagination link is followed only when it points at the API's own origin: a hostile or
misconfigured server must not make us send the token to another host.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from leakwarden.errors import SourceError, UsageError
from leakwarden.ratelimit import quota, rate_limited, retry_after

PLATFORMS = ("github", "gitlab", "bitbucket", "bitbucket-dc")
DEFAULT_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org",
    "bitbucket-dc": "",
}
# Environment variables tried in order for each platform's token.
TOKEN_ENV = {
    "github": ("LEAKWARDEN_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"),
    "gitlab": ("LEAKWARDEN_GITLAB_TOKEN", "GITLAB_TOKEN"),
    "bitbucket": ("LEAKWARDEN_BITBUCKET_TOKEN", "BITBUCKET_TOKEN"),
    "bitbucket-dc": ("LEAKWARDEN_BITBUCKET_DC_TOKEN", "BITBUCKET_DC_TOKEN"),
}
URL_ENV = {
    "github": "LEAKWARDEN_GITHUB_URL",
    "gitlab": "LEAKWARDEN_GITLAB_URL",
    "bitbucket": "LEAKWARDEN_BITBUCKET_URL",
    "bitbucket-dc": "LEAKWARDEN_BITBUCKET_DC_URL",
}
_MAX_PAGES = 100_000
_MAX_RETRIES = 6


@dataclass(frozen=True, slots=True)
class RepoRef:
    """One repository to scan. `size` is in bytes as the platform reports it (None: unknown)."""

    name: str
    clone_url: str
    platform: str
    size: int | None = None
    fork: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class RepoFilter:
    forks: bool = True
    archived: bool = True
    max_size: int | None = None

    def keep(self, repo: RepoRef) -> bool:
        if repo.fork and not self.forks:
            return False
        if repo.archived and not self.archived:
            return False
        return not (self.max_size is not None and repo.size is not None and repo.size > self.max_size)


def parse_target(target: str) -> tuple[str, str]:
    """`github:acme` → ("github", "acme")."""
    platform, sep, name = target.partition(":")
    if platform == "github-app" and sep:
        return platform, name.strip("/")  # the account is optional: every installation
    if not sep or platform not in PLATFORMS or not name.strip("/"):
        raise UsageError(f"not an org target: {target!r} (use github:ORG, github-app:[ACCOUNT], gitlab:GROUP, bitbucket:WORKSPACE or bitbucket-dc:PROJECT)")
    return platform, name.strip("/")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _link_next(header: str | None) -> str | None:
    """The rel="next" target of an RFC 8288 Link header."""
    for part in (header or "").split(","):
        target, _, params = part.partition(";")
        target = target.strip()
        if target.startswith("<") and target.endswith(">") and any(p.strip().replace('"', "") == "rel=next" for p in params.split(";")):
            return target[1:-1]
    return None


class ApiClient:
    """GET JSON from one API origin, waiting out rate limits and refusing foreign links."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        *,
        auth: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 3600.0,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise UsageError(f"API base URL must be http(s)://...: {base_url!r}")
        self.base = httpx.URL(base_url.rstrip("/") + "/")
        self.clock, self.sleep, self.max_wait = clock, sleep, max_wait
        self.waited = 0.0
        self._client = httpx.Client(headers=dict(headers or {}), auth=auth, transport=transport, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return str(self.base.join(path.lstrip("/")))

    def check_origin(self, url: str) -> str:
        target = httpx.URL(url)
        if _origin(target) != _origin(self.base):
            raise SourceError(f"the API sent a pagination link to another origin ({target.scheme}://{target.host}); refused")
        return url

    def _rate_wait(self, resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying this response, or None when it is final."""
        h = resp.headers
        remaining, reset = quota(h)
        limited = rate_limited(resp.status_code, remaining, h.get("retry-after"), resp.content)
        if not limited and resp.status_code not in (502, 503, 504):
            return None
        now = self.clock()
        if "retry-after" in h:
            wait = retry_after(h["retry-after"], now)
            if wait is not None:
                return wait
        if limited and reset and reset.strip().isdigit():
            return max(0.0, float(reset) - now) + 1.0
        if limited:
            return 60.0  # a limit that names no time (GitHub's secondary limit): at least a minute
        return float(min(2**attempt, 60))

    def _pause(self, seconds: float) -> None:
        if seconds > self.max_wait:
            raise SourceError(f"rate limited by the API for another {seconds:.0f}s (more than the {self.max_wait:.0f}s we wait); try again later")
        self.waited += seconds
        self.sleep(seconds)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self.request("GET", url, params)

    def request(self, method: str, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        url = self.check_origin(url)
        for attempt in range(_MAX_RETRIES + 1):
            try:
                resp = self._client.request(method, url, params=params)
            except httpx.HTTPError as exc:
                if attempt == _MAX_RETRIES:
                    raise SourceError(f"cannot reach {self.base.host}: {exc.__class__.__name__}") from None
                self._pause(float(min(2**attempt, 60)))
                continue
            wait = self._rate_wait(resp, attempt)
            if wait is None:
                break
            if attempt == _MAX_RETRIES:
                raise SourceError(f"{self.base.host}: still rate limited or unavailable after {_MAX_RETRIES} retries (HTTP {resp.status_code})")
            self._pause(wait)
        if resp.status_code in (401, 403):
            raise SourceError(f"{self.base.host}: HTTP {resp.status_code}: the token is missing, wrong or lacks read access")
        if resp.status_code == 404:
            raise NotFound(f"{self.base.host}: {httpx.URL(url).path} not found")
        if resp.status_code >= 400:
            raise SourceError(f"{self.base.host}: HTTP {resp.status_code} for {httpx.URL(url).path}")
        # A spent quota on a good answer: wait for the reset before asking again.
        if resp.headers.get("x-ratelimit-remaining") == "0":
            reset = resp.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                self._pause(max(0.0, float(reset) - self.clock()) + 1.0)
        return resp

    def json(self, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise SourceError(f"{self.base.host}: the API answered with something that is not JSON") from None


class NotFound(SourceError):
    pass


def _pages(api: ApiClient, url: str, params: dict[str, Any] | None, next_url: Callable[[httpx.Response, Any, str], str | None]) -> Iterator[Any]:
    seen: set[str] = set()
    current: str | None = url
    first = True
    while current is not None:
        if current in seen or len(seen) >= _MAX_PAGES:
            raise SourceError(f"{api.base.host}: pagination goes round in circles; stopped")
        seen.add(current)
        resp = api.get(current, params if first else None)
        first = False
        body = api.json(resp)
        yield body
        nxt = next_url(resp, body, str(resp.request.url))
        current = api.check_origin(nxt) if nxt else None


def _by_link(resp: httpx.Response, _body: Any, _url: str) -> str | None:
    return _link_next(resp.headers.get("link"))


def _list_of(body: Any, key: str | None, api: ApiClient) -> list[dict[str, Any]]:
    items = body.get(key) if key is not None and isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SourceError(f"{api.base.host}: unexpected answer shape (expected a list of repositories)")
    return items


def _http_url(url: Any, api: ApiClient) -> str:
    """A clone URL must be http(s): anything else (ext::, file://) could make git run commands
    or read local files."""
    text = str(url or "")
    parsed = httpx.URL(text) if text.startswith(("https://", "http://")) else None
    if parsed is None or not parsed.host:
        raise SourceError(f"{api.base.host}: refusing a clone URL that is not http(s): {text[:80]!r}")
    # Drop any user name Bitbucket puts in its clone links; workers add their own credentials.
    return str(parsed.copy_with(username=None, password=None))


# --- platforms -------------------------------------------------------------------------------


def github(api: ApiClient, owner: str) -> Iterator[RepoRef]:
    """An organisation's repositories, or a user's when no organisation has that name."""
    params = {"per_page": 100, "type": "all"}
    try:
        pages = _pages(api, api.url(f"orgs/{quote(owner, safe='')}/repos"), params, _by_link)
        first = next(pages)
    except NotFound:
        pages = _pages(api, api.url(f"users/{quote(owner, safe='')}/repos"), {"per_page": 100, "type": "owner"}, _by_link)
        first = next(pages)
    for body in _chain(first, pages):
        for r in _list_of(body, None, api):
            size_kb = r.get("size")
            yield RepoRef(
                name=str(r.get("full_name") or r.get("name")),
                clone_url=_http_url(r.get("clone_url"), api),
                platform="github",
                size=int(size_kb) * 1024 if isinstance(size_kb, int) else None,
                fork=bool(r.get("fork")),
                archived=bool(r.get("archived")),
            )


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def gitlab(api: ApiClient, group: str, include_subgroups: bool) -> Iterator[RepoRef]:
    def next_url(resp: httpx.Response, _body: Any, url: str) -> str | None:
        page = resp.headers.get("x-next-page", "").strip()
        if page.isdigit():
            return str(httpx.URL(url).copy_set_param("page", page))
        return _link_next(resp.headers.get("link"))

    params: dict[str, Any] = {"per_page": 100, "include_subgroups": "true" if include_subgroups else "false", "with_shared": "false", "statistics": "true"}
    for body in _pages(api, api.url(f"api/v4/groups/{quote(group, safe='')}/projects"), params, next_url):
        for r in _list_of(body, None, api):
            stats = r.get("statistics") if isinstance(r.get("statistics"), dict) else {}
            size = stats.get("repository_size") if stats else None
            yield RepoRef(
                name=str(r.get("path_with_namespace") or r.get("name")),
                clone_url=_http_url(r.get("http_url_to_repo"), api),
                platform="gitlab",
                size=int(size) if isinstance(size, int) else None,
                fork="forked_from_project" in r,
                archived=bool(r.get("archived")),
            )


def _clone_link(r: dict[str, Any], names: tuple[str, ...], api: ApiClient) -> str:
    links = r.get("links") if isinstance(r.get("links"), dict) else {}
    for link in links.get("clone") or () if links else ():
        if isinstance(link, dict) and link.get("name") in names:
            return _http_url(link.get("href"), api)
    raise SourceError(f"{api.base.host}: repository {r.get('slug') or r.get('full_name')!r} has no http clone link")


def bitbucket(api: ApiClient, workspace: str) -> Iterator[RepoRef]:
    def next_url(_resp: httpx.Response, body: Any, _url: str) -> str | None:
        nxt = body.get("next") if isinstance(body, dict) else None
        return str(nxt) if nxt else None

    for body in _pages(api, api.url(f"2.0/repositories/{quote(workspace, safe='')}"), {"pagelen": 100}, next_url):
        for r in _list_of(body, "values", api):
            size = r.get("size")
            yield RepoRef(
                name=str(r.get("full_name") or r.get("slug")),
                clone_url=_clone_link(r, ("https",), api),
                platform="bitbucket",
                size=int(size) if isinstance(size, int) else None,
                fork=bool(r.get("parent")),
            )


def _dc_size(api: ApiClient, project_key: str, slug: str) -> int | None:
    """A Bitbucket DC repository's size in bytes: the listing has none, so ask the server's
    `projects/{key}/repos/{slug}/sizes` resource (served from the context root, beside the REST
    API, answering `{"repository": bytes, "attachments": bytes}`). None when the server does not
    say: an unknown size never filters a repository out."""
    try:
        body = api.json(api.get(api.url(f"projects/{quote(project_key, safe='')}/repos/{quote(slug, safe='')}/sizes")))
    except NotFound:
        return None
    size = body.get("repository") if isinstance(body, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def bitbucket_dc(api: ApiClient, project: str, sizes: bool = False) -> Iterator[RepoRef]:
    """A project's repositories; with `sizes`, one more request per repository for its size
    (made only when a size limit is asked for)."""
    def next_url(resp: httpx.Response, body: Any, url: str) -> str | None:
        if not isinstance(body, dict) or body.get("isLastPage", True):
            return None
        start = body.get("nextPageStart")
        if not isinstance(start, int):
            raise SourceError(f"{api.base.host}: a page that is not the last has no nextPageStart")
        return str(httpx.URL(url).copy_set_param("start", start))

    for body in _pages(api, api.url(f"rest/api/1.0/projects/{quote(project, safe='')}/repos"), {"limit": 100, "start": 0}, next_url):
        for r in _list_of(body, "values", api):
            proj = r.get("project") if isinstance(r.get("project"), dict) else {}
            key = str((proj or {}).get("key", project))
            yield RepoRef(
                name=f"{key}/{r.get('slug')}",
                clone_url=_clone_link(r, ("http", "https"), api),
                platform="bitbucket-dc",
                size=_dc_size(api, key, str(r.get("slug"))) if sizes and r.get("slug") else None,
                fork="origin" in r,
                archived=bool(r.get("archived")),
            )


# --- entry point -----------------------------------------------------------------------------


def token_for(platform: str, env: Mapping[str, str], config: Mapping[str, Any] | None = None) -> str | None:
    """The platform token from the environment (the variable named in `[org] <platform>_token_env`
    first, then the usual names)."""
    names: list[str] = []
    chosen = (config or {}).get(f"{platform.replace('-', '_')}_token_env")
    if chosen:
        names.append(str(chosen))
    names.extend(TOKEN_ENV[platform])
    for n in names:
        value = env.get(n, "").strip()
        if value:
            return value
    return None


def base_url_for(platform: str, env: Mapping[str, str], config: Mapping[str, Any] | None = None) -> str:
    url = env.get(URL_ENV[platform]) or str((config or {}).get(f"{platform.replace('-', '_')}_url") or "") or DEFAULT_URLS[platform]
    if not url:
        raise UsageError(f"{platform}: no server URL; set {URL_ENV[platform]} or [org] {platform.replace('-', '_')}_url")
    return url


def make_client(platform: str, env: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None, **kwargs: Any) -> ApiClient:
    env = os.environ if env is None else env
    token = token_for(platform, env, config)
    headers: dict[str, str] = {"User-Agent": "leakwarden-org-scan", "Accept": "application/json"}
    auth: tuple[str, str] | None = None
    if platform == "github":
        headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
    if platform == "gitlab" and token:
        headers["PRIVATE-TOKEN"] = token
    elif platform == "bitbucket" and not token and env.get("BITBUCKET_USERNAME") and env.get("BITBUCKET_APP_PASSWORD"):
        auth = (env["BITBUCKET_USERNAME"], env["BITBUCKET_APP_PASSWORD"])
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return ApiClient(base_url_for(platform, env, config), headers, auth=auth, **kwargs)


def enumerate_repos(
    target: str,
    *,
    include_subgroups: bool = False,
    repo_filter: RepoFilter | None = None,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    **client_kwargs: Any,
) -> list[RepoRef]:
    """Every repository of `target` (`github:acme`, `gitlab:group/sub`, `bitbucket:ws`,
    `bitbucket-dc:PROJ`) that passes the filter, in the platform's order, without repeats."""
    platform, name = parse_target(target)
    repo_filter = repo_filter or RepoFilter()
    if platform == "github-app":
        from leakwarden.org.github_app import app_repos

        return _keep(app_repos(name, os.environ if env is None else env, config, **client_kwargs), repo_filter)
    api = make_client(platform, env, config, **client_kwargs)
    try:
        if platform == "github":
            found: Iterator[RepoRef] = github(api, name)
        elif platform == "gitlab":
            found = gitlab(api, name, include_subgroups)
        elif platform == "bitbucket":
            found = bitbucket(api, name)
        else:
            found = bitbucket_dc(api, name, sizes=repo_filter.max_size is not None)
        return _keep(found, repo_filter)
    finally:
        api.close()


def _keep(found: Iterator[RepoRef], repo_filter: RepoFilter) -> list[RepoRef]:
    out: dict[str, RepoRef] = {}
    for r in found:
        if r.clone_url not in out and repo_filter.keep(r):
            out[r.clone_url] = r
    return list(out.values())

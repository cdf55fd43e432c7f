"""Every repository a GitHub App's installations can read (`scan org github-app:[ACCOUNT]`).

The App authenticates with a JWT signed by its private key (`platforms.github.app_jwt`), lists
its installations (`GET /app/installations`), trades the JWT for one installation token per
installation (`POST /app/installations/{id}/access_tokens`) and lists what that token can read
(`GET /installation/repositories`: `total_count` and `repositories`). Both listings paginate
with `Link` headers and go through the same rate-limit handling as the other enumerators.

The App id and key come from the environment (or the `[org]` table), never from argv: the key
is read from a file (`LEAKWARDEN_GITHUB_APP_KEY_FILE`) or a variable holding the PEM
(`LEAKWARDEN_GITHUB_APP_PRIVATE_KEY`). Installation tokens never leave the process that minted
them: each worker mints its own from the same App credentials in its own environment (see
`installation_token`), so no token crosses the cluster network or lands in a task, log or store.
Repositories are tagged with the platform `github-app:<installation id>` for that purpose.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from leakwarden.errors import SourceError, UsageError
from leakwarden.org.enumerate import (
    ApiClient,
    RepoRef,
    _by_link,
    _http_url,
    _list_of,
    _pages,
    base_url_for,
)

APP_ID_ENV = "LEAKWARDEN_GITHUB_APP_ID"
KEY_FILE_ENV = "LEAKWARDEN_GITHUB_APP_KEY_FILE"
KEY_ENV = "LEAKWARDEN_GITHUB_APP_PRIVATE_KEY"
PLATFORM_PREFIX = "github-app:"
_HEADERS = {"User-Agent": "leakwarden-org-scan", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def app_credentials(env: Mapping[str, str], config: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(App id, private key PEM) from the environment or the `[org]` table; a clear error when
    either is missing or unreadable."""
    config = config or {}
    app_id = (env.get(APP_ID_ENV) or str(config.get("github_app_id") or "")).strip()
    pem = env.get(KEY_ENV, "").strip()
    key_file = env.get(KEY_FILE_ENV) or str(config.get("github_app_private_key_file") or "")
    if not pem and key_file:
        try:
            pem = Path(key_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"GitHub App private key file {key_file}: {exc.__class__.__name__}") from None
    if not app_id or not pem:
        raise UsageError(f"github-app: set {APP_ID_ENV} and {KEY_FILE_ENV} (a path to the App's private key) or {KEY_ENV}; see docs/org-scans.md")
    return app_id, pem


def _jwt(app_id: str, pem: str, now: float) -> str:
    from leakwarden.platforms.github import app_jwt

    try:
        return app_jwt(app_id, pem, now)
    except (ValueError, TypeError) as exc:
        # The message of a key-parsing error never includes the key itself.
        raise UsageError(f"github-app: the private key is not a usable RSA PEM key ({exc.__class__.__name__})") from None


def _app_client(env: Mapping[str, str], config: Mapping[str, Any] | None, app_id: str, pem: str, **kwargs: Any) -> ApiClient:
    clock: Callable[[], float] = kwargs.get("clock", time.time)
    headers = {**_HEADERS, "Authorization": f"Bearer {_jwt(app_id, pem, clock())}"}
    return ApiClient(base_url_for("github", env, config), headers, **kwargs)


def mint_token(app: ApiClient, installation_id: int) -> tuple[str, float | None]:
    """An installation token and its expiry (epoch seconds, None if unparsable)."""
    body = app.json(app.request("POST", app.url(f"app/installations/{int(installation_id)}/access_tokens")))
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise SourceError(f"{app.base.host}: the installation token answer has no token")
    expires = None
    try:
        from datetime import datetime

        expires = datetime.fromisoformat(str(body.get("expires_at")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    return token, expires


def installations(app: ApiClient) -> Iterator[tuple[int, str]]:
    """(installation id, account login) for every installation of the App."""
    for body in _pages(app, app.url("app/installations"), {"per_page": 100}, _by_link):
        for inst in _list_of(body, None, app):
            account = inst.get("account") if isinstance(inst.get("account"), dict) else {}
            if not isinstance(inst.get("id"), int):
                raise SourceError(f"{app.base.host}: an installation without a numeric id")
            yield inst["id"], str((account or {}).get("login") or "")


def installation_repos(api: ApiClient, installation_id: int) -> Iterator[RepoRef]:
    """What one installation token can read, page by page."""
    listed, total = 0, None
    for body in _pages(api, api.url("installation/repositories"), {"per_page": 100}, _by_link):
        if isinstance(body, dict) and isinstance(body.get("total_count"), int):
            total = body["total_count"]
        for r in _list_of(body, "repositories", api):
            listed += 1
            size_kb = r.get("size")
            yield RepoRef(
                name=str(r.get("full_name") or r.get("name")),
                clone_url=_http_url(r.get("clone_url"), api),
                platform=f"{PLATFORM_PREFIX}{installation_id}",
                size=int(size_kb) * 1024 if isinstance(size_kb, int) else None,
                fork=bool(r.get("fork")),
                archived=bool(r.get("archived")),
            )
    if total is not None and listed < total:
        raise SourceError(f"{api.base.host}: installation {installation_id} lists {listed} of its {total} repositories; the listing stopped early")


def app_repos(account: str, env: Mapping[str, str], config: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[RepoRef]:
    """Every repository of every installation (only `account`'s installation when given)."""
    app_id, pem = app_credentials(env, config)
    app = _app_client(env, config, app_id, pem, **kwargs)
    try:
        chosen = [(i, login) for i, login in installations(app) if not account or login.lower() == account.lower()]
        if account and not chosen:
            raise SourceError(f"github-app: the App has no installation on {account!r}")
        for inst_id, _login in chosen:
            token, _ = mint_token(app, inst_id)
            api = ApiClient(base_url_for("github", env, config), {**_HEADERS, "Authorization": f"Bearer {token}"}, **kwargs)
            try:
                yield from installation_repos(api, inst_id)
            finally:
                api.close()
                del token
    finally:
        app.close()


# --- on workers --------------------------------------------------------------------------------

_tokens: dict[int, tuple[str, float]] = {}
_lock = threading.Lock()


def installation_token(installation_id: int, env: Mapping[str, str] | None = None) -> str:
    """This worker's installation token for cloning, minted from the App credentials in the
    worker's own environment and reused until five minutes before it expires."""
    env = os.environ if env is None else env
    now = time.time()
    with _lock:
        cached = _tokens.get(installation_id)
        if cached and cached[1] > now + 300:
            return cached[0]
    app_id, pem = app_credentials(env)
    app = _app_client(env, None, app_id, pem)
    try:
        token, expires = mint_token(app, installation_id)
    finally:
        app.close()
    with _lock:
        _tokens[installation_id] = (token, expires if expires is not None else now + 3000)
    return token

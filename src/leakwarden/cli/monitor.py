"""`leakwarden monitor install|status`: set up platform hooks, look at the service's queue."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import click

from leakwarden.errors import UsageError


@click.group()
def monitor() -> None:
    """Set up and watch the platform monitor (`leakwarden serve`)."""


@monitor.group()
def install() -> None:
    """Create organisation/group/workspace/project webhooks that point at `leakwarden serve`."""


def _platform(config_path: str, name: str) -> Any:
    from leakwarden.platforms import config as monitor_config

    cfg = monitor_config.load(config_path)
    if name not in cfg.platforms:
        raise UsageError(f"{config_path} has no [{name}] section")
    return cfg.platforms[name]


def _token(pc: Any, env: str) -> str:
    token = os.environ.get(env) or pc.token
    if not token:
        raise UsageError(f"no API token: set {env} (a token allowed to manage hooks)")
    return token


def _create_hook(pc: Any, api_url: str | None, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    """POST a webhook definition to the platform API; the created hook as the API returns it."""
    from leakwarden.platforms.http import ApiClient

    client = ApiClient(api_url or pc.api_url, headers)
    try:
        return client.json("POST", path, json=body)
    finally:
        client.close()


@install.command("github")
@click.option("--org", required=True, help="The GitHub organisation.")
@click.option("--url", "hook_url", required=True, help="Public URL of /hooks/github on your service.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--api-url", default=None, help="API base URL (GitHub Enterprise Server: https://HOST/api/v3).")
def install_github(org: str, hook_url: str, config_path: str, api_url: str | None) -> None:
    """Create an organisation webhook for push and pull_request events (token: GITHUB_TOKEN,
    needs admin:org_hook)."""
    pc = _platform(config_path, "github")
    headers = {"authorization": f"Bearer {_token(pc, 'GITHUB_TOKEN')}", "accept": "application/vnd.github+json"}
    hook = _create_hook(pc, api_url, headers, f"/orgs/{quote(org, safe='')}/hooks", {
        "name": "web", "active": True, "events": ["push", "pull_request"],
        "config": {"url": hook_url, "content_type": "json", "secret": pc.webhook_secret, "insecure_ssl": "0"},
    })
    click.echo(f"created GitHub webhook {hook.get('id')} on organisation {org} → {hook_url}")


@install.command("gitlab")
@click.option("--group", required=True, help="The GitLab group (full path, e.g. platform/backend).")
@click.option("--url", "hook_url", required=True, help="Public URL of /hooks/gitlab on your service.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--api-url", default=None, help="API base URL (self-managed: https://HOST/api/v4).")
def install_gitlab(group: str, hook_url: str, config_path: str, api_url: str | None) -> None:
    """Create a group webhook for push, tag push and merge request events (token: GITLAB_TOKEN,
    scope `api`, Owner of the group)."""
    pc = _platform(config_path, "gitlab")
    hook = _create_hook(pc, api_url, {"private-token": _token(pc, "GITLAB_TOKEN")}, f"/groups/{quote(group, safe='')}/hooks", {
        "url": hook_url, "token": pc.webhook_secret, "push_events": True, "tag_push_events": True, "merge_requests_events": True,
        "enable_ssl_verification": True,
    })
    click.echo(f"created GitLab webhook {hook.get('id')} on group {group} → {hook_url}")


@install.command("bitbucket")
@click.option("--workspace", required=True, help="The Bitbucket Cloud workspace.")
@click.option("--url", "hook_url", required=True, help="Public URL of /hooks/bitbucket on your service.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--api-url", default=None, help="API base URL (default https://api.bitbucket.org/2.0).")
def install_bitbucket(workspace: str, hook_url: str, config_path: str, api_url: str | None) -> None:
    """Create a workspace webhook for pushes and pull requests (token: BITBUCKET_TOKEN, a
    workspace access token or OAuth token with the `webhook` scope)."""
    pc = _platform(config_path, "bitbucket")
    hook = _create_hook(pc, api_url, {"authorization": f"Bearer {_token(pc, 'BITBUCKET_TOKEN')}"}, f"/workspaces/{quote(workspace, safe='')}/hooks", {
        "description": "leakwarden secrets scan", "url": hook_url, "active": True, "secret": pc.webhook_secret,
        "events": ["repo:push", "pullrequest:created", "pullrequest:updated"],
    })
    click.echo(f"created Bitbucket webhook {hook.get('uuid')} on workspace {workspace} → {hook_url}")


@install.command("bitbucket-dc")
@click.option("--project", required=True, help="The Bitbucket Data Center project key.")
@click.option("--url", "hook_url", required=True, help="Public URL of /hooks/bitbucket-dc on your service.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--api-url", default=None, help="Server base URL, e.g. https://bitbucket.example.com.")
def install_bitbucket_dc(project: str, hook_url: str, config_path: str, api_url: str | None) -> None:
    """Create a project webhook for pushes and pull requests (token: BITBUCKET_DC_TOKEN, an
    HTTP access token with project admin permission)."""
    pc = _platform(config_path, "bitbucket-dc")
    if not (api_url or pc.api_url):
        raise UsageError("Bitbucket Data Center needs its server URL: set api_url in [bitbucket-dc] or pass --api-url")
    hook = _create_hook(pc, api_url, {"authorization": f"Bearer {_token(pc, 'BITBUCKET_DC_TOKEN')}"}, f"/rest/api/latest/projects/{quote(project, safe='')}/webhooks", {
        "name": "leakwarden", "url": hook_url, "active": True, "configuration": {"secret": pc.webhook_secret},
        "events": ["repo:refs_changed", "pr:opened", "pr:from_ref_updated"],
    })
    click.echo(f"created Bitbucket Data Center webhook {hook.get('id')} on project {project} → {hook_url}")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@monitor.command("status")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--limit", default=10, show_default=True, help="How many recent deliveries and failures to show.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(config_path: str, limit: int, fmt: str) -> None:
    """Queue depth, last deliveries and failures."""
    from leakwarden.platforms import config as monitor_config
    from leakwarden.platforms.queue import JobQueue

    cfg = monitor_config.load(config_path)
    if not cfg.queue_path.is_file():
        raise UsageError(f"no queue at {cfg.queue_path} yet (has `leakwarden serve` run with this config?)")
    queue = JobQueue(cfg.queue_path)
    counts, recent, failed = queue.counts(), queue.recent(limit), queue.recent(limit, "failed")
    if fmt == "json":
        click.echo(json.dumps({"counts": counts, "recent": recent, "failed": failed}, indent=2))
        return
    click.echo("queue: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("queued", "running", "done", "failed", "ignored")))
    click.echo("last deliveries:")
    for r in recent or []:
        click.echo(f"  {_when(r['received_at'])}  {r['platform']:<12} {r['event']:<22} {r['repo'] or '-':<30} {r['state']:<8} {r['summary'] or r['error'] or ''}")
    if failed:
        click.echo("failures:")
        for r in failed:
            click.echo(f"  {_when(r['updated_at'])}  {r['platform']} {r['repo']} delivery {r['delivery']}: {r['error']}")

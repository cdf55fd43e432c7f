"""`leakwarden serve`: the webhook receiver and its workers (needs `leakwarden[serve]`)."""

from __future__ import annotations

import logging
import sys

import click

from leakwarden.errors import UsageError


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen wants HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="The monitor config (monitor.toml).")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT to listen on (put TLS in a reverse proxy in front).")
@click.option("--workers", type=int, default=None, help="Scan worker threads (default: [monitor] workers).")
def serve(config_path: str, listen: str, workers: int | None) -> None:
    """Receive GitHub, GitLab and Bitbucket webhooks, scan every push and pull request.

    Hooks: POST /hooks/github, /hooks/gitlab, /hooks/bitbucket, /hooks/bitbucket-dc.
    Health: GET /healthz. SIGTERM/Ctrl-C stop cleanly; unfinished jobs run after a restart.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise UsageError("`serve` needs the optional extra: pip install 'leakwarden[serve]'") from None
    from leakwarden.platforms import config as monitor_config
    from leakwarden.platforms.app import create_app

    host, port = parse_listen(listen)
    cfg = monitor_config.load(config_path)
    if workers is not None:
        cfg.workers = max(1, workers)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("leakwarden.monitor")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    click.echo(f"leakwarden monitor listening on http://{host}:{port} ({', '.join(cfg.platforms)})", err=True)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)

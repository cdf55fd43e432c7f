"""`monitor.toml`: where the service keeps its queue and cache, and each platform's settings.

Secrets never live in the file: it names environment variables (`*_env` keys) that hold them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakwarden.errors import ConfigError

PLATFORMS = ("github", "gitlab", "bitbucket", "bitbucket-dc")
DEFAULT_API = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com/api/v4",
    "bitbucket": "https://api.bitbucket.org/2.0",
    "bitbucket-dc": "",
}
# The user name git sends with a platform token (HTTP basic auth).
GIT_USER = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth", "bitbucket-dc": ""}


@dataclass(slots=True)
class PlatformConfig:
    name: str
    webhook_secret: str = ""
    signing_token: str = ""
    api_url: str = ""
    token: str = ""
    git_user: str = ""
    app_id: str = ""
    private_key: str = ""
    report: bool = True
    check_name: str = "leakwarden"
    replay_hours: float = 24.0


@dataclass(slots=True)
class MonitorConfig:
    data_dir: Path
    store: str | None = None
    baseline: Path | None = None
    ignore_file: Path | None = None
    workers: int = 2
    max_body: int = 25 * 1024 * 1024
    max_blob_size: int = 25 * 1024 * 1024
    platforms: dict[str, PlatformConfig] = field(default_factory=dict)

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "jobs.sqlite"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "repos"


def _env(section: dict[str, Any], key: str, where: str) -> str:
    name = section.get(f"{key}_env")
    if name is None:
        return ""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: {key}_env must name an environment variable")
    return os.environ.get(name, "")


def _size(table: dict[str, Any], key: str, default: int, where: str) -> int:
    """A byte count: a number or a size such as "25MB"."""
    from leakwarden.config import parse_size

    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{where} {key}: not a size: {value!r}")
    try:
        size = parse_size(value)
    except ConfigError as exc:
        raise ConfigError(f"{where} {key}: {exc}") from None
    if size < 1:
        raise ConfigError(f"{where} {key}: must be at least 1 byte")
    return size


def _count(table: dict[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} {key}: not a whole number: {value!r}")
    return value


def _hours(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} {key}: not a number of hours: {value!r}")
    return float(value)


def _flag(table: dict[str, Any], key: str, default: bool, where: str) -> bool:
    """A TOML boolean; a string such as "false" is refused rather than read as true."""
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key}: not true or false: {value!r}")
    return value


def load(path: str | Path) -> MonitorConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return from_dict(data, path.parent)


def from_dict(data: dict[str, Any], base: Path) -> MonitorConfig:
    mon = data.get("monitor", {})
    if not isinstance(mon, dict):
        raise ConfigError("[monitor] must be a table")

    def rel(v: Any) -> Path | None:
        if v is None:
            return None
        if not isinstance(v, str):
            raise ConfigError(f"a path is not a string: {v!r}")
        p = Path(v).expanduser()
        return p if p.is_absolute() else base / p

    data_dir = rel(mon.get("data_dir", ".leakwarden-monitor"))
    assert data_dir is not None
    store = mon.get("store")
    if store is not None and not (isinstance(store, str) and "://" in store):
        store = str(rel(store))
    cfg = MonitorConfig(
        data_dir=data_dir,
        store=store,
        baseline=rel(mon.get("baseline")),
        ignore_file=rel(mon.get("ignore_file")),
        workers=_count(mon, "workers", 2, "[monitor]"),
        max_body=_size(mon, "max_body", 25 * 1024 * 1024, "[monitor]"),
        max_blob_size=_size(mon, "max_blob_size", 25 * 1024 * 1024, "[monitor]"),
    )
    for name in PLATFORMS:
        sec = data.get(name)
        if sec is None:
            continue
        if not isinstance(sec, dict):
            raise ConfigError(f"[{name}] must be a table")
        where = f"[{name}]"
        pc = PlatformConfig(
            name=name,
            webhook_secret=_env(sec, "webhook_secret", where),
            signing_token=_env(sec, "signing_token", where),
            api_url=str(sec.get("api_url", DEFAULT_API[name])).rstrip("/"),
            token=_env(sec, "token", where),
            git_user=str(sec.get("git_user", GIT_USER[name])),
            app_id=str(sec.get("app_id", "")),
            report=_flag(sec, "report", True, where),
            check_name=str(sec.get("check_name", "leakwarden")),
            replay_hours=_hours(sec, "replay_hours", 24.0, where),
        )
        key_file = rel(sec.get("private_key_file"))
        if key_file is not None:
            try:
                pc.private_key = key_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{where} private_key_file: {exc}") from None
        # Only GitLab can do with a signing token alone; the others sign with the webhook secret.
        if not pc.webhook_secret and not (name == "gitlab" and pc.signing_token):
            raise ConfigError(f"{where}: no webhook secret (set webhook_secret_env to a variable that holds it)")
        cfg.platforms[name] = pc
    if not cfg.platforms:
        raise ConfigError("monitor config enables no platform ([github], [gitlab], [bitbucket] or [bitbucket-dc])")
    return cfg

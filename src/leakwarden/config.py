"""Read `.leakwarden.toml` or `[tool.leakwarden]` in pyproject.toml into frozen Settings.

Command-line flags override the file; the file overrides the defaults.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from leakwarden.errors import ConfigError

CONFIG_NAMES = (".leakwarden.toml", "leakwarden.toml")
IGNORE_FILE = ".leakwardenignore"


DEFAULT_MAX_FILE_SIZE = 25 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    extra_rules: tuple[Path, ...] = ()
    disable_rules: tuple[str, ...] = ()
    only_rules: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    respect_gitignore: bool = True
    follow_symlinks: bool = False
    engine: str = "auto"
    ignore_file: Path | None = None
    min_confidence: str = "low"
    decode: bool = True
    jobs: int = 0  # 0 = pick from the number of CPUs
    scan_archives: bool = False  # `scan path` opens archives it meets
    verify: dict[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    # Triage: only findings missing from this baseline file are reported.
    baseline: Path | None = None
    # Findings store (SQLite path or postgresql:// URL) that records every scan.
    store: str | None = None
    store_secrets: bool = False  # keep secrets encrypted in the store (key: LEAKWARDEN_STORE_KEY)
    progress: bool = False  # show a progress bar on a terminal (set by the CLI)
    # Org scans: platform API base URLs and which environment variables hold tokens ([org]).
    org: dict[str, Any] = field(default_factory=dict)

    def merged(self, **overrides: Any) -> Settings:
        """Return a copy with the given (non-None) overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def with_excludes(self, extra: tuple[str, ...]) -> Settings:
        """A copy whose exclude_paths also hold `extra` (the command line's --exclude)."""
        return replace(self, exclude_paths=(*self.exclude_paths, *extra)) if extra else self


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}


def parse_size(value: str | int) -> int:
    """'10MB', '512KiB', '2g' or a plain number of bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE_RE.match(value)
    unit = (m.group(2) or "").lower() if m else ""
    if not m or unit not in _UNITS:
        raise ConfigError(f"not a size: {value!r} (use e.g. 500KB, 10MB, 1GiB)")
    return int(float(m.group(1)) * _UNITS[unit])


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """Look for a config file in `start` and its parents, up to the repository root."""
    try:
        here = start.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13): the scan reports it
        here = start.absolute().parent
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            p = folder / name
            if p.is_file():
                return p, _read_toml(p)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject)
            section = data.get("tool", {}).get("leakwarden")
            if isinstance(section, dict):
                return pyproject, section
        if (folder / ".git").exists():
            break
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


_KEYS = {f.name for f in fields(Settings)} - {"config_path", "ignore_file", "progress"}


def settings_from_file(path: Path, data: dict[str, Any]) -> Settings:
    unknown = sorted(set(data) - _KEYS - {"ignore_file"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(_KEYS | {'ignore_file'}))})")
    base = path.parent
    values: dict[str, Any] = {"config_path": path}
    for key, value in data.items():
        try:
            if key == "extra_rules":
                values[key] = tuple(p for v in _list(value) for p in _expand(base, str(v)))
            elif key in ("disable_rules", "only_rules", "exclude_paths"):
                values[key] = tuple(str(v) for v in _list(value))
            elif key == "max_file_size":
                values[key] = parse_size(value)
            elif key in ("ignore_file", "baseline"):
                values[key] = base / str(value)
            elif key == "store":
                text = str(value)
                # a URL or home-relative path as written; a relative path from the config's folder
                values[key] = text if "://" in text or text.startswith("~") else str(base / text)
            elif key in ("respect_gitignore", "follow_symlinks", "decode", "scan_archives", "store_secrets"):
                if not isinstance(value, bool):
                    raise TypeError("expected true or false")
                values[key] = value
            elif key == "jobs":
                values[key] = int(value)
            elif key in ("verify", "org"):
                if not isinstance(value, dict):
                    raise TypeError("expected a table")
                values[key] = value
            else:
                values[key] = str(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: setting '{key}': {exc}") from None
    return Settings(**values)


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _expand(base: Path, pattern: str) -> list[Path]:
    p = Path(pattern)
    if not p.is_absolute():
        p = base / p
    if any(ch in pattern for ch in "*?["):
        return sorted(p.parent.glob(p.name))
    return [p]


def load_settings(start: Path | None = None, config: Path | None = None) -> Settings:
    """Settings from an explicit config file, or the nearest one found from `start`."""
    if config is not None:
        data = _read_toml(config)
        if config.name == "pyproject.toml":
            data = data.get("tool", {}).get("leakwarden", {})
        return settings_from_file(config, data)
    found = find_config(start or Path.cwd())
    return settings_from_file(*found) if found else Settings()

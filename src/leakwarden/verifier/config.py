"""The `[verify]` settings table, validated into a frozen VerifyConfig (see docs/verify.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from leakwarden.errors import ConfigError

_HOST_GLOB_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-*")


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """How validity checks run. Defaults are safe: public hosts only, TLS on, modest load."""

    enabled: bool = False
    only_valid: bool = False
    concurrency: int = 8
    per_host: int = 2
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    max_retry_wait: float = 30.0
    cache_ttl: float = 6 * 3600.0
    allow_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    base_urls: dict[str, str] = field(default_factory=dict)
    max_body: int = 256 * 1024
    # An HTTP(S) proxy for every check (networks with a mandatory egress proxy). The proxy then
    # resolves names, so the private-address pinning applies to literal IPs only; TLS to the
    # provider stays end to end (CONNECT), so the proxy never sees the secret.
    proxy: str = ""

    @property
    def fingerprint(self) -> str:
        """What in the config changes a check's answer; part of the cache key."""
        key = json.dumps([sorted(self.base_urls.items()), sorted(self.allow_hosts), self.allow_private])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


_NUMBERS: dict[str, tuple[type, float]] = {
    "concurrency": (int, 1),
    "per_host": (int, 1),
    "timeout": (float, 0.001),
    "retries": (int, 0),
    "backoff": (float, 0),
    "max_retry_wait": (float, 0),
    "cache_ttl": (float, 0),
    "max_body": (int, 1024),
}


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"setting 'verify.{key}': {message}")


def is_host_glob(value: str) -> bool:
    """A host name or `*.domain` glob in lowercase (no scheme, port or path)."""
    if not value or not set(value) <= _HOST_GLOB_CHARS:
        return False
    if "*" in value and not (value.startswith("*.") and "*" not in value[2:]):
        return False
    return not value.startswith(".") and not value.endswith(".") and ".." not in value


def parse_verify_config(table: dict[str, Any]) -> VerifyConfig:
    """Validate the `[verify]` table; errors name the offending key."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("enabled", "only_valid", "allow_private"):
            if not isinstance(value, bool):
                raise _fail(key, "expected true or false")
            values[key] = value
        elif key in _NUMBERS:
            kind, floor = _NUMBERS[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
                raise _fail(key, f"expected {'an integer' if kind is int else 'a number'}")
            if value < floor:
                raise _fail(key, f"must be at least {floor}")
            values[key] = kind(value)
        elif key == "allow_hosts":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _fail(key, "expected a list of host names or *.domain globs")
            for v in value:
                if not is_host_glob(v.lower()):
                    raise _fail(key, f"{v!r} is not a host name or *.domain glob")
            values[key] = tuple(v.lower() for v in value)
        elif key == "base_urls":
            values[key] = _parse_base_urls(value)
        elif key == "proxy":
            values[key] = parse_proxy(value)
        else:
            known = sorted({"enabled", "only_valid", "allow_private", "allow_hosts", "base_urls", "proxy", *_NUMBERS})
            raise _fail(key, f"unknown setting (known: {', '.join(known)})")
    return VerifyConfig(**values)


def _parse_base_urls(value: Any) -> dict[str, str]:
    import httpx

    if not isinstance(value, dict):
        raise _fail("base_urls", 'expected a table of host = "scheme://host[:port][/prefix]"')
    out: dict[str, str] = {}
    for host, base in value.items():
        if not is_host_glob(str(host).lower()):
            raise _fail(f"base_urls.{host}", "the key must be a host name or *.domain glob")
        if not isinstance(base, str):
            raise _fail(f"base_urls.{host}", "expected a URL string")
        try:
            url = httpx.URL(base)
        except (httpx.InvalidURL, TypeError) as exc:
            raise _fail(f"base_urls.{host}", _not_a_url(base, exc)) from None
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment or url.userinfo:
            raise _fail(f"base_urls.{host}", "expected http(s)://host[:port][/prefix] without query or credentials")
        out[str(host).lower()] = base.rstrip("/")
    return out


def _not_a_url(value: str, exc: Exception) -> str:
    """Why `value` is not a URL, without quoting a password: in a URL with credentials, a `/`
    or `@` left unencoded in the password makes the parser read part of it as the port."""
    if "@" in value:
        return "not a URL (percent-encode / : @ and % in the user name and password)"
    return f"not a URL: {exc}"


def parse_proxy(value: Any) -> str:
    """`http://host:port` or `https://host:port`, optionally with `user:password@`."""
    import httpx

    if not isinstance(value, str):
        raise _fail("proxy", "expected a URL string such as http://proxy.internal:3128")
    if not value:
        return ""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise _fail("proxy", _not_a_url(value, exc)) from None
    if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/") or url.query or url.fragment:
        raise _fail("proxy", "expected http(s)://host:port (SOCKS is not supported)")
    return value

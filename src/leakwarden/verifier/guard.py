"""SSRF guard: decide where a check may connect, before any byte (or secret) leaves the machine.

A request URL is first judged on its *logical* host (the provider's real host, e.g.
`acme.atlassian.net`): it must be https, carry no credentials, and match the rule's `hosts`
globs or the user's `[verify] allow_hosts`. Only then is `[verify] base_urls` consulted, which
maps a logical host to another base URL (tests, proxies, self-hosted mirrors). The host finally
connected to is resolved once, every address is checked (private, loopback, link-local and
other non-global ranges are refused unless `allow_private = true`), and the connection is
pinned to the checked address so DNS cannot change between the check and the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from leakwarden.errors import VerifyError
from leakwarden.verifier.config import VerifyConfig

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def is_hostname(value: str) -> bool:
    return bool(_HOSTNAME.match(value))


def host_matches(host: str, patterns: Sequence[str]) -> bool:
    """`*.example.com` matches any subdomain of example.com; a plain name matches itself."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and is_hostname(host):
                return True
        elif host == pattern:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: the URL to connect to and the provider host it stands for."""

    url: httpx.URL
    logical_host: str
    overridden: bool


def plan_target(url: str, hosts: Sequence[str], config: VerifyConfig) -> Target:
    """Check a rendered URL against the rule's hosts and apply any base-URL override."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise VerifyError("the check's URL is not valid after filling in the values found") from None
    host = parsed.host.lower().rstrip(".")
    if parsed.scheme != "https":
        raise VerifyError(f"refused: checks only use https (got {parsed.scheme or 'no scheme'})")
    if parsed.userinfo:
        raise VerifyError("refused: credentials inside the URL")
    if parsed.port not in (None, 443):
        raise VerifyError(f"refused: port {parsed.port} on {host} (only 443)")
    if not is_hostname(host):
        raise VerifyError(f"refused: {host!r} is not a DNS host name")
    if not (host_matches(host, hosts) or host_matches(host, config.allow_hosts)):
        allowed = ", ".join(hosts) or "none (self-hosted: list your host in [verify] allow_hosts)"
        raise VerifyError(f"refused: host {host} is outside this rule's domains ({allowed})")
    base = _override(host, config)
    if base is None:
        return Target(parsed, host, False)
    b = httpx.URL(base)
    path = b.path.rstrip("/") + parsed.path
    return Target(parsed.copy_with(scheme=b.scheme, host=b.host, port=b.port, path=path), host, True)


def _override(host: str, config: VerifyConfig) -> str | None:
    if host in config.base_urls:
        return config.base_urls[host]
    for pattern, base in config.base_urls.items():
        if "*" in pattern and host_matches(host, [pattern]):
            return base
    return None


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def pin_address(target: Target, config: VerifyConfig) -> str:
    """Resolve the connect host once and return an address that passed the checks."""
    host = target.url.host
    port = target.url.port or (443 if target.url.scheme == "https" else 80)
    addresses = _literal(host)
    if config.proxy and not addresses:
        return host  # the proxy resolves the name (local DNS often cannot, behind one)
    if not addresses:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(config.timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise VerifyError(f"looking up {host} timed out") from None
        except (OSError, UnicodeError):
            raise VerifyError(f"cannot resolve {host}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise VerifyError(f"cannot resolve {host}")
    if not config.allow_private:
        bad = [ip for ip in addresses if not _is_public(ip)]
        if bad:
            raise VerifyError(
                f"refused: {host} resolves to a non-public address ({bad[0]}); "
                "set [verify] allow_private = true to allow private, loopback and link-local addresses"
            )
    return str(addresses[0])


def _literal(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        return []


def pinned_request_url(target: Target, address: str) -> httpx.URL:
    return target.url.copy_with(host=address)

"""Checksum validators referenced by name from rule files (`checksum = "..."`).

A validator returns True when the candidate's built-in checksum holds. Providers that embed a
checksum let us tell a real token from a look-alike without any network call.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(width, "0")


def atlassian_crc32(token: str) -> bool:
    """ATATT/ATCTT/ATOA/ATBB tokens end in 8 uppercase hex: CRC-32 of everything before them."""
    body, tail = token[:-8], token[-8:]
    try:
        return int(tail, 16) == zlib.crc32(body.encode()) and tail.upper() == tail
    except ValueError:
        return False


def github_crc32(token: str) -> bool:
    """GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_): the last 6 chars are base62(CRC-32 of the
    30 random chars)."""
    prefix, _, rest = token.partition("_")
    if len(rest) != 36:
        return False
    return _base62(zlib.crc32(rest[:30].encode()), 6) == rest[30:]


def npm_crc32(token: str) -> bool:
    """npm_ tokens share GitHub's layout: 30 random chars then base62(CRC-32) in 6 chars."""
    return github_crc32(token)


def crates_trusted_publishing(token: str) -> bool:
    """cio_tp_ + 31 alphanumerics + 1 char: XOR of the 31 bytes mod 62 into A-Z a-z 0-9."""
    body = token.removeprefix("cio_tp_")
    if len(body) != 32:
        return False
    x = 0
    for ch in body[:31].encode():
        x ^= ch
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return alphabet[x % 62] == body[31]


def jira_dc_pat(token: str) -> bool:
    """Jira/Confluence Data Center PATs are base64 of `<numeric id>:<random bytes>`."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    ident, sep, rest = raw.partition(b":")
    return bool(sep) and ident.isdigit() and 6 <= len(ident) <= 16 and len(rest) >= 16


def pypi_macaroon(token: str) -> bool:
    """PyPI API tokens are `pypi-` + a base64url macaroon that names pypi.org as its location."""
    body = token.removeprefix("pypi-")
    try:
        raw = base64.urlsafe_b64decode(body[:64] + "=" * (-len(body[:64]) % 4))
    except (binascii.Error, ValueError):
        return False
    return b"pypi.org" in raw or b"test.pypi.org" in raw


# --- structural checks for tokens that embed decodable data (no provider-published checksum) ---
def _b64decode(text: str, urlsafe: bool = False) -> bytes | None:
    padded = text + "=" * (-len(text) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_json_object(text: str, urlsafe: bool = False) -> dict[str, object] | None:
    raw = _b64decode(text.rstrip("="), urlsafe)
    if raw is None:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return None
    return value if isinstance(value, dict) else None


def discord_bot_token(token: str) -> bool:
    """Discord bot tokens start with the base64 of the bot's numeric user id (a snowflake)."""
    raw = _b64decode(token.split(".", 1)[0], urlsafe=True)
    return raw is not None and raw.isdigit() and 17 <= len(raw) <= 20 and int(raw) >= 1 << 22


def sentry_org_token(token: str) -> bool:
    """sntrys_<base64 JSON with iat and the Sentry URL>_<secret>."""
    payload = token.removeprefix("sntrys_").rpartition("_")[0]
    claims = _b64_json_object(payload)
    return claims is not None and "iat" in claims and ("url" in claims or "region_url" in claims)


def grafana_cloud_token(token: str) -> bool:
    """glc_<base64 JSON naming the org (o), token name (n) and key (k)>."""
    claims = _b64_json_object(token.removeprefix("glc_"))
    return claims is not None and "o" in claims and "k" in claims


def grafana_api_key(token: str) -> bool:
    """Legacy Grafana API keys are base64 JSON {"k": key, "n": name, "id": org id}."""
    claims = _b64_json_object(token)
    return claims is not None and "k" in claims and "n" in claims


def intercom_token(token: str) -> bool:
    """Intercom access tokens are base64 of `tok:<uuid>:...`."""
    raw = _b64decode(token.rstrip("="))
    return raw is not None and raw.startswith(b"tok:") and raw.count(b":") >= 2 and raw.isascii()


def elastic_api_key(token: str) -> bool:
    """Encoded Elasticsearch API keys are base64 of `<id>:<api key>`."""
    raw = _b64decode(token.rstrip("="))
    return raw is not None and re.fullmatch(rb"[A-Za-z0-9_\-]{10,40}:[A-Za-z0-9_\-]{16,64}", raw) is not None


def tinybird_token(token: str) -> bool:
    """p.<base64url JSON with the user id `u`>.<signature>."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "p":
        return False
    claims = _b64_json_object(parts[1], urlsafe=True)
    return claims is not None and "u" in claims


CHECKSUMS: dict[str, Callable[[str], bool]] = {
    "atlassian-crc32": atlassian_crc32,
    "github-crc32": github_crc32,
    "npm-crc32": npm_crc32,
    "crates-trusted-publishing": crates_trusted_publishing,
    "jira-dc-pat": jira_dc_pat,
    "pypi-macaroon": pypi_macaroon,
    "discord-bot-token": discord_bot_token,
    "sentry-org-token": sentry_org_token,
    "grafana-cloud-token": grafana_cloud_token,
    "grafana-api-key": grafana_api_key,
    "intercom-token": intercom_token,
    "elastic-api-key": elastic_api_key,
    "tinybird-token": tinybird_token,
}

"""Execute a rule's declarative `[rules.verify]` HTTP check and judge the answer.

The spec format is documented in docs/verify.md and validated by `rules.spec`. Only responses
a matcher names are determinate; every other answer is `unknown` with the reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from leakwarden.errors import VerifyError
from leakwarden.models import Validity, ValidityState
from leakwarden.verifier.exchange import Exchange, Reply
from leakwarden.verifier.template import header_safe, render, render_header, render_url

MISSING = object()
_LABELS = {
    "site": "the site host",
    "email": "the account e-mail",
    "client_id": "the client id",
    "key_id": "the access key id",
    "project": "the project slug",
    "host": "the server host",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def outcome(state: ValidityState, reason: str, details: dict[str, Any] | None = None) -> Validity:
    return Validity(state, reason, now_iso(), details or {})


def unknown(reason: str) -> Validity:
    return outcome(ValidityState.UNKNOWN, reason)


def missing_values(needed: list[str], related: Mapping[str, str]) -> Validity | None:
    """`unknown` naming what was not found near the secret, or None when all is there."""
    missing = [n for n in needed if not related.get(n)]
    if not missing:
        return None
    names = " and ".join(_LABELS.get(n, f"'{n}'") for n in missing)
    return unknown(f"cannot check without {names}, which was not found near the secret (leakwarden does not guess)")


def json_at(data: Any, path: str) -> Any:
    """Follow a dotted path (`errors.0.detail`) into parsed JSON; MISSING when absent."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def matches(matcher: Mapping[str, Any], reply: Reply) -> bool:
    if reply.status not in matcher.get("status", ()):
        return False
    if "json_path" in matcher:
        value = json_at(reply.json(), matcher["json_path"])
        if value is MISSING or value is None:
            return False
        if "json_value" in matcher and value != matcher["json_value"]:
            return False
    contains = matcher.get("body_contains")
    if contains and not any(c in reply.text for c in contains):
        return False
    header = matcher.get("header")
    return not (header and header.lower() not in reply.headers)


def _matchers(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = spec.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, dict) else list(value)


def _kept(spec: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
    details: dict[str, Any] = {}
    data = None
    for name, path in spec.get("keep", {}).items():
        if path.startswith("header:"):
            value: Any = reply.headers.get(path[7:])
        else:
            data = reply.json() if data is None else data
            value = json_at(data, path)
        if value is MISSING or value is None:
            continue
        if isinstance(value, str):
            value = value[:200]
        elif isinstance(value, list):
            value = [v[:200] if isinstance(v, str) else v for v in value[:50] if isinstance(v, str | int | float | bool)]
        elif not isinstance(value, int | float | bool):
            continue
        details[name] = value
    return details


def judge(spec: Mapping[str, Any], reply: Reply) -> Validity:
    """Map a reply to valid / invalid / unknown through the spec's matchers."""
    valid = next((m for m in _matchers(spec, "valid") if matches(m, reply)), None)
    invalid = next((m for m in _matchers(spec, "invalid") if matches(m, reply)), None)
    if valid is not None and invalid is not None:
        return unknown(f"ambiguous answer (HTTP {reply.status} matches both valid and invalid)")
    if valid is not None:
        return outcome(ValidityState.VALID, valid.get("reason") or f"the provider accepted it (HTTP {reply.status})", _kept(spec, reply))
    if invalid is not None:
        return outcome(ValidityState.INVALID, invalid.get("reason") or f"the provider rejected it (HTTP {reply.status})")
    for m in _matchers(spec, "unknown"):
        if matches(m, reply):
            return unknown(m.get("reason") or f"inconclusive answer (HTTP {reply.status})")
    return unknown(f"unexpected answer (HTTP {reply.status})")


def build_request(spec: Mapping[str, Any], values: Mapping[str, str]) -> tuple[str, str, dict[str, str], bytes | None]:
    """Render method, URL, headers and body from the spec and the values found."""
    method = str(spec.get("method", "GET")).upper()
    url = render_url(spec["url"], values)
    headers = {k: render_header(v, values) for k, v in spec.get("headers", {}).items()}
    body_spec = spec.get("body")
    fields: dict[str, str] | None = None
    raw: str | None = None
    if isinstance(body_spec, dict):
        fields = {k: render(str(v), values) for k, v in body_spec.items()}
    elif isinstance(body_spec, str):
        declared = str(spec.get("content_type") or headers.get("Content-Type", ""))
        is_json = "json" in declared.lower() or body_spec.lstrip().startswith(("{", "["))
        raw = render(body_spec, values, json_string=is_json)
    auth = spec.get("auth")
    if auth:
        scheme = auth["scheme"]
        token = render(auth.get("token", auth.get("value", "{{ secret }}")), values)
        if scheme == "bearer":
            headers["Authorization"] = header_safe(f"{auth.get('prefix', 'Bearer')} {token}".strip())
        elif scheme == "basic":
            user = render(auth.get("username", ""), values)
            password = render(auth.get("password", ""), values)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        elif scheme == "header":
            prefix = auth.get("prefix", "")
            headers[auth["name"]] = header_safe(f"{prefix} {token}" if prefix else token)
        elif scheme == "query":
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}{urlencode({auth['name']: token})}"
        elif scheme == "body":
            if raw is not None:
                raise VerifyError("auth scheme 'body' needs a table body")
            fields = {**(fields or {}), auth["name"]: token}
    content: bytes | None = None
    if fields is not None:
        if spec.get("body_format", "json") == "form":
            content = urlencode(fields).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            content = json.dumps(fields).encode()
            headers.setdefault("Content-Type", "application/json")
    elif raw is not None:
        content = raw.encode()
    if content is not None and spec.get("content_type"):
        headers["Content-Type"] = spec["content_type"]
    return method, url, headers, content


async def check_http(spec: Mapping[str, Any], secret: str, related: Mapping[str, str], exchange: Exchange) -> Validity:
    """Run one declarative check; VerifyError (no determinate answer) propagates to the engine."""
    gap = missing_values(list(spec.get("requires", ())), related)
    if gap is not None:
        return gap
    values = {**related, "secret": secret}
    method, url, headers, content = build_request(spec, values)
    named = [*_matchers(spec, "valid"), *_matchers(spec, "invalid")]
    reply = await exchange.send(
        method, url, hosts=spec.get("hosts", ()), secrets=[secret], headers=headers, content=content,
        timeout=spec.get("timeout_s"), determinate=lambda r: any(matches(m, r) for m in named),
    )
    return judge(spec, reply)

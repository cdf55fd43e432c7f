"""`{{ name }}` templates for check requests, with per-position escaping of found values.

Values found in scanned text are hostile input. In the URL's host part they must be bare DNS
names (the SSRF guard then checks the domain); elsewhere in the URL they are percent-encoded;
in headers they may not contain line breaks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from leakwarden.errors import VerifyError
from leakwarden.verifier.guard import is_hostname

VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_URL_PARTS = re.compile(r"^([a-z]+://)([^/?#]*)(.*)$", re.DOTALL)


def variables(template: str) -> set[str]:
    return set(VAR.findall(template))


def render(template: str, values: Mapping[str, str], *, escape: bool = False, json_string: bool = False) -> str:
    """Fill `{{ name }}`s. `escape` percent-encodes for URLs; `json_string` escapes for use
    inside a JSON string literal, so a found value cannot break out of a JSON body."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise VerifyError(f"no value for '{name}'")
        value = values[name]
        if escape:
            return quote(value, safe="-._~:")
        if json_string:
            return json.dumps(value)[1:-1]
        return value

    return VAR.sub(sub, template)


def host_value(name: str, value: str) -> str:
    """A found host may come as a URL (`https://acme.atlassian.net/`); keep the bare host."""
    value = value.strip()
    if "://" in value:
        try:
            value = urlsplit(value).hostname or ""
        except ValueError:  # e.g. an unclosed IPv6 bracket
            value = ""
    value = value.lower().rstrip(".")
    if not is_hostname(value):
        raise VerifyError(f"the value found for '{name}' is not a host name")
    return value


_LEADING_VAR = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_url(template: str, values: Mapping[str, str]) -> str:
    """Fill a URL template. A template that starts with a variable (`{{ secret }}` for webhook
    URLs) takes that value as the whole base URL; the SSRF guard then judges its host."""
    lead = _LEADING_VAR.match(template)
    if lead:
        name = lead.group(1)
        if name not in values:
            raise VerifyError(f"no value for '{name}'")
        base = values[name].strip()
        if not _URL_PARTS.match(base) or any(c.isspace() for c in base):
            raise VerifyError(f"the value of '{name}' is not a URL")
        return base + render(template[lead.end() :], values, escape=True)
    m = _URL_PARTS.match(template)
    if not m:
        raise VerifyError("the check's URL template has no scheme")
    scheme, authority, rest = m.groups()
    host_values = {n: host_value(n, values[n]) for n in variables(authority) if n in values}
    missing = variables(authority) - set(host_values)
    if missing:
        raise VerifyError(f"no value for '{sorted(missing)[0]}'")
    return scheme + render(authority, host_values) + render(rest, values, escape=True)


def render_header(template: str, values: Mapping[str, str]) -> str:
    return header_safe(render(template, values))


def header_safe(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise VerifyError("a value found near the secret contains a line break; not sending it in a header")
    if not value.isascii():
        raise VerifyError("a value for a header is not ASCII; not sending it")
    return value

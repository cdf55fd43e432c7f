"""The rule-file schema: turn one TOML table into a `Rule`, or raise a `RuleError` naming the field.

A rule file holds one provider and its rules (see docs/writing-rules.md for the field table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from leakwarden.errors import RuleError
from leakwarden.models import Confidence, Severity

SCHEMA_VERSION = 1
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PLAYBOOK_FIELDS = (
    "what",
    "generated_by",
    "causes",
    "risk",
    "abuse_checks",
    "revoke_url",
    "revoke_steps",
    "rotate_steps",
    "prevent",
    "env_var",
)
# Checksums strong enough to prove a value was generated (a CRC-32 over the token): a token that
# passes one is not a placeholder, whatever letters its random body happens to spell, so rules
# using them default to the `template` filter alone. (One-character checks such as crates'
# trusted-publishing XOR pass for 1 value in 62: those rules keep the placeholder filter.)
CRC_CHECKSUMS = frozenset({"atlassian-crc32", "github-crc32", "npm-crc32"})
DEFAULT_FILTERS = ("template", "placeholder")


def default_filters(checksum: str | None) -> tuple[str, ...]:
    """The filters of a rule that lists none."""
    return ("template",) if checksum in CRC_CHECKSUMS else DEFAULT_FILTERS


# Fields every rule must fill; the others are recommended (`rules check` warns when missing).
PLAYBOOK_REQUIRED = ("what", "risk", "revoke_steps", "abuse_checks", "env_var")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """A context word (case-insensitive) must occur within `within_lines` lines of the match."""

    keywords: tuple[str, ...]
    within_lines: int = 3


@dataclass(frozen=True, slots=True)
class Requirement:
    """A related capture of another rule near this one (site URL, e-mail, client id)."""

    rule: str
    within_lines: int = 10
    name: str = ""
    optional: bool = True


@dataclass(frozen=True, slots=True)
class Allow:
    stopwords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    # searched in the name a value is assigned to (see `candidates.assigned_name`)
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    provider: str
    provider_name: str
    description: str
    severity: Severity
    confidence: Confidence
    pattern: str
    keywords: tuple[str, ...]
    examples: tuple[Example, ...]
    negative_examples: tuple[str, ...]
    references: tuple[str, ...]
    file: str
    tags: tuple[str, ...] = ()
    # The secret is the first of these groups that took part in the match (alternatives).
    secret_groups: tuple[int, ...] = (1,)
    min_entropy: float = 0.0
    min_length: int = 0
    checksum: str | None = None
    analyzer: str | None = None
    context: Context | None = None
    requires: tuple[Requirement, ...] = ()
    visible: bool = True
    allow: Allow = Allow()
    filters: tuple[str, ...] = DEFAULT_FILTERS
    max_span: int = 1024
    verify: dict[str, Any] = field(default_factory=dict)
    playbook: dict[str, Any] = field(default_factory=dict)

    @property
    def env_var(self) -> str:
        value = self.playbook.get("env_var")
        return str(value) if value else self.id.upper().replace("-", "_")


_SEVERITIES = {s.value for s in Severity}
_CONFIDENCES = {c.value for c in Confidence}
KNOWN_RULE_KEYS = {
    "id", "name", "description", "severity", "confidence", "tags", "pattern", "secret_group",
    "keywords", "min_entropy", "min_length", "checksum", "analyzer", "context", "requires",
    "visible", "allow", "filters", "max_span", "examples", "negative_examples", "references",
    "verify", "playbook",
}


class _Reader:
    """Typed access to a TOML table that raises RuleError naming file, rule and field."""

    def __init__(self, file: str, rule: str | None, table: dict[str, Any], prefix: str = "") -> None:
        self.file, self.rule, self.table, self.prefix = file, rule, table, prefix

    def fail(self, key: str, message: str) -> RuleError:
        return RuleError(self.file, self.rule, f"{self.prefix}{key}", message)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, required: bool = False) -> Any:
        if key not in self.table:
            if required or default is ...:
                raise self.fail(key, "required")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"expected {expected}, got {type(value).__name__}")
        return value

    def str_list(self, key: str, *, required: bool = False, non_empty: bool = False) -> tuple[str, ...]:
        value = self.get(key, list, [] if not required else ..., required=required)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of strings")
        if non_empty and not value:
            raise self.fail(key, "must not be empty")
        return tuple(value)


def parse_rule(file: str, provider: dict[str, str], table: dict[str, Any]) -> Rule:
    """Validate one `[[rules]]` table and build a Rule."""
    rid = table.get("id")
    if not isinstance(rid, str) or not rid:
        raise RuleError(file, None, "id", "required (a kebab-case string)")
    r = _Reader(file, rid, table)
    if not _ID_RE.match(rid):
        raise r.fail("id", "must be kebab-case: lowercase letters, digits and single dashes")
    unknown = sorted(set(table) - KNOWN_RULE_KEYS)
    if unknown:
        raise r.fail(unknown[0], "unknown field (check the spelling against docs/writing-rules.md)")

    severity = r.get("severity", str, required=True)
    if severity not in _SEVERITIES:
        raise r.fail("severity", f"must be one of {sorted(_SEVERITIES)}")
    confidence = r.get("confidence", str, required=True)
    if confidence not in _CONFIDENCES:
        raise r.fail("confidence", f"must be one of {sorted(_CONFIDENCES)}")

    pattern = r.get("pattern", str, required=True)
    try:
        compiled = re.compile(pattern.encode())
    except re.error as exc:
        raise r.fail("pattern", f"does not compile: {exc}") from None
    raw_group = r.get("secret_group", (int, list), 1)
    secret_groups = tuple(raw_group) if isinstance(raw_group, list) else (raw_group,)
    if compiled.groups < 1:
        raise r.fail("pattern", "needs a capture group around the secret")
    if not secret_groups or not all(isinstance(g, int) and 1 <= g <= compiled.groups for g in secret_groups):
        raise r.fail("secret_group", f"pattern has {compiled.groups} group(s); give one group number or a list of them")

    keywords = r.str_list("keywords", required=True)
    if any(k != k.lower() or not k for k in keywords):
        raise r.fail("keywords", "must be non-empty lowercase literals")

    examples = []
    raw_examples = r.get("examples", list, required=True)
    if not raw_examples:
        raise r.fail("examples", "at least one example is required")
    for i, ex in enumerate(raw_examples):
        if isinstance(ex, str):
            examples.append(Example(ex))
        elif isinstance(ex, dict) and isinstance(ex.get("text"), str):
            extra = sorted(set(ex) - {"text", "secret"})
            if extra:
                raise r.fail(f"examples[{i}].{extra[0]}", "unknown field (an example has only 'text' and 'secret'; put rule fields before the first [[rules.examples]])")
            secret = ex.get("secret")
            if secret is not None and not isinstance(secret, str):
                raise r.fail(f"examples[{i}].secret", "expected a string")
            examples.append(Example(ex["text"], secret))
        else:
            raise r.fail(f"examples[{i}]", "expected a string or a table with 'text'")
    negatives = r.str_list("negative_examples", required=True, non_empty=True)

    context = None
    if "context" in table:
        c = _Reader(file, rid, r.get("context", dict), "context.")
        context = Context(
            tuple(k.lower() for k in c.str_list("keywords", required=True, non_empty=True)),
            c.get("within_lines", int, 3),
        )
    requires = []
    for i, req in enumerate(r.get("requires", list, [])):
        if not isinstance(req, dict):
            raise r.fail(f"requires[{i}]", "expected a table")
        q = _Reader(file, rid, req, f"requires[{i}].")
        target = q.get("rule", str, required=True)
        requires.append(
            Requirement(
                target, q.get("within_lines", int, 10), q.get("as", str, target), q.get("optional", bool, True)
            )
        )
    allow = Allow()
    if "allow" in table:
        a = _Reader(file, rid, r.get("allow", dict), "allow.")
        extra = sorted(set(a.table) - {"stopwords", "regexes", "paths", "names"})
        if extra:
            raise a.fail(extra[0], "unknown field (known: names, paths, regexes, stopwords)")
        for key in ("regexes", "names"):
            for j, rx in enumerate(a.str_list(key)):
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise a.fail(f"{key}[{j}]", f"does not compile: {exc}") from None
        allow = Allow(a.str_list("stopwords"), a.str_list("regexes"), a.str_list("paths"), a.str_list("names"))

    verify = r.get("verify", dict, {"kind": "none"})
    _check_verify(_Reader(file, rid, verify, "verify."), {q.name for q in requires})
    checksum = r.get("checksum", str, None)
    playbook = r.get("playbook", dict, required=True)
    for key in PLAYBOOK_REQUIRED:
        if not playbook.get(key):
            raise r.fail(f"playbook.{key}", "required")

    return Rule(
        id=rid,
        name=r.get("name", str, required=True),
        provider=provider["id"],
        provider_name=provider.get("name", provider["id"]),
        description=r.get("description", str, required=True),
        severity=Severity(severity),
        confidence=Confidence(confidence),
        pattern=pattern,
        keywords=keywords,
        examples=tuple(examples),
        negative_examples=negatives,
        references=r.str_list("references", required=True, non_empty=True),
        file=file,
        tags=r.str_list("tags"),
        secret_groups=secret_groups,
        min_entropy=r.get("min_entropy", float, 0.0),
        min_length=r.get("min_length", int, 0),
        checksum=checksum,
        analyzer=r.get("analyzer", str, None),
        context=context,
        requires=tuple(requires),
        visible=r.get("visible", bool, True),
        allow=allow,
        filters=r.str_list("filters") if "filters" in table else default_filters(checksum),
        max_span=r.get("max_span", int, 1024),
        verify=verify,
        playbook=playbook,
    )


_VERIFY_KEYS = {
    "http": {"kind", "method", "url", "headers", "auth", "body", "body_format", "content_type", "hosts",
             "self_hosted", "requires", "valid", "invalid", "unknown", "keep", "timeout_s"},
    "custom": {"kind", "check", "hosts", "self_hosted", "requires", "params", "timeout_s"},
    "offline": {"kind", "check"},
    "none": {"kind", "reason"},
}
_AUTH_KEYS = {
    "bearer": {"scheme", "prefix", "token"},
    "basic": {"scheme", "username", "password"},
    "header": {"scheme", "name", "value", "prefix"},
    "query": {"scheme", "name", "value"},
    "body": {"scheme", "name", "value"},
}
_MATCHER_KEYS = {"status", "json_path", "json_value", "body_contains", "header", "reason"}
_TEMPLATE_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_HOST_GLOB = re.compile(r"^(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def _check_verify(v: _Reader, produced: set[str]) -> None:
    """Validate a `[rules.verify]` block (schema in docs/verify.md); raise naming the field."""
    kind = v.get("kind", str, "none")
    if kind not in _VERIFY_KEYS:
        raise v.fail("kind", f"must be one of {', '.join(sorted(_VERIFY_KEYS))}")
    unknown = sorted(set(v.table) - _VERIFY_KEYS[kind])
    if unknown:
        raise v.fail(unknown[0], f"unknown field for kind = \"{kind}\" (see docs/verify.md)")
    if kind in ("offline", "custom"):
        if not v.get("check", str, required=True):
            raise v.fail("check", "must name a check")
    if kind in ("none", "offline"):
        return
    self_hosted = v.get("self_hosted", bool, False)
    hosts = v.str_list("hosts", required=True, non_empty=not self_hosted)
    for i, h in enumerate(hosts):
        if not _HOST_GLOB.match(h):
            raise v.fail(f"hosts[{i}]", f"{h!r} is not a lowercase host name or *.domain glob")
    requires = v.str_list("requires")
    for name in requires:
        if name not in produced:
            raise v.fail("requires", f"'{name}' is not captured by any [[rules.requires]] (as = \"{name}\")")
    if "timeout_s" in v.table and v.get("timeout_s", float) <= 0:
        raise v.fail("timeout_s", "must be positive")
    if kind == "custom":
        v.get("params", dict, {})
        return
    allowed_vars = {"secret", *requires}
    templates: list[tuple[str, str]] = []
    url = v.get("url", str, required=True)
    whole = _TEMPLATE_VAR.match(url)  # `{{ secret }}`: the secret is itself the URL (webhooks)
    if not url.startswith("https://") and not whole:
        raise v.fail("url", "must start with https:// or be a variable holding a URL such as {{ secret }} (tests override hosts with [verify] base_urls)")
    if whole and not hosts:
        raise v.fail("hosts", "required when the URL comes from a variable")
    templates.append(("url", url))
    authority = "" if whole else url[8:].split("/", 1)[0].split("?", 1)[0]
    if authority and "{{" not in authority and not self_hosted:
        from fnmatch import fnmatch

        if not any(fnmatch(authority, h) and (not h.startswith("*.") or authority.endswith(h[1:])) for h in hosts):
            raise v.fail("url", f"host {authority!r} is not in verify.hosts")
    method = v.get("method", str, "GET")
    if method not in ("GET", "POST", "HEAD"):
        raise v.fail("method", "must be GET, POST or HEAD (checks never change state)")
    headers = v.get("headers", dict, {})
    for k, val in headers.items():
        if not isinstance(val, str):
            raise v.fail(f"headers.{k}", "expected a string")
        templates.append((f"headers.{k}", val))
    body = v.get("body", (str, dict), None)
    if isinstance(body, dict):
        for k, val in body.items():
            if not isinstance(val, str):
                raise v.fail(f"body.{k}", "expected a string")
            templates.append((f"body.{k}", val))
    elif isinstance(body, str):
        templates.append(("body", body))
    if v.get("body_format", str, "json") not in ("json", "form"):
        raise v.fail("body_format", "must be json or form")
    v.get("content_type", str, None)
    auth = v.get("auth", dict, None)
    if auth is not None:
        scheme = auth.get("scheme")
        if scheme not in _AUTH_KEYS:
            raise v.fail("auth.scheme", f"must be one of {', '.join(sorted(_AUTH_KEYS))}")
        extra = sorted(set(auth) - _AUTH_KEYS[scheme])
        if extra:
            raise v.fail(f"auth.{extra[0]}", f"not a field of auth scheme '{scheme}'")
        for k, val in auth.items():
            if not isinstance(val, str):
                raise v.fail(f"auth.{k}", "expected a string")
            if k != "scheme":
                templates.append((f"auth.{k}", val))
        if scheme in ("header", "query", "body") and not auth.get("name"):
            raise v.fail("auth.name", f"required for scheme '{scheme}'")
        if scheme == "basic" and not ("username" in auth or "password" in auth):
            raise v.fail("auth", "scheme 'basic' needs username and/or password templates")
        if scheme == "body" and isinstance(body, str):
            raise v.fail("auth.scheme", "'body' needs a table body (or none)")
    for where, text in templates:
        for var in _TEMPLATE_VAR.findall(text):
            if var not in allowed_vars:
                raise v.fail(where, f"uses '{{{{ {var} }}}}' but only secret and verify.requires ({', '.join(requires) or 'none'}) are available")
    if not any("{{" in t and "secret" in _TEMPLATE_VAR.findall(t) for _, t in templates) and not (auth and "token" not in auth and "value" not in auth and auth.get("scheme") in ("bearer", "header", "query", "body")):
        raise v.fail("url", "the check never sends {{ secret }} (in the URL, a header, the body or auth)")
    for key in ("valid", "invalid", "unknown"):
        if key == "valid" and key not in v.table:
            raise v.fail("valid", "required: which answers mean the secret is live")
        raw = v.table.get(key)
        if raw is None:
            continue
        items = [raw] if isinstance(raw, dict) else raw
        if not isinstance(items, list) or not items:
            raise v.fail(key, "expected a table or a list of tables")
        for i, m in enumerate(items):
            where = key if isinstance(raw, dict) else f"{key}[{i}]"
            if not isinstance(m, dict):
                raise v.fail(where, "expected a table")
            mr = _Reader(v.file, v.rule, m, f"{v.prefix}{where}.")
            extra = sorted(set(m) - _MATCHER_KEYS)
            if extra:
                raise mr.fail(extra[0], f"unknown matcher field (known: {', '.join(sorted(_MATCHER_KEYS))})")
            status = mr.get("status", list, required=True)
            if not status or not all(isinstance(x, int) and not isinstance(x, bool) and 100 <= x <= 599 for x in status):
                raise mr.fail("status", "expected a non-empty list of HTTP status codes")
            mr.get("json_path", str, None)
            if "json_value" in m and "json_path" not in m:
                raise mr.fail("json_value", "needs json_path")
            mr.str_list("body_contains")
            mr.get("header", str, None)
            mr.get("reason", str, None)
    keep = v.get("keep", dict, {})
    for k, val in keep.items():
        if not isinstance(val, str) or not val:
            raise v.fail(f"keep.{k}", "expected a JSON path (a.b.0) or header:Name")


def parse_file(file: str, data: dict[str, Any]) -> list[Rule]:
    """Validate a whole rule file (schema version, provider block, rules)."""
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise RuleError(file, None, "schema", f"unsupported rule-file schema {schema!r} (expected {SCHEMA_VERSION})")
    provider = data.get("provider")
    if not isinstance(provider, dict) or not isinstance(provider.get("id"), str):
        raise RuleError(file, None, "provider.id", "required")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise RuleError(file, None, "rules", "a rule file needs at least one [[rules]] table")
    return [parse_rule(file, provider, t) for t in rules if isinstance(t, dict)]

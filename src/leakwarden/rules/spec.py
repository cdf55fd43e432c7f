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
    filters: tuple[str, ...] = ("template", "placeholder")
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
        for j, rx in enumerate(a.str_list("regexes")):
            try:
                re.compile(rx)
            except re.error as exc:
                raise a.fail(f"regexes[{j}]", f"does not compile: {exc}") from None
        allow = Allow(a.str_list("stopwords"), a.str_list("regexes"), a.str_list("paths"))

    verify = r.get("verify", dict, {"kind": "none"})
    vkind = verify.get("kind", "none")
    if vkind not in ("http", "offline", "none", "custom"):
        raise r.fail("verify.kind", "must be one of http, offline, custom, none")
    if vkind == "http":
        v = _Reader(file, rid, verify, "verify.")
        v.get("url", str, required=True)
        v.str_list("hosts", required=True, non_empty=not verify.get("self_hosted", False))
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
        checksum=r.get("checksum", str, None),
        analyzer=r.get("analyzer", str, None),
        context=context,
        requires=tuple(requires),
        visible=r.get("visible", bool, True),
        allow=allow,
        filters=r.str_list("filters") if "filters" in table else ("template", "placeholder"),
        max_span=r.get("max_span", int, 1024),
        verify=verify,
        playbook=playbook,
    )


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

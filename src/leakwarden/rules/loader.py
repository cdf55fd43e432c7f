"""Find built-in and user rule files, apply enable/disable, and compute the ruleset hash."""

from __future__ import annotations

import hashlib
import pickle
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leakwarden import cache
from leakwarden.errors import RuleError
from leakwarden.rules.spec import Rule, parse_file

DATA_DIR = Path(__file__).parent / "data"
_CACHE_FORMAT = 7  # bump when Rule changes shape or parsing changes (7: default filters by checksum)


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[Rule, ...]
    hash: str
    by_id: dict[str, Rule] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_id.update({r.id: r for r in self.rules})

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            raise RuleError("<ruleset>", rule_id, None, "no such rule (see `leakwarden rules list`)") from None


def builtin_rule_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.toml"))


def _read_files(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    out = []
    for p in paths:
        try:
            out.append((str(p), p.read_bytes()))
        except OSError as exc:
            raise RuleError(str(p), None, None, f"cannot read rule file: {exc.strerror}") from None
    return out


def _parse(files: list[tuple[str, bytes]], builtin_count: int) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for i, (name, raw) in enumerate(files):
        display = f"rules/data/{Path(name).name}" if i < builtin_count else name
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RuleError(display, None, None, f"not valid TOML: {exc}") from None
        for rule in parse_file(display, data):
            if rule.id in seen:
                if i >= builtin_count:  # a user rule with a built-in id replaces it
                    rules = [r for r in rules if r.id != rule.id]
                else:
                    raise RuleError(display, rule.id, "id", f"duplicate of a rule in {seen[rule.id]}")
            seen[rule.id] = display
            rules.append(rule)
    return rules


def load_ruleset(
    extra_files: Sequence[Path] = (),
    disabled: Iterable[str] = (),
    only: Iterable[str] = (),
    *,
    include_builtin: bool = True,
) -> Ruleset:
    """Load, validate and filter rules. Parsed rules are cached on disk keyed by file contents."""
    builtin = builtin_rule_files() if include_builtin else []
    files = _read_files([*builtin, *extra_files])
    digest = hashlib.sha256(f"fmt{_CACHE_FORMAT}".encode())
    for name, raw in files:
        digest.update(Path(name).name.encode() + b"\0" + hashlib.sha256(raw).digest())
    content_hash = digest.hexdigest()

    rules = _cached_parse(content_hash, files, len(builtin))
    disabled_set, only_set = set(disabled), set(only)
    known = {r.id for r in rules}
    for rid in sorted((disabled_set | only_set) - known):
        raise RuleError("<config>", rid, None, "no such rule to enable or disable")
    if only_set:
        # keep helper rules that selected rules depend on
        needed = set(only_set)
        for r in rules:
            if r.id in only_set:
                needed.update(q.rule for q in r.requires)
        rules = [r for r in rules if r.id in needed]
    rules = [r for r in rules if r.id not in disabled_set]
    for r in rules:
        for q in r.requires:
            if q.rule not in known:
                raise RuleError(r.file, r.id, "requires.rule", f"unknown rule '{q.rule}'")
    final_hash = hashlib.sha256(
        (content_hash + "|" + ",".join(sorted(r.id for r in rules))).encode()
    ).hexdigest()
    return Ruleset(tuple(rules), final_hash)


def _cached_parse(content_hash: str, files: list[tuple[str, bytes]], builtin_count: int) -> list[Rule]:
    path = cache.cache_dir() / "rules" / f"{content_hash}.pickle"
    try:
        cached = pickle.loads(path.read_bytes())
        if isinstance(cached, list):
            return cached
    except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
        pass
    rules = _parse(files, builtin_count)
    cache.write_atomic(path, pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL))
    return rules

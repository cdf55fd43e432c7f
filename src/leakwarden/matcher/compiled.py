"""Per-rule compiled Python regexes and keyword checks shared by both engines."""

from __future__ import annotations

import re

from leakwarden.rules import Ruleset


def _max_width(pattern: str) -> int | None:
    """The longest match of `pattern` (lookarounds take no width), or None when it is unbounded
    or the parser is not available. `re._parser` is the standard library's own regex parser."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        _, high = _parser.parse(pattern.encode()).getwidth()
    except Exception:  # noqa: BLE001 - a private module: any change means no estimate
        return None
    return high if high < _parser.MAXREPEAT else None


class CompiledRules:
    """Python `re` objects compiled lazily: a hook that matches nothing compiles nothing."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._regex: list[re.Pattern[bytes] | None] = [None] * len(ruleset.rules)
        self.keywords: list[tuple[bytes, ...]] = [
            tuple(k.encode() for k in r.keywords) for r in ruleset.rules
        ]
        self._spans: list[int] = [0] * len(ruleset.rules)

    def regex(self, index: int) -> re.Pattern[bytes]:
        rx = self._regex[index]
        if rx is None:
            rx = self._regex[index] = re.compile(self.ruleset.rules[index].pattern.encode())
        return rx

    def span(self, index: int) -> int:
        """How far before a reported end a match may start: the rule's `max_span`, or one more
        than the longest text its regex can match when that is shorter. Confirmation windows
        shrink to what can match.

        NOTE: the generic assignment rule declares 400 bytes but cannot match more than 283. Its
        confirmation is the costliest one, because Python tries every start in the window.
        """
        span = self._spans[index]
        if not span:
            rule = self.ruleset.rules[index]
            width = _max_width(rule.pattern)
            span = self._spans[index] = min(rule.max_span, width + 1) if width is not None else rule.max_span
        return span

    def has_keyword(self, index: int, lowered: bytes) -> bool:
        kws = self.keywords[index]
        return not kws or any(k in lowered for k in kws)

"""Per-rule compiled Python regexes and keyword checks shared by both engines."""

from __future__ import annotations

import re

from leakwarden.rules import Ruleset


class CompiledRules:
    """Python `re` objects compiled lazily: a hook that matches nothing compiles nothing."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._regex: list[re.Pattern[bytes] | None] = [None] * len(ruleset.rules)
        self.keywords: list[tuple[bytes, ...]] = [
            tuple(k.encode() for k in r.keywords) for r in ruleset.rules
        ]
        self.spans: list[int] = [r.max_span for r in ruleset.rules]

    def regex(self, index: int) -> re.Pattern[bytes]:
        rx = self._regex[index]
        if rx is None:
            rx = self._regex[index] = re.compile(self.ruleset.rules[index].pattern.encode())
        return rx

    def has_keyword(self, index: int, lowered: bytes) -> bool:
        kws = self.keywords[index]
        return not kws or any(k in lowered for k in kws)

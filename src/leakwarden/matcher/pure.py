"""Pure-Python engine: keyword prefilter, then each rule's regex over the data."""

from __future__ import annotations

from leakwarden.matcher import RuleMatch
from leakwarden.matcher.compiled import CompiledRules
from leakwarden.rules import Ruleset


class PureMatcher:
    engine = "python"

    def __init__(self, ruleset: Ruleset) -> None:
        self.rules = CompiledRules(ruleset)

    def find(self, data: bytes) -> list[RuleMatch]:
        lowered = data.lower()
        out: list[RuleMatch] = []
        for i in range(len(self.rules.keywords)):
            if self.rules.keywords[i] and not self.rules.has_keyword(i, lowered):
                continue
            out.extend((i, m) for m in self.rules.regex(i).finditer(data))
        return out

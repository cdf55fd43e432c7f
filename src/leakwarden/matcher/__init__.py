"""Bytes in, confirmed regex matches out; knows nothing about where the bytes came from.

Two engines give the same matches: Hyperscan (one compiled database for every rule, matches
confirmed by the rule's own regex on a bounded window) and a pure-Python fallback.
"""

from __future__ import annotations

import os
import re
from typing import Protocol

from leakwarden.rules import Ruleset

RuleMatch = tuple[int, "re.Match[bytes]"]  # (rule index in the ruleset, the confirmed match)


class Matcher(Protocol):
    engine: str

    def find(self, data: bytes) -> list[RuleMatch]: ...


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def select_matcher(ruleset: Ruleset, engine: str = "auto") -> Matcher:
    """Pick an engine: `auto` (Hyperscan when importable), `hyperscan`, or `python`.

    The environment variable LEAKWARDEN_ENGINE=python forces the fallback, e.g. to compare.
    """
    from leakwarden.errors import UsageError

    if engine == "auto":
        engine = os.environ.get("LEAKWARDEN_ENGINE", "auto") or "auto"
    if engine not in ("auto", "hyperscan", "python"):
        raise UsageError(f"unknown engine {engine!r} (use auto, hyperscan or python)")
    from leakwarden.matcher.split import split_if_useful

    if engine == "python" or (engine == "auto" and not hyperscan_available()):
        from leakwarden.matcher.pure import PureMatcher

        return split_if_useful(ruleset, PureMatcher)
    if not hyperscan_available():
        raise UsageError("the hyperscan engine was asked for but the 'hyperscan' package is not installed")
    from leakwarden.matcher.hyperscan import HyperscanMatcher

    return split_if_useful(ruleset, HyperscanMatcher)

"""Hyperscan engine: one database for all rules, cached on disk, matches confirmed on windows.

NOTE: Hyperscan reports match *ends* only (start-of-match tracking is slow and limits patterns).
Each end is confirmed by the rule's Python regex on a window reaching back as far as one of its
matches can be long (`CompiledRules.span`), so Python's backtracking engine only ever sees
bounded input: linear time on hostile data.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import hyperscan as hs

from leakwarden import cache
from leakwarden.matcher import RuleMatch
from leakwarden.matcher.compiled import CompiledRules
from leakwarden.rules import Ruleset

# 2: keyword literals joined the database (see `keyword_patterns`).
_FORMAT = 2
_HS_VERSION = getattr(hs, "__version__", "unknown")
_TAIL = 64


def keyword_patterns(ruleset: Ruleset) -> list[bytes]:
    """Every distinct rule keyword, in a stable order, as a Hyperscan literal pattern.

    NOTE: keywords are found by the same Hyperscan pass as the rules (caseless, one report per
    keyword per scan) instead of `bytes.lower()` on every chunk with a hit plus a substring
    search per keyword: that cost 0.4 CPU-s per 400 MB of git history, as much as matching.
    """
    return sorted({k.encode() for r in ruleset.rules for k in r.keywords})


def _literal(keyword: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in keyword)


def _compile(patterns: list[bytes], keywords: list[bytes] = ()) -> tuple[Any, list[int]]:  # type: ignore[assignment]
    """Compile all patterns; those Hyperscan rejects get the approximate PREFILTER mode, and the
    few it cannot handle even then are returned as indexes to run with the Python engine.
    Keyword literals follow the rules, with ids from len(patterns) on."""
    flags = [0] * len(patterns)
    python_only: list[int] = []
    kw_ids = list(range(len(patterns), len(patterns) + len(keywords)))
    kw_exprs = [_literal(k) for k in keywords]
    kw_flags = [hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH] * len(keywords)
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    try:
        db.compile(
            expressions=patterns + kw_exprs, ids=list(range(len(patterns))) + kw_ids,
            elements=len(patterns) + len(keywords), flags=flags + kw_flags,
        )
        return db, python_only
    except hs.error:
        pass
    keep: list[int] = []
    for i, p in enumerate(patterns):
        for f in (0, hs.HS_FLAG_PREFILTER):
            probe = hs.Database(mode=hs.HS_MODE_BLOCK)
            try:
                probe.compile(expressions=[p], ids=[i], elements=1, flags=[f])
            except hs.error:
                continue
            flags[i] = f
            keep.append(i)
            break
        else:
            python_only.append(i)
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    if keep or keywords:
        db.compile(
            expressions=[patterns[i] for i in keep] + kw_exprs, ids=keep + kw_ids,
            elements=len(keep) + len(keywords), flags=[flags[i] for i in keep] + kw_flags,
        )
    return (db if keep or keywords else None), python_only


def _cache_path(ruleset_hash: str) -> Path:
    key = hashlib.sha256(f"{_FORMAT}|{_HS_VERSION}|{ruleset_hash}".encode()).hexdigest()[:32]
    return cache.cache_dir() / "hyperscan" / f"{key}.db"


def load_database(ruleset: Ruleset) -> tuple[Any, list[int]]:
    """Load the serialised database for this ruleset from the cache, or compile and store it."""
    path = _cache_path(ruleset.hash)
    try:
        raw = path.read_bytes()
        header, _, blob = raw.partition(b"\n")
        python_only = [int(x) for x in header.decode().split(",") if x]
        db = hs.loadb(blob, mode=hs.HS_MODE_BLOCK) if blob else None
        if db is not None:
            db.scratch = hs.Scratch(db)
        return db, python_only
    except (OSError, ValueError, hs.error):
        pass
    db, python_only = _compile([r.pattern.encode() for r in ruleset.rules], keyword_patterns(ruleset))
    blob = hs.dumpb(db) if db is not None else b""
    cache.write_atomic(path, ",".join(map(str, python_only)).encode() + b"\n" + blob)
    return db, python_only


def serialise(ruleset: Ruleset) -> bytes:
    """The cached database bytes, for shipping to worker processes or other machines."""
    load_database(ruleset)
    return _cache_path(ruleset.hash).read_bytes()


def install_serialised(ruleset_hash: str, data: bytes) -> bool:
    """Put bytes from `serialise` into this machine's cache if they load here (another CPU or
    Hyperscan build may reject them: then the caller's next `load_database` compiles instead)."""
    header, _, blob = data.partition(b"\n")
    try:
        [int(x) for x in header.decode().split(",") if x]
        if blob:
            hs.loadb(blob, mode=hs.HS_MODE_BLOCK)
    except (ValueError, UnicodeDecodeError, hs.error):
        return False
    path = _cache_path(ruleset_hash)
    if not path.exists():
        cache.write_atomic(path, data)
    return True


class HyperscanMatcher:
    engine = "hyperscan"

    def __init__(self, ruleset: Ruleset) -> None:
        self.rules = CompiledRules(ruleset)
        self.db, self.python_only = load_database(ruleset)
        n = len(ruleset.rules)
        kw_id = {k: n + i for i, k in enumerate(keyword_patterns(ruleset))}
        # per rule: the database ids of its keywords (empty: the rule has none)
        self._rule_kw = [tuple(kw_id[k] for k in kws) for kws in self.rules.keywords]
        self._n = n

    def find(self, data: bytes) -> list[RuleMatch]:
        ends: dict[int, list[int]] = {}
        seen_kw: set[int] = set()
        if self.db is not None and data:
            n = self._n

            def on_match(rule: int, _start: int, end: int, _flags: int, _ctx: Any) -> None:
                if rule >= n:
                    seen_kw.add(rule)
                    return
                lst = ends.get(rule)
                if lst is None:
                    ends[rule] = [end]
                else:
                    lst.append(end)

            self.db.scan(data, match_event_handler=on_match)
        return self._confirm_all(data, ends, self.python_only, list(ends), seen_kw if self.db is not None else None)

    def _confirm_all(self, data: bytes, ends: dict[int, list[int]], python_rules: list[int], hit_rules: list[int], seen_kw: set[int] | None = None) -> list[RuleMatch]:
        out: list[RuleMatch] = []
        lowered: bytes | None = None
        for i in python_rules:
            if seen_kw is not None and self.rules.keywords[i]:
                if seen_kw.isdisjoint(self._rule_kw[i]):
                    continue
            else:
                if lowered is None:
                    lowered = data.lower()
                if not self.rules.has_keyword(i, lowered):
                    continue
            out.extend((i, m) for m in self.rules.regex(i).finditer(data))
        for rule in hit_rules:
            if self.rules.keywords[rule]:
                if seen_kw is not None:
                    if seen_kw.isdisjoint(self._rule_kw[rule]):
                        continue
                else:
                    if lowered is None:
                        lowered = data.lower()
                    if not self.rules.has_keyword(rule, lowered):
                        continue
            out.extend((rule, m) for m in self._confirm(rule, ends[rule], data))
        return out

    def _confirm(self, rule: int, rule_ends: list[int], data: bytes) -> list[re.Match[bytes]]:
        span = self.rules.span(rule)
        regex = self.rules.regex(rule)
        n = len(data)
        found: list[re.Match[bytes]] = []
        last_end = -1
        # Cluster ends whose windows overlap; scan each cluster's window once.
        lo_end = hi_end = rule_ends[0]
        clusters: list[tuple[int, int]] = []
        for e in rule_ends[1:]:
            if e - hi_end > 2 * span:
                clusters.append((lo_end, hi_end))
                lo_end = e
            hi_end = e
        clusters.append((lo_end, hi_end))
        for first, last in clusters:
            lo = max(0, first - span)
            # A true match ends at a reported end: past the last one only what a trailing
            # assertion may look at is needed. NOTE: `+ span` here cost generic assignments
            # half of their confirmation time on rails' history.
            hi = min(n, last + min(span, _TAIL))
            for m in regex.finditer(data, max(lo, last_end if last_end > 0 else 0), hi):
                # A match cut by the window's edges is not the real match: the real one is
                # found from another cluster or does not end at a reported position.
                if (m.end() == hi and hi != n and m.end() > last) or (m.start() == lo and lo != 0):
                    continue
                if m.end() < first - span:
                    continue
                found.append(m)
                last_end = m.end()
        return found

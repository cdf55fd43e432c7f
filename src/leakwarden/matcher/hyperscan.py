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

# 3: keyword literals in a database of their own (see `keyword_patterns`).
_FORMAT = 3
_HS_VERSION = getattr(hs, "__version__", "unknown")
_TAIL = 64


def keyword_patterns(ruleset: Ruleset) -> list[bytes]:
    """Every distinct rule keyword, in a stable order, as a Hyperscan literal pattern.

    NOTE: keywords are found by Hyperscan (caseless, one report per keyword per scan) instead
    of `bytes.lower()` plus a substring search per keyword: that cost 0.4 CPU-s per 400 MB of git
    history, as much as matching. They have a database of their own, scanned only when a rule
    with keywords matched: in the same pass as the rules they cost a Python callback for every
    keyword in every chunk (0.76M on half of rails' history, where 4% of the chunks had a rule
    match), and the rules' scan went from 2.35 to 3.19 CPU-s.
    """
    return sorted({k.encode() for r in ruleset.rules for k in r.keywords})


def _literal(keyword: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in keyword)


def _compile(patterns: list[bytes]) -> tuple[Any, list[int]]:
    """Compile all patterns; those Hyperscan rejects get the approximate PREFILTER mode, and the
    few it cannot handle even then are returned as indexes to run with the Python engine."""
    flags = [0] * len(patterns)
    python_only: list[int] = []
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    try:
        if patterns:
            db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
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
    if not keep:
        return None, python_only
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=[patterns[i] for i in keep], ids=keep, elements=len(keep), flags=[flags[i] for i in keep])
    return db, python_only


def _compile_keywords(keywords: list[bytes]) -> Any:
    """One caseless literal per keyword, reported once per scan; None without keywords."""
    if not keywords:
        return None
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[_literal(k) for k in keywords], ids=list(range(len(keywords))), elements=len(keywords),
        flags=[hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH] * len(keywords),
    )
    return db


def _cache_path(ruleset_hash: str) -> Path:
    key = hashlib.sha256(f"{_FORMAT}|{_HS_VERSION}|{ruleset_hash}".encode()).hexdigest()[:32]
    return cache.cache_dir() / "hyperscan" / f"{key}.db"


def _pack(python_only: list[int], db: Any, keywords: Any) -> bytes:
    """Cache file: `python-only indexes;rules database size` on one line, then both databases."""
    rules = hs.dumpb(db) if db is not None else b""
    kws = hs.dumpb(keywords) if keywords is not None else b""
    return f"{','.join(map(str, python_only))};{len(rules)}\n".encode() + rules + kws


def _unpack(raw: bytes) -> tuple[list[int], bytes, bytes]:
    header, _, body = raw.partition(b"\n")
    only, sep, size = header.decode().partition(";")
    n = int(size) if sep else -1
    if not 0 <= n <= len(body):
        raise ValueError("not a leakwarden Hyperscan cache file")
    return [int(x) for x in only.split(",") if x], body[:n], body[n:]


def _load(blob: bytes) -> Any:
    if not blob:
        return None
    db = hs.loadb(blob, mode=hs.HS_MODE_BLOCK)
    db.scratch = hs.Scratch(db)
    return db


def load_database(ruleset: Ruleset) -> tuple[Any, Any, list[int]]:
    """The rules' database, the keywords' database and the indexes of the rules only Python can
    run, from the cache, or compiled and stored there."""
    path = _cache_path(ruleset.hash)
    try:
        python_only, rules, kws = _unpack(path.read_bytes())
        return _load(rules), _load(kws), python_only
    except (OSError, ValueError, hs.error):
        pass
    db, python_only = _compile([r.pattern.encode() for r in ruleset.rules])
    keywords = _compile_keywords(keyword_patterns(ruleset))
    cache.write_atomic(path, _pack(python_only, db, keywords))
    return db, keywords, python_only


def serialise(ruleset: Ruleset) -> bytes:
    """The cached database bytes, for shipping to worker processes or other machines."""
    load_database(ruleset)
    return _cache_path(ruleset.hash).read_bytes()


def install_serialised(ruleset_hash: str, data: bytes) -> bool:
    """Put bytes from `serialise` into this machine's cache if they load here (another CPU or
    Hyperscan build may reject them: then the caller's next `load_database` compiles instead)."""
    try:
        _, rules, kws = _unpack(data)
        for blob in (rules, kws):
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
        self.db, self.keywords_db, self.python_only = load_database(ruleset)
        kw_id = {k: i for i, k in enumerate(keyword_patterns(ruleset))}
        # per rule: the keyword database's ids of its keywords (empty: the rule has none)
        self._rule_kw = [tuple(kw_id[k] for k in kws) for kws in self.rules.keywords]

    def find(self, data: bytes) -> list[RuleMatch]:
        ends: dict[int, list[int]] = {}
        if self.db is not None and data:

            def on_match(rule: int, _start: int, end: int, _flags: int, _ctx: Any) -> None:
                lst = ends.get(rule)
                if lst is None:
                    ends[rule] = [end]
                else:
                    lst.append(end)

            self.db.scan(data, match_event_handler=on_match)
        if not ends and not self.python_only:
            return []
        seen_kw: set[int] | None = None
        if self.keywords_db is not None:
            seen_kw = set()
            if self.python_only or any(self._rule_kw[r] for r in ends):

                def on_keyword(kw: int, _start: int, _end: int, _flags: int, _ctx: Any) -> None:
                    seen_kw.add(kw)

                self.keywords_db.scan(data, match_event_handler=on_keyword)
        return self._confirm_all(data, ends, self.python_only, list(ends), seen_kw)

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

"""Turn confirmed regex matches into findings: extract, gate, filter, attach context.

The order of gates follows cost: length and entropy first, then checksums, analyzers, filters
and allowlists, and only then the line-oriented context and inline-allow checks.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from typing import Any

from leakwarden.candidates.analyzers import ANALYZERS
from leakwarden.candidates.checksums import CHECKSUMS
from leakwarden.candidates.entropy import shannon_entropy
from leakwarden.candidates.filters import FILTERS
from leakwarden.errors import RuleError
from leakwarden.matcher import Matcher
from leakwarden.models import Chunk, Confidence, Finding, Location, Secret
from leakwarden.rules import Rule, Ruleset

ALLOW_MARKER = b"leakwarden:allow"
MAX_DECODE_DEPTH = 2
_MAX_LINE_DISPLAY = 240


def check_registries(ruleset: Ruleset) -> None:
    """Fail early, naming the rule, when a rule refers to an unknown validator or filter."""
    for r in ruleset.rules:
        if r.checksum and r.checksum not in CHECKSUMS:
            raise RuleError(r.file, r.id, "checksum", f"unknown checksum validator '{r.checksum}' (known: {', '.join(sorted(CHECKSUMS))})")
        if r.analyzer and r.analyzer not in ANALYZERS:
            raise RuleError(r.file, r.id, "analyzer", f"unknown analyzer '{r.analyzer}' (known: {', '.join(sorted(ANALYZERS))})")
        for f in r.filters:
            if f not in FILTERS:
                raise RuleError(r.file, r.id, "filters", f"unknown filter '{f}' (known: {', '.join(sorted(FILTERS))})")


@dataclass(slots=True)
class _Candidate:
    rule_index: int
    rule: Rule
    start: int  # offset of the secret in the chunk
    end: int
    match_start: int
    match_end: int
    secret: str
    line: int = 0
    confidence: Confidence = Confidence.MEDIUM
    details: dict[str, Any] = field(default_factory=dict)


class _Lines:
    """Line lookups in a chunk; a newline index is built only when many are needed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._nl: list[int] | None = None
        self._lookups = 0

    def newlines(self) -> list[int]:
        if self._nl is None:
            self._nl = [m.start() for m in re.finditer(b"\n", self.data)]
        return self._nl

    def line_of(self, offset: int) -> int:
        """0-based line index of an offset. Counting is cheaper than an index for a few lookups."""
        self._lookups += 1
        if self._nl is None and self._lookups <= 8:
            return self.data.count(b"\n", 0, offset)
        return bisect_right(self.newlines(), offset - 1)

    def line_start(self, offset: int) -> int:
        return self.data.rfind(b"\n", 0, offset) + 1

    def line_end(self, offset: int) -> int:
        e = self.data.find(b"\n", offset)
        return len(self.data) if e < 0 else e

    def region(self, start: int, end: int, lines: int) -> bytes:
        """The text from `lines` lines before `start` to `lines` lines after `end`, bounded."""
        lo = self.line_start(start)
        for _ in range(lines):
            if lo <= 0:
                break
            lo = self.data.rfind(b"\n", max(0, lo - 4096), lo - 1) + 1
        hi = self.line_end(end)
        for _ in range(lines):
            if hi >= len(self.data):
                break
            nxt = self.data.find(b"\n", hi + 1, hi + 4097)
            hi = len(self.data) if nxt < 0 else nxt
        return self.data[lo:hi]


class Detector:
    """Run the matcher over a chunk and produce findings for it."""

    def __init__(self, ruleset: Ruleset, matcher: Matcher, decode: bool = True) -> None:
        check_registries(ruleset)
        self.ruleset = ruleset
        self.matcher = matcher
        self._allow_regex = [tuple(re.compile(x) for x in r.allow.regexes) for r in ruleset.rules]
        self._allow_names = [tuple(re.compile(x.encode()) for x in r.allow.names) for r in ruleset.rules]
        self._segments = None
        if decode:
            from leakwarden.candidates.decoders import SegmentFinder

            self._segments = SegmentFinder()

    def scan(self, chunk: Chunk) -> list[Finding]:
        findings = self._scan_plain(chunk)
        if self._segments is not None and chunk.depth < MAX_DECODE_DEPTH:
            decoded = self._scan_decoded(chunk, findings)
            if decoded:
                # the encoded text itself often looks like a generic secret: the decoded
                # finding says more, so it replaces a generic one on the same line
                lines = {f.location.start_line for f in decoded}
                findings = [f for f in findings if not ("generic" in self.ruleset.by_id[f.rule_id].tags and f.location.start_line in lines)]
                findings.extend(decoded)
        return findings

    def _scan_decoded(self, chunk: Chunk, found: list[Finding]) -> list[Finding]:
        """Scan decoded segments; report what they hide at the encoded text's location."""
        assert self._segments is not None
        data = chunk.data
        seen = {(f.rule_id, f.secret.reveal(), f.location.offset) for f in found}
        seen_secrets = {(f.rule_id, f.secret.reveal()) for f in found}
        out: list[Finding] = []
        # NOTE: a decoded segment is rescanned with its line around it, for context; only what
        # reaches into the decoded bytes can be new. Without `focus`, every other segment and
        # assignment on a long line of them was decoded and checked again for each one:
        # quadratic (a 200 KB line of quoted base64 took 400 s).
        for seg in self._segments.segments(data, chunk.focus):
            child = Chunk(seg.text, chunk.origin, depth=chunk.depth + 1, focus=seg.focus)
            for f in self.scan(child):
                key = (f.rule_id, f.secret.reveal())
                if key in seen_secrets:
                    continue  # already visible in the plain text (e.g. escapes around it)
                line = data.count(b"\n", 0, seg.start)
                ls = data.rfind(b"\n", 0, seg.start) + 1
                col0 = chunk.base_column if ls == 0 else 1
                loc = replace(
                    f.location,
                    start_line=chunk.base_line + line,
                    end_line=chunk.base_line + line + data.count(b"\n", seg.start, seg.end),
                    start_column=seg.start - ls + col0,
                    end_column=seg.end - (data.rfind(b"\n", 0, seg.end) + 1) + (col0 if ls == 0 else 1),
                    offset=chunk.base_offset + seg.start,
                )
                chain = f"{seg.kind}>{f.decoded}" if f.decoded else seg.kind
                if (f.rule_id, f.secret.reveal(), loc.offset) in seen:
                    continue
                seen.add((f.rule_id, f.secret.reveal(), loc.offset))
                out.append(replace(f, location=loc, decoded=chain))
        return out

    def _scan_plain(self, chunk: Chunk) -> list[Finding]:
        data = chunk.data
        matches = self.matcher.find(data)
        if chunk.focus is not None and matches:
            lo, hi = chunk.focus
            rules = self.ruleset.rules
            # helpers (e-mails, site URLs) in the context still pair with a finding in focus
            matches = [(r, m) for r, m in matches if (m.end() > lo and m.start() < hi) or not rules[r].visible]
        if not matches:
            return []
        lines = _Lines(data)
        path = chunk.origin.path
        candidates: list[_Candidate] = []
        seen: set[tuple[int, int, int]] = set()
        for rule_index, m in matches:
            rule = self.ruleset.rules[rule_index]
            cand = self._gate(rule_index, rule, m, path)
            if cand is None or (rule_index, cand.start, cand.end) in seen:
                continue
            seen.add((rule_index, cand.start, cand.end))
            if rule.context is not None:
                region = lines.region(cand.match_start, cand.match_end, rule.context.within_lines).lower()
                if not any(k.encode() in region for k in rule.context.keywords):
                    continue
            cand.line = lines.line_of(cand.start)
            candidates.append(cand)
        return self._findings(chunk, candidates, lines)

    def _gate(self, index: int, rule: Rule, m: re.Match[bytes], path: str | None) -> _Candidate | None:
        group = next((g for g in rule.secret_groups if m.start(g) >= 0), 0)
        if not group:
            return None
        raw = m.group(group)
        secret = raw.decode("utf-8", "replace")
        if len(secret) < rule.min_length:
            return None
        if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
            return None
        confidence = rule.confidence
        if rule.checksum:
            if not CHECKSUMS[rule.checksum](secret):
                return None
            confidence = Confidence.HIGH
        details: dict[str, Any] = {}
        if rule.analyzer:
            analyzed = ANALYZERS[rule.analyzer](secret)
            if analyzed is None:
                return None
            details = analyzed
        if any(FILTERS[f](secret) for f in rule.filters):
            return None
        lower = secret.lower()
        if any(w in lower for w in rule.allow.stopwords):
            return None
        if any(rx.search(secret) for rx in self._allow_regex[index]):
            return None
        if path and rule.allow.paths and any(fnmatch.fnmatch(path, p) for p in rule.allow.paths):
            return None
        if self._allow_names[index]:
            name = assigned_name(m, group)
            if any(rx.search(name) for rx in self._allow_names[index]):
                return None
        return _Candidate(
            index, rule, m.start(group), m.end(group), m.start(), m.end(),
            secret, confidence=confidence, details=details,
        )

    def _findings(self, chunk: Chunk, candidates: list[_Candidate], lines: _Lines) -> list[Finding]:
        by_rule: dict[str, list[_Candidate]] = {}
        for c in candidates:
            by_rule.setdefault(c.rule.id, []).append(c)
        out: list[Finding] = []
        data = chunk.data
        origin = chunk.origin
        # A generic rule says nothing new where a specific rule already found the same bytes.
        specific = [(c.start, c.end) for c in candidates if c.rule.visible and "generic" not in c.rule.tags]
        for c in candidates:
            rule = c.rule
            if not rule.visible:
                continue
            if "generic" in rule.tags and any(s < c.end and c.start < e for s, e in specific):
                continue
            related: dict[str, Secret] = {}
            missing = False
            for req in rule.requires:
                near = [o for o in by_rule.get(req.rule, ()) if abs(o.line - c.line) <= req.within_lines]
                if near:
                    best = min(near, key=lambda o: (abs(o.line - c.line), o.start))
                    related[req.name] = Secret(best.secret)
                elif not req.optional:
                    missing = True
            if missing:
                continue
            ls, le = lines.line_start(c.start), lines.line_end(c.end)
            line_bytes = data[ls:le]
            if ALLOW_MARKER in line_bytes:
                continue
            end_line = c.line + data.count(b"\n", c.start, c.end)
            end_ls = data.rfind(b"\n", 0, c.end) + 1
            display = _display_line(line_bytes, c.start - ls, c.end - ls, c.secret)
            loc = Location(
                kind=origin.kind,
                path=origin.path,
                start_line=chunk.base_line + c.line,
                end_line=chunk.base_line + end_line,
                start_column=c.start - ls + (chunk.base_column if ls == 0 else 1),
                end_column=c.end - end_ls + (chunk.base_column if end_ls == 0 else 1),
                offset=chunk.base_offset + c.start,
                commit=origin.commit,
                blob=origin.blob,
                layer=origin.layer,
                extra=dict(origin.extra),
            )
            out.append(
                Finding(
                    rule_id=rule.id,
                    rule_name=rule.name,
                    provider=rule.provider,
                    severity=rule.severity,
                    confidence=c.confidence,
                    secret=Secret(c.secret),
                    location=loc,
                    line=display,
                    details=c.details,
                    related=related,
                    decoded=None,
                )
            )
        return out


_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_NAME_REACH = 64


def assigned_name(m: re.Match[bytes], group: int) -> bytes:
    """The text a match puts before its secret (the name and the `=` or `:`), extended to the
    left over the name characters it starts among: a match may start at the `_` or `-` inside
    `csrf_token`, and the allowlist must see the whole name."""
    data = m.string
    start = m.start()
    floor = max(0, start - _NAME_REACH)
    while start > floor and data[start - 1] in _NAME_CHARS:
        start -= 1
    return data[start : m.start(group)]


def _display_line(line: bytes, s: int, e: int, secret: str) -> str:
    """The line with the secret replaced by its redacted form, cut to a readable length."""
    from leakwarden.models import redact

    text = line[:s].decode("utf-8", "replace") + redact(secret) + line[e:].decode("utf-8", "replace")
    text = text.strip()
    if len(text) > _MAX_LINE_DISPLAY:
        pos = max(0, text.find(redact(secret)) - 60)
        text = ("…" if pos else "") + text[pos : pos + _MAX_LINE_DISPLAY] + "…"
    return text

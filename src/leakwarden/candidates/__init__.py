"""Turn confirmed regex matches into findings: extract, gate, filter, attach context.

The order of gates follows cost: length and entropy first, then checksums, analyzers, filters
and allowlists, and only then the line-oriented context and inline-allow checks.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from leakwarden.candidates.analyzers import ANALYZERS
from leakwarden.candidates.checksums import CHECKSUMS
from leakwarden.candidates.entropy import shannon_entropy
from leakwarden.candidates.filters import FILTERS
from leakwarden.errors import RuleError
from leakwarden.matcher import Matcher, RuleMatch
from leakwarden.models import Chunk, Confidence, Finding, Location, Secret
from leakwarden.rules import Rule, Ruleset

if TYPE_CHECKING:
    from leakwarden.candidates.decoders import Decoded, SegmentFinder

ALLOW_MARKER = b"leakwarden:allow"
MAX_DECODE_DEPTH = 2
_MAX_LINE_DISPLAY = 240
# bytes of a line read before and after a secret for its display (60 and 240 characters shown)
_WINDOW_BEFORE, _WINDOW_AFTER = 128, 512
_MAX_MASK_VALUE = 4096  # longer secret values are masked where found, not searched for elsewhere


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


_REGION_LINE = 4096  # bytes a line can add to a rule's context region


def secret_group(rule: Rule, m: re.Match[bytes]) -> int:
    """The first of the rule's secret groups that took part in the match (0: none did)."""
    return next((g for g in rule.secret_groups if m.start(g) >= 0), 0)


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
        # NOTE: with many lookups, the index: a search back per finding on a megabytes-long
        # line made many findings on it cost quadratic time
        if self._nl is not None:
            i = bisect_left(self._nl, offset) - 1
            return self._nl[i] + 1 if i >= 0 else 0
        return self.data.rfind(b"\n", 0, offset) + 1

    def line_end(self, offset: int) -> int:
        if self._nl is not None:
            i = bisect_left(self._nl, offset)
            return self._nl[i] if i < len(self._nl) else len(self.data)
        e = self.data.find(b"\n", offset)
        return len(self.data) if e < 0 else e

    def region(self, start: int, end: int, lines: int) -> bytes:
        """The text from `lines` lines before `start` to `lines` lines after `end`, bounded: each
        line counts for at most `_REGION_LINE` bytes, the match's own line too. A line longer
        than that (minified JavaScript, a JSON bundle) ends the region there: a word 20 kB away
        on the same line, or anywhere further in the file, is no context."""
        step = _REGION_LINE
        ls = self.line_start(start)
        lo = max(ls, start - step)
        if lo == ls:
            for _ in range(lines):
                if lo <= 0:
                    break
                floor = max(0, lo - 1 - step)
                nl = self.data.rfind(b"\n", floor, lo - 1)
                if nl < 0:
                    lo = floor
                    break
                lo = nl + 1
        le = self.line_end(end)
        hi = min(le, end + step)
        if hi == le:
            for _ in range(lines):
                if hi >= len(self.data):
                    break
                ceiling = min(len(self.data), hi + 1 + step)
                nxt = self.data.find(b"\n", hi + 1, ceiling)
                if nxt < 0:
                    hi = ceiling
                    break
                hi = nxt
        return self.data[lo:hi]


@dataclass(slots=True)
class _Hit:
    """A finding before its display line is built, with the bytes it stands for in the chunk:
    the secret, or for a decoded finding the encoded text it was decoded from."""

    finding: Finding
    start: int
    end: int


class _Seen:
    """Everything scanning one chunk saw that a displayed line must not show: every rule match
    (before any gate, filter or allowlist), every finding's span, the secret values (to mask
    their other occurrences), and the same for each decoded segment, mapped back to the encoded
    text. Resolved only when the chunk has something to report."""

    __slots__ = ("children", "hits", "matches", "values")

    def __init__(self) -> None:
        self.matches: list[RuleMatch] = []
        self.hits: list[tuple[int, int]] = []
        self.values: set[bytes] = set()
        self.children: list[tuple[Decoded, _Seen]] = []

    def __bool__(self) -> bool:
        return bool(self.matches or self.hits or self.children)

    def resolve(self, rules: tuple[Rule, ...], data: bytes) -> tuple[list[tuple[int, int]], set[bytes]]:
        """(spans to mask, values to mask wherever they occur), in `data`'s offsets."""
        from leakwarden.candidates.decoders import raw_span

        spans = list(self.hits)
        values = set(self.values)
        for rule_index, m in self.matches:
            group = secret_group(rules[rule_index], m)
            if group:
                spans.append(m.span(group))
        for seg, child in self.children:
            child_spans, child_values = child.resolve(rules, seg.text)
            values |= child_values
            for a, b in child_spans:
                spans.append(raw_span(seg, data, a, b))
            for a, b in child.hits:  # the encoded form of what was found: masked wherever it occurs
                ra, rb = raw_span(seg, data, a, b)
                if rb - ra <= _MAX_MASK_VALUE:
                    values.add(data[ra:rb])
        return spans, values


class Detector:
    """Run the matcher over a chunk and produce findings for it."""

    def __init__(self, ruleset: Ruleset, matcher: Matcher, decode: bool = True, unselected: Detector | None = None) -> None:
        check_registries(ruleset)
        self.ruleset = ruleset
        self.matcher = matcher
        # A detector of the rules a selection (--only-rule, --disable-rule) left out: they report
        # nothing, but what they see (plain or decoded) is masked on a displayed line too.
        self.unselected = unselected
        self._allow_regex = [tuple(re.compile(x) for x in r.allow.regexes) for r in ruleset.rules]
        self._allow_names = [tuple(re.compile(x.encode()) for x in r.allow.names) for r in ruleset.rules]
        self._generic = frozenset(r.id for r in ruleset.rules if "generic" in r.tags)
        # Findings an inline `leakwarden:allow` dropped so far (plain text, own bytes of each
        # chunk): callers add the difference to `stats.suppressed["inline_allow"]`. The lines
        # of those in the latest `scan` too, for callers that keep only some lines (diffs).
        self.allowed = 0
        self.allowed_lines: list[int] = []
        self._segments: SegmentFinder | None = None
        if decode:
            from leakwarden.candidates.decoders import SegmentFinder

            self._segments = SegmentFinder()

    def scan(self, chunk: Chunk) -> list[Finding]:
        self.allowed_lines = []
        view, hits, seen = self._scan(chunk)
        if not hits:
            return []
        assert seen is not None
        more: tuple[list[tuple[int, int]], set[bytes]] = ([], set())
        if self.unselected is not None:
            _, _, other = self.unselected._scan(chunk)  # the same bytes: `view` is deterministic
            if other is not None:
                more = other.resolve(self.unselected.ruleset.rules, view)
        return _with_lines(view, hits, seen, self.ruleset.rules, more)

    def _scan(self, chunk: Chunk) -> tuple[bytes, list[_Hit], _Seen | None]:
        """The findings (display lines not built yet), what the scan saw, and the bytes it read:
        the chunk's, with ANSI colour codes blanked (see `blank_ansi`)."""
        data = chunk.data
        spans: list[tuple[int, str, int]] = []
        ws: list[int] = []
        if self._segments is not None and chunk.depth < MAX_DECODE_DEPTH:
            spans, ws, ansi = self._segments.find(data)
            if ansi:
                data = blank_ansi(data)
                spans, ws, _ = self._segments.find(data, ansi_stops=False)
        else:
            from leakwarden.candidates.decoders import has_ansi, ws_escape_offsets

            if has_ansi(data):
                data = blank_ansi(data)
            if b"\\" in data:
                ws = ws_escape_offsets(data)
        seen: _Seen | None = None
        hits, matches, values = self._scan_plain(chunk, data, ws)
        if matches:
            seen = _Seen()
            seen.matches = matches
            seen.hits = [(h.start, h.end) for h in hits]
            seen.values = values
        if spans:
            if seen is None:
                seen = _Seen()
            decoded = self._scan_decoded(chunk, data, spans, hits, seen)
            if decoded:
                # the encoded text itself often looks like a generic secret: the decoded
                # finding says more, so it replaces a generic one on the same line
                lines = {h.finding.location.start_line for h in decoded}
                hits = [h for h in hits if not ("generic" in self.ruleset.by_id[h.finding.rule_id].tags and h.finding.location.start_line in lines)]
                hits.extend(decoded)
        return data, hits, seen if seen else None

    def _scan_decoded(self, chunk: Chunk, data: bytes, spans: list[tuple[int, str, int]], found: list[_Hit], seen_here: _Seen) -> list[_Hit]:
        """Scan decoded segments; report what they hide at the encoded text's location."""
        assert self._segments is not None
        from leakwarden.candidates.decoders import raw_span

        seen = {(h.finding.rule_id, h.finding.secret.reveal(), h.finding.location.offset) for h in found}
        seen_secrets = {(h.finding.rule_id, h.finding.secret.reveal()) for h in found}
        out: list[_Hit] = []
        lines = _Lines(data)
        # NOTE: a decoded segment is rescanned with its line around it, for context; only what
        # reaches into the decoded bytes can be new (`focus`). Without it every other segment and
        # assignment on a long line of them was decoded and checked again for each one:
        # quadratic (a 200 KB line of quoted base64 took 400 s).
        if chunk.focus is not None:
            lo, hi = chunk.focus
            spans = [s for s in spans if s[2] > lo and s[0] < hi]
        for seg in self._segments.segments(data, spans):
            focus = (seg.start - seg.region[0], seg.start - seg.region[0] + seg.decoded_len) if seg.kind == "base64" else None
            child = Chunk(seg.text, chunk.origin, depth=chunk.depth + 1, focus=focus)
            _, child_hits, child_seen = self._scan(child)
            if child_seen is not None:
                seen_here.children.append((seg, child_seen))
            for h in child_hits:
                f = h.finding
                key = (f.rule_id, f.secret.reveal())
                if key in seen_secrets:
                    continue  # already visible in the plain text (e.g. escapes around it)
                # the location is the encoded text of this secret (for base64 the whole run), not
                # the segment: an escape or a percent-encoded byte can sit in the middle of the
                # token or after it, and the segment runs on to the end of the line
                start, end = raw_span(seg, data, h.start, h.end)
                line = lines.line_of(start)
                ls = lines.line_start(start)
                col0 = chunk.base_column if ls == 0 else 1
                loc = replace(
                    f.location,
                    start_line=chunk.base_line + line,
                    end_line=chunk.base_line + line + data.count(b"\n", start, end),
                    start_column=start - ls + col0,
                    end_column=end - lines.line_start(end) + (col0 if lines.line_start(end) == 0 else 1),
                    offset=chunk.base_offset + start,
                )
                chain = f"{seg.kind}>{f.decoded}" if f.decoded else seg.kind
                if (f.rule_id, f.secret.reveal(), loc.offset) in seen:
                    continue
                seen.add((f.rule_id, f.secret.reveal(), loc.offset))
                seen_here.hits.append((start, end))
                out.append(_Hit(replace(f, location=loc, decoded=chain), start, end))
        return out

    def _scan_plain(self, chunk: Chunk, data: bytes, ws: list[int]) -> tuple[list[_Hit], list[RuleMatch], set[bytes]]:
        """Findings of the matches in `data`, the matches and the candidates' secret values."""
        matches = self.matcher.find(data)
        if ws:
            matches = matches + self._after_escapes(data, ws, matches)
        if chunk.focus is not None and matches:
            lo, hi = chunk.focus
            rules = self.ruleset.rules
            # helpers (e-mails, site URLs) in the context still pair with a finding in focus
            matches = [(r, m) for r, m in matches if (m.end() > lo and m.start() < hi) or not rules[r].visible]
        if not matches:
            return [], matches, set()
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
        values = {data[c.start : c.end] for c in candidates if c.end - c.start <= _MAX_MASK_VALUE}
        return self._findings(chunk, data, candidates, lines), matches, values

    def _after_escapes(self, data: bytes, ws: list[int], matches: list[RuleMatch]) -> list[RuleMatch]:
        """Tokens right after a JSON/C `\\n`, `\\r` or `\\t` escape, which the escape's letter hides
        from a rule's leading `\\b` (`"# tokens\\ncioNN..."`).

        NOTE: the chunk is matched a second time with those escapes blanked (two spaces, so every
        offset stays), and only matches whose secret starts right after a blanked escape, outside
        every secret of the first pass, are kept. Everything else is found exactly as before: a
        private key in JSON (`"-----BEGIN PRIVATE KEY-----\\nMIIE...\\n"`) keeps its `\\n`s, its
        value and its fingerprint, and no token is cut out of it. An escaped backslash
        (`"C:\\\\new"`) is no escape. The second pass runs only on chunks with such an escape
        (found by the segment finder's Hyperscan scan, or `b"\\\\" in` and a regex without it).
        """
        starts: set[int] = set()
        blanked = bytearray(data)
        for p in ws:
            q = p
            while q > 0 and data[q - 1] == 0x5C:  # backslashes before: an even number, or escaped
                q -= 1
            if (p - q) % 2 == 0:
                blanked[p : p + 2] = b"  "
                starts.add(p + 2)
        if not starts:
            return []
        rules = self.ruleset.rules
        taken = []
        for rule_index, m in matches:
            group = secret_group(rules[rule_index], m)
            if group:
                taken.append(m.span(group))
        out: list[RuleMatch] = []
        for rule_index, m in self.matcher.find(bytes(blanked)):
            group = secret_group(rules[rule_index], m)
            if not group or m.start(group) not in starts:
                continue
            s, e = m.span(group)
            if any(a < e and s < b for a, b in taken):
                continue
            out.append((rule_index, m))
        return out

    def _gate(self, index: int, rule: Rule, m: re.Match[bytes], path: str | None) -> _Candidate | None:
        group = secret_group(rule, m)
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
        if self._allow_names[index] or rule.id in self._generic:
            name = assigned_name(m, group)
            if any(rx.search(name) for rx in self._allow_names[index]):
                return None
            if rule.id in self._generic and spells_own_name(secret, name):
                return None
        return _Candidate(
            index, rule, m.start(group), m.end(group), m.start(), m.end(),
            secret, confidence=confidence, details=details,
        )

    def _findings(self, chunk: Chunk, data: bytes, candidates: list[_Candidate], lines: _Lines) -> list[_Hit]:
        by_rule: dict[str, list[_Candidate]] = {}
        for c in candidates:
            by_rule.setdefault(c.rule.id, []).append(c)
        out: list[_Hit] = []
        origin = chunk.origin
        # A generic rule says nothing new where a specific rule already found the same bytes.
        specific = sorted((c.start, c.end) for c in candidates if c.rule.visible and "generic" not in c.rule.tags)
        specific_starts = [a for a, _ in specific]
        reach = list(accumulate((b for _, b in specific), max))  # furthest end among the first i + 1
        allowed: dict[tuple[int, int], _AllowMarks | None] = {}
        for c in candidates:
            rule = c.rule
            if not rule.visible:
                continue
            if "generic" in rule.tags:
                i = bisect_left(specific_starts, c.end)  # specific spans starting before c ends
                if i and reach[i - 1] > c.start:
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
            if (ls, le) not in allowed:
                allowed[ls, le] = _AllowMarks.of(data, ls, le)
            marks = allowed[ls, le]
            if marks is not None and marks.cover(c.start, c.end):
                if chunk.depth == 0 and (chunk.own_end is None or c.start < chunk.own_end):
                    self.allowed += 1
                    self.allowed_lines.append(chunk.base_line + c.line)
                continue
            end_line = c.line + data.count(b"\n", c.start, c.end)
            end_ls = lines.line_start(c.end)
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
            finding = Finding(
                rule_id=rule.id,
                rule_name=rule.name,
                provider=rule.provider,
                severity=rule.severity,
                confidence=c.confidence,
                secret=Secret(c.secret),
                location=loc,
                details=c.details,
                related=related,
                decoded=None,
            )
            out.append(_Hit(finding, c.start, c.end))
        return out


@dataclass(slots=True)
class _AllowMarks:
    """Where `leakwarden:allow` stands on a line and where the line's carriage returns are:
    a bare CR ends a line too (classic Mac files, progress output in CI logs), and a marker
    allows only what is on its own part of the line."""

    start: int
    end: int
    marks: list[int]
    crs: list[int]

    @classmethod
    def of(cls, data: bytes, start: int, end: int) -> _AllowMarks | None:
        m = data.find(ALLOW_MARKER, start, end)
        if m < 0:
            return None  # the usual case: no marker, nothing more to index
        marks = []
        while m >= 0:
            marks.append(m)
            m = data.find(ALLOW_MARKER, m + 1, end)
        crs = []
        r = data.find(b"\r", start, end)
        while r >= 0:
            crs.append(r)
            r = data.find(b"\r", r + 1, end)
        return cls(start, end, marks, crs)

    def cover(self, a: int, b: int) -> bool:
        i = bisect_left(self.crs, a)
        lo = self.crs[i - 1] + 1 if i else self.start
        j = bisect_left(self.crs, b)
        hi = self.crs[j] if j < len(self.crs) else self.end
        k = bisect_left(self.marks, lo)
        return k < len(self.marks) and self.marks[k] < hi


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


_LAST_NAME = re.compile(rb"([A-Za-z][A-Za-z0-9_.\-]*)[^A-Za-z0-9]*$")


def spells_own_name(secret: str, name: bytes) -> bool:
    """A value that spells the name it is assigned to, separators and case aside
    (`AWS_IMDSV2_SESSION_TOKEN = "awsimdsv2sessiontoken"`, `apiToken: "API_TOKEN"`): a stand-in
    written by someone who needed any string there."""
    m = _LAST_NAME.search(name)
    if m is None:
        return False
    own = re.sub(rb"[^a-z0-9]", b"", m.group(1).lower())
    value = re.sub(rb"[^a-z0-9]", b"", secret.lower().encode())
    return len(own) >= 6 and own == value


_ANSI_CSI = re.compile(rb"\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]")


def blank_ansi(data: bytes) -> bytes:
    """`data` with each ANSI CSI escape sequence (`ESC [ params intermediates final`, bounded
    length) replaced by as many spaces: a colour code's final letter (`\\e[32m`) is a word
    character and hides the token after it from a rule's leading `\\b`.

    NOTE: same length, so offsets, columns and line numbers stay exact and no secret byte changes.
    The displayed line shows the spaces too: a report holds no terminal control sequences.
    """
    return _ANSI_CSI.sub(lambda m: b" " * (m.end() - m.start()), data)


def _with_lines(
    data: bytes, hits: list[_Hit], seen: _Seen, rules: tuple[Rule, ...],
    more: tuple[list[tuple[int, int]], set[bytes]] = ([], set()),
) -> list[Finding]:
    """The findings with their display lines: the raw line (kept as a Secret, shown only with
    --show-secrets) and the line with every span the scan saw masked (see `_Seen`), and the
    spans and values in `more` (what rules left out of the scan saw)."""
    spans, values = seen.resolve(rules, data)
    spans.extend(more[0])
    values |= more[1]
    spans = sorted(set(spans))
    starts = [a for a, _ in spans]
    reach = max((b - a for a, b in spans), default=0)
    finder = _ValueFinder(values)
    lines = _Lines(data)
    out = []
    for h in hits:
        ls, le = lines.line_start(h.start), lines.line_end(h.end)
        masked, raw = _display(data, ls, le, h.start, h.end, spans, starts, reach, finder)
        out.append(replace(h.finding, line=masked, raw_line=Secret(raw)))
    return out


class _ValueFinder:
    """Occurrences of secret values in a window. A few values: a `find` loop each. Many (a
    minified line full of tokens): one pass over the window with a dict of their first bytes,
    so the cost per window does not grow with the number of values."""

    _FEW = 16
    _MIN = 4  # shorter values are masked where they were found only

    def __init__(self, values: set[bytes]) -> None:
        self.values = sorted(v for v in values if len(v) >= self._MIN)
        self.key = min((len(v) for v in self.values), default=0)
        self.by_key: dict[bytes, list[bytes]] = {}
        if len(self.values) > self._FEW:
            for v in self.values:
                self.by_key.setdefault(v[: self.key], []).append(v)

    def find(self, data: bytes, ls: int, le: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """(start, end) of every occurrence inside the line [ls, le) that overlaps [lo, hi)."""
        out: list[tuple[int, int]] = []
        if not self.by_key:
            for v in self.values:
                n = len(v)
                b0 = min(le, hi + n - 1)
                k = data.find(v, max(ls, lo - n + 1), b0)
                while k >= 0:
                    out.append((k, k + n))
                    k = data.find(v, k + 1, b0)
            return out
        key, get = self.key, self.by_key.get
        longest = max(len(v) for v in self.values)
        for i in range(max(ls, lo - longest + 1), min(le, hi) - key + 1):
            found = get(data[i : i + key])
            if found:
                out.extend((i, i + len(v)) for v in found if data.startswith(v, i) and i + len(v) <= le)
        return out


def _display(
    data: bytes, ls: int, le: int, s: int, e: int,
    spans: list[tuple[int, int]], starts: list[int], reach: int, values: _ValueFinder,
) -> tuple[str, str]:
    """The line(s) data[ls:le] around data[s:e], masked and raw, cut to a readable length.

    Only a bounded window around the secret is read (a minified line may be megabytes long).
    Masked: every span overlapping the window and every occurrence of a value in it is replaced
    by its redacted form (overlapping ones merged first)."""
    from leakwarden.models import redact

    lo, hi = max(ls, s - _WINDOW_BEFORE), min(le, e + _WINDOW_AFTER)
    marks = [(s, e)]
    j = bisect_left(starts, hi) - 1
    while j >= 0 and starts[j] > lo - reach - 1:
        a, b = spans[j]
        if b > lo and a < hi:
            marks.append((a, b))
        j -= 1
    marks.extend(values.find(data, ls, le, lo, hi))
    marks.sort()
    merged: list[list[int]] = []
    for a, b in marks:
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    parts: list[str] = []
    size = 0
    own = 0
    cur = lo
    for a, b in merged:
        piece = data[cur : max(a, lo)].decode("utf-8", "replace")
        parts.append(piece)
        size += len(piece)
        if a <= s < b:
            own = size
        piece = redact(data[a:b].decode("utf-8", "replace"))
        parts.append(piece)
        size += len(piece)
        cur = min(b, hi)
    parts.append(data[cur:hi].decode("utf-8", "replace"))
    left, right = lo > ls, hi < le
    masked = _cut("".join(parts), own, left, right)
    raw = _cut(data[lo:hi].decode("utf-8", "replace"), len(data[lo:s].decode("utf-8", "replace")), left, right)
    return masked, raw


def _cut(text: str, own: int, left: bool, right: bool) -> str:
    """`text` stripped and cut to a readable length around the character offset `own`."""
    stripped = text.lstrip()
    own -= len(text) - len(stripped)
    text = stripped.rstrip()
    if len(text) > _MAX_LINE_DISPLAY:
        pos = max(0, own - 60)
        return ("…" if pos or left else "") + text[pos : pos + _MAX_LINE_DISPLAY] + "…"
    return ("…" if left else "") + text + ("…" if right else "")

"""Find encoded text (base64, percent-encoding, backslash/JSON escapes, string literals split by
concatenation), decode it in place and
hand the decoded line back to the detector.

The decoded text replaces the encoded segment inside its line, so a key name next to the value
still counts as context (`password: aHVudGVyMg==` becomes `password: hunter2`). Findings keep
the encoded segment's location and say how they were decoded. Depth, segment size and total
decoded bytes per chunk are bounded.

NOTE: segments are located by Hyperscan so the Python work is proportional to the number of
candidate segments, not to the bytes scanned; without Hyperscan the same patterns run in Python
`re`, each a linear scan. Hyperscan runs without start-of-match tracking and with patterns shaped
for its literal prefilter (see `_HS_EXPRESSIONS`); each match's start is recovered in Python by
walking back from its end, which gives the same spans as leftmost start-of-match mode. Measured
on 771 MB of git-history blobs (CPU-s): Hyperscan scan 2.13 -> 1.06, with the start recovery
2.25 -> 1.31, whole Detector.scan 5.81 -> 4.60; same 137,904 spans and same findings. What is
left is mostly base64 (~0.5 in every form tried: it wakes on quotes, `:` and `=`, ~3% of bytes).
"""

from __future__ import annotations

import binascii
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_SEGMENT = 64 * 1024
MAX_DECODED_PER_CHUNK = 4 * 1024 * 1024
MAX_SEGMENTS_PER_CHUNK = 2000
MAX_WS_ESCAPES = 8000  # ws_escape offsets kept per chunk
_LINE_CONTEXT = 2048

# base64 value: after `:`/`=` or an opening quote, 20+ alphabet characters, ended by a
# character outside the alphabet (so one report per run, not one per position).
# NOTE: the run's first two characters fix the first decoded byte and the top of the second.
# Runs whose first bytes cannot start UTF-8 text never decode to text worth scanning, so they
# are left out here (about a third of the runs in source code) instead of being decoded and
# rejected one by one: a first character g-v gives a continuation byte (0x80-0xBF) and + / - _
# give 0xF8-0xFF; after an ASCII first byte (A-Z a-f) the second byte must not be a continuation
# byte (second character I-L Y Z a b o-r 4-7), after a lead byte (w-z 0-9) it must be one.
# NOTE: the run must also hold an upper-case letter or a digit. Base64 of text always does (the
# first character of a group is upper case unless the byte is h-DEL, the second is C-H S-X or a
# digit for most of ASCII); runs without one are identifiers and paths in quotes
# ('active_record', "actions/checkout"): 61% of the runs in rails' history, and none of them
# decoded to text. The "contains" part is spelled out (Hyperscan has no lookahead): after two
# characters without one, the first upper-case letter or digit comes after k more (k = 0..13).
_B64_ANY = rb"[A-Za-z0-9+/_\-]"
_B64_LOWER = rb"[a-z+/_\-]"
_B64_UPPER = rb"[A-Z0-9]"
_B64_TAIL_WITH_UPPER = (
    rb"(?:"
    + rb"|".join(_B64_LOWER * k + _B64_UPPER + _B64_ANY + b"{%d,}" % (13 - k) for k in range(13))
    + rb"|" + _B64_LOWER + rb"{13,}" + _B64_UPPER + _B64_ANY + rb"*)"
)
# NOTE: `Basic ` (any case, one space or more) also starts a run: an HTTP basic-auth header holds
# base64 of `user:password`, and its value is not after a `:`, `=` or quote of its own. Hyperscan
# gets it as an expression of its own: inside the prefix alternation it cost 0.07 CPU-s per 412 MB
# of source, apart 0.02.
_B64_PREFIX = rb"(?:[:=][ \t]{0,4}[\"'`]?|[\"'`])"
_B64_BASIC_PREFIX = rb"[Bb][Aa][Ss][Ii][Cc] +"
_B64_BODY = (
    rb"(?:"
    rb"[A-Z][A-HM-Xc-ns-z0-38-9+/_\-]" + _B64_ANY + rb"{14,}"
    rb"|[a-f][A-HM-X0-38-9]" + _B64_ANY + rb"{14,}"
    rb"|[a-f][c-ns-z+/_\-]" + _B64_TAIL_WITH_UPPER
    + rb"|[0-9][IJKLYZabopqr4-7]" + _B64_ANY + rb"{14,}"
    rb"|[w-z][IJKLYZ4-7]" + _B64_ANY + rb"{14,}"
    rb"|[w-z][abopqr]" + _B64_TAIL_WITH_UPPER
    + rb")={0,2}[^A-Za-z0-9+/_\-=]"
)
_B64 = rb"(?:" + _B64_PREFIX[3:-1] + rb"|" + _B64_BASIC_PREFIX + rb")" + _B64_BODY
# percent-encoding that can hide a token character: letters, digits, + / = @ :
_PCT = rb"%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9AaDd]|2[BbFf]|40)"
# an encoded delimiter right before a token character hides the token's start: the digit or
# letter of `%22` `%20` `%27` `%2C` `%3B` `%3E` `%5B` `%7B` `%7C` `%09` `%0A` `%0D` defeats the
# `\b` (or non-token character) a rule puts before its prefix (`data=%22ATATT3xFfGF0...%22`,
# `Bearer%20eyJ...`). The match takes that character too (Hyperscan has no lookahead).
_PCT_DELIM = rb"%(?:0[9AaDd]|2[027Cc]|3[BbEe]|5[Bb]|7[BbCc])[A-Za-z0-9]"
# escapes that break a token or the quotes around it: \" \' \/, \u00XX and \xXX (XX printable), and the `.properties`
# escapes \= \: and \ (backslash space) where they follow a token character (`...Tc\=A1D0`).
# NOTE: the token character keeps the trigger rare: \: and \ alone are common in LaTeX and shell.
_ESC = rb"\\[\"'/]|\\u00[0-9A-Fa-f]{2}|\\x[2-7][0-9A-Fa-f]|(?<=[A-Za-z0-9_.\-])\\[=: ]"
# a JSON/C \n \r \t right before a token character: the letter defeats the `\b` a rule puts
# before its prefix (`"# tokens\ncioNN..."`). Not a decoder: the Detector matches the chunk again
# with these escapes turned into two spaces and keeps only the tokens that start right after one.
_WS_ESC = rb"\\[nrt][A-Za-z0-9]"
# a string literal split and joined with + (or PHP's " . "): "ATATT3x" + "FfGF0..."
_CONCAT = rb"\"[ \t]*\+[ \t]*\"|'[ \t]*\+[ \t]*'|\"[ \t]+\.[ \t]+\"|'[ \t]+\.[ \t]+'"
# the same split across lines: `"abc" +` / `+ "def"` (JS, Java, Go, C#) or a literal followed by
# an indented literal on the next line (Python's implicit concatenation inside parentheses, C).
# NOTE: the operator-less form needs indentation so quoted CSV rows are not joined.
# NOTE: only a continuation that splits a run of non-blank characters (no space on either side
# of the join) is worth joining: a secret split over lines is cut mid-token, while the common
# case in code, prose split at a space (`"could not find "` / `"the column"`), is not. Joining
# every continuation cost half of the history scan time on sqlalchemy.
_CONCAT_ML = (
    rb"[^\s\"']\"[ \t]*\+[ \t]*\r?\n[ \t]*\"[^\s\"']|[^\s\"']\"[ \t]*\r?\n[ \t]*\+[ \t]*\"[^\s\"']|[^\s\"']\"\r?\n[ \t]+\"[^\s\"']"
    rb"|[^\s\"']'[ \t]*\+[ \t]*\r?\n[ \t]*'[^\s\"']|[^\s\"']'[ \t]*\r?\n[ \t]*\+[ \t]*'[^\s\"']|[^\s\"']'\r?\n[ \t]+'[^\s\"']"
)
# a line continuation (backslash, newline) between two token characters: shell, Dockerfile and C
# or Python string literals drop it, so `ATATT3xFfGF0...\` / `...=0A9214CC` is one token. Only an
# unindented next line: in shell, indentation after the join splits the word.
_CONT_CHARS = rb"[A-Za-z0-9_\-+/=]"
# NOTE: the match takes the next line's first character (Hyperscan has no lookahead).
_CONT = rb"(?<=" + _CONT_CHARS + rb")\\\r?\n" + _CONT_CHARS
PATTERNS: dict[str, bytes] = {
    "base64": _B64, "percent": _PCT + rb"|" + _PCT_DELIM, "escape": _ESC, "concat": _CONCAT, "concat_ml": _CONCAT_ML,
    "continuation": _CONT, "ws_escape": _WS_ESC,
}
MAX_CONCAT_LINES = 8  # lines joined into one literal at most
MAX_CONCAT_BYTES = 4096
_COMPILED = {name: re.compile(p) for name, p in PATTERNS.items()}
_WS_ESC_RE = _COMPILED["ws_escape"]
_B64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{16,}={0,2}")
_ESC_RE = re.compile(rb"\\(u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[\"'/\\nrtbf=: ])")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ASCII_GOOD = bytes(range(0x20, 0x7F)) + b"\n\r\t"
_SIMPLE = {b'"': b'"', b"'": b"'", b"/": b"/", b"\\": b"\\", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
           b"=": b"=", b":": b":", b" ": b" "}


def has_ansi(data: bytes) -> bool:
    """Whether `data` holds an ANSI escape sequence (`ESC [`)."""
    return b"\x1b" in data and b"\x1b[" in data


def ws_escape_offsets(data: bytes, start: int = 0) -> list[int]:
    """Offsets of the `\\n` `\\r` `\\t` escapes right before a token character, at most
    MAX_WS_ESCAPES."""
    return [m.start() for m in islice(_WS_ESC_RE.finditer(data, start), MAX_WS_ESCAPES)]


def _printable(data: bytes) -> bool:
    """Decoded text worth scanning: valid UTF-8, at least 90% printable, no NUL."""
    if not data or b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.isascii():
        # C-speed count: printable ASCII and \n \r \t are the "good" characters
        return len(data) - len(data.translate(None, _ASCII_GOOD)) >= 0.9 * len(text)
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good >= 0.9 * len(text)


def decode_base64(segment: bytes) -> bytes | None:
    if len(segment) % 4 == 1:
        return None
    padded = segment + b"=" * (-len(segment) % 4)
    # NOTE: binascii directly (what base64.urlsafe_b64decode / b64decode(validate=True) call on
    # Python >= 3.11): this runs for every base64-looking run, ~2.7M times in sqlalchemy's history.
    try:
        if b"-" in segment or b"_" in segment:
            out = binascii.a2b_base64(padded.translate(_URLSAFE))
        else:
            out = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return out if _printable(out) else None


def decode_percent(segment: bytes) -> bytes | None:
    out = unquote_to_bytes(segment)
    return out if out != segment and _printable(out) else None


def _unescape_one(m: re.Match[bytes]) -> bytes:
    code = m.group(1)
    if code[:1] == b"u":
        return chr(int(code[1:], 16)).encode("utf-8", "surrogatepass")
    if code[:1] == b"x":
        return bytes([int(code[1:], 16)])
    return _SIMPLE[code]


def decode_escapes(segment: bytes) -> bytes | None:
    out = _ESC_RE.sub(_unescape_one, segment)
    return out if out != segment and _printable(out) else None


_JOIN_RE = re.compile(rb"(\"|')[ \t]*(?:\+|[ \t]\.[ \t])[ \t]*\1")


def decode_concat(line: bytes) -> bytes | None:
    """Join string literals concatenated on one line, so a split token reads as one."""
    out = _JOIN_RE.sub(b"", line)
    return out if out != line else None


_ML_JOIN_RE = re.compile(rb"(\"|')(?:[ \t]*\+[ \t]*\r?\n[ \t]*|[ \t]*\r?\n[ \t]*\+[ \t]*|\r?\n[ \t]+)\1")


def decode_concat_ml(lines: bytes) -> bytes | None:
    """Join string literals continued over several lines (and any joined on one line)."""
    out = _JOIN_RE.sub(b"", _ML_JOIN_RE.sub(b"", lines))
    return out if out != lines else None


_CONT_RE = re.compile(rb"(?<=" + _CONT_CHARS + rb")\\\r?\n(?=" + _CONT_CHARS + rb")")  # the join alone


def decode_continuation(lines: bytes) -> bytes | None:
    """Drop the backslash-newline continuations that split a run of token characters."""
    out = _CONT_RE.sub(b"", lines)
    return out if out != lines else None


DECODERS: dict[str, Callable[[bytes], bytes | None]] = {
    "base64": decode_base64,
    "percent": decode_percent,
    "escape": decode_escapes,
    "concat": decode_concat,
    "concat_ml": decode_concat_ml,
    "continuation": decode_continuation,
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A line with one encoded segment replaced by its decoded form."""

    kind: str
    text: bytes  # the line (bounded) with the segment decoded
    start: int  # the encoded segment's offset in the chunk
    end: int
    region: tuple[int, int] = (0, 0)  # the chunk's bytes `text` was made from (a bounded line)
    decoded_len: int = 0  # base64: length of the decoded run inside `text`


# An edit made by a decoder: (start, end) in its input, (start, end) of what replaced it in its
# output. A decoder's edits map offsets in the decoded text back to the encoded text.
Edit = tuple[int, int, int, int]


def _sub_edits(rx: re.Pattern[bytes], data: bytes, size: Callable[[re.Match[bytes]], int]) -> list[Edit]:
    out: list[Edit] = []
    shift = 0
    for m in rx.finditer(data):
        s, e = m.span()
        n = size(m)
        out.append((s, e, s + shift, s + shift + n))
        shift += n - (e - s)
    return out


_PCT_RE = re.compile(rb"%[0-9A-Fa-f]{2}")  # what unquote_to_bytes decodes


def _edit_stages(seg: Decoded, raw: bytes) -> list[list[Edit]]:
    """The edits that turned `raw` (the segment's region) into `seg.text`, one list per pass."""
    if seg.kind == "base64":
        ls = seg.region[0]
        return [[(seg.start - ls, seg.end - ls, seg.start - ls, seg.start - ls + seg.decoded_len)]]
    if seg.kind == "escape":
        return [_sub_edits(_ESC_RE, raw, lambda m: len(_unescape_one(m)))]
    if seg.kind == "percent":
        return [_sub_edits(_PCT_RE, raw, lambda m: 1)]
    if seg.kind == "concat":
        return [_sub_edits(_JOIN_RE, raw, lambda m: 0)]
    if seg.kind == "continuation":
        return [_sub_edits(_CONT_RE, raw, lambda m: 0)]
    # concat_ml: continuations joined first, then the one-line joins of the result
    return [_sub_edits(_ML_JOIN_RE, raw, lambda m: 0), _sub_edits(_JOIN_RE, _ML_JOIN_RE.sub(b"", raw), lambda m: 0)]


def _back_start(edits: list[Edit], p: int) -> int:
    i = bisect_right(edits, p, key=lambda x: x[2]) - 1
    if i < 0:
        return p
    rs, re_, ds, de = edits[i]
    return rs if p < de else re_ + (p - de)


def _back_end(edits: list[Edit], p: int) -> int:
    i = bisect_left(edits, p, key=lambda x: x[2]) - 1
    if i < 0:
        return p
    rs, re_, ds, de = edits[i]
    return re_ if p <= de else re_ + (p - de)


def raw_span(seg: Decoded, data: bytes, start: int, end: int) -> tuple[int, int]:
    """Chunk offsets of the encoded bytes that seg.text[start:end] was decoded from, widened to
    whole escapes (and, for base64, to the whole run when it touches the decoded part)."""
    ls, le = seg.region
    for edits in reversed(_edit_stages(seg, data[ls:le])):
        start, end = _back_start(edits, start), _back_end(edits, end)
    return min(le, ls + start), min(le, ls + max(start, end))


# What Hyperscan scans for (id -> expression). Start-of-match tracking and patterns led by
# common bytes (quotes, spaces) made this scan cost more than the rule database itself, so:
# - base64, percent, escapes, the ` . ` join and the indented continuation are the exact patterns
#   above (escapes split in two so each has a fixed width), reported at their end only;
# - every join with `+` (one-line, `+` at the end or at the start of a line) comes from one
#   prefilter led by the rare `+`, confirmed in Python by walking back from the closing quote.
# NOTE: with the ` . ` join inside the `+` expression (or any space-led literal next to the
# rare-byte ones) Hyperscan loses its fast literal scan: measured 0.15 -> 0.42 CPU-s.
_WS = b" \t"
_NOT_EDGE = frozenset(b" \t\n\r\f\v\"'")  # the [^\s"'] around a multi-line join
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_B64_PREFIX_QUOTES = b"\"'`"
(_ID_B64, _ID_PCT, _ID_ESC2, _ID_ESC6, _ID_PLUS, _ID_DOT, _ID_ML_INDENT, _ID_ESC_PROPS, _ID_WS_ESC, _ID_B64_BASIC, _ID_ANSI, _ID_PCT_DELIM,
 _ID_ESC4, _ID_CONT) = range(14)
_HS_EXPRESSIONS: dict[int, bytes] = {
    _ID_B64: _B64_PREFIX + _B64_BODY,
    _ID_B64_BASIC: _B64_BASIC_PREFIX + _B64_BODY,
    _ID_PCT: _PCT,
    _ID_PCT_DELIM: _PCT_DELIM,
    _ID_ESC2: rb"\\[\"'/]",
    _ID_ESC6: rb"\\u00[0-9A-Fa-f]{2}",
    _ID_ESC4: rb"\\x[2-7][0-9A-Fa-f]",  # printable ASCII only: \x00 \xff are binary data
    _ID_CONT: _CONT_CHARS + rb"\\\r?\n" + _CONT_CHARS,  # the match is all but the first byte (a lookbehind in _CONT)
    _ID_ESC_PROPS: rb"[A-Za-z0-9_.\-]\\[=: ]",  # the escape is the last two bytes (a lookbehind in _ESC)
    _ID_WS_ESC: _WS_ESC,
    _ID_ANSI: rb"\x1b\[",  # not a segment: tells the Detector to blank ANSI escapes first
    _ID_PLUS: rb"\+[ \t]*(?:\r?\n[ \t]*)?[\"']",
    _ID_DOT: rb"\"[ \t]+\.[ \t]+\"|'[ \t]+\.[ \t]+'",
    _ID_ML_INDENT: rb"[^\s\"']\"\r?\n[ \t]+\"[^\s\"']|[^\s\"']'\r?\n[ \t]+'[^\s\"']",
}


def _back(data: bytes, end: int, chars: bytes) -> int:
    """Start of the run of `chars` that ends at `end` (exclusive). Windows double, so walking a
    run costs its length: each run is walked back from the one match that ends after it."""
    lo, step = end, 64
    while lo > 0:
        a = max(0, lo - step)
        kept = len(data[a:lo].rstrip(chars))
        if kept:
            return a + kept
        lo, step = a, step * 2
    return 0


def _b64_start(data: bytes, end: int) -> int:
    """Leftmost start of the base64 match ending at `end`: its prefix before the run."""
    p = end - 1  # the terminator
    while data[p - 1] == 0x3D:  # '=', at most two (the match guarantees it)
        p -= 1
    run = _back(data, p, _B64_ALPHABET)
    q = run - 1 if run and data[run - 1] in _B64_PREFIX_QUOTES else run  # an opening quote, if any
    ws = _back(data, q, _WS)
    if q - ws <= 4 and ws > 0 and data[ws - 1] in b":=":
        return ws - 1
    if q == run:  # no quote: `Basic ` then the run
        sp = _back(data, run, b" ")
        if sp < run and sp >= 5 and data[sp - 5 : sp].lower() == b"basic":
            return sp - 5
    return q


def _plus_span(data: bytes, end: int) -> tuple[int, str, int] | None:
    """Confirm a `+` prefilter match (ending after the second quote) as a one-line or multi-line
    join: the same quote before the `+`, and for multi-line ones a non-blank character on the
    outer side of each quote. Returns (start, kind, end) as the exact pattern would match."""
    q2 = end - 1
    j = _back(data, q2, _WS)
    if data[j - 1] == 0x2B:  # '+' right before the quote: one line, or `+` starting a line
        plus = j - 1
        k = _back(data, plus, _WS)
        if k > 0 and data[k - 1] == data[q2]:
            return (k - 1, "concat", end)
        if k == 0 or data[k - 1] != 0x0A:
            return None
        k -= 1
        if k > 0 and data[k - 1] == 0x0D:
            k -= 1
        q1 = _back(data, k, _WS) - 1
    else:  # newline between the `+` and the quote: `+` ended the line
        k = j - 1
        if k > 0 and data[k - 1] == 0x0D:
            k -= 1
        plus = _back(data, k, _WS) - 1
        q1 = _back(data, plus, _WS) - 1
    if q1 < 1 or data[q1] != data[q2] or data[q1 - 1] in _NOT_EDGE or end >= len(data) or data[end] in _NOT_EDGE:
        return None
    return (q1 - 1, "concat_ml", end + 1)


def _dot_start(data: bytes, end: int) -> int:
    """Start (the opening quote) of the `" . "` join ending at `end`."""
    dot = _back(data, end - 1, _WS) - 1
    return _back(data, dot, _WS) - 1


def _indent_start(data: bytes, end: int) -> int:
    """Start (the character before the first quote) of an indented continuation ending at `end`."""
    nl = _back(data, end - 2, _WS) - 1
    q1 = nl - 2 if data[nl - 1] == 0x0D else nl - 1
    return q1 - 1


class SegmentFinder:
    def __init__(self) -> None:
        self._db: Any = None
        try:
            import hyperscan as hs

            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            ids = sorted(_HS_EXPRESSIONS)
            flags = [hs.HS_FLAG_SINGLEMATCH if i in (_ID_ANSI, _ID_WS_ESC) else 0 for i in ids]
            db.compile(expressions=[_HS_EXPRESSIONS[i] for i in ids], ids=ids, elements=len(ids), flags=flags)
            self._db = db
        except Exception:  # noqa: BLE001 - no Hyperscan, or it refused: Python regexes instead
            self._db = None

    def _spans(self, data: bytes) -> list[tuple[int, str, int]]:
        """(start, kind, end) of each candidate segment, sorted by start then kind: every end
        where a pattern matches, with the leftmost start of a match ending there."""
        spans, ws, _ = self.find(data, ansi_stops=False)
        return sorted(spans + [(p, "ws_escape", p + 3) for p in ws]) if ws else spans

    def find(self, data: bytes, ansi_stops: bool = True) -> tuple[list[tuple[int, str, int]], list[int], bool]:
        """The candidate segments (as `_spans`, without ws_escape), apart the offsets of the
        ws_escape matches (\\n \\r \\t before a token character, capped on their own), and
        whether `data` holds an ANSI escape (`ESC [`).

        NOTE: with `ansi_stops` the scan stops at an ANSI escape (the caller blanks them and asks
        again). Hyperscan finds it within the same scan; a `bytes in` test over every chunk
        cost 0.035 CPU-s per 412 MB, 1.4% of the Detector's time."""
        if self._db is None:
            ansi_here = has_ansi(data)
            found = sorted((m.start(), n, m.end()) for n, rx in _COMPILED.items() for m in rx.finditer(data))
            if not any(k == "ws_escape" for _, k, _ in found):
                return found, [], ansi_here
            return [x for x in found if x[1] != "ws_escape"], [x[0] for x in found if x[1] == "ws_escape"][:MAX_WS_ESCAPES], ansi_here
        spans: list[tuple[int, str, int]] = []
        ws: list[int] = []
        ansi: list[int] = []
        cap = MAX_SEGMENTS_PER_CHUNK * 4
        append = spans.append

        def on_match(pid: int, _start: int, end: int, _f: int, _c: object) -> bool | None:
            if pid == _ID_ANSI:  # reported once per scan (HS_FLAG_SINGLEMATCH)
                ansi.append(end)
                return ansi_stops or None
            if pid == _ID_WS_ESC:  # reported once per scan too: the offsets are found below
                ws.append(end - 3)
                return None
            if pid == _ID_ESC_PROPS:
                append((end - 2, "escape", end))
            elif pid == _ID_B64 or pid == _ID_B64_BASIC:
                append((_b64_start(data, end), "base64", end))
            elif pid == _ID_PLUS:
                span = _plus_span(data, end)
                if span is None:
                    return None
                append(span)
            elif pid == _ID_ML_INDENT:
                append((_indent_start(data, end), "concat_ml", end))
            elif pid == _ID_ESC2:
                append((end - 2, "escape", end))
            elif pid == _ID_ESC6:
                append((end - 6, "escape", end))
            elif pid == _ID_ESC4:
                append((end - 4, "escape", end))
            elif pid == _ID_CONT:
                append((end - 4 if data[end - 3] == 13 else end - 3, "continuation", end))
            elif pid == _ID_PCT:
                append((end - 3, "percent", end))
            elif pid == _ID_PCT_DELIM:
                append((end - 4, "percent", end))
            else:
                append((_dot_start(data, end), "concat", end))
            # True stops the scan; a few spare spans because a `+` join is confirmed one byte
            # before its end, so the kept spans are still the first ones by end
            return len(spans) > cap + 8 or None

        try:
            self._db.scan(data, match_event_handler=on_match)
        except Exception:  # noqa: BLE001 - a stopped scan raises; what we have is enough
            pass
        if ansi and ansi_stops:
            return [], [], True
        if len(spans) > cap + 1:
            spans.sort(key=lambda s: s[2])
            del spans[cap + 1 :]
        spans.sort()
        if ws:
            ws = ws_escape_offsets(data, ws[0])
        return spans, ws, bool(ansi)

    def segments(self, data: bytes, spans: list[tuple[int, str, int]] | None = None) -> Iterator[Decoded]:
        """Decoded segments of `data`; `spans` are `find(data)[0]` when already known."""
        budget = MAX_DECODED_PER_CHUNK
        count = 0
        done_lines: set[tuple[str, int]] = set()
        b64_search = _B64_RUN.search
        if spans is None:
            spans = self.find(data, ansi_stops=False)[0]
        ml_done = -1  # continued literals already joined up to here
        for i, (start, kind, end) in enumerate(spans):
            # `late`: a segment that passes the budget is still yielded (it was decoded whole)
            late = True
            if kind == "concat_ml" or kind == "continuation":
                if start < ml_done:
                    continue
                ls, le = _concat_region(data, spans, i)
                ml_done = le
                decoded = DECODERS[kind](data[ls:le])
                item = Decoded(kind, decoded.replace(b"\n", b" "), start, le, (ls, le)) if decoded is not None else None
            elif kind == "base64":
                run = b64_search(data, start, end)
                if run is None:
                    continue
                seg_start, seg_end = run.span()
                if seg_end - seg_start > MAX_SEGMENT:
                    continue
                decoded = decode_base64(run.group(0))
                if decoded is None:
                    continue
                ls, le = _line_bounds(data, seg_start, seg_end)
                item = Decoded(kind, data[ls:seg_start] + decoded.replace(b"\n", b" ") + data[seg_end:le], seg_start, seg_end, (ls, le), len(decoded))
                late = False
            else:
                # percent, escapes and concatenations: decode the anchor's whole line once
                ls, le = _line_bounds(data, start, end)
                if (kind, ls) in done_lines:
                    continue
                done_lines.add((kind, ls))
                decoded = DECODERS[kind](data[ls:le])
                item = Decoded(kind, decoded.replace(b"\n", b" "), start, le, (ls, le)) if decoded is not None else None
            if decoded is not None:
                count += 1
                budget -= len(decoded)
            stop = budget < 0 or count >= MAX_SEGMENTS_PER_CHUNK
            if item is not None and (late or not stop):
                yield item
            if stop:
                return


def _concat_region(data: bytes, spans: list[tuple[int, str, int]], i: int) -> tuple[int, int]:
    """Lines joined by the continuation at spans[i] and the ones of the same kind chained after it
    (the next continuation starts on the line this one ends on), capped in lines and bytes."""
    start, _, end = spans[i]
    ls, le = _line_bounds(data, start, end)
    lines = 2
    for s2, k2, e2 in spans[i + 1 :]:
        if s2 >= le or lines >= MAX_CONCAT_LINES:
            break
        if k2 != spans[i][1] or s2 < end:
            continue
        _, le2 = _line_bounds(data, s2, e2)
        if le2 - ls > MAX_CONCAT_BYTES:
            break
        end, le, lines = e2, le2, lines + 1
    return ls, le


def _line_bounds(data: bytes, start: int, end: int) -> tuple[int, int]:
    ls = data.rfind(b"\n", max(0, start - _LINE_CONTEXT), start) + 1
    if ls == 0 and start > _LINE_CONTEXT:
        ls = start - _LINE_CONTEXT
    le = data.find(b"\n", end, end + _LINE_CONTEXT)
    if le < 0:
        le = min(len(data), end + _LINE_CONTEXT)
    return ls, le

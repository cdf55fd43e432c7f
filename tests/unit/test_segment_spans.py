"""The Hyperscan segment finder reports what leftmost start-of-match mode would: for every end
where a decoder pattern matches, the leftmost start of a match ending there.

It scans without start-of-match tracking (and finds `+` joins through a prefilter), then walks
back from each end in Python; these tests compare it with a brute-force reading of the exact
patterns, on hand-picked edge cases and on generated text made of the bytes that matter.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakwarden.candidates.decoders import PATTERNS, SegmentFinder

pytest.importorskip("hyperscan")

_EXACT = {name: re.compile(p) for name, p in PATTERNS.items()}


def _reference(data: bytes) -> list[tuple[int, str, int]]:
    """Every (leftmost start, kind, end) of the exact patterns, by brute force."""
    out = []
    for name, rx in _EXACT.items():
        for end in range(1, len(data) + 1):
            start = next((s for s in range(end) if rx.fullmatch(data, s, end)), None)
            if start is not None:
                out.append((start, name, end))
    return sorted(out)


@pytest.fixture(scope="module")
def finder() -> SegmentFinder:
    f = SegmentFinder()
    assert f._db is not None  # hyperscan is installed here: the fast path is what is tested
    return f


B64 = b"Y2lvYzRzb2hkbU0wTG03ZXhHM2xDTXFYWFE4YWdPTVROd24="

CASES = [
    b'token: "' + B64 + b'"\n',
    b"k=" + B64 + b";\n",
    b"k:    '" + B64 + b"'\n",  # four blanks: the match starts at the colon
    b"k:     '" + B64 + b"'\n",  # five: it starts at the quote
    b"k:\t \t" + B64[:-1] + b"==,\n",  # padding, tabs
    b":=" + B64 + b" ",
    b'"' + B64 + b'"',  # prefix at offset 0
    b"x = `" + b"QUJD" * 100 + b"`\n",  # a run longer than the walk-back window
    b"v = '" + B64 + b"",  # no terminator: no match
    b"url = 'a%3Db%2Fc%41'\n",
    b'say \\"hi\\" and \\u0022x\\u00e9\\/\n',
    b'token = "abc" + "def"; t2 = \'ab\'\t+\t\'cd\'; bad = "a" + \'b\'\n',
    b"$t = 'abc' . 'def' . \"x\"\t.\t\"y\";\n",
    b'circle = "abc" +\n  "def" +\r\n  "ghi";\n',
    b'String s = "abc"\n    + "def"\r\n\t+ "ghi";\n',
    b'x = (\n    "abc"\n    "def"\r\n    "ghi"\n)\n',
    b'"a" +\n"b"',  # at both ends of the data: no character outside the quotes
    b'"abc" +' + b" " * 300 + b'\n' + b"\t" * 200 + b'"def"\n',  # long blank runs
    b"a'" + b" " * 150 + b"+" + b" " * 150 + b"'b",
    b'x = "a" + \n + "b"\n',  # a `+` on both sides of the newline is neither form
    b'prose "ends here"\n  "starts here"\n',  # blanks next to the quotes: no join
    b'Authorization: Basic ' + B64 + b'\n',  # basic auth: the match starts at `Basic`
    b'-H "authorization: BASIC   ' + B64 + b'"\n',  # any case, several spaces
    b'Basic\t' + B64 + b' xBasic ' + B64 + b'\n',  # a tab is not `Basic `; a word ending in it is
    b'Basic "' + B64 + b'"\n',  # the quote starts it
    b'token=ab\\=cd path\\:x a\\ b =\\= \\\\=\n',  # .properties escapes after a token character
    b'{"a": "x\\ncioAB\\t\\rQ\\n\\n-\\n"}',  # \n \r \t before a token character
    b"q=%22cio%22 a%20B %0A1 %7B%22 %2C- %3e%3B9\n",  # an encoded delimiter before a token character
    b'b"\\x41\\x3d\\x00\\xff\\x7E\\x1f"\n',  # \xXX: printable ASCII only
    b"T=ab\\\ncd\\\r\nef\\\n\\\ngh \\\n  ij\\\nk\\\nl",  # line continuations inside a run, chained
]


@pytest.mark.parametrize("data", CASES)
def test_spans_match_leftmost_start_of_match(finder: SegmentFinder, data: bytes) -> None:
    assert finder._spans(data) == _reference(data)


def test_the_edge_cases_do_find_each_kind(finder: SegmentFinder) -> None:
    kinds = {kind for data in CASES for _, kind, _ in finder._spans(data)}
    assert kinds == set(PATTERNS)


_ALPHABET = [bytes([c]) for c in b"\"'`:=+. \t\r\n%\\u0Aaw4Z/_-3D=ntBx27"] + [b"B"] * 4 + [b"Basic", b"bAsIc", b"QUJDRGVmZ2hpams0"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ALPHABET), max_size=60))
def test_generated_text_gives_the_same_spans(finder: SegmentFinder, parts: list[bytes]) -> None:
    # the 16-character base64 run makes runs long enough to match common
    data = b"".join(parts)
    assert finder._spans(data) == _reference(data)


def test_long_blank_runs_are_walked_back_whole(finder: SegmentFinder) -> None:
    # the walk back doubles its window: a 100 kB run costs its length, and the start is exact
    data = b'x = "a"' + b" " * 100_000 + b'+ "b"\n'
    assert finder._spans(data) == [(6, "concat", len(data) - 3)]  # closing quote of "a" to opening of "b"


def test_span_count_is_capped_to_the_first_ones(finder: SegmentFinder) -> None:
    from leakwarden.candidates.decoders import MAX_SEGMENTS_PER_CHUNK

    cap = MAX_SEGMENTS_PER_CHUNK * 4
    line = b'x = "a%41" +\n  "b"\n'  # a percent escape, then a `+` join that ends a line later
    one = finder._spans(line)
    assert [k for _, k, _ in one] == ["percent", "concat_ml"]
    every = [(s + i * len(line), k, e + i * len(line)) for i in range(cap) for s, k, e in one]
    # the kept spans are the first cap + 1 by end, though `+` joins are confirmed a byte early
    assert finder._spans(line * cap) == sorted(sorted(every, key=lambda x: x[2])[: cap + 1])

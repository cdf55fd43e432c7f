"""Speed-ups that must not change what is found: keyword checks inside the Hyperscan pass,
base64 runs left out by their first character, gitignore specs on the plain backend."""

from __future__ import annotations

import base64
import random

import pytest

from leakwarden.candidates.decoders import PATTERNS, decode_base64
from leakwarden.sources.files import gitignore_spec

pytest.importorskip("hyperscan")

PGP = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n" + "lQOYBF" + "x" * 120 + "\n-----END PGP PRIVATE KEY BLOCK-----\n"


def _matches(detector, data: bytes) -> list[tuple[int, int, int]]:
    return sorted((i, m.start(), m.end()) for i, m in detector.matcher.find(data))


@pytest.mark.parametrize(
    "text",
    [
        PGP,  # a rule Hyperscan cannot compile runs in Python, gated by its keyword
        PGP.lower(),
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "Aws_Secret_Access_Key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\n",  # keyword in mixed case
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",  # no keyword at all
        "",
    ],
)
def test_keyword_gate_in_the_hyperscan_pass_matches_the_python_engine(detectors, text):
    data = text.encode()
    assert _matches(detectors["hyperscan"], data) == _matches(detectors["python"], data)


def test_runs_left_out_of_the_base64_pattern_never_decode():
    # g-v and + / - _ as the first character make the first decoded byte invalid UTF-8
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
    for first in "ghijklmnopqrstuv+/-_":
        for _ in range(300):
            run = first + "".join(rng.choice(alphabet) for _ in range(rng.randint(15, 60)))
            assert decode_base64(run.encode()) is None, run


def test_second_character_exclusions_never_decode():
    # after an ASCII first byte the second must not be a continuation byte; after a lead byte it must
    rng = random.Random(8)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
    cont = "IJKLYZabopqr4567"
    pairs = [a + b for a in "AZaf" for b in cont] + [a + b for a in "wz09" for b in alphabet if b not in cont]
    for pair in pairs:
        for _ in range(50):
            run = pair + "".join(rng.choice(alphabet) for _ in range(rng.randint(14, 60)))
            assert decode_base64(run.encode()) is None, run


def test_base64_pattern_still_finds_encoded_text():
    import re

    rx = re.compile(PATTERNS["base64"])
    for plain in ("password: hunter2-and-more", "{\"token\": \"abc\"}", "ghp_" + "a" * 36, "Zürich secret value"):
        enc = base64.b64encode(plain.encode()).decode()
        assert rx.search(f"data: {enc}\n".encode()), plain


def test_gitignore_spec_matches_like_pathspec():
    import pathspec

    lines = ["*.log", "!keep.log", "build/", "/root-only.txt", "docs/**/*.tmp"]
    spec = gitignore_spec(lines)
    ref = pathspec.GitIgnoreSpec.from_lines(lines)
    for path in ("a.log", "keep.log", "x/keep.log", "build/out.o", "src/build/x", "root-only.txt", "a/root-only.txt", "docs/a/b/c.tmp", "ok.py"):
        assert spec.match_file(path) == ref.match_file(path), path


def test_confirmation_windows_shrink_to_what_a_rule_can_match(detectors):
    """A rule's window reaches back only as far as its regex can match; the longest possible
    generic assignment is still confirmed, the same as the Python engine finds it."""
    rules = detectors["hyperscan"].matcher.primary.rules
    index = {r.id: i for i, r in enumerate(rules.ruleset.rules)}
    generic = index["generic-secret-assignment"]
    assert rules.span(generic) == 284 < rules.ruleset.rules[generic].max_span
    unbounded = index["generic-connection-string-password"]  # `\s*`-style parts: no bound
    assert rules.span(unbounded) == rules.ruleset.rules[unbounded].max_span
    key = "Ab3" * 6 + "Zq_" + "Cd4" * 6 + "Yx_" + "Ef5" * 6 + "Wv_" + "client_secret_" + "Kp7Lm2Nq9Rt4_Hs8Jd3Fg6Vb1"
    value = "".join(random.Random(3).choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(120))
    text = f'x{"#" * 500} {key}"]    ??=    (  \r\n{" " * 40}"{value}"\n'  # every part at its longest
    found = _matches(detectors["hyperscan"], text.encode())
    assert found == _matches(detectors["python"], text.encode())
    full = [r.id for r in detectors["hyperscan"].ruleset.rules]  # find() numbers rules in the whole set
    ((_, start, end),) = [m for m in found if full[m[0]] == "generic-secret-assignment"]
    assert (start, end - start) == (501, 283)

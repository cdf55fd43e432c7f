"""Speed-ups that must not change what is found: keyword checks by Hyperscan, the generic
assignment's name prefix without nested repeats, base64 runs left out by their first character,
gitignore specs on the plain backend."""

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


class _CountingDatabase:
    """Stands in for the keyword database and counts the scans it is asked for."""

    def __init__(self, db) -> None:
        self.db, self.scans = db, 0

    def scan(self, data, match_event_handler):
        self.scans += 1
        return self.db.scan(data, match_event_handler=match_event_handler)


def test_keyword_database_runs_only_after_a_keyword_rule_matched(detectors, monkeypatch):
    matcher = detectors["hyperscan"].matcher.primary  # the visible rules' database, compiled once
    counting = _CountingDatabase(matcher.keywords_db)
    monkeypatch.setattr(matcher, "keywords_db", counting)
    ids = [r.id for r in matcher.rules.ruleset.rules]
    assert matcher.find(b"def add(a, b):\n    return a + b\n") == []
    assert counting.scans == 0
    found = matcher.find(b"aws_secret_access_key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\n")
    assert counting.scans == 1 and "aws-secret-access-key" in {ids[i] for i, _ in found}
    # the same value under a name without any of the rule's keywords is gated out
    bare = b"value = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\n"
    assert "aws-secret-access-key" not in {ids[i] for i, _ in matcher.find(bare)}


def test_serialised_databases_install_elsewhere_and_garbage_is_refused(detectors, tmp_path, monkeypatch):
    from leakwarden.matcher import hyperscan
    from leakwarden.matcher.hyperscan import HyperscanMatcher

    ruleset = detectors["hyperscan"].matcher.primary.rules.ruleset
    data = hyperscan.serialise(ruleset)
    monkeypatch.setenv("LEAKWARDEN_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert not hyperscan.install_serialised(ruleset.hash, data[:-16])  # cut short
    assert not hyperscan.install_serialised(ruleset.hash, b"0,1\n" + data.partition(b"\n")[2])  # old layout
    assert not list((tmp_path / "elsewhere").rglob("*.db"))
    assert hyperscan.install_serialised(ruleset.hash, data)
    assert list((tmp_path / "elsewhere").rglob("*.db"))
    text = b"aws_secret_access_key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\n"
    ids = [r.id for r in ruleset.rules]
    assert "aws-secret-access-key" in {ids[i] for i, _ in HyperscanMatcher(ruleset).find(text)}


def test_generic_assignment_name_prefix_matches_like_the_nested_form(ruleset):
    """The four run shapes of the name before the keyword match exactly what the nested
    `(?:[A-Za-z0-9]{1,20}[_.\\-]?){0,3}` does (same spans, same groups)."""
    import re

    shapes = (
        r"(?:[A-Za-z0-9]{1,60}[_.\-]?"
        r"|[A-Za-z0-9]{1,20}[_.\-][A-Za-z0-9]{1,40}[_.\-]?"
        r"|[A-Za-z0-9]{21,40}[_.\-][A-Za-z0-9]{1,20}[_.\-]?"
        r"|[A-Za-z0-9]{1,20}[_.\-][A-Za-z0-9]{1,20}[_.\-][A-Za-z0-9]{1,20}[_.\-]?)?"
    )
    pattern = ruleset.by_id["generic-secret-assignment"].pattern
    assert pattern.count(shapes) == 1
    new = re.compile(pattern.encode())
    old = re.compile(pattern.replace(shapes, r"(?:[A-Za-z0-9]{1,20}[_.\-]?){0,3}").encode())
    rnd = random.Random(11)
    words = ["a", "B", "9", "_", ".", "-", "pass", "password", "Token", "api", "key", "secret", "access", "auth",
             "client", "next", "csrf", "credentials", " ", "=", ":", '"', "'", "\n", "=>", "Zq7Kx2Lm9Pw4Rt8Vn3", ","]
    for _ in range(1500):
        parts = []
        for _ in range(rnd.randint(1, 12)):
            if rnd.random() < 0.25:
                parts.append("".join(rnd.choice("abcXYZ0189") for _ in range(rnd.choice([1, 19, 20, 21, 40, 41, 60, 61]))))
            else:
                parts.append(rnd.choice(words))
        text = "".join(parts).encode()
        assert [(m.span(), m.groups()) for m in new.finditer(text)] == [(m.span(), m.groups()) for m in old.finditer(text)], text

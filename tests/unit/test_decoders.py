"""Decoders: base64, percent-encoding and escapes reveal secrets at the encoded text's place."""

from __future__ import annotations

import base64
import json

from leakwarden import scan_text
from leakwarden.candidates.decoders import decode_base64, decode_escapes, decode_percent
from leakwarden.config import Settings

CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
CIRCLE = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def test_kubernetes_secret_data_is_decoded_with_its_key_as_context() -> None:
    text = f"kind: Secret\ndata:\n  CARGO_REGISTRY_TOKEN: {_b64(CRATES)}\n  db-password: {_b64('Vq7#rT2mPz9wLkQ')}\n"
    found = {(f.rule_id, f.secret.reveal(), f.decoded, f.location.start_line, f.location.start_column) for f in scan_text(text)}
    assert ("crates-io-api-token", CRATES, "base64", 3, 25) in found
    assert ("generic-secret-assignment", "Vq7#rT2mPz9wLkQ", "base64", 4, 16) in found
    # the encoded text itself is not reported as a second, generic secret
    assert not any(f.rule_id == "generic-secret-assignment" and f.decoded is None for f in scan_text(text))


def test_urlsafe_and_nested_base64() -> None:
    inner = _b64(f"token={CRATES}")
    outer = base64.urlsafe_b64encode(f'config: "{inner}"'.encode()).decode()
    [f] = [f for f in scan_text(f"blob = '{outer}'\n") if f.rule_id == "crates-io-api-token"]
    assert f.decoded == "base64>base64"


def test_depth_is_bounded() -> None:
    value = f"t={CRATES}"
    for _ in range(3):
        value = f"v: {_b64(value)}"
    assert not [f for f in scan_text(value + "\n") if f.rule_id == "crates-io-api-token"]


def test_percent_encoded_token_in_url() -> None:
    enc = CRATES.replace("c", "%63", 1)
    [f] = scan_text(f"curl 'https://hooks.internal/publish?token={enc}&x=1'\n")
    assert (f.rule_id, f.secret.reveal(), f.decoded) == ("crates-io-api-token", CRATES, "percent")


def test_json_escaped_notebook_cell() -> None:
    cell = {"cell_type": "code", "source": ['import os\n', 'client_secret = "a9F3kLq0Zx7Pw2Rt5Vb8"\n']}
    text = json.dumps({"cells": [cell]}, indent=1)
    assert '\\"a9F3' in text
    found = [f for f in scan_text(text, path="analysis.ipynb") if f.rule_id == "generic-secret-assignment"]
    assert [(f.secret.reveal(), f.decoded) for f in found] == [("a9F3kLq0Zx7Pw2Rt5Vb8", "escape")]


def test_unicode_escapes() -> None:
    text = 'cfg = "{\\u0022token\\u0022: \\u0022' + CIRCLE + '\\u0022}"\n'
    assert [f.rule_id for f in scan_text(text)] == ["circleci-personal-token"]


def test_decoding_can_be_turned_off() -> None:
    text = f"CARGO_REGISTRY_TOKEN: {_b64(CRATES)}\n"
    assert not [f for f in scan_text(text, settings=Settings(decode=False)) if f.rule_id == "crates-io-api-token"]


def test_decoders_reject_binary_and_non_encodings() -> None:
    assert decode_base64(base64.b64encode(bytes(range(256)))) is None
    assert decode_base64(b"not*base64") is None
    assert decode_base64(b"SGVsbG8gd29ybGQgZnJvbSB0ZXN0") == b"Hello world from test"
    assert decode_percent(b"plain") is None and decode_percent(b"a%3Db") == b"a=b"
    assert decode_escapes(b'\\"x\\"') == b'"x"' and decode_escapes(b"none") is None


def test_many_segments_are_bounded() -> None:
    text = "\n".join(f'k{i} = "{_b64("x" * 30 + str(i))}"' for i in range(5000))
    scan_text(text)  # completes; the per-chunk segment cap keeps work bounded


def test_string_split_by_concatenation_is_joined() -> None:
    half = len(CIRCLE) // 2
    for text in (f'token = "{CIRCLE[:half]}" + "{CIRCLE[half:]}"\n', f"$t = '{CIRCLE[:half]}' . '{CIRCLE[half:]}';\n"):
        [f] = [f for f in scan_text(text) if f.rule_id == "circleci-personal-token"]
        assert f.decoded == "concat" and f.secret.reveal() == CIRCLE and f.location.start_line == 1


def test_concat_decoder_needs_an_operator() -> None:
    from leakwarden.candidates.decoders import decode_concat

    assert decode_concat(b'x = "ab" + "cd"') == b'x = "abcd"'
    assert decode_concat(b"print('a', 'b')") is None
    assert decode_concat(b"path.split('.')") is None


def test_string_continued_over_several_lines_is_joined() -> None:
    third = len(CIRCLE) // 3
    a, b, c = CIRCLE[:third], CIRCLE[third : 2 * third], CIRCLE[2 * third :]
    cases = (
        f'circle_token = (\n    "{a}"\n    "{b}"\n    "{c}"\n)\n',  # Python, implicit
        f'const circleToken = "{a}" +\n  "{b}" +\n  "{c}";\n',  # JS / Java / Go, + at line end
        f'String circleToken = "{a}"\n    + "{b}"\n    + "{c}";\n',  # Java, + at line start
        f"circle_token = '{a}' + '{b}' +\n  '{c}'\n",  # one-line and multi-line joins mixed
    )
    for text in cases:
        found = [f for f in scan_text(text) if f.rule_id == "circleci-personal-token"]
        assert [f.secret.reveal() for f in found] == [CIRCLE], text
        assert found[0].decoded == "concat_ml"


def test_multiline_concat_needs_an_operator_or_indentation_and_is_bounded() -> None:
    from leakwarden.candidates.decoders import decode_concat_ml

    assert decode_concat_ml(b'x = ("ab"\n     "cd")') == b'x = ("abcd")'
    assert decode_concat_ml(b'"ab" +\n"cd"') == b'"abcd"'
    assert decode_concat_ml(b'"a","ab"\n"cd","x"') is None  # quoted CSV rows stay apart
    assert decode_concat_ml(b"'ab'\n  \"cd\"") is None  # different quotes are not one literal
    half = len(CIRCLE) // 2
    # a continuation chain longer than the cap is not joined past it (9 pieces, 8 lines joined)
    pieces = ["x" * 4] * 7 + [CIRCLE[:half], CIRCLE[half:]]
    text = "circle_token = (\n" + "\n".join(f'    "{p}"' for p in pieces) + "\n)\n"
    assert not [f for f in scan_text(text) if f.rule_id == "circleci-personal-token"]
    # hostile input: many continued lines complete (each line is read a bounded number of times)
    scan_text('x = ("a" +\n' + '  "a" +\n' * 20000 + '  "b")\n')


def test_base64_runs_without_an_upper_case_letter_or_digit_are_not_candidates() -> None:
    """Quoted identifiers and paths look like base64 but never hold text; base64 of text always
    has an upper-case letter or a digit, so requiring one drops no encoded secret."""
    import random
    import re

    from leakwarden.candidates.decoders import SegmentFinder

    finder = SegmentFinder()
    code = b"""use 'active_record_encryption_keys'\nuses: "actions/checkout-action"\nkey = "after_bulk_delete_hook"\n"""
    assert [s for s in finder._spans(code) if s[1] == "base64"] == []
    encoded = _b64(f"token={CRATES}").encode()
    assert [s[1] for s in finder._spans(b"value: '" + encoded + b"'\n")] == ["base64"]
    rng = random.Random(5)
    alphabets = [[chr(c) for c in range(0x20, 0x7F)], list("abcdefghijklmnopqrstuvwxyz _-./"), list("hjnrvz~|{}"), list("éèçàüößñøåäΩπжщ漢字")]
    for n in range(4000):
        chars = alphabets[n % len(alphabets)]
        text = "".join(rng.choice(chars) for _ in range(rng.randint(12, 60)))
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            run = enc(text.encode()).rstrip(b"=")
            assert re.search(rb"[A-Z0-9]", run), text


def test_a_long_line_of_encoded_values_is_decoded_once_per_segment() -> None:
    """Each decoded segment is matched with its line around it for context, but only what
    reaches into the decoded bytes is looked at: the other segments in that context are not
    decoded again for it (that was quadratic, and it reported the one hidden token once for
    every segment whose context held it)."""
    from leakwarden.candidates import Detector
    from leakwarden.matcher import select_matcher
    from leakwarden.models import Chunk, Origin
    from leakwarden.rules import load_ruleset

    filler = f'password="{_b64("password=hunter2hunter2 " * 3)}" '
    hidden = f'token="{_b64("export CARGO_REGISTRY_TOKEN=" + CRATES)}" '
    line = filler * 60 + hidden + filler * 60 + "\n"
    ruleset = load_ruleset()
    detector = Detector(ruleset, select_matcher(ruleset))
    calls = 0
    find = detector.matcher.find

    def counting(data: bytes) -> list:  # type: ignore[type-arg]
        nonlocal calls
        calls += 1
        return find(data)

    detector.matcher.find = counting  # type: ignore[method-assign]
    found = [f for f in detector.scan(Chunk(line.encode(), Origin("file", path="x"))) if f.rule_id == "crates-io-api-token"]
    assert [(f.decoded, f.location.start_column) for f in found] == [("base64", len(filler) * 60 + len('token="') + 1)]
    # one plain scan, one per segment (121) and one per segment nested in a decoded one (none)
    assert calls <= 1 + 121 + 5

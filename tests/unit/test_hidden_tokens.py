"""Tokens hidden by what surrounds them: `.properties` escapes (`\\=`), ANSI colour codes, a
JSON/C `\\n` right before the token, HTTP basic auth (`Basic base64(user:token)`)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from leakwarden import scan_text
from leakwarden.candidates import Detector
from leakwarden.candidates.decoders import decode_escapes
from leakwarden.config import Settings
from leakwarden.models import Chunk, Origin
from tests.conftest import run_cli

ATATT = (
    "ATATT3xFfGF0vMhAxOn2QQtakJ-xbt7w_uOSyQtuPSh2x4UYjlY9E7aqFhagGyufDQIv3fTlmpGJB3hM7h5Lpq3JPTjveJ0eZFwIYRAJojy8"
    "qzpLFlZKHl2eW_2oniOmy6lp2ZKpXsVGMmZ0JHq-BgXeS4AkDcY3OIAcjz_w1k4V77tYzLNFNTc=A1D057B4"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTh4cXJmRCIsImlzcyI6Imh0dHBzOi8vYXV0aC5hY21lLWNvcnAuaW8iLCJhdWQi"
    "OiJhcGkiLCJpYXQiOjE3NjM5MDAwMDAsImV4cCI6NDEwMjQ0NDgwMH0.L1UXW_kAQY1IKzcHEpaeUQE7RP9U4FOOsgYdvYloHVA"
)
CCIPAT = "CCIPAT_U72f3RdGcBovEZHVHs8gcV_ce464584c9d6ce83aa7698283438c624b24ccc8c"
CRATES = "cio3sVS5cOAEZWJW2Yqc7BaQcMV6EdQHCdv"
TOKENS = {"atlassian-api-token": ATATT, "jwt": JWT, "circleci-personal-token": CCIPAT, "crates-io-api-token": CRATES}


def _found(text: str, **kw: object) -> set[tuple[str, str]]:
    return {(f.rule_id, f.secret.reveal()) for f in scan_text(text, **kw)}  # type: ignore[arg-type]


# --- B1: .properties escapes -------------------------------------------------------------------


def test_properties_escapes_are_decoded() -> None:
    assert decode_escapes(b"a\\=b c\\:d e\\ f") == b"a=b c:d e f"
    text = "jira.api.token=" + ATATT.replace("=", "\\=") + "\n"
    [f] = [f for f in scan_text(text, path="app.properties") if f.rule_id == "atlassian-api-token"]
    assert (f.secret.reveal(), f.decoded, f.location.start_line) == (ATATT, "escape", 1)
    assert ATATT[:40] not in f.line


def test_properties_escape_triggers_only_after_a_token_character() -> None:
    from leakwarden.candidates.decoders import SegmentFinder

    finder = SegmentFinder()
    assert [k for _, k, _ in finder._spans(b"a\\=b x\\:y z\\ w\n")] == ["escape"] * 3
    assert finder._spans(b"$\\= \\: ( \\ \n") == []  # LaTeX, shell: no token character before


# --- B3: ANSI colour codes ---------------------------------------------------------------------


@pytest.mark.parametrize("decode", [True, False])
def test_tokens_after_ansi_colour_codes(decode: bool) -> None:
    log = "".join(f"\x1b[{code}m{tok}\x1b[0m\n" for code, tok in zip(("32", "1;33", "36", "35"), TOKENS.values(), strict=True))
    found = scan_text(log, settings=Settings(decode=decode))
    assert {(f.rule_id, f.secret.reveal()) for f in found} == set(TOKENS.items())
    for f in found:
        assert "\x1b" not in f.line and f.location.start_column == log.splitlines()[f.location.start_line - 1].index(f.secret.reveal()) + 1


def test_blanking_keeps_every_offset() -> None:
    from leakwarden.candidates import blank_ansi

    data = b"x\x1b[1;31mA\x1b[0m\x1b[K\x1b[?25lB\x1b[\x1b"
    out = blank_ansi(data)
    assert len(out) == len(data) and out == b"x       A    " + b"   " + b"      B\x1b[\x1b"


def test_ansi_on_stdin() -> None:
    r = run_cli("scan", "stdin", "-f", "jsonl", input=f"\x1b[32m{CRATES}\x1b[0m\n".encode())
    assert r.returncode == 1, r.stderr.decode()
    [f] = [json.loads(line) for line in r.stdout.splitlines()]
    assert (f["rule_id"], f["start_column"], f["line"]) == ("crates-io-api-token", 6, "cio3************HCdv")


# --- B4: \n \r \t escapes right before a token ---------------------------------------------------


@pytest.mark.parametrize("esc", ["\n", "\t", "\r"])
def test_token_after_a_json_escape(esc: str) -> None:
    content = json.dumps({"files": {"tokens.txt": f"# tokens{esc}" + esc.join(TOKENS.values()) + esc}})
    assert set(TOKENS.items()) <= _found(content, path="state.json")
    # the same without decoding (the escapes are then found by a regex)
    assert set(TOKENS.items()) <= _found(content, path="state.json", settings=Settings(decode=False))


def test_token_after_an_escaped_backslash_is_not_cut_out_of_a_word() -> None:
    # `\\ncio...` is a backslash then `ncio...`: no token starts at `cio`
    assert ("crates-io-api-token", CRATES) not in _found('{"path": "C:\\\\n' + CRATES + '"}\n')


def test_private_keys_in_json_are_found_exactly_as_before(ruleset, monkeypatch: pytest.MonkeyPatch) -> None:
    from leakwarden.matcher import select_matcher

    key = ruleset.by_id["private-key-pem"].examples[0].text
    doc = json.dumps({"type": "service_account", "private_key": key, "note": f"x\n{CRATES}\nMIIE{CRATES}"}, indent=1)
    chunk = Chunk(doc.encode(), Origin("file", path="sa.json"))

    def findings(det: Detector) -> list[tuple[object, ...]]:
        return sorted((f.rule_id, f.secret.reveal(), f.location) for f in det.scan(chunk))  # type: ignore[return-value]

    det = Detector(ruleset, select_matcher(ruleset))
    now = findings(det)
    monkeypatch.setattr(Detector, "_after_escapes", lambda self, data, ws, matches: [])
    before = findings(Detector(ruleset, select_matcher(ruleset)))
    keys = [x for x in now if x[0] == "private-key-pem"]
    assert len(keys) == 1 and "\\n" in str(keys[0][1])  # the key's value keeps its `\n` escapes
    assert [x for x in now if x[0] != "crates-io-api-token"] == [x for x in before if x[0] != "crates-io-api-token"]
    assert [x[1] for x in now if x[0] == "crates-io-api-token"] == [CRATES]  # after `\n`, not after `\nMIIE`


# --- B10: HTTP basic auth --------------------------------------------------------------------------


def test_basic_auth_header_is_decoded() -> None:
    encoded = base64.b64encode(f"me@acme.io:{ATATT}".encode()).decode()
    for text in (
        f'headers = {{"Authorization": "Basic {encoded}"}}\n',
        f'curl -H "Authorization: Basic {encoded}" https://acme.atlassian.net/rest/api/3/myself\n',
        f"authorization: basic   {encoded}\n",
    ):
        found = scan_text(text)
        [f] = [f for f in found if f.rule_id == "atlassian-api-token"]
        assert (f.secret.reveal(), f.decoded, f.related["email"].reveal()) == (ATATT, "base64", "me@acme.io")
        assert not [f for f in found if f.rule_id == "generic-authorization-header"]  # replaced by the decoded one
        assert encoded not in f.line and encoded[4:-4] not in f.line


# --- percent-encoded delimiters, and where decoded findings point --------------------------------


@pytest.mark.parametrize("rule_id", sorted(TOKENS))
@pytest.mark.parametrize("before", ["%22", "%20", "%27", "%2C", "%3B", "%0A", "%7B", "%5B"])
def test_token_after_a_percent_encoded_delimiter(rule_id: str, before: str) -> None:
    # `%22ATATT...`: the hex digit of the escape defeated the boundary the rule puts before the
    # token, and no escape that can hide a token character was on the line to decode it
    token = TOKENS[rule_id]
    text = f"GET /hook?payload={before}{token}{before} HTTP/1.1\n"
    [f] = [f for f in scan_text(text) if f.rule_id == rule_id]
    assert (f.secret.reveal(), f.decoded) == (token, "percent")
    start = text.index(token) + 1
    assert (f.location.start_column, f.location.end_column) == (start, start + len(token))


def test_bearer_jwt_in_a_percent_encoded_query() -> None:
    text = f"https://api.acme.io/v1/export?authorization=Bearer%20{JWT}&format=csv"
    assert ("jwt", JWT) in _found(text)


def test_decoded_findings_point_at_the_encoded_token() -> None:
    # The location used to be the decoding segment: from the first escape on the line (here
    # inside the token, after 180 characters of it) to the end of the line. `fix` and the delta
    # history scan read the finding's text back from these columns.
    escaped = ATATT.replace("=", "\\=")
    pct = ATATT.replace("=", "%3D")
    for text, written in (
        (f"jira.api.token={escaped}  # ops\n", escaped),
        (f"x=%2Fa token={pct} next=%2F\n", pct),
        (f"x=1\nurl=https://h.io/?t={pct}&y=%2Fz\n", pct),
    ):
        [f] = [f for f in scan_text(text) if f.rule_id == "atlassian-api-token"]
        line = text.count("\n", 0, text.index(written)) + 1
        col = text.index(written) - text.rfind("\n", 0, text.index(written))
        loc = f.location
        assert (loc.start_line, loc.end_line, loc.start_column, loc.end_column) == (line, line, col, col + len(written))
        assert text.encode()[loc.offset : loc.offset + len(written)].decode() == written


# --- line continuations and \xXX escapes ----------------------------------------------------------


@pytest.mark.parametrize("rule_id", sorted(TOKENS))
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_token_split_by_line_continuations(rule_id: str, eol: str) -> None:
    # shell, Dockerfile RUN lines and C/Python string literals drop a backslash-newline
    token = TOKENS[rule_id]
    a, b = len(token) // 3, 2 * len(token) // 3
    text = f'curl -H "Authorization: {token[:a]}\\{eol}{token[a:b]}\\{eol}{token[b:]}" https://api.acme.io{eol}'
    [f] = [f for f in scan_text(text) if f.rule_id == rule_id]
    assert (f.secret.reveal(), f.decoded) == (token, "continuation")
    loc = f.location
    assert (loc.start_line, loc.start_column, loc.end_line, loc.end_column) == (1, text.index(token[:a]) + 1, 3, len(token) - b + 1)
    assert token[:a] not in f.line and token[b:] not in f.line


def test_indented_continuation_is_not_joined() -> None:
    # in shell, indentation after `\\` newline starts a new word
    token = TOKENS["crates-io-api-token"]
    assert ("crates-io-api-token", token) not in _found(f"cargo publish --token {token[:12]}\\\n    {token[12:]}\n")


@pytest.mark.parametrize("rule_id", sorted(TOKENS))
def test_token_written_with_hex_escapes(rule_id: str) -> None:
    token = TOKENS[rule_id]
    whole = "".join(f"\\x{ord(c):02x}" for c in token)
    for text in (f'key = b"{whole}"\n', f'TOKEN="{token[:-9]}\\x{ord(token[-9]):02X}{token[-8:]}"\n'):
        assert (rule_id, token) in _found(text), text


# --- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [b"\x1b[", b"\x1b[0m", b"Basic ", b"a\\=", b"\\=", b"\\nA", b"\\\\\\\\n", b"Basic QUJDRGVmZ2hpams0QUJD ", b"\\x41", b"%22A", b"a\\\n", b"a\\\r\n"])
def test_hostile_repetitions_stay_fast(ruleset, unit: bytes) -> None:
    from leakwarden.matcher import select_matcher

    det = Detector(ruleset, select_matcher(ruleset))
    data = unit * (2_000_000 // len(unit))
    t = time.process_time()
    det.scan(Chunk(data, Origin("file", path="x")))
    assert time.process_time() - t < 10

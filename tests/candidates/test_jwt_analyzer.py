"""The jwt analyzer: what it decodes, and the tokens it rejects."""

from __future__ import annotations

import base64
import json

from leakwarden.candidates.analyzers import analyze_jwt


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: bytes, payload: bytes) -> str:
    return f"{_b64(header)}.{_b64(payload)}.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"


def test_json_that_is_not_compact_decodes() -> None:
    for header, payload in (
        (b'{ "alg": "HS256" }', b'{ "sub": "u1" }'),
        (b'{\n  "alg": "HS256"\n}', b'{\n  "sub": "u1"\n}'),
        (b'{\r\n\t"alg": "HS256"\r\n}', b'{\r\n\t"sub": "u1"\r\n}'),
    ):
        details = analyze_jwt(_token(header, payload))
        assert details is not None and details["alg"] == "HS256" and details["jwt_claims"] == {"sub": "u1"}


def test_supabase_demo_keys_are_rejected_wherever_iss_sits() -> None:
    for claims in (
        {"iss": "supabase-demo", "role": "anon", "exp": 1983812996},
        {"role": "service_role", "iss": "supabase-demo", "exp": 1983812996},
        {"role": "anon", "exp": 1983812996, "ref": "x" * 7, "iss": "supabase-demo"},
    ):
        for sep in ((",", ":"), (", ", ": ")):
            payload = json.dumps(claims, separators=sep).encode()
            assert analyze_jwt(_token(b'{"alg":"HS256","typ":"JWT"}', payload)) is None, payload


def test_real_supabase_keys_are_kept() -> None:
    payload = json.dumps({"iss": "supabase", "ref": "qwertyuiopasdfghjklz", "role": "service_role"}).encode()
    details = analyze_jwt(_token(b'{"alg":"HS256","typ":"JWT"}', payload))
    assert details is not None and details["jwt_claims"]["iss"] == "supabase"


def test_a_signing_algorithm_without_signature_is_an_elided_token() -> None:
    header, payload = _b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(b'{"sub":"ann"}')
    assert analyze_jwt(f"{header}.{payload}.") is None  # docs: 'eyJ...eyJ...' followed by '...'
    assert analyze_jwt(f"{header}.{payload}.c2lnbmF0dXJlLWJ5dGVzLWhlcmU") is not None
    none = _b64(b'{"alg":"none"}')
    unsigned = analyze_jwt(f"{none}.{payload}.")  # alg none: kept, and flagged
    assert unsigned is not None and unsigned["alg_none"] and not unsigned["signed"]


def test_claims_shown_are_bounded_in_size() -> None:
    """A token's author chooses its claims: a 100 KB audience list or issuer must not land
    whole in every report and store row."""
    header = json.dumps({"alg": "HS256", "kid": "k" * 5000, "jku": {"nested": "x" * 5000}}).encode()
    payload = json.dumps({"iss": "i" * 100_000, "aud": [f"service-{i}" for i in range(10_000)], "sub": "u1", "exp": 1}).encode()
    details = analyze_jwt(_token(header, payload))
    assert details is not None
    assert len(json.dumps(details)) < 2_000
    claims = details["jwt_claims"]
    assert claims["sub"] == "u1" and claims["exp"] == 1 and claims["iss"].endswith("…") and len(claims["iss"]) == 200
    assert claims["aud"] == [f"service-{i}" for i in range(20)]
    assert len(details["jwt_header"]["kid"]) == 200 and len(details["jwt_header"]["jku"]) == 200


def test_json_nested_thousands_deep_is_rejected_not_a_crash(tmp_path) -> None:
    # json.loads raises RecursionError (not ValueError) past about a thousand levels; one such
    # `eyJ...` string (7 KB, inside the rule's length bound) ended the whole scan with
    # "internal error: RecursionError", losing every other file's findings
    from leakwarden.candidates.checksums import _b64_json_object
    from leakwarden.verifier.offline import check_jwt
    from tests.conftest import run_cli

    deep = b'{"a":' + b"[" * 2600 + b"]" * 2600 + b"}"
    token = _token(b'{"alg":"HS256"}', deep)
    assert analyze_jwt(token) is None
    assert _b64_json_object(_b64(deep), urlsafe=True) is None
    assert check_jwt(token).state.value == "unknown"
    (tmp_path / "evil.txt").write_text(f"x = {token}\n")
    (tmp_path / "app.env").write_text("CARGO_REGISTRY_TOKEN=cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn\n")
    proc = run_cli("scan", "path", str(tmp_path), "-f", "json")
    assert proc.returncode == 1, proc.stderr.decode()
    assert [f["rule_id"] for f in json.loads(proc.stdout)["findings"]] == ["crates-io-api-token"]

"""The displayed line of a finding hides every secret the scan saw on it, not only its own:
other copies of the value, other rules' matches (before any gate), the encoded text of decoded
findings. The raw line is kept apart, as a Secret, for --show-secrets."""

from __future__ import annotations

import base64

from leakwarden import scan_text
from leakwarden.models import secret_fingerprint

GH = "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"
GH2 = "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"
AKID = "AKIAQ3EGRTXZ7LPWKN5Y"
CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
GH_BAD_CRC = GH[:-1] + ("M" if GH[-1] != "M" else "P")  # a GitHub token whose checksum fails


def _lines(text: str) -> dict[str, str]:
    return {f.rule_id + ":" + f.secret.reveal(): f.line for f in scan_text(text)}


def test_the_same_value_elsewhere_on_the_line_is_masked() -> None:
    # the second copy follows a word character: no rule matches it there, the value search does
    [f] = scan_text(f'GITHUB_TOKEN="{GH}" # also x{GH}\n')
    assert GH not in f.line and GH[4:] not in f.line
    assert f.line == 'GITHUB_TOKEN="ghp_************U0qN" # also xghp_************U0qN'


def test_other_secrets_on_the_line_are_masked() -> None:
    found = scan_text(f'y = "{AKID}" ; z = "{GH2}"\n')
    assert {f.rule_id for f in found} == {"aws-access-key-id", "github-personal-access-token"}
    for f in found:
        assert AKID not in f.line and GH2 not in f.line
        assert f.line == 'y = "AKIA************KN5Y" ; z = "ghp_************mQRY"'


def test_matches_rejected_by_a_gate_are_masked_too() -> None:
    # the second token fails the GitHub checksum: no finding, but a later rule change, a
    # different engine or a person reading the report must not see it either
    [f] = scan_text(f'a = "{GH}"; b = "{GH_BAD_CRC}"\n')
    assert f.secret.reveal() == GH
    assert GH_BAD_CRC not in f.line and GH_BAD_CRC[4:-4] not in f.line


def test_a_base64_copy_of_a_found_secret_is_masked() -> None:
    encoded = base64.b64encode(f"token={CRATES}".encode()).decode()
    [f] = scan_text(f'plain = "{CRATES}"; enc = "{encoded}"\n')
    assert f.decoded is None  # the decoded copy says nothing new: it is not reported twice
    assert CRATES not in f.line and encoded not in f.line and encoded[4:-4] not in f.line


def test_a_decoded_finding_masks_its_encoded_text_and_the_rest() -> None:
    encoded = base64.b64encode(f"token={CRATES}".encode()).decode()
    found = scan_text(f'cfg: "{encoded}" other: "{GH}"\n')
    dec = next(f for f in found if f.rule_id == "crates-io-api-token")
    assert dec.decoded == "base64"
    for f in found:
        assert encoded not in f.line and encoded[4:-4] not in f.line and GH not in f.line
    assert dec.line == f'cfg: "{encoded[:4]}************{encoded[-4:]}" other: "ghp_************U0qN"'


def test_escaped_and_percent_encoded_secrets_are_masked_whole() -> None:
    # the decoded finding's encoded text starts before its escape: that part is hidden too
    enc = CRATES[:20] + "%" + CRATES[20].encode().hex().upper() + CRATES[21:]
    [f] = scan_text(f"curl 'https://hooks.internal/publish?token={enc}&x=1'\n")
    assert f.decoded == "percent" and CRATES[:20] not in f.line and CRATES[21:] not in f.line
    assert f.line == "curl 'https://hooks.internal/publish?token=cioc************TNwn&x=1'"
    half = len(CRATES) // 2
    [f] = scan_text(f'token = "{CRATES[:half]}" + "{CRATES[half:]}"\n')
    assert f.decoded == "concat" and CRATES[:half] not in f.line and CRATES[half:] not in f.line


def test_a_finding_hidden_later_leaves_nothing_on_the_other_findings_line() -> None:
    # what the ignore file or a baseline hides afterwards is masked on every other line already
    found = scan_text(f'creds = ["{AKID}", "{GH}"]\n')
    assert len(found) == 2
    kept = [f for f in found if f.fingerprint != secret_fingerprint("aws-access-key-id", AKID)]
    assert kept and all(AKID not in f.line for f in kept)


def test_show_secrets_line_is_kept_apart_and_redacted_when_printed() -> None:
    [f] = scan_text(f'GITHUB_TOKEN="{GH}" # also x{GH}\n')
    assert f.raw_line is not None
    assert f.raw_line.reveal() == f'GITHUB_TOKEN="{GH}" # also x{GH}'
    assert GH not in str(f.raw_line) and GH not in repr(f.raw_line)


def test_a_long_line_is_read_around_the_secret_only() -> None:
    other = [f"k{i}={GH2 if i % 7 == 0 else 'v' * 30}" for i in range(3000)]
    line = ";".join(other[:1500] + [f"T={GH}"] + other[1500:])
    found = [f for f in scan_text(line + "\n") if f.secret.reveal() == GH]
    [f] = found
    assert f.line.startswith("…") and f.line.endswith("…") and len(f.line) <= 242
    assert "ghp_************U0qN" in f.line and GH2 not in f.line and GH2[4:-4] not in f.line
    assert f.raw_line is not None and GH in f.raw_line.reveal() and len(f.raw_line.reveal()) <= 242


def test_many_findings_on_one_line_take_linear_time() -> None:
    import time

    def run(n: int) -> float:
        text = " ".join(CRATES[:-6] + f"{i:06d}" for i in range(n)) + "\n"
        t = time.process_time()
        found = scan_text(text)
        assert len(found) == n
        assert all(CRATES[:-6] not in f.line for f in found)
        return time.process_time() - t

    small, large = run(1000), run(4000)
    # quadratic work (a copy or a search of the whole line per finding) made this 16 times
    assert large < 8 * small + 0.5

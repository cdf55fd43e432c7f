"""Checksum validators agree with tokens built the way providers document them."""

from __future__ import annotations

import random
import string
import zlib

import pytest

from leakwarden.candidates.checksums import CHECKSUMS

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(width, "0")


def _github_style(prefix: str, rng: random.Random) -> str:
    """30 random base62 characters, then base62(CRC-32 of them) padded to 6 (GitHub, npm)."""
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    return f"{prefix}_{body}{_base62(zlib.crc32(body.encode()), 6)}"


def _atlassian_style(head: str, rng: random.Random) -> str:
    body = head + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))
    return body + format(zlib.crc32(body.encode()), "08X")


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
def test_github_crc32_accepts_generated_tokens_and_rejects_any_changed_character(prefix: str) -> None:
    rng = random.Random(prefix)
    check = CHECKSUMS["github-crc32"]
    for _ in range(50):
        token = _github_style(prefix, rng)
        assert check(token)
        i = rng.randrange(len(prefix) + 1, len(token))
        swapped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert not check(swapped)


def test_github_crc32_rejects_wrong_length_and_non_base62() -> None:
    check = CHECKSUMS["github-crc32"]
    assert not check("ghp_" + "a" * 35)
    assert not check("ghp_16C7e42F292c6912E7710c838347Ae178B4a")  # documentation sample, no valid checksum


def test_npm_crc32_uses_the_same_layout() -> None:
    rng = random.Random("npm")
    token = _github_style("npm", rng)
    assert CHECKSUMS["npm-crc32"](token)
    assert not CHECKSUMS["npm-crc32"](token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_atlassian_crc32_on_bitbucket_app_passwords() -> None:
    rng = random.Random("atbb")
    token = _atlassian_style("ATBB", rng)
    assert CHECKSUMS["atlassian-crc32"](token)
    assert not CHECKSUMS["atlassian-crc32"](token[:-8] + token[-8:].lower().replace("a", "b"))
    assert not CHECKSUMS["atlassian-crc32"](token[:-1] + ("0" if token[-1] != "0" else "1"))

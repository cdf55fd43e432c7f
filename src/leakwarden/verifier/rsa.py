"""RS256 signing with a PEM RSA private key, in pure Python (no crypto dependency for one check).

Only what the GCP service-account check needs: read PKCS#8 or PKCS#1 PEM, sign with
RSASSA-PKCS1-v1_5 + SHA-256 (RFC 8017 §8.2). Keys are used once per check and never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from leakwarden.errors import VerifyError

_PEM = re.compile(r"-----BEGIN ((?:RSA )?PRIVATE KEY)-----(.+?)-----END \1-----", re.DOTALL)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One DER element at `pos`: (tag, contents, next position)."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, data[pos : pos + length], pos + length


def _sequence(data: bytes) -> list[tuple[int, bytes]]:
    tag, body, _ = _read_tlv(data, 0)
    if tag != 0x30:
        raise ValueError("not a sequence")
    items, pos = [], 0
    while pos < len(body):
        t, v, pos = _read_tlv(body, pos)
        items.append((t, v))
    return items


def load_private_key(pem: str) -> tuple[int, int]:
    """Return (n, d) from a PEM RSA private key; VerifyError if it is not one."""
    m = _PEM.search(pem.replace("\\n", "\n"))
    if not m:
        raise VerifyError("no PEM RSA private key found in the secret")
    try:
        der = base64.b64decode("".join(m.group(2).split()), validate=True)
        items = _sequence(der)
        if m.group(1) == "PRIVATE KEY":  # PKCS#8 PrivateKeyInfo wraps PKCS#1 in an OCTET STRING
            octets = next(v for t, v in items if t == 0x04)
            items = _sequence(octets)
        ints = [int.from_bytes(v, "big") for t, v in items if t == 0x02]
        n, d = ints[1], ints[3]
    except (binascii.Error, ValueError, StopIteration, IndexError):
        raise VerifyError("the private key is not a readable RSA key") from None
    if n.bit_length() < 1024:
        raise VerifyError("the private key is not a usable RSA key")
    return n, d


def sign_rs256(message: bytes, key: tuple[int, int]) -> bytes:
    n, d = key
    k = (n.bit_length() + 7) // 8
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")

"""Opt-in encrypted secrets in the store: AES-GCM with a key derived from LEAKWARDEN_STORE_KEY.

The passphrase is stretched with scrypt and a random per-store salt (kept in `meta`); a
known-plaintext check value lets a wrong key fail with a clear message instead of garbage.
"""

from __future__ import annotations

import base64
import os

from leakwarden.errors import LeakwardenError

KEY_ENV = "LEAKWARDEN_STORE_KEY"
_CHECK = b"leakwarden-store-key-check"


def _aesgcm(key: bytes):  # type: ignore[no-untyped-def]
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise LeakwardenError("encrypted secret storage needs the 'cryptography' package: pip install 'leakwarden[store]'") from None
    return AESGCM(key)


def derive_key(passphrase: str, salt: bytes) -> bytes:
    import hashlib

    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)


def key_from_env() -> str:
    value = os.environ.get(KEY_ENV, "")
    if len(value) < 12:
        raise LeakwardenError(f"--store-secrets needs a key of at least 12 characters in ${KEY_ENV}")
    return value


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _aesgcm(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return _aesgcm(key).decrypt(sealed[:12], sealed[12:], context)
    except InvalidTag:
        raise LeakwardenError(f"cannot decrypt a stored secret: wrong ${KEY_ENV}?") from None


def new_salt() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def make_check(key: bytes) -> str:
    return base64.b64encode(seal(key, _CHECK, b"check")).decode("ascii")


def verify_check(key: bytes, check: str) -> None:
    if unseal(key, base64.b64decode(check), b"check") != _CHECK:
        raise LeakwardenError(f"wrong ${KEY_ENV} for this store")

"""False-positive filters: tiny named predicates over a candidate secret.

Rules list the filters that apply to them (`filters = [...]`; default: template, placeholder).
Each predicate returns True when the value is NOT a real secret. See docs/filters.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from leakwarden.candidates.entropy import shannon_entropy


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def is_templated(value: str) -> bool:
    """A reference to a value kept elsewhere: ${VAR}, {{ x }}, %(x)s, <%= %>, os.environ, ..."""
    return bool(
        _rx(
            r"\$\{[^}]*\}?|\$\([^)]*\)?|\{\{.*|\{%|<%|%\([a-z_]+\)s|^\$[A-Za-z_][A-Za-z0-9_]*$"
            r"|^%[A-Za-z_][A-Za-z0-9_]*%$|^[?:+=-][A-Z_][A-Z0-9_]*\}?$|^#\{|\$env:|^env\.|^process\.env|^os\.(?:environ|getenv)"
            r"|^ENV\[|^System\.getenv|^secrets\.|^vars\.|^\{[A-Za-z_][A-Za-z0-9_.]*\}$"
            r"|\|\s*(?:default|safe|escape|lower|upper|date|json)\b|^ENC\[|^vault:|^arn:aws:secretsmanager|^ssm:|^op://|^AGE-ENCRYPTED|^\$ANSIBLE_VAULT"
        ).search(value)
    )


_PLACEHOLDER_WORDS = (
    "example", "sample", "dummy", "placeholder", "changeme", "change_me", "change-me",
    "your_", "your-", "yourtoken", "yourkey", "yoursecret", "yourpassword", "insert", "redacted",
    "replace", "notreal", "not_real", "not-a-real", "fake", "test1234", "secret123",
    "password123", "xxxxx", "*****", "....", "<", ">", "todo", "fixme", "lorem", "foobar",
    "abcdefgh", "12345678", "00000000", "xxx", "[filtered]", "password", "passwd", "secret_key", "apikey", "api_key",
)


def has_sequence(value: str, run: int = 6) -> bool:
    """A run like abcdefg or 234567: typed by a person making up a value, not generated."""
    count = 1
    for a, b in zip(value, value[1:], strict=False):
        count = count + 1 if ord(b) - ord(a) == 1 else 1
        if count >= run:
            return True
    return False


def is_placeholder(value: str) -> bool:
    """Obvious stand-ins: <your-token>, xxxx, changeme, EXAMPLE, ****, abcdef, one repeated char."""
    lower = value.lower()
    if any(w in lower for w in _PLACEHOLDER_WORDS) or has_sequence(lower):
        return True
    if len(set(lower.strip("'\"`"))) <= 2:
        return True
    return bool(_rx(r"^(?:null|none|nil|true|false|undefined|empty|string|secret|password|token)$").match(lower))


def is_low_entropy(value: str, floor: float = 3.0) -> bool:
    return shannon_entropy(value) < floor


def is_hex_digest(value: str) -> bool:
    """md5/sha1/sha256/sha512 hex digests: usually checksums, not credentials."""
    return len(value) in (32, 40, 56, 64, 96, 128) and bool(_rx(r"^[0-9a-fA-F]+$").match(value))


def is_uuid(value: str) -> bool:
    return bool(_rx(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").match(value))


def is_identifier_like(value: str) -> bool:
    """Code, not a value: dotted names, calls, snake/kebab/camel/CONSTANT identifiers."""
    if _rx(
        r"[()\[\]]|^\w+\.\w+(?:\.\w+)*$|^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$|^[a-z]+(?:-[a-z]+)+$|^[a-z]+(?:[A-Z][a-z]+)+$"
        r"|^_*[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^(?:[A-Z]+[a-z]+){2,}[A-Z]*[a-z]*$|^urn:"
    ).search(value):
        return True
    return bool(_rx(r"^[A-Za-z_]+$").match(value) and len(value) < 24)


def is_path_or_url_without_credentials(value: str) -> bool:
    return bool(_rx(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|^https?://[^@\s]*$").match(value))


def is_password_hash(value: str) -> bool:
    """A stored password hash (Django pbkdf2, bcrypt, argon2, crypt(3), LDAP {SSHA}): not a
    usable credential, and fixtures are full of them."""
    return bool(
        _rx(r"^(?:pbkdf2_sha\d+\$|bcrypt(?:_sha256)?\$|argon2\$|\$2[abxy]\$\d\d\$|\$argon2(?:id|i|d)\$|\$[156]\$|\$y\$|\{S?SHA\d*\}|\{SSHA512\}|sha1\$|md5\$|scrypt:)").match(value)
    )


def is_integrity_hash(value: str) -> bool:
    """Subresource-integrity and lockfile digests: sha512-..., sha256-..., sha1-..."""
    return bool(_rx(r"^(?:sha(?:1|256|384|512)|md5)[-:][A-Za-z0-9+/=]+$").match(value))


FILTERS: dict[str, Callable[[str], bool]] = {
    "template": is_templated,
    "placeholder": is_placeholder,
    "low-entropy": is_low_entropy,
    "hex-digest": is_hex_digest,
    "uuid": is_uuid,
    "identifier": is_identifier_like,
    "path": is_path_or_url_without_credentials,
    "integrity": is_integrity_hash,
    "password-hash": is_password_hash,
}

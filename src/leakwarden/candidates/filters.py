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


def is_template_variable(value: str) -> bool:
    """A template or shell variable: ${VAR}, {{ x }}, {% %}, <%= %>, %(x)s, $VAR, %VAR%, #{x} (Ruby
    interpolation, anywhere in the value: `active_storage#{prefix}/disk`),
    Helm/Jinja filters (`| default`), GitHub `${{ secrets.X }}`, a format field `{name}` as a
    whole value or a whole `key={name}` item (`id={name},env={var}`), and an empty or positional
    field anywhere (`"ACCESS_TOKEN_{}".format(n)`, `token-{0}`)."""
    return bool(
        _rx(
            r"\$\{[^}]*\}?|\$\([^)]*\)?|\{\{.*|\{%|<%|%\([a-z_]+\)s|^\$[A-Za-z_][A-Za-z0-9_]*$"
            r"|^%[A-Za-z_][A-Za-z0-9_]*%$|^#\{|#\{[A-Za-z_@$][\w.@$]*\}|(?:^|[=:,])\{[A-Za-z_][A-Za-z0-9_.]*\}(?:$|[,;&])|^@[A-Za-z_][A-Za-z0-9_.]*@$"
            r"|\|\s*(?:default|safe|escape|lower|upper|date|json|quote|b64enc)\b|\{\d{0,2}\}"
        ).search(value)
    )


def is_env_reference(value: str) -> bool:
    """A reference to the environment or a secret manager instead of the value itself."""
    return bool(
        _rx(
            r"\$env:|^env\.|^process\.env|^import\.meta\.env|^os\.(?:environ|getenv)|^ENV\[|^ENV\.fetch|^System\.getenv"
            r"|^Environment\.GetEnvironmentVariable|^getenv\(|^secrets\.|^vars\.|^vault:|^arn:aws:(?:secretsmanager|ssm):"
            r"|^ssm:|^op://|^projects/[^/]+/secrets/|^akv://|^azurekeyvault|^@Microsoft\.KeyVault|^sm://|^gcp-secret:|^!Ref\b|^!Sub\b"
            r"|^\{\{resolve:"
        ).search(value)
    )


def is_encrypted_value(value: str) -> bool:
    """Ciphertext meant to be committed: ansible-vault, sops ENC[...], age, sealed-secrets blobs."""
    return bool(
        _rx(
            r"^\$ANSIBLE_VAULT;|^ENC\[(?:AES256_GCM|PKCS7|GPG)|^ENC\[|^-----BEGIN AGE ENCRYPTED FILE|^AGE-ENCRYPTED"
            r"|^age1[a-z0-9]{50,}|^Ag[A-D][A-Za-z0-9+/]{300,}={0,2}$|^vault:v\d+:|^AQICAH[A-Za-z0-9+/]{40,}"
        ).search(value)
    )


def is_templated(value: str) -> bool:
    """Any reference to a value kept elsewhere: template variable, environment or secret-manager
    reference, or committed ciphertext. The default filter of every rule."""
    return is_template_variable(value) or is_env_reference(value) or is_encrypted_value(value)


# Stand-in markers found anywhere in a value (case-insensitive). Each is 6+ characters (or not
# a token character at all): a random alphanumeric token contains one by chance about once in
# a billion characters, so random tokens are not dropped for them.
_PLACEHOLDER_MARKERS = (
    "example", "sample", "placeholder", "changeme", "change_me", "change-me", "yourtoken", "yourkey",
    "yoursecret", "yourpassword", "insert", "redacted", "replace", "notreal", "not_real", "not-a-real",
    "test1234", "secret123", "password123", "insecure", "foobar", "abcdefgh", "12345678", "00000000",
    "xxxxxxxx", "[filtered]", "password", "passwd", "secret_key", "apikey", "api_key", "*****", "....", "<", ">",
)
# Short stand-in words: in a random token they turn up inside runs of letters (`...1FaKeFnt...`,
# `...36Todopg...`), so they count only as whole words (see `_words`), alone or followed by a
# filler word in one lowercase or uppercase run (`faketoken`, `DUMMYKEY`).
_PLACEHOLDER_SHORT = frozenset({"fake", "todo", "fixme", "dummy", "lorem", "your"})
_FILLERS = ("token", "key", "secret", "pass", "password", "value", "here", "api", "apikey", "string", "text", "data", "user", "id")


def _words(value: str) -> list[str]:
    """The words of a value, lowercased: runs of letters split at case changes (`myFakeToken` ->
    my, fake, token; `XMLHttpRequest` -> xml, http, request); digits and other characters
    delimit."""
    return [w.lower() for w in _camel_words(value)]


def _camel_words(value: str) -> list[str]:
    """Runs of letters split at case changes, case kept (`XMLHttpRequest` -> XML, Http, Request)."""
    return _rx(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+").findall(value)


def _vowel_less(word: str) -> bool:
    """A mixed- or lower-case word without a vowel (`Xml`, `Cfg`, `Jt`): rare in real names."""
    return not word.isupper() and not _rx(r"[aeiouyAEIOUY]").search(word)


def _is_placeholder_word(word: str) -> bool:
    if word in _PLACEHOLDER_SHORT or (len(word) >= 4 and word.strip("x") == ""):
        return True
    return any(word.startswith(w) and word[len(w):] in _FILLERS for w in _PLACEHOLDER_SHORT)


def has_sequence(value: str, run: int = 6) -> bool:
    """A run like abcdefg or 234567: typed by a person making up a value, not generated."""
    count = 1
    for a, b in zip(value, value[1:], strict=False):
        count = count + 1 if ord(b) - ord(a) == 1 else 1
        if count >= run:
            return True
    return False


# Leetspeak spellings of the markers (`p@ssw0rd`, `53cr37`): a person dressing up a stand-in.
_LEET = str.maketrans({"@": "a", "4": "a", "3": "e", "0": "o", "1": "i", "5": "s", "$": "s", "7": "t"})
_LEET_MARKERS = tuple(m for m in _PLACEHOLDER_MARKERS if m.isalpha() and len(m) >= 6) + ("secret",)


def _has_leet_marker(lower: str) -> bool:
    """A marker that only the leetspeak reading spells: `secret-live-…` (Stytch) or
    `AGE-SECRET-KEY-1…` say `secret` as their format's prefix, not as a stand-in."""
    plain = lower.translate(_LEET)
    return plain != lower and any(m in plain and m not in lower for m in _LEET_MARKERS)


def _is_typed_run(lower: str) -> bool:
    """Runs a person types rather than a generator: letters and digits interleaved, each in
    sequence (`a1b2c3d4e5f6`), or a digit run cut by separators (`1234-5678-9012-3456`)."""
    if len(lower) >= 8 and _rx(r"^(?:[a-z][0-9])+[a-z]?$|^(?:[0-9][a-z])+[0-9]?$").match(lower):
        letters = "".join(c for c in lower if c.isalpha())
        digits = "".join(c for c in lower if c.isdigit())
        return has_sequence(letters, 4) and has_sequence(digits, 4)
    joined = _rx(r"[\-_.:\s/]").sub("", lower)
    return joined != lower and has_sequence(joined)


def is_placeholder(value: str) -> bool:
    """Obvious stand-ins: <your-token>, xxxx, changeme, EXAMPLE, ****, abcdef, one repeated char,
    values elided in documentation (`secret_token = '49d3a6f0...'`, `api_key: 1466aac2…`),
    markers in leetspeak (`p@ssw0rd`, `EXPRESS_53cr37`), typed runs (`a1B2c3D4e5F6`,
    `1234-5678-9012-3456`) and a word in brackets (`PWD=(whatever)`).

    Long markers (`example`, `changeme`, `redacted`...) count anywhere; short words (`fake`,
    `todo`, `your`, `xxxx`) only as whole words (`cio_FAKE_TOKEN`, `your-api-key-here`,
    `dummyKey`), never inside a random run of letters (`...1FaKeFnt...`). Rules whose tokens
    carry a CRC-32 do not use this filter by default (see rules/spec.py)."""
    if value.rstrip("/),;'\"`").endswith(("...", "\u2026")):  # also inside a regex: /key: 1466aac2…/
        return True
    lower = value.lower()
    if any(w in lower for w in _PLACEHOLDER_MARKERS) or has_sequence(lower):
        return True
    if _has_leet_marker(lower) or _is_typed_run(lower):
        return True
    if _rx(r"^[(\[{]\s*[a-z][a-z _\-]*\s*[)\]}]$").match(lower):  # (whatever), [your key]
        return True
    if any(_is_placeholder_word(w) for w in _words(value)):
        return True
    if "%" in value:  # percent-encoded stand-ins in URLs: pass%2Bword, a%20secret
        from urllib.parse import unquote

        plain = unquote(value)
        if plain != value and (" " in plain or is_placeholder("".join(ch for ch in plain if ch.isalnum()))):
            return True
    if len(set(lower.strip("'\"`"))) <= 2:
        return True
    return bool(_rx(r"^(?:null|none|nil|true|false|undefined|empty|string|secret|password|token)$").match(lower))


def is_low_entropy(value: str, floor: float = 3.0) -> bool:
    """Too few distinct symbols to be generated: words, repeated runs, short numbers."""
    return shannon_entropy(value) < floor


def is_hex_digest(value: str) -> bool:
    """md5/sha1/sha256/sha512 hex digests: usually checksums, not credentials."""
    return len(value) in (32, 40, 56, 64, 96, 128) and bool(_rx(r"^[0-9a-fA-F]+$").match(value))


def is_uuid(value: str) -> bool:
    """UUIDs name things (request ids, tenant ids); the few UUID-shaped secrets have their own rules."""
    return bool(_rx(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").match(value))


def is_identifier_like(value: str) -> bool:
    """Code, not a value: dotted names, calls, snake/kebab/camel/CONSTANT identifiers (also
    `_private_names` and type names with digits like `PKCS7PrivateKeyTypes`), `a || b` / `a && b`
    expressions (`clientSecret=o.clientSecret||null` in minified JS), HTML-escaped text
    (`token&quot;`), Ruby/C++/PHP scoped constants (`ActionController::InvalidAuthenticityToken`) and
    Ruby instance variables (`@user.auth_token`), and lowercase word paths naming code rather than
    holding a value: Rails routes `controller#action`, rake tasks `time:zones:all`."""
    value = value.strip("\u201c\u201d\u2018\u2019")  # typographic quotes around a word in prose
    value = value.rstrip(":;,.?!").lstrip("?:-+=!")  # shell ${X:?NAME}, ${X:-NAME} operands; !negation, predicate?
    if "&quot" in value or "&amp;" in value or "&#" in value:
        return True
    if _rx(
        r"[()\[\]]|\|\||&&|^\.{0,2}\w+(?:\??\.\w+)+$|^_*[a-z][a-z0-9]*(?:_[a-z0-9]+)+$|^[a-z]+(?:-[a-z]+)+(?:-[0-9]+)?$"
        r"|^_*[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)+$|^[A-Z]{2,}[0-9]+(?:[A-Z][a-z]{2,}){2,}$|^urn:"
        r"|^(?:::)?[A-Z]\w*::[A-Za-z_]|^@{1,2}[A-Za-z_]\w*(?:\.\w+)*$|^[a-z][a-z_]*(?:/[a-z][a-z_]*)*(?:[#:][a-z][a-z_]*)+$"
    ).search(value):
        return True
    if is_camel_case_name(value) or _is_type_name_with_digits(value):
        return True
    if "|" in value:  # a union type: `Buffer|Uint8Array|Blob|string`
        parts = [p.strip() for p in value.split("|")]
        if len(parts) >= 2 and all(_is_type_word(p) for p in parts):
            return True
    return bool(_rx(r"^[A-Za-z_]+$").match(value) and len(value) < 24)


def _is_type_word(value: str) -> bool:
    """One member of a union type: `string`, `Blob`, `Uint8Array`, `SensitiveString2048`."""
    return bool(_rx(r"^[a-z]{3,}$|^[A-Z][a-z]{2,}$|^[A-Z][a-z]+[0-9]{1,2}[A-Z][a-z]+$").match(value)) or is_camel_case_name(value) or _is_type_name_with_digits(value)


def _is_type_name_with_digits(value: str) -> bool:
    """A type or variable name with a number in it: a camelCase or PascalCase name closed by a
    number (`SensitiveString2048`, `defaultToConfig2`), or a short versioned or sized prefix
    before one (`V1LocalObjectReference`, `Ed25519PrivateKey`). The name is long (10 or 12+ letters), in
    words with vowels and without long consonant runs: random letters around a digit rarely
    spell that."""
    m = _rx(r"^([A-Za-z]{12,}?)([0-9]+)$").match(value)
    if m:
        return _is_wordy_name(m.group(1), len(value))
    m = _rx(r"^(?:[A-Z][a-z]{0,3}|[A-Z]{2,5})[0-9]+([A-Z][A-Za-z]{9,})$").match(value)
    return m is not None and _is_wordy_name(m.group(1))


def _is_wordy_name(value: str, length: int | None = None) -> bool:
    words = _camel_words(value)
    bare = sum(1 for w in words if _vowel_less(w))  # Xml, Len
    if bare > (len(words) >= 3) or sum(w.isupper() for w in words) > 1:
        return False
    # four consonants in a row are rare in words (Length, Strings aside) and common in random letters
    if any(_rx(r"[bcdfghjklmnpqrstvwxz]{4}").search(w.replace("ngth", "ng").replace("str", "st")) for w in words):
        return False
    return is_camel_case_name(value, length)


def is_camel_case_name(value: str, length: int | None = None) -> bool:
    """A camelCase or PascalCase name made of words: `jiraIssueTrackerFieldName`,
    `MyServiceClientFactory`, `XMLHttpRequest`, `getUserIdByName`. Random mixed-case letters
    (`AJtPlDEtYlTegTlWJIKVzwgr`, a legacy Atlassian token) are not: about half their letters are
    capitals, some in long runs, and their "words" are short, often one letter or without a
    vowel. A name keeps capitals to at most a third of its letters with no run of 7 (an acronym
    and the next word's capital: `NSURLSession`), words to 4 letters on average, and
    letter-poor words (one letter, or no vowel: `Jt`, `Pl`, `Cfg`) to one in four. `length`
    stands for the name's length when digits were taken out of it (`XmlStringMaxLen256`)."""
    if not _rx(r"^[A-Za-z]+$").match(value) or value.islower() or value.isupper():
        return False
    if 3 * sum(c.isupper() for c in value) > len(value) or _rx(r"[A-Z]{7}").search(value):
        return False
    words = _camel_words(value)
    poor = sum(1 for w in words[1:] if len(w) == 1 or _vowel_less(w))
    return len(words) >= 2 and 4 * poor <= len(words) and (length or len(value)) >= 4 * len(words)


def is_path_or_url_without_credentials(value: str) -> bool:
    """A file path or a URL (any scheme: https, webpack, s3...) with no user-info part: an address,
    not a credential (credentials in URLs have their own rules). Also
    lowercase multi-segment paths such as SigV4 credential scopes (key/20240101/region/s3/aws4_request),
    percent-encoded or not."""
    if _rx(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|^[a-z][a-z0-9+.\-]{1,20}://[^@\s]*$").match(value):
        return True
    from urllib.parse import unquote

    # a relative path to a named file (config/database.yml, keys/app.key): where a secret is kept
    if _rx(r"^[\w\-]+(?:/[\w.\-#{}]+)+\.[a-z]{2,5}$").match(value):
        return True
    plain = unquote(value)
    if _rx(r"^[a-z]+(?:-[a-z]+)*(?:/[a-z]+(?:-[a-z]+)*)+$").match(plain):  # words only: auth-request-type/at
        return True
    return bool(_rx(r"^[a-z0-9_.\-]+(?:/[a-z0-9_.\-]+){2,}$|aws4_request$").search(plain))


def is_password_hash(value: str) -> bool:
    """A stored password hash (Django pbkdf2, bcrypt, argon2, crypt(3), LDAP {SSHA}): not a
    usable credential, and fixtures are full of them."""
    return bool(
        _rx(r"^(?:pbkdf2_sha\d+\$|bcrypt(?:_sha256)?\$|argon2\$|\$2[abxy]\$\d\d\$|\$argon2(?:id|i|d)\$|\$[156]\$|\$y\$|\{S?SHA\d*\}|\{SSHA512\}|sha1\$|md5\$|scrypt:)").match(value)
    )


def is_integrity_hash(value: str) -> bool:
    """Subresource-integrity and lockfile digests: sha512-... (npm/yarn), sha256:... (poetry, pip
    --hash), h1:... (go.sum)."""
    return bool(
        _rx(
            r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?|xxh64)[-:][A-Za-z0-9+/=]+$|^h1:[A-Za-z0-9+/]{43}=$"
            r"|^[0-9a-f]{64}:[0-9a-f]{2,}$|^sha256~[A-Za-z0-9_\-]{43}$"
        ).match(value)
    )


# Values published in vendor documentation as examples; they appear in countless repositories.
_DOCUMENTED_EXAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "xoxb-not-a-real-token-this-will-not-work",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "mF_9.B5f-4.1JqM",  # RFC 6750's bearer token
    "2YotnFZFEjr1zCsicMWpAA",  # RFC 6749 section 4.1.4: example access and refresh tokens
    "tGzv3JOkF0XG5Qx2TlKWIA",
    "ad180jjd733klru7",  # RFC 5849 section 3.5.1: example oauth_token
    # RFC 5849 section 1.2: client, temporary and token credentials and the verifier
    "dpf43f3p2l4k3l03", "kd94hf93k423kf44", "hh5s93j4hdidpola", "hdhd0244k9j7ao03", "hfdp7dh39dks9884",
    "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00",
    # RFC 6749 section 2.3.1 and 4.x: the client s6BhdRkqt3 and its secrets, as a pair and in Basic
    "s6BhdRkqt3:gX1fBat3bV", "czZCaGRSa3F0MzpnWDFmQmF0M2JW", "7Fjfp0ZBr1KtDRbnfVdmIw",
    "45ghiukldjahdnhzdauz",  # RFC 7009 section 2.1: the token to revoke
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",  # RFC 7617 / 2617 Basic examples
    "YWxhZGRpbjpvcGVuc2VzYW1l",
})


def is_documented_example(value: str) -> bool:
    """Exactly a key published as an example in vendor documentation (AWS, Stripe, jwt.io...)."""
    return value in _DOCUMENTED_EXAMPLES


def is_obvious_fake(value: str) -> bool:
    """A documented example key or a value that says it is fake (test/mock/dummy/fake markers)."""
    if is_documented_example(value):
        return True
    return bool(_rx(r"(?i)example|fake|dummy|mock[_-]?(?:key|token|secret|password)|not[_-]?a[_-]?real|for[_-]?testing|do[_-]?not[_-]?use|testtoken|testkey|testsecret|testpass").search(value))


def is_public_key_or_certificate(value: str) -> bool:
    """Public material: SSH public keys, PEM public keys/certificates, DER SubjectPublicKeyInfo in
    base64 (RSA, EC P-256/384, Ed25519), age recipients."""
    return bool(
        _rx(
            r"^(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh|ecdsa)-[\w@.\-]+)\s*AAAA|^AAAA[BCE][0-9A-Za-z]{2}zaC1|^AAAAB3NzaC1"
            r"|-----BEGIN (?:RSA |EC |DSA )?PUBLIC KEY|-----BEGIN CERTIFICATE|-----BEGIN PGP PUBLIC KEY|-----BEGIN X509 CRL"
            r"|^MII[BC]IjANBgkqhkiG9w0BAQEFAAOC|^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE|^MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE|^MCowBQYDK2VwAyEA"
            r"|^MII[A-Za-z0-9+/]{2}CCA[A-Za-z0-9+/]{2}gAwIBAgI|^age1[a-z0-9]{58}$"
        ).search(value)
    )


_PEM_BODY = re.compile(r"-----BEGIN [A-Z ]+-----(?:\\[rn]|\s)*([A-Za-z0-9+/]{16,})")


def is_public_pem_body(value: str) -> bool:
    """A PEM block labelled PRIVATE KEY whose DER body is public material: its outer SEQUENCE
    opens with another SEQUENCE (a SubjectPublicKeyInfo or a certificate) or with a large INTEGER
    (a PKCS#1 RSAPublicKey's modulus). Every private key structure (PKCS#1, PKCS#8, SEC 1, DSA)
    opens with a one-byte version INTEGER. A body that does not decode is kept: the key may be
    cut or elided, and is then judged as before."""
    import base64
    import binascii

    m = _PEM_BODY.search(value)
    if m is None:
        return False
    head = m.group(1)[:24]
    try:
        der = base64.b64decode(head, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(der) < 6 or der[0] != 0x30:
        return False
    pos = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # past the outer SEQUENCE's length
    if pos + 2 > len(der):
        return False
    tag, length = der[pos], der[pos + 1]
    return tag == 0x30 or (tag == 0x02 and length != 0x01)


def is_not_userpass_base64(value: str) -> bool:
    """For docker `auths`: the value is real only when it decodes to `user:password`."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return True
    user, sep, password = raw.partition(":")
    return not (sep and user and len(password) >= 6 and raw.isprintable()) or is_placeholder(password)


def is_encoded_plain_text(value: str) -> bool:
    """Base64 of something that is not a secret: JSON (pagination tokens like eyJuZXh0Ijo...),
    prose, or a user:password pair whose password is a placeholder or a word."""
    import base64
    import binascii

    if len(value) < 8 or not _rx(r"^[A-Za-z0-9+/_\-]+={0,2}$").match(value):
        return False
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # "user:passé" in old HTTP tests; random bytes rarely all printable
    if not text or not all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return False
    if text.lstrip()[:1] in ("{", "[") or " " in text.strip():
        return True
    user, sep, password = text.partition(":")
    if sep:
        return is_placeholder(password) or password.isalpha() or shannon_entropy(password) < 3.0
    return False


FILTERS: dict[str, Callable[[str], bool]] = {
    "template": is_templated,
    "template-variable": is_template_variable,
    "env-reference": is_env_reference,
    "encrypted": is_encrypted_value,
    "fake": is_obvious_fake,
    "documented-example": is_documented_example,
    "public-key": is_public_key_or_certificate,
    "public-pem-body": is_public_pem_body,
    "not-userpass": is_not_userpass_base64,
    "encoded-plain": is_encoded_plain_text,
    "placeholder": is_placeholder,
    "low-entropy": is_low_entropy,
    "hex-digest": is_hex_digest,
    "uuid": is_uuid,
    "identifier": is_identifier_like,
    "path": is_path_or_url_without_credentials,
    "integrity": is_integrity_hash,
    "password-hash": is_password_hash,
}

"""Each suppression predicate: what it drops, and real-looking values it must keep."""

from __future__ import annotations

import base64

import pytest

from leakwarden.candidates import filters as F

REAL = ["Tr0ub4dor&3xQz", "Hq8sK2vN5xP7rT4wZ1yB", "Zq7Kx2Lm9Pw4Rt8Vn3Bc", "N3vq8ZpL2kRt",
        "S3nPqN9PPVLjPeMeSzteeUeIaexejJ", "ADN5RpVI2XQWhX1ssrKrxqVqmCplppjs"]  # mixed-case random: not CamelCase words

# Random tokens whose letters happen to spell a short placeholder word inside a run of letters
# (case-insensitively): generated, not typed. The two first are real QA finds.
RANDOM_WITH_WORDS = ["cio4W4r28ck36Todopg4HE3wCEepCAPEjal", "Vk1FaKeFntYrhDIU33YsHVuIP8Ywe", "qWfakeR2Lm", "Zq7xyourTk2",
                     "9dUmmyQ2", "r4TODOs9Lp", "Hq8Xxxxq2Lm"]

# Random mixed-case letters, 24 long like a legacy Atlassian token: no CamelCase name.
RANDOM_LETTERS = ["AJtPlDEtYlTegTlWJIKVzwgr", "qZKmbVAyAVHnyrvWdFrKxQpL", "GvmlgzeHQgwvrXQkicjAGzgX", "xRFdjowfzYWPntPlyadpuxiH"]

CASES: dict[str, tuple[list[str], list[str]]] = {
    "template-variable": (
        ["${DB_PASSWORD}", "{{ .Values.apiKey }}", "{{ vault_token }}", "<%= ENV['TOKEN'] %>", "%(password)s", "$API_KEY",
         "%APP_SECRET%", "#{secret}", "active_storage#{prefix}/disk#update", "${{ secrets.DEPLOY_TOKEN }}", "{token}", "@db.password@", "{{ pw | default('x') }}",
         "REFRESH_TOKEN_{}", "token-{0}"],
        REAL + ["pa$$w0rdQz8"],
    ),
    "env-reference": (
        ["os.environ['TOKEN']", "process.env.API_KEY", "ENV.fetch('X')", "System.getenv(\"PW\")", "$env:TOKEN",
         "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db", "op://vault/item/password", "vault:secret/data/app#pw",
         "projects/acme/secrets/db/versions/1", "secrets.API_TOKEN", "{{resolve:secretsmanager:db}}"],
        REAL,
    ),
    "encrypted": (
        ["$ANSIBLE_VAULT;1.1;AES256", "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]", "ENC[PKCS7,MIIBiQYJKoZIhvcNAQcDoIIBejCCAXYCAQAx]",
         "Ag" + "B" + "x7Kq9" * 70, "-----BEGIN AGE ENCRYPTED FILE-----", "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM"],
        REAL + ["AgBshortvalue12345"],
    ),
    "template": (["${X}", "process.env.X", "$ANSIBLE_VAULT;1.1;AES256"], REAL),
    "placeholder": (
        ["<your-token>", "xxxxxxxxxxxx", "changeme", "YOUR_API_KEY", "************", "abcdefghij", "12345678", "aaaaaaaaaaaa", "null", "REDACTED", "pass%2Bword", "a%20secret",
         "49d3a6f0b1c8e2d7...", "1466aac22e6a869134be\u2026", "1466aac22e6a869134be\u2026/",
         # short stand-in words as whole words (separators, case changes, digits around them)
         "cio_FAKE_TOKEN", "your-api-key-here", "dummyKey8Hq2", "myFakeToken", "faketoken", "DUMMYKEY", "TODO", "fixme-later",
         "Lorem9ipsum", "sk_live_xxxx", "AKIAXXXXXXXXXXXXXXXX", "xxxx-xxxx-Zq7K", "ExampleKey9Zq",
         # leetspeak markers, typed runs, a word in brackets
         "letme1n_p@ssw0rd!", "EXPRESS_s3cr3t", "Prod_53cr37", "b2C3d4E5f6G7", "2345-6789-0123-4567", "(anything)", "[your key]"],
        REAL + RANDOM_WITH_WORDS,
    ),
    "fake": (
        ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "fake-token-9Xk2", "dummyKey8Hq2",
         "mock_token_Zq7Kx2", "not_a_real_secret", "this-is-for-testing-only", "mF_9.B5f-4.1JqM", "2YotnFZFEjr1zCsicMWpAA", "ad180jjd733klru7"],
        REAL,
    ),
    "documented-example": (
        ["AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"],
        REAL + ["fake-token-9Xk2"],
    ),
    "low-entropy": (["aaaaabbbbbaaaa", "1111122222", "abababababab"], REAL),
    "hex-digest": (["d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
                   REAL + ["d41d8cd98f00b204e9800998ecf8427"]),
    "uuid": (["550e8400-e29b-41d4-a716-446655440000", "6F9619FF-8B86-D011-B42D-00C04FC964FF"], REAL + ["550e8400e29b41d4a716446655440000"]),
    "identifier": (["settings.SECRET_KEY", "get_token(request)", "db_password_field", "userPassword", "API_KEY_NAME", "PasswordHasher", "urn:ietf:params", "ORIGINAL-TOKEN", "currently_looking:", "access_token&quot", "?CIRCLECI_TOKEN",
                    "_default_path_loader_key", "PKCS7PrivateKeyTypes", "o.clientSecret||null", "user.token&&user.token.value",
                    "ActionController::InvalidAuthenticityToken", "ROTP::Base32.random_base32", "@original_verifier", "@user.auth_token",
                    "!!options.withCredentials", "Rails.env.test?", "environment_specified?",
                    "active_storage/disk#update", "time:zones:all",
                    "jiraIssueTrackerFieldName", "MyServiceClientFactoryBuilder", "XMLHttpRequestEventTarget", "getUserIdByNameOrEmail",
                    "NSURLSessionDataDelegate",
                    # type names with numbers, union types, optional chaining, relative modules, typographic quotes
                    "V1ConfigMapKeySelector", "Ed25519PrivateKey", "BoundedString2048", "XmlStringMaxLen256", "resolveFromConfig2",
                    "Buffer|Uint8Array|string", "session?.access_token", ".models.v2_secret_list", "expired-token-causes-403",
                    "aws4_request\u201d"],
                   REAL + ["deploy:Rk4vN8pQ2wX7", "Tr0ub4dor:3xQz"] + RANDOM_LETTERS),
    "path": (["/etc/app/secret.key", "./keys/id_rsa", "~/.ssh/id_ed25519", "C:\\keys\\app.pfx", "https://vault.acme.io/v1/secret",
              "access_key/20140101/myregion/myservice/aws4_request", "20210827%2Fus-west-2%2Fs3%2Faws4_request", "latest/api/token",
              "webpack://SwaggerUICore/./src/core/components/auth/basic-auth.jsx", "s3://acme-backups/db/dump.sql",
              "config/database.yml", "config/custom_key_path.key", "my_credentials/#{Rails.env}.yml.enc", "auth-request-type/at"], REAL + ["https://u:p4ss@h"]),
    "integrity": (["sha512-2F1Wf8rMq0Yk8hVt5bUa9x3Zy4Pq7sJ6nC1d0eRbL2o=", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                   "h1:qZ8s7vXq2wG6r9p3kK1m5Yt0Lc4Nb8Hj2Ds6Fa9Ue0Q=", "sha1-Zq7Kx2Lm9Pw4Rt8Vn3Bc="], REAL),
    "password-hash": (["pbkdf2_sha256$600000$salt$hash", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                       "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "{SSHA}Zm9vYmFyYmF6cXV4", "$6$rounds=5000$salt$hash"], REAL),
    "public-key": (
        ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL91oqG9cWRCRhdaFbb4EM4ah8CqQGzmO2Ft", "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
         "-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
         "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpPxbVC5TDd8n", "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="],
        REAL + ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ"],
    ),
    "public-pem-body": (  # openssl-made keys in test_public_pem_body_tells_public_structures_from_private_keys
        ["-----BEGIN PRIVATE KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA54sELefKPnpgns7iU7Jk\n-----END PRIVATE KEY-----",
         "-----BEGIN RSA PRIVATE KEY-----\\nMIIBCgKCAQEA54sELefKPnpgns7iU7JkSW58ypeE3Fb64sfA\\n-----END RSA PRIVATE KEY-----"],
        REAL + ["-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n-----END PRIVATE KEY-----",
                "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBGcbC3pKbTjRzXZ1LvmMGbZLm8m2nQ4N0xYQ6yF1ewVoAoGCCqGSM49\n-----END EC PRIVATE KEY-----"],
    ),
    "encoded-plain": (
        ["eyJuZXh0IjogIjQyIiwgInNpemUiOiAxMDB9", "YSBzZWNyZXQ=", "dXNlcm5hbWU6cGFzc3dvcmQ=", "YWxhZGRpbjpvcGVuc2VzYW1l", "dXNlcjpwYXNz6Q=="],
        REAL + [base64.b64encode(b"ci-bot:Rk4vN8pQ2wX7zL5t").decode(), "Q3Vyc2UgdGhlIGJ1bm55"[:8] + "==!"],
    ),
    "not-userpass": (
        ["bm90LWJhc2U2NC1wYWly", "dXNlcjpwYXNz", "!!notbase64!!", base64.b64encode(b"ci:changeme").decode()],
        [base64.b64encode(b"ci-bot:Rk4vN8pQ2wX7zL5t").decode(), base64.b64encode(b"deploy:ghp_Zq7Kx2Lm9Pw4Rt8Vn3Bc").decode()],
    ),
}


def test_every_filter_is_tested() -> None:
    assert set(CASES) == set(F.FILTERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_filter_drops_look_alikes_and_keeps_real_values(name: str) -> None:
    predicate = F.FILTERS[name]
    drop, keep = CASES[name]
    assert [v for v in drop if not predicate(v)] == []
    assert [v for v in keep if predicate(v)] == []


def test_placeholder_words_are_whole_words() -> None:
    assert F._words("cio_FAKE_TOKEN") == ["cio", "fake", "token"]
    assert F._words("XMLHttpRequest9myFakeKey") == ["xml", "http", "request", "my", "fake", "key"]
    assert "fake" not in F._words("1FaKeFnt")  # a random run of letters: Fa, Ke, Fnt


def test_a_crc_checked_rule_does_not_use_the_placeholder_filter_by_default() -> None:
    from leakwarden.rules import load_ruleset
    from leakwarden.rules.spec import CRC_CHECKSUMS, DEFAULT_FILTERS

    rules = load_ruleset().by_id
    assert rules["atlassian-api-token"].checksum in CRC_CHECKSUMS
    assert rules["atlassian-api-token"].filters == ("template",)
    assert rules["github-personal-access-token"].filters == ("template",)
    assert rules["crates-io-api-token"].filters == DEFAULT_FILTERS  # no checksum
    assert rules["crates-io-trusted-publishing-token"].filters == DEFAULT_FILTERS  # a 1-in-62 check proves nothing


def test_camel_case_names_are_words_not_random_case() -> None:
    assert F.is_camel_case_name("jiraIssueTrackerFieldName") and F.is_camel_case_name("MyServiceClientFactory")
    assert not F.is_camel_case_name("AJtPlDEtYlTegTlWJIKVzwgr")  # capitals half the letters, one-letter words
    assert not F.is_camel_case_name("jiraIssueTRACKERFieldName")  # a run of 7 capitals
    assert not F.is_camel_case_name("jiraIsTrFdNmXyQwZkPlBvRt")  # words without vowels
    assert not F.is_camel_case_name("lowercaseonly") and not F.is_camel_case_name("snake_case_name")


def test_sequence_detector() -> None:
    assert F.has_sequence("xx123456yy") and F.has_sequence("abcdefg")
    assert not F.has_sequence("Zq7Kx2Lm9Pw4")


def test_format_fields_as_whole_items_are_templates():
    from leakwarden.candidates.filters import is_template_variable

    assert is_template_variable("id={lower},env={name}")  # docker build --secret id={lower},env={name}
    assert is_template_variable("{token}")
    assert not is_template_variable("pa{ss}word99")  # braces inside a real value
    assert not is_template_variable("Zx9{q}Lm&!x")


def test_type_names_with_numbers_are_words_not_random_runs() -> None:
    assert F._is_type_name_with_digits("V1LocalObjectReference") and F._is_type_name_with_digits("SensitiveString2048")
    # random letters around a digit: too short, consonant runs, or words without vowels
    for v in ("PmozeusB1T", "vbdzuoYCY5", "kapKujar03", "Dlpg7Jbgvp", "Hq8sK2vN5xP7rT4wZ1yB", "N3vq8ZpL2kRt"):
        assert not F.is_identifier_like(v), v


def test_a_value_that_spells_its_own_name() -> None:
    from leakwarden.candidates import spells_own_name

    assert spells_own_name("metadatav2sessiontoken", b'METADATA_V2_SESSION_TOKEN = "')
    assert spells_own_name("API_TOKEN", b"apiToken: '")
    assert not spells_own_name("Hq8sK2vN5xP7rT4wZ1yB", b'"apiKey": "')
    assert not spells_own_name("token", b"token=")  # too short to say anything


def test_leetspeak_markers_only_when_the_reading_spells_them() -> None:
    assert F.is_placeholder("EXPRESS_s3cr3t") and F.is_placeholder("letme1n_p@ssw0rd!")
    # a format whose prefix is the word itself, with digits in its random body
    for v in ("secret-live-45uWOVrOIg6PP-qtxofGsojFe5Mi2YmvLjk8", "AGE-SECRET-KEY-1E0NEY54UESXC9QTTV29LUPMS0EQNTYFPW6ZEKVSKPDJQVXYK099ZHEURPQ",
              "secret_Jjzna1uiherM3e1sE0A2jvVYwCIoWJ4FXf0NkBQ4Y0e"):
        assert not F.is_placeholder(v), v


def test_public_pem_body_tells_public_structures_from_private_keys(tmp_path):
    import subprocess

    from leakwarden.candidates.filters import is_public_pem_body
    from tests.tooling import require_tool

    openssl = require_tool("openssl")

    def run(*args: str) -> str:
        return subprocess.run([openssl, *args], capture_output=True, text=True, check=True).stdout

    rsa = tmp_path / "rsa.pem"
    rsa.write_text(run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"))
    ec = run("ecparam", "-name", "prime256v1", "-genkey", "-noout")
    (tmp_path / "ec.pem").write_text(ec)
    private = {
        "pkcs8": rsa.read_text(),
        "pkcs1": run("rsa", "-in", str(rsa), "-traditional"),
        "sec1": ec,
        "ed25519": run("genpkey", "-algorithm", "ed25519"),
    }
    public = {
        "spki": run("pkey", "-in", str(rsa), "-pubout"),
        "rsa-public-key": run("rsa", "-in", str(rsa), "-RSAPublicKey_out"),
        "certificate": run("req", "-x509", "-key", str(tmp_path / "ec.pem"), "-subj", "/CN=test", "-days", "1"),
    }
    for name, pem in private.items():
        assert not is_public_pem_body(pem), name
        assert not is_public_pem_body(pem.replace("\n", "\\n")), name  # inside JSON
    for name, pem in public.items():
        body = pem[pem.index("-----\n") + 6 : pem.index("-----END")]
        relabelled = f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----"
        assert is_public_pem_body(relabelled), name
        assert is_public_pem_body(relabelled.replace("\n", "\\n")), name
    # cut or elided bodies are kept for the rule to judge
    assert not is_public_pem_body("-----BEGIN PRIVATE KEY-----\n...your key here...\n-----END PRIVATE KEY-----")
    assert not is_public_pem_body("-----BEGIN RSA PRIVATE KEY-----\nMIIE@@@@@@@@@@@@@@@@@@@@@@\n-----END RSA PRIVATE KEY-----")

"""Generic detectors on realistic files: what each reports, and the look-alikes it stays quiet on."""

from __future__ import annotations

import base64
import json
import re

import pytest

from leakwarden import scan_text

EC_KEY = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIPw8JRg0vlqQTk2WRyqtrj/BrV/ATugMxGgfSomVoK/XoAoGCCqGSM49
AwEHoUQDQgAEqU8kUb4C9Up7uh27p3k4luvZ/+/l35qn+3IMewRHIMZFPpeOvdst
rN0+PDuQ2rjEt7Toid4Cp+vZPu4uIoHO/A==
-----END EC PRIVATE KEY-----
"""


def _found(text: str, path: str = "config.txt") -> set[tuple[str, str]]:
    return {(f.rule_id, f.secret.reveal()) for f in scan_text(text, path=path)}


def _rules(text: str, path: str = "config.txt") -> set[str]:
    return {r for r, _ in _found(text, path)}


def test_severity_of_encrypted_keys_is_lower() -> None:
    plain = scan_text(EC_KEY)
    enc = scan_text(EC_KEY.replace("EC PRIVATE KEY-----\n", "EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0B2CC3E9F6A1D1D9\n\n", 1))
    assert [f.rule_id for f in plain] == ["private-key-pem"]
    assert [f.rule_id for f in enc] == ["private-key-pem-encrypted"]
    assert enc[0].severity.rank < plain[0].severity.rank


def test_kubeconfig_client_key_data_and_token() -> None:
    text = (
        "users:\n- name: admin\n  user:\n"
        f"    client-key-data: {base64.b64encode(EC_KEY.encode()).decode()}\n"
        "    token: Kq9vZ2Lw7XpRt4nB8mCyJ3sD\n"
    )
    found = scan_text(text, path="kubeconfig")
    assert ("private-key-pem", "base64") in {(f.rule_id, f.decoded) for f in found}
    # the token: the Kubernetes rule when it knows the format, else the generic one
    assert {f.rule_id for f in found if f.secret.reveal() == "Kq9vZ2Lw7XpRt4nB8mCyJ3sD"} & {"generic-secret-assignment", "kubernetes-kubeconfig-token"}


@pytest.mark.parametrize(
    ("text", "rule", "secret"),
    [
        ("machine api.heroku.com\n  login ops@acme.io\n  password Wq8zR2nLx7VpKd3\n", "netrc-password", "Wq8zR2nLx7VpKd3"),
        ("//npm.pkg.acme.io/:_authToken=Yk7vQ2zLw9XpRt4nB8mC\n", "npmrc-auth", "Yk7vQ2zLw9XpRt4nB8mC"),
        ("[pypi]\nusername = deploy\npassword = Hq8sK2vN5xP7rT4w\n", "generic-secret-assignment", "Hq8sK2vN5xP7rT4w"),
        ("https://ci-bot:k9Xf2LqWv7RzN3pT@git.acme.io\n", "generic-url-basic-auth", "k9Xf2LqWv7RzN3pT"),
        ("[default]\naws_access_key_id = AKIA2OGYBAH6STMMNXNN\naws_secret_access_key = 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\n",
         "aws-secret-access-key", "Hk3vQ8zLw2XpRt7nB4mCyJ9sD1fG6hK0lP5qW3eR"),  # the specific rule wins
        ("redis_url = 'rediss://default:Zr8vKq2Nw5Xp7Lt@cache.acme.io:6380/0'", "generic-connection-string-password", "Zr8vKq2Nw5Xp7Lt"),
        ("mongodb+srv://app:h8KdPq2WzR5nXy@cluster0.ab1cd.mongodb.net/orders", "generic-connection-string-password", "h8KdPq2WzR5nXy"),
        ("ldap://cn=admin:Pq9vL2xR7nKw@ldap.acme.io", "generic-connection-string-password", "Pq9vL2xR7nKw"),
        ("Server=db01;Database=hr;User Id=app;Password={Vx8#kQ2m;Wz5rT};", "generic-odbc-password", "{Vx8#kQ2m;Wz5rT}"),
        ("jdbc:mysql://db01:3306/shop?user=shop&password=Tz4nW8qLp2V", "generic-jdbc-password", "Tz4nW8qLp2V"),
        ("curl -u deploy:Zq7Kx2Lm9Pw4 https://nexus.acme.io", "generic-cli-basic-auth", "Zq7Kx2Lm9Pw4"),
        ("psql --password=Rk4vN8pQ2wX7zL5t -h db01", "generic-cli-password-flag", "Rk4vN8pQ2wX7zL5t"),
        ("mysql -h db01 -u app -pHq8sK2vN5xP7 shop", "generic-cli-password-flag", "Hq8sK2vN5xP7"),
        ("-H 'Authorization: Bearer Zq7Kx2Lm9Pw4Rt8Vn3BcYk7v'", "generic-authorization-header", "Zq7Kx2Lm9Pw4Rt8Vn3BcYk7v"),
        ('<add key="StorageSecret" value="Hq8sK2vN5xP7rT4wZ1yB" />', "generic-secret-xml", "Hq8sK2vN5xP7rT4wZ1yB"),
        ("export DEPLOY_TOKEN=Kq9vZ2Lw7XpRt4nB8mCy", "generic-secret-assignment", "Kq9vZ2Lw7XpRt4nB8mCy"),
        ('db_password = "Tr0ub4dor&3xQz"  # python', "generic-secret-assignment", "Tr0ub4dor&3xQz"),
        ("spring.datasource.password=N4tz8QwLp2Xv", "generic-secret-assignment", "N4tz8QwLp2Xv"),
        ('  "clientSecret": "a9F3kLq0Zx7Pw2Rt5Vb8",', "generic-secret-assignment", "a9F3kLq0Zx7Pw2Rt5Vb8"),
        ("config.api_key = 'Rk4vN8pQ2wX7zL5tY9'", "generic-secret-assignment", "Rk4vN8pQ2wX7zL5tY9"),
        ('$config[\'db_password\'] = "Wq8zR2nLx7Vp";', "generic-secret-assignment", "Wq8zR2nLx7Vp"),
        ('private const string ApiToken = "Zq7Kx2Lm9Pw4Rt8V";', "generic-secret-assignment", "Zq7Kx2Lm9Pw4Rt8V"),
        ('variable "db_password" {\n  default = "N3vq8ZpL2kRtQ"\n}', "generic-terraform-variable-default", "N3vq8ZpL2kRtQ"),
    ],
)
def test_generic_detector_finds(text: str, rule: str, secret: str) -> None:
    assert (rule, secret) in _found(text)


def test_docker_config_auth_decodes_to_user_and_password() -> None:
    auth = base64.b64encode(b"ci-bot:Rk4vN8pQ2wX7zL5t").decode()
    text = json.dumps({"auths": {"registry.acme.io": {"auth": auth}}}, indent=2)
    assert ("docker-config-auth", auth) in _found(text, "config.json")


def test_putty_keys_by_encryption() -> None:
    body = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: {enc}\nComment: ops\nPublic-Lines: 2\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIL91oqG9cWRCRhdaFbb4EM4ah8CqQGzmO2Ft/Dtn\nXjgmAAAA\n"
        "Private-Lines: 1\nAAAAII8eW8ruPoV4eeSMo4T8Jj6Czi0e3l4WlfRbHU/WtE0y\n"
        "Private-MAC: 3f1c7d2a9b8e4f6051a2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8\n"
    )
    assert _rules(body.format(enc="none"), "id.ppk") == {"private-key-putty"}
    assert _rules(body.format(enc="aes256-cbc"), "id.ppk") == {"private-key-putty-encrypted"}


@pytest.mark.parametrize(
    "text",
    [
        "password = os.environ['DB_PASSWORD']",
        "api_key: ${API_KEY}",
        "token: ${{ secrets.DEPLOY_TOKEN }}",
        "password: {{ .Values.db.password | quote }}",
        "password: '{{ vault_db_password }}'",
        "secret_key = '<%= ENV[\"SECRET_KEY_BASE\"] %>'",
        "password: ENC[AES256_GCM,data:Tr0ub4dor3xQzk,iv:8hK2vN5xP7rT4wZ1yBq3Ws==,tag:Zq7Kx2Lm9Pw4Rt8Vn3Bc==,type:str]",
        "db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6638643965383765306436313937636630633366\n",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '"integrity": "sha512-2F1Wf8rMq0Yk8hVt5bUa9x3Zy4Pq7sJ6nC1d0eRbL2o=",',
        'checksum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        "request_token = '550e8400-e29b-41d4-a716-446655440000'",
        "public_key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL91oqG9cWRCRhdaFbb4EM4ah8CqQGzmO2Ft'",
        "password_hash = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'",
        "def check(key, passive=True):",
        "token = self.get_token(request)",
        "PASSWORD_FIELD = 'password_confirmation'",
        "curl -u $USER:$TOKEN https://api.acme.io",
        "https://user:password@example.com/",
        "secret: password123",
    ],
)
def test_generic_detectors_stay_quiet(text: str) -> None:
    assert _found(text) == set()


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (b'session[:_csrf_token] = "c9/MxQ2bLk7fP3wRt8Zv1H"', b'_csrf_token] = "'),
        (b'x = {"authenticity_token" => "lTuvXk2PbQ9zR7mW3nC8"}', b'"authenticity_token" => "'),
        (b'next_page_token = "1w41l63U0xa8q7smH50v"', b'next_page_token = "'),
        (b'db_password = "Tr0ub4dor&3xQz"', b'db_password = "'),
    ],
)
def test_assigned_name_takes_the_whole_name_a_match_starts_inside(text, name):
    """A match may start at the `_` inside `csrf_token`; the allowlist sees the whole name."""
    from leakwarden.candidates import assigned_name
    from leakwarden.rules import load_ruleset

    rule = load_ruleset().by_id["generic-secret-assignment"]
    m = next(re.compile(rule.pattern.encode()).finditer(text))
    group = next(g for g in rule.secret_groups if m.start(g) >= 0)
    assert assigned_name(m, group) == name

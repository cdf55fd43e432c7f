"""Generate a labelled corpus: realistic files with planted secrets and hard look-alikes.

Every planted value is freshly random (or, for rules without a generator here, one of the rule's
own example texts placed in a varied context). `labels.json` lists, per file, the line ranges of
positives (with their type) and of negatives (with their kind); every other line is clean filler
taken from ordinary code, so any finding there is a false positive too.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B64URL = ALNUM + "-_"

FILLER = [
    "import os", "import logging", "from pathlib import Path", "log = logging.getLogger(__name__)",
    "def load(path):", "    with open(path) as fh:", "        return fh.read()", "for item in items:",
    "    total += item.price * item.quantity", "if not response.ok:", "    raise RuntimeError(response.text)",
    "const express = require('express');", "app.get('/health', (req, res) => res.send('ok'));",
    "func main() {", "\tfmt.Println(\"starting\")", "}", "SELECT id, name FROM users WHERE active = 1;",
    "# configuration for the staging deployment", "retries: 3", "timeout: 30s", "replicas: 2",
    "    image: ghcr.io/acme/api:1.4.2", "    ports:", "      - 8080:8080", "LOG_LEVEL=info",
    "def check(key, passive=True):", "    return cache.get(key, passive=passive)", "token = tokenizer.next_token()",
    "password_field = form.fields['password']", "secret_name = 'db-credentials'", "api_key_header = 'X-API-Key'",
    "self.token_type = 'Bearer'", "if password is None:", "    password = getpass.getpass()", "key = (row.id, row.version)",
    "// TODO: move the secret to the vault", "public static final String TOKEN_PARAM = \"token\";",
    "echo \"deploying $VERSION\"", "docker build -t acme/api:$GIT_SHA .", "npm ci --ignore-scripts",
    "<dependency><groupId>org.acme</groupId><artifactId>core</artifactId></dependency>",
    "resource \"aws_s3_bucket\" \"logs\" {", "  bucket = \"acme-logs\"", "session.headers.update({'User-Agent': UA})",
]


def rnd(r: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def password(r: random.Random) -> str:
    while True:
        v = rnd(r, r.randint(12, 20), ALNUM + "#%&*!^~")
        if sum(c.isdigit() for c in v) >= 2 and sum(c.isupper() for c in v) >= 2 and sum(c.islower() for c in v) >= 2:
            return v


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- fresh values for the priority types ------------------------------------------------------
def atatt(r: random.Random) -> str:
    body = "ATATT3xFfGF0" + rnd(r, r.randint(150, 190), B64URL) + "="
    return body + f"{zlib.crc32(body.encode()):08X}"


def atoa(r: random.Random) -> str:
    body = "ATOA" + rnd(r, 64, B64URL)
    return body + f"{zlib.crc32(body.encode()):08X}"


def jwt(r: random.Random) -> str:
    head = b64url(json.dumps({"alg": r.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": rnd(r, 10), "iss": r.choice(["https://auth.acme.io", "acme-api"]), "exp": r.randint(1_700_000_000, 1_900_000_000)}
    return f"{head}.{b64url(json.dumps(claims).encode())}.{b64url(r.randbytes(32))}"


def circle(r: random.Random, prefix: str) -> str:
    return f"{prefix}_{rnd(r, 22, B58)}_{rnd(r, 40, '0123456789abcdef')}"


GEN = {
    "atlassian-api-token": atatt,
    "atlassian-oauth-client-secret": atoa,
    "jwt": jwt,
    "circleci-personal-token": lambda r: circle(r, "CCIPAT"),
    "circleci-project-token": lambda r: circle(r, "CCIPRJ"),
    "circleci-legacy-token": lambda r: rnd(r, 40, "0123456789abcdef"),
    "atlassian-api-token-legacy": lambda r: rnd(r, 24),
    "crates-io-api-token": lambda r: "cio" + rnd(r, 32),
}
PRIORITY = {
    "atlassian": ("atlassian-api-token", "atlassian-api-token-legacy", "atlassian-oauth-client-secret"),
    "jwt": ("jwt",),
    "circleci": ("circleci-personal-token", "circleci-project-token", "circleci-legacy-token"),
    "crates-io": ("crates-io-api-token",),
}


@dataclass
class Doc:
    name: str
    lines: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)

    def filler(self, r: random.Random, n: int) -> None:
        self.lines.extend(r.choice(FILLER) for _ in range(n))

    def add(self, text: str, label: dict | None) -> None:
        start = len(self.lines) + 1
        self.lines.extend(text.split("\n"))
        if label is not None:
            self.labels.append({**label, "start": start, "end": len(self.lines)})


# --- placements: how a value for a type is written into a file -------------------------------
def placements_for(t: str, v: str, r: random.Random) -> list[tuple[str, str]]:
    """(file suffix, text) variants; the value appears on the first line of the text unless noted."""
    user = r.choice(["ci-bot", "deploy", "ops@acme.io", "release"])
    site = r.choice(["acme", "globex-eng", "initech"]) + ".atlassian.net"
    envname = {"atlassian-api-token": "JIRA_API_TOKEN", "atlassian-api-token-legacy": "JIRA_API_TOKEN", "atlassian-oauth-client-secret": "ATLASSIAN_CLIENT_SECRET",
               "jwt": "AUTH_TOKEN", "circleci-personal-token": "CIRCLECI_TOKEN", "circleci-project-token": "CIRCLE_TOKEN",
               "circleci-legacy-token": "CIRCLE_TOKEN", "crates-io-api-token": "CARGO_REGISTRY_TOKEN"}[t]
    half = len(v) // 2
    out = [
        (".env", f"{envname}={v}"),
        (".yml", f"env:\n  {envname}: \"{v}\""),
        (".py", f"{envname.lower()} = \"{v[:half]}\" + \"{v[half:]}\""),  # split across a concatenation
        (".json", json.dumps({"cells": [{"cell_type": "code", "source": [f"os.environ['{envname}'] = \"{v}\"\n"]}]})),  # notebook cell
        (".yaml", f"apiVersion: v1\nkind: Secret\ndata:\n  {envname.lower()}: {base64.b64encode(v.encode()).decode()}"),  # base64 blob
        (".py", f"{envname.lower()} = (\n    \"{v}\"\n)"),  # keyword on the line above the value
        (".py", f"{envname.lower()} = (\n    \"{v[:half]}\"\n    \"{v[half:]}\"\n)"),  # implicit concatenation over lines
        (".go", f"var {envname.title().replace('_', '')} = \"{v[:half]}\" +\n\t\"{v[half:]}\""),  # `+` at line end
    ]
    if t == "atlassian-api-token-legacy":
        out = [
            (".env", f"JIRA_URL=https://{site}\nJIRA_USER={user}\nJIRA_API_TOKEN={v}"),
            (".sh", f"curl -u {user}:{v} https://{site}/rest/api/2/myself  # jira"),
            (".py", f"jira = JIRA('https://{site}', basic_auth=('{user}', jira_token))\njira_token = '{v}'"),
            (".yml", f"confluence:\n  url: https://{site}/wiki\n  confluence_api_token: {v}"),
        ]
    elif t == "circleci-legacy-token":
        out = [
            (".sh", f"curl -H 'Circle-Token: {v}' https://circleci.com/api/v1.1/me"),
            (".md", f"[![CircleCI](https://circleci.com/gh/acme/api.svg?style=svg&circle-token={v})](https://circleci.com/gh/acme/api)"),
            (".env", f"CIRCLE_TOKEN={v}"),
            (".yml", f"circleci:\n  circle_token: \"{v}\""),
        ]
    elif t == "crates-io-api-token":
        out += [(".sh", f"cargo login {v}"), (".toml", f"[registry]\ntoken = \"{v}\"")]
    elif t.startswith("circleci"):
        out += [(".sh", f"curl -H 'Circle-Token: {v}' https://circleci.com/api/v2/me"),
                (".md", f"![badge](https://circleci.com/gh/acme/api.svg?style=svg&circle-token={v})")]
    elif t == "atlassian-api-token":
        out += [(".sh", f"curl -u {user}:{v} https://{site}/rest/api/3/myself"),
                (".txt", f"https://{user.split('@')[0]}:{v}@{site}/rest/api/3/search")]
    elif t == "atlassian-oauth-client-secret":
        out = [(s, f"ATLASSIAN_CLIENT_ID={rnd(r, 32)}\n" + txt) for s, txt in out]
    elif t == "jwt":
        out += [(".sh", f"curl -H 'Authorization: Bearer {v}' https://api.acme.io/v1/me"),
                (".txt", f"https://app.acme.io/callback?id_token={v}&state=xyz")]
    return out


def generic_positives(r: random.Random) -> list[tuple[str, str, str]]:
    """(type, suffix, text) for the generic detectors, fresh values each time."""
    pw = password
    host = lambda: r.choice(["db.prod.acme.internal", "10.2.3.4", "cluster0.ab1cd.mongodb.net", "mq.acme.io"])  # noqa: E731
    out = [
        ("connection-string", ".env", f"DATABASE_URL=postgres://app:{pw(r)}@{host()}:5432/app"),
        ("connection-string", ".yml", f"  mongo_uri: mongodb+srv://svc:{pw(r)}@{host()}/orders?retryWrites=true"),
        ("connection-string", ".py", f"BROKER = 'amqp://worker:{pw(r)}@{host()}:5672//'"),
        ("connection-string", ".ini", f"url = redis://default:{pw(r)}@{host()}:6379/0"),
        ("connection-string", ".cs", f"var cs = \"Server=tcp:{host()},1433;Database=hr;User ID=hr_app;Password={pw(r)};Encrypt=True\";"),
        ("connection-string", ".properties", f"spring.datasource.url=jdbc:postgresql://{host()}/orders?user=orders&password={pw(r)}"),
        ("basic-auth-url", ".txt", f"https://deploy:{pw(r)}@nexus.acme.io/repository/pypi/simple"),
        ("basic-auth-url", ".git-credentials", f"https://release:{pw(r)}@git.acme.io"),
        ("credential-file", ".netrc", f"machine api.acme.io\n  login ops@acme.io\n  password {pw(r)}"),
        ("credential-file", ".npmrc", f"//npm.pkg.acme.io/:_authToken={rnd(r, 36)}"),
        ("credential-file", ".json", json.dumps({"auths": {"registry.acme.io": {"auth": base64.b64encode(f'ci:{pw(r)}'.encode()).decode()}}})),
        ("credential-file", ".ini", f"[default]\naws_secret_access_key = {rnd(r, 40, ALNUM + '/+')}"),
        ("assignment", ".py", f"DB_PASSWORD = \"{pw(r)}\""),
        ("assignment", ".js", f"const apiKey = '{rnd(r, 32)}';"),
        ("assignment", ".go", f"\tclientSecret := \"{rnd(r, 28)}\""),
        ("assignment", ".java", f"    private static final String API_SECRET = \"{rnd(r, 24)}\";"),
        ("assignment", ".rb", f"  config.secret_token = '{rnd(r, 40)}'"),
        ("assignment", ".php", f"define('DB_PASSWORD', '{pw(r)}');"),
        ("assignment", ".yml", f"  password: {pw(r)}"),
        ("assignment", ".tf", f"  master_password = \"{pw(r)}\""),
        ("assignment", ".xml", f"<password>{pw(r)}</password>"),
        ("assignment", ".sh", f"export SERVICE_TOKEN={rnd(r, 30)}"),
        ("cli-flag", ".sh", f"docker login registry.acme.io -u ci --password {pw(r)}"),
        ("cli-flag", ".sh", f"curl -u admin:{pw(r)} https://jenkins.acme.io/api/json"),
        ("cli-flag", ".sh", f"mysqldump -h db01 -u backup -p{pw(r)} orders > orders.sql"),
        ("cli-flag", ".sh", f"curl -H 'Authorization: Bearer {rnd(r, 40)}' https://api.acme.io/v1/me"),
        ("url-query", ".md", f"https://api.acme.io/v2/orders?limit=50&api_key={rnd(r, 32)}"),
    ]
    body = "\n".join(rnd(r, 64, ALNUM + "+/") for _ in range(r.randint(6, 12)))
    out += [
        ("private-key", ".pem", f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{body}\n-----END RSA PRIVATE KEY-----"),
        ("private-key", ".json", json.dumps({"type": "service_account", "private_key": f"-----BEGIN PRIVATE KEY-----\nMIIE{body}\n-----END PRIVATE KEY-----\n"})),
        ("private-key", "", f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB{body}\n-----END OPENSSH PRIVATE KEY-----"),
    ]
    return out


def negatives(r: random.Random) -> list[tuple[str, str]]:
    """(kind, text): look-alikes that must not be reported."""
    hexd = lambda n: rnd(r, n, "0123456789abcdef")  # noqa: E731
    fake_jwt = "eyJ" + rnd(r, 30, B64URL) + ".eyJ" + rnd(r, 40, B64URL) + "." + rnd(r, 20, B64URL)
    return [
        ("documented-example", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("documented-example", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
        ("documented-example", "token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'"),
        ("non-decodable-jwt", f"const t = \"{fake_jwt}\";"),
        ("uuid", f"request_token = \"{'-'.join(hexd(n) for n in (8, 4, 4, 4, 12))}\""),
        ("uuid", f"client_secret: {'-'.join(hexd(n) for n in (8, 4, 4, 4, 12))}"),
        ("lockfile-digest", f"  integrity sha512-{base64.b64encode(r.randbytes(64)).decode()}"),
        ("lockfile-digest", f"checksum = \"{hexd(64)}\""),
        ("lockfile-digest", f"github.com/acme/lib v1.2.3 h1:{base64.b64encode(r.randbytes(32)).decode()}"),
        ("hash", f"secret_hash = \"{hexd(64)}\""),
        ("hash", f"password_hash = 'pbkdf2_sha256$600000${rnd(r, 12)}${base64.b64encode(r.randbytes(32)).decode()}'"),
        ("public-key", f"public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rnd(r, 43, ALNUM + '+/')} ops@acme\""),
        ("public-key", f"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE{rnd(r, 52, ALNUM + '+/')}\n{rnd(r, 36, ALNUM + '+/')}==\n-----END PUBLIC KEY-----"),
        ("encrypted", f"db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  {hexd(64)}\n  {hexd(64)}"),
        ("encrypted", f"password: ENC[AES256_GCM,data:{rnd(r, 16)},iv:{rnd(r, 22)}=,tag:{rnd(r, 22)}==,type:str]"),
        ("encrypted", f"  encryptedData:\n    api_key: AgB{rnd(r, 400, ALNUM + '+/')}=="),
        ("placeholder", "API_KEY=<your-api-key>"),
        ("placeholder", "password: changeme"),
        ("placeholder", "CIRCLE_TOKEN=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "CARGO_REGISTRY_TOKEN=cio<your-token>"),
        ("template", "password: {{ .Values.db.password }}"),
        ("template", "token: ${{ secrets.CIRCLECI_TOKEN }}"),
        ("template", "DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}/app"),
        ("env-reference", "api_key = os.environ[\"API_KEY\"]"),
        ("env-reference", "password: process.env.DB_PASSWORD"),
        ("git-sha", f"commit {hexd(40)}"),
        ("git-sha", f"CIRCLE_SHA1={hexd(40)}"),
        ("code", "def check(key, passive=True):"),
        ("code", "secret_key = settings.SECRET_KEY"),
        ("code", "token = get_token(request)"),
    ]


def example_positives(ruleset, r: random.Random) -> list[tuple[str, str, str]]:
    """Rules without a generator here: their own example texts, in a random file kind."""
    out = []
    for rule in ruleset.rules:
        if not rule.visible or rule.id in GEN or "generic" in rule.tags or rule.provider in ("private-keys", "generic"):
            continue
        for ex in rule.examples:
            suffix = r.choice([".env", ".yml", ".py", ".sh", ".txt", ".json"])
            out.append((rule.id, suffix, ex.text.strip("\n")))
    return out


def generate(out: Path, seed: int = 7, rounds: int = 6) -> dict:
    from leakwarden.rules import load_ruleset

    r = random.Random(seed)
    ruleset = load_ruleset()
    items: list[tuple[str, str, str, str]] = []  # (label kind, type, suffix, text)
    for _ in range(rounds):
        for t, g in GEN.items():
            for suffix, text in placements_for(t, g(r), r):
                items.append(("positive", t, suffix, text))
        for t, suffix, text in generic_positives(r):
            items.append(("positive", "generic:" + t, suffix, text))
        for kind, text in negatives(r):
            items.append(("negative", kind, r.choice([".py", ".yml", ".env", ".txt", ".lock"]), text))
    for t, suffix, text in example_positives(ruleset, r):
        items.append(("positive", t, suffix, text))
    r.shuffle(items)
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[dict]] = {}
    # JSON documents (notebooks, docker config, service-account files) are files of their own
    for n, (kind, t, _s, text) in enumerate(i for i in items if i[2] == ".json"):
        doc = Doc(f"j{n:04d}.json" if "cells" not in text else f"nb{n:04d}.ipynb")
        doc.add(text, {"kind": kind, "type": t})
        (out / doc.name).write_text("\n".join(doc.lines) + "\n")
        labels[doc.name] = doc.labels
    rest = [i for i in items if i[2] != ".json"]
    for n in range(0, len(rest), 4):  # a few planted items per file, with clean filler around them
        group = rest[n : n + 4]
        doc = Doc(f"f{n // 4:04d}{group[0][2]}")
        for kind, t, _s, text in group:
            doc.filler(r, r.randint(2, 12))
            doc.add(text, {"kind": kind, "type": t})
        doc.filler(r, r.randint(1, 6))
        (out / doc.name).write_text("\n".join(doc.lines) + "\n")
        labels[doc.name] = doc.labels
    (out.parent / "labels.json").write_text(json.dumps(labels, indent=1))
    return labels

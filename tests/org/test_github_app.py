"""`scan org github-app:`: a GitHub App's installations and their repositories, against an
imitation of the GitHub API on 127.0.0.1 that checks each App JWT with the App's public key."""

from __future__ import annotations

import base64
import json

import pytest

from leakwarden.errors import SourceError, UsageError
from leakwarden.org.enumerate import RepoFilter, enumerate_repos
from tests.conftest import run_cli
from tests.org.fakeapi import FakeApi, FakeClock


@pytest.fixture(scope="module")
def app_key(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path = tmp_path_factory.mktemp("app") / "app.pem"
    path.write_text(pem)
    return key.public_key(), path


def _jwt_ok(public_key, auth: str, app_id: str) -> bool:
    """Verify an RS256 App JWT as GitHub would: signature, issuer, not expired too far out."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    if not auth.startswith("Bearer "):
        return False
    parts = auth.removeprefix("Bearer ").split(".")
    if len(parts) != 3:
        return False

    def unb64(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    try:
        public_key.verify(unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
    return header["alg"] == "RS256" and claims["iss"] == app_id and 0 < claims["exp"] - claims["iat"] <= 600


class FakeGitHubApp:
    """Two installations (acme: 3 repositories over 2 pages; umbrella: 1), paged 2 per page."""

    TOKENS = {11: "ghs_instacme0000000000000000000000000", 22: "ghs_instumbrella00000000000000000000"}

    def __init__(self, public_key, clone_base: str, repos: dict[int, list[str]]):
        self.public_key, self.clone_base, self.repos = public_key, clone_base, repos
        self.minted: list[int] = []
        self.url = ""

    def __call__(self, path, query, headers):
        auth = headers.get("authorization", "")
        page = int(query.get("page", "1"))
        if path == "/app/installations":
            if not _jwt_ok(self.public_key, auth, "4242"):
                return 401, {}, {"message": "A JSON web token could not be decoded"}
            insts = [{"id": 11, "account": {"login": "acme"}}, {"id": 22, "account": {"login": "umbrella"}}]
            link = {} if page == 2 else {"Link": f'<{self.url}/app/installations?per_page=100&page=2>; rel="next"'}
            return 200, link, insts[page - 1: page]
        if path.startswith("/app/installations/") and path.endswith("/access_tokens"):
            if headers.get(":method") != "POST" or not _jwt_ok(self.public_key, auth, "4242"):
                return 401, {}, {"message": "bad credentials"}
            inst = int(path.split("/")[3])
            self.minted.append(inst)
            return 201, {}, {"token": self.TOKENS[inst], "expires_at": "2099-01-01T00:00:00Z"}
        if path == "/installation/repositories":
            inst = next((i for i, t in self.TOKENS.items() if auth == f"Bearer {t}"), None)
            if inst is None:
                return 401, {}, {"message": "bad credentials"}
            names = self.repos[inst]
            body = [{"full_name": n, "clone_url": f"{self.clone_base}/{n.split('/')[1]}.git", "size": 1 if "big" not in n else 9_000_000, "fork": False, "archived": False} for n in names[(page - 1) * 2: page * 2]]
            link = {"Link": f'<{self.url}/installation/repositories?per_page=100&page={page + 1}>; rel="next"'} if page * 2 < len(names) else {}
            return 200, link, {"total_count": len(names), "repositories": body}
        return 404, {}, {"message": "Not Found"}


def test_app_enumerates_every_installation_with_its_own_token(app_key):
    public_key, key_file = app_key
    fake = FakeGitHubApp(public_key, "https://github.example/x", {11: ["acme/a", "acme/b", "acme/big"], 22: ["umbrella/u"]})
    clock = FakeClock()
    with FakeApi(fake) as api:
        fake.url = api.url
        env = {"LEAKWARDEN_GITHUB_URL": api.url, "LEAKWARDEN_GITHUB_APP_ID": "4242", "LEAKWARDEN_GITHUB_APP_KEY_FILE": str(key_file)}
        import time

        clock.now = time.time()  # the fake server checks the JWT, not its time
        found = enumerate_repos("github-app:", env=env, repo_filter=RepoFilter(max_size=1024 * 1024), clock=clock.time, sleep=clock.sleep)
        assert [(r.name, r.platform) for r in found] == [("acme/a", "github-app:11"), ("acme/b", "github-app:11"), ("umbrella/u", "github-app:22")]
        assert fake.minted == [11, 22]
        listing = [q.get("page", "1") for p, q, _ in api.requests if p == "/installation/repositories"]
        assert listing == ["1", "2", "1"]
        # One account only: only its installation's token is minted.
        fake.minted.clear()
        found = enumerate_repos("github-app:umbrella", env=env)
        assert [r.name for r in found] == ["umbrella/u"] and fake.minted == [22]
        with pytest.raises(SourceError, match="no installation on 'nobody'"):
            enumerate_repos("github-app:nobody", env=env)
        # A key the App does not own: GitHub's 401 becomes a clear error.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        wrong = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        with pytest.raises(SourceError, match="HTTP 401"):
            enumerate_repos("github-app:", env={"LEAKWARDEN_GITHUB_URL": api.url, "LEAKWARDEN_GITHUB_APP_ID": "4242", "LEAKWARDEN_GITHUB_APP_PRIVATE_KEY": wrong})


def test_missing_or_bad_app_credentials_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="LEAKWARDEN_GITHUB_APP_ID"):
        enumerate_repos("github-app:", env={"LEAKWARDEN_GITHUB_URL": "http://127.0.0.1:9"})
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(UsageError, match="not a usable RSA PEM key"):
        enumerate_repos("github-app:", env={"LEAKWARDEN_GITHUB_URL": "http://127.0.0.1:9", "LEAKWARDEN_GITHUB_APP_ID": "1", "LEAKWARDEN_GITHUB_APP_KEY_FILE": str(bad)})


def test_scan_org_github_app_clones_with_each_workers_own_installation_token(app_key, repos, detector, tmp_path):
    from tests.org.test_org_cli import GitServer

    public_key, key_file = app_key
    paths, _ = repos
    git = GitServer(paths[0].parent)
    fake = FakeGitHubApp(public_key, git.url, {11: ["acme/r00", "acme/r01", "acme/r03"], 22: ["umbrella/r02"]})
    try:
        with FakeApi(fake) as api:
            fake.url = api.url
            env = {"LEAKWARDEN_GITHUB_URL": api.url, "LEAKWARDEN_GITHUB_APP_ID": "4242", "LEAKWARDEN_GITHUB_APP_KEY_FILE": str(key_file)}
            db = tmp_path / "app.db"
            proc = run_cli("scan", "org", "github-app:", "--engine", "local:2", "--store", str(db), "-f", "json", env=env)
            assert proc.returncode == 1, proc.stderr.decode()
            assert b"4 scanned" in proc.stderr
            assert len(json.loads(proc.stdout)["findings"]) == 2  # r00 and r03 hold a token
            for inst, tok in FakeGitHubApp.TOKENS.items():
                want = "Basic " + base64.b64encode(f"x-access-token:{tok}".encode()).decode()
                assert want in git.auth, inst
                assert tok.encode() not in proc.stdout + proc.stderr + db.read_bytes()
    finally:
        git.close()

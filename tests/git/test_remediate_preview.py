"""`leakwarden remediate` on a real history scan: the replacement-file preview stays redacted."""

from __future__ import annotations

from gitrepo import Repo
from tests.conftest import run_cli


def cli(repo: Repo, *args: str):
    return run_cli(*args, cwd=repo.path, env=repo.env)


def test_remediate_preview_never_shows_pieces_of_a_private_key(tmp_path):
    """A report written with --show-secrets: the replacement-file preview shows each line of a
    PEM key as the key is shown everywhere else (its header and length), not 8 characters of
    every line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    repo = Repo(tmp_path / "r")
    repo.commit("key", {"deploy/id_rsa": pem})
    repo.commit("drop it", remove=("deploy/id_rsa",))
    proc = cli(repo, "scan", "git", "-f", "json", "--show-secrets", "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 1, proc.stderr
    body = [ln for ln in pem.splitlines() if not ln.startswith("-----")]
    for fmt in ("md", "html"):
        proc = run_cli("remediate", str(tmp_path / "r.json"), "--format", fmt, cwd=repo.path, env=repo.env)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout.decode()
        assert "==&gt;***REMOVED-" in out if fmt == "html" else "==>***REMOVED-" in out
        pieces = [ln[:6] for ln in body] + [ln[-6:] for ln in body if len(ln) >= 6]
        assert not [p for p in pieces if p in out], fmt
        assert "-----BEGIN RSA PRIVATE KEY-----" in out and f"(line 1 of {len(body)})" in out

"""No report shows a raw secret without --show-secrets: not in the finding's own value, and not
in the source line printed with it (which may hold other secrets, other copies of the same one,
secrets the ignore file, a baseline or an inline `leakwarden:allow` hide, or an encoded copy)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from leakwarden.models import secret_fingerprint
from tests.conftest import run_cli

GH = "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"
GH2 = "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"
AKID = "AKIAQ3EGRTXZ7LPWKN5Y"
CRATES = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"
ENCODED = base64.b64encode(f"token={CRATES}".encode()).decode()
SECRETS = (GH, GH2, AKID, CRATES, ENCODED)
FORMATS = ["json", "jsonl", "text", "sarif", "csv", "junit", "gitlab", "html"]


def _tree(root: Path) -> Path:
    root.mkdir()
    (root / "a.sh").write_text(f'GITHUB_TOKEN="{GH}" # also {GH}\n')
    (root / "b.py").write_text(f'y = "{AKID}" ; z = "{GH2}"\n')
    (root / "c.py").write_text(f'crates = "{CRATES}"; copy = "{ENCODED}"; gh = "{GH2}"\n')
    # GH2 is allowed inline here; it is reported elsewhere, and must be masked there too
    (root / "d.py").write_text(f'ok = "{GH2}"  # leakwarden:allow\n')
    return root


def _findings(out: bytes, fmt: str) -> list[dict]:
    if fmt == "json":
        return json.loads(out)["findings"]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _scan(root: Path, fmt: str, *extra: str) -> bytes:
    r = run_cli("scan", "path", str(root), "-f", fmt, *extra, cwd=root)
    assert r.returncode in (0, 1), r.stderr.decode()
    return r.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _tree(tmp_path / "repo")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_raw_secret_in_any_format(tree: Path, fmt: str) -> None:
    out = _scan(tree, fmt)
    assert out
    for s in SECRETS:
        assert s.encode() not in out, (fmt, s)
        assert s[4:-4].encode() not in out, (fmt, s)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_lines_mask_every_secret_and_show_secrets_shows_them(tree: Path, fmt: str) -> None:
    found = _findings(_scan(tree, fmt), fmt)
    lines = {f["path"].rsplit("/", 1)[-1]: f["line"] for f in found}
    assert lines["a.sh"] == 'GITHUB_TOKEN="ghp_************U0qN" # also ghp_************U0qN'
    assert lines["b.py"] == 'y = "AKIA************KN5Y" ; z = "ghp_************mQRY"'
    assert lines["c.py"] == f'crates = "cioc************TNwn"; copy = "{ENCODED[:4]}************{ENCODED[-4:]}"; gh = "ghp_************mQRY"'
    shown = {f["path"].rsplit("/", 1)[-1]: f["line"] for f in _findings(_scan(tree, fmt, "--show-secrets"), fmt)}
    assert shown["a.sh"] == f'GITHUB_TOKEN="{GH}" # also {GH}'
    assert shown["c.py"] == f'crates = "{CRATES}"; copy = "{ENCODED}"; gh = "{GH2}"'


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_secrets_hidden_by_the_ignore_file_or_a_baseline_stay_hidden(tree: Path, fmt: str) -> None:
    (tree / ".leakwardenignore").write_text(secret_fingerprint("aws-access-key-id", AKID) + "\n")
    found = _findings(_scan(tree, fmt), fmt)
    assert not [f for f in found if f["rule_id"] == "aws-access-key-id"]
    assert any(f["path"].endswith("b.py") for f in found)  # GH2 on the same line is still reported
    (tree / ".leakwardenignore").unlink()

    # a baseline made from c.py hides its findings, GH2's among them; GH2 stays masked on the
    # lines of the findings still reported
    baseline = tree.parent / "baseline.json"
    r = run_cli("baseline", "create", "--output", str(baseline), str(tree / "c.py"), cwd=tree)
    assert r.returncode == 0, r.stderr.decode()
    out = _scan(tree, fmt, "--baseline", str(baseline))
    found = _findings(out, fmt)
    assert found and not [f for f in found if f["path"].endswith("c.py")]
    [aws] = [f for f in found if f["rule_id"] == "aws-access-key-id"]
    assert aws["line"] == 'y = "AKIA************KN5Y" ; z = "ghp_************mQRY"'
    for s in SECRETS:
        assert s.encode() not in out


MASKED_LINES = {
    "b.py": 'y = "AKIA************KN5Y" ; z = "ghp_************mQRY"',
    "c.py": f'crates = "cioc************TNwn"; copy = "{ENCODED[:4]}************{ENCODED[-4:]}"; gh = "ghp_************mQRY"',
}


@pytest.mark.parametrize(
    "selection",
    [
        ("--only-rule", "aws-access-key-id"),
        ("--only-rule", "github-personal-access-token"),
        ("--disable-rule", "github-personal-access-token", "--disable-rule", "crates-io-api-token", "--disable-rule", "generic-secret-assignment"),
    ],
)
def test_rules_left_out_of_the_scan_still_mask_the_line(tree: Path, selection: tuple[str, ...]) -> None:
    # A scan that does not run the GitHub rule reports only the AWS key ID on b.py's line, and
    # must not print the token beside it in full; one that runs only the GitHub rule must not
    # show c.py's crates.io token, nor its base64 copy (found only by decoding it).
    out = _scan(tree, "json", *selection)
    lines = {f["path"].rsplit("/", 1)[-1]: f["line"] for f in _findings(out, "json")}
    assert set(lines) & set(MASKED_LINES)
    for name, line in lines.items():
        assert line == MASKED_LINES.get(name, line), name
    for s in SECRETS:
        assert s[4:-4].encode() not in out, s


def test_org_scan_workers_mask_what_unselected_rules_match(tmp_path: Path) -> None:
    # `scan repos` scans in worker processes, which build their detector from what the driver
    # ships: the rules left out must travel too
    from tests.org.repos import add_commit, git

    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    add_commit(work, {"b.py": f'y = "{AKID}" ; z = "{GH2}"\n'}, "add", tick=1)
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{work}\n")
    r = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:1", "--only-rule", "aws-access-key-id", "-f", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr.decode()
    [found] = _findings(r.stdout, "json")
    assert found["line"] == 'y = "AKIA************KN5Y" ; z = "ghp_************mQRY"'
    assert GH2[4:-4].encode() not in r.stdout
    # --show-secrets works there too: the values travel back from the workers only then
    r = run_cli("scan", "repos", "--from", str(listing), "--engine", "local:1", "--only-rule", "aws-access-key-id", "-f", "json", "--show-secrets", cwd=tmp_path)
    [found] = _findings(r.stdout, "json")
    assert (found["secret"], found["line"]) == (AKID, f'y = "{AKID}" ; z = "{GH2}"')


def test_a_short_secret_shows_at_most_a_quarter_of_its_characters(tmp_path: Path) -> None:
    # The report keeps an unsalted SHA-256 fingerprint of every secret: each character the
    # preview shows of an 11-character password takes a factor of ~90 off guessing the rest.
    password = "Xk9-pW2_vQz"
    root = tmp_path / "repo"
    root.mkdir()
    (root / "db.py").write_text(f'DATABASE_URL = "postgresql://billing:{password}@db.internal:5432/billing"\n')
    [found] = _findings(_scan(root, "json"), "json")
    assert found["rule_id"] == "generic-connection-string-password"
    assert found["secret"] == "X*********z"
    assert found["line"] == 'DATABASE_URL = "postgresql://billing:X*********z@db.internal:5432/billing"'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abcdefgh", "********"),
        ("abcdefghi", "a*******i"),
        ("abcdefghijklmno", "a************o"),
        ("abcdefghijklmnop", "ab************op"),
        ("abcdefghijklmnopqrs", "ab************rs"),
        ("AKIAQ3EGRTXZ7LPWKN5Y", "AKIA************KN5Y"),
    ],
)
def test_redact_keeps_more_of_a_value_only_as_it_grows(value: str, shown: str) -> None:
    from leakwarden.models import redact

    assert redact(value) == shown


def test_a_report_file_with_the_secrets_in_it_is_private(tree: Path, tmp_path: Path) -> None:
    import stat

    shown, redacted = tmp_path / "shown.json", tmp_path / "redacted.json"
    assert run_cli("scan", "path", str(tree), "-f", "json", "--show-secrets", "-o", str(shown), cwd=tree).returncode == 1
    assert run_cli("scan", "path", str(tree), "-f", "json", "-o", str(redacted), cwd=tree).returncode == 1
    assert GH.encode() in shown.read_bytes()
    assert stat.S_IMODE(shown.stat().st_mode) == 0o600
    assert stat.S_IMODE(redacted.stat().st_mode) & 0o044, "a redacted report keeps the usual permissions"
    # an existing, readable report file does not keep its permissions once it holds secrets
    assert run_cli("scan", "path", str(tree), "-f", "json", "--show-secrets", "-o", str(redacted), cwd=tree).returncode == 1
    assert stat.S_IMODE(redacted.stat().st_mode) == 0o600
    # `report --show-secrets` prints the values a store keeps sealed
    db, key = tmp_path / "f.db", {"LEAKWARDEN_STORE_KEY": "correct horse battery"}
    assert run_cli("scan", "path", str(tree), "--store", str(db), "--store-secrets", "-o", str(redacted), cwd=tree, env=key).returncode == 1
    out = tmp_path / "report.csv"
    assert run_cli("report", "--store", str(db), "-f", "csv", "--show-secrets", "-o", str(out), env=key).returncode == 0
    assert GH.encode() in out.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

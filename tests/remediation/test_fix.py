"""`leakwarden fix` on real files per language: exact rewrites, programs still work, idempotence, refusal."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.tooling import require_tool

from leakwarden.remediation.fix import apply_fixes, env_line, language_of, plan_fixes, read_env

CCI = "CCIPAT_1bLWJMivyGXaGcG2TniL42_6fd287db7f1adbc60926f6967e7893f57fd14c16"  # circleci-personal-token
CIO = "cioc4sohdmM0Lm7exG3lCMqXXQ8agOMTNwn"  # crates-io-api-token


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _fix(*args: str, cwd: Path | None = None):
    return run_cli("fix", *args, cwd=cwd)


CASES = {
    "python": (
        "app/settings.py",
        f'"""Settings."""\nimport sys\n\nTOKEN = "{CCI}"\nHEADER = f"Bearer {CCI}!"\n\nprint(TOKEN, HEADER, sys.argv[0] != "")\n',
        '"""Settings."""\nimport os\nimport sys\n\nTOKEN = os.environ["CIRCLECI_TOKEN"]\nHEADER = f"Bearer {os.environ[\'CIRCLECI_TOKEN\']}!"\n\nprint(TOKEN, HEADER, sys.argv[0] != "")\n',
    ),
    "js": (
        "web/client.js",
        f'const token = "{CCI}";\nconst auth = `Bearer {CCI}`;\nconsole.log(token, auth);\n',
        'const token = process.env.CIRCLECI_TOKEN;\nconst auth = `Bearer ${process.env.CIRCLECI_TOKEN}`;\nconsole.log(token, auth);\n',
    ),
    "ts": (
        "web/client.ts",
        f"export const token: string = '{CCI}';\n",
        'export const token: string = (process.env.CIRCLECI_TOKEN ?? "");\n',
    ),
    "go": (
        "cmd/main.go",
        f'package main\n\nimport "fmt"\n\nconst token = "{CCI}"\n\nfunc main() {{\n\tfmt.Println(token, "Bearer {CCI}")\n}}\n',
        'package main\n\nimport "os"\nimport "fmt"\n\nvar token = os.Getenv("CIRCLECI_TOKEN")\n\nfunc main() {\n\tfmt.Println(token, "Bearer " + os.Getenv("CIRCLECI_TOKEN"))\n}\n',
    ),
    "java": (
        "src/Main.java",
        f'public class Main {{\n    static final String TOKEN = "{CCI}";\n\n    public static void main(String[] args) {{\n        System.out.println(TOKEN + " Bearer {CCI}");\n    }}\n}}\n',
        'public class Main {\n    static final String TOKEN = System.getenv("CIRCLECI_TOKEN");\n\n    public static void main(String[] args) {\n        System.out.println(TOKEN + " Bearer " + System.getenv("CIRCLECI_TOKEN"));\n    }\n}\n',
    ),
    "ruby": (
        "lib/client.rb",
        f"TOKEN = '{CCI}'\nputs TOKEN, \"Bearer {CCI}\"\n",
        'TOKEN = ENV.fetch("CIRCLECI_TOKEN")\nputs TOKEN, "Bearer #{ENV.fetch("CIRCLECI_TOKEN")}"\n',
    ),
    "shell": (
        "scripts/deploy.sh",
        f"#!/bin/sh\nexport CIRCLE_TOKEN={CCI}\ncurl -H 'Circle-Token: {CCI}' https://circleci.com/api/v2/me\necho \"$CIRCLE_TOKEN\"\n",
        '#!/bin/sh\nexport CIRCLE_TOKEN="${CIRCLECI_TOKEN:?CIRCLECI_TOKEN is not set}"\ncurl -H \'Circle-Token: \'"${CIRCLECI_TOKEN:?CIRCLECI_TOKEN is not set}" https://circleci.com/api/v2/me\necho "$CIRCLE_TOKEN"\n',
    ),
    "github-actions": (
        ".github/workflows/release.yml",
        f"jobs:\n  publish:\n    steps:\n      - run: cargo publish --token {CIO}\n",
        "jobs:\n  publish:\n    steps:\n      - run: cargo publish --token ${{ secrets.CARGO_REGISTRY_TOKEN }}\n",
    ),
    "gitlab-ci": (
        ".gitlab-ci.yml",
        f"publish:\n  script:\n    - cargo publish --token {CIO}\n",
        "publish:\n  script:\n    - cargo publish --token ${CARGO_REGISTRY_TOKEN}\n",
    ),
    "compose": (
        "docker-compose.yml",
        f'services:\n  ci:\n    environment:\n      CIRCLE_TOKEN: "{CCI}"\n',
        'services:\n  ci:\n    environment:\n      CIRCLE_TOKEN: "${CIRCLECI_TOKEN}"\n',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fix_rewrites_each_language_and_is_idempotent(case: str, tmp_path: Path) -> None:
    rel, before, expected = CASES[case]
    repo = _git_repo(tmp_path / "repo")
    target = repo / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(before)
    target.chmod(0o754)

    dry = _fix(str(repo), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert _snapshot(repo) == {rel: before.encode()}, "--dry-run changed something"
    out = dry.stdout.decode()
    assert f"+++ b/{repo.as_posix().lstrip('/')}/{rel}" in out and CCI not in out and CIO not in out

    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert target.read_text() == expected
    assert stat.S_IMODE(target.stat().st_mode) == 0o754, "the file lost its permissions"
    env = read_env(repo / ".env")
    name = "CARGO_REGISTRY_TOKEN" if CIO in before else "CIRCLECI_TOKEN"
    assert env == {name: CIO if CIO in before else CCI}
    assert stat.S_IMODE((repo / ".env").stat().st_mode) == 0o600
    assert read_env(repo / ".env.example") == {name: ""}
    assert ".env" in (repo / ".gitignore").read_text().splitlines()
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", ".env"])
    assert ignored.returncode == 0, "git does not ignore .env"

    snapshot = _snapshot(repo)
    again = _fix(str(repo))
    assert again.returncode == 0, again.stderr.decode()
    assert _snapshot(repo) == snapshot, "a second run changed files"
    assert "no hardcoded secrets found" in again.stderr.decode()


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rewritten_programs_print_the_same_values(tmp_path: Path) -> None:
    """Run each program before and after the fix (with .env loaded): same output, so no content was lost."""
    node, ruby, go = require_tool("node"), require_tool("ruby"), require_tool("go")
    javac, java = require_tool("javac"), require_tool("java")
    runners = {
        "python": lambda d: _run([sys.executable, "app/settings.py"], d),
        "js": lambda d: _run([node, "web/client.js"], d),
        "ruby": lambda d: _run([ruby, "lib/client.rb"], d),
        "shell": lambda d: _run(["sh", "-c", "sed 's#^curl .*#echo ok#' scripts/deploy.sh | sh"], d),
        "go": lambda d: _run([go, "run", "./cmd"], d, {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "on"}),
        "java": lambda d: (_run([javac, "-d", "out", "src/Main.java"], d), _run([java, "-cp", "out", "Main"], d))[1],
    }
    repo = _git_repo(tmp_path / "repo")
    (repo / "go.mod").write_text("module fixtest\n\ngo 1.19\n")
    for case in runners:
        rel, before, _ = CASES[case]
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(before)
    outputs = {case: run(repo) for case, run in runners.items()}
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    values = read_env(repo / ".env")
    os.environ.update(values)
    try:
        after = {case: run(repo) for case, run in runners.items()}
    finally:
        for k in values:
            os.environ.pop(k, None)
    assert after == outputs
    assert all(CCI in out for case, out in outputs.items() if case != "shell")


def test_dockerfile_gets_guidance_not_a_rewrite(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    text = f"FROM rust:1\nENV CARGO_REGISTRY_TOKEN={CIO}\nRUN cargo publish\n"
    (repo / "Dockerfile").write_text(text)
    proc = _fix(str(repo))
    assert proc.returncode == 1
    assert (repo / "Dockerfile").read_text() == text
    err = proc.stderr.decode()
    assert "RUN --mount=type=secret,id=cargo-registry-token,env=CARGO_REGISTRY_TOKEN" in err
    assert "docker run --env-file .env" in err
    assert not (repo / ".env").exists()


def test_a_value_outside_any_literal_is_left_with_a_message(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    text = f"# rotated: {CIO}\nx = 1\n"
    (repo / "notes.py").write_text(text)
    proc = _fix(str(repo))
    assert proc.returncode == 1
    assert (repo / "notes.py").read_text() == text
    assert "not inside a string literal" in proc.stderr.decode()


def test_a_file_changed_after_the_scan_is_left_alone(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    target = repo / "app.py"
    target.write_text(f'TOKEN = "{CCI}"\n')
    plan = plan_fixes([repo])
    assert [fp.changed for fp in plan.files] == [True]
    edited = f'TOKEN = "{CCI}"\nOTHER = 1  # edited by a person meanwhile\n'
    target.write_text(edited)
    result = apply_fixes(plan)
    assert result.refused == [str(target)] or result.refused == [plan.files[0].display]
    assert any("changed since it was scanned" in m for m in result.messages)
    assert target.read_text() == edited
    assert not (repo / ".env").exists(), "nothing may be written when the only file is refused"
    # the recorded hash is the content that was scanned
    assert plan.files[0].sha256 == hashlib.sha256(f'TOKEN = "{CCI}"\n'.encode()).hexdigest()


def test_existing_env_name_with_another_value_gets_a_numbered_name(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".env").write_text("CIRCLECI_TOKEN=some-other-token\n")
    (repo / ".gitignore").write_text("node_modules/\n.env\n")
    (repo / "app.py").write_text(f'TOKEN = "{CCI}"\n')
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert (repo / "app.py").read_text() == 'import os\nTOKEN = os.environ["CIRCLECI_TOKEN_2"]\n'
    assert read_env(repo / ".env") == {"CIRCLECI_TOKEN": "some-other-token", "CIRCLECI_TOKEN_2": CCI}
    assert (repo / ".gitignore").read_text() == "node_modules/\n.env\n", ".gitignore already ignored .env"


def test_env_values_round_trip_through_quoting() -> None:
    for value in ("plain-Value_1=", "with space", "it's \"quoted\" $HOME `x` \\ end"):
        line = env_line("X", value)
        assert read_env_text(line) == value, line


def read_env_text(line: str) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ".env"
        p.write_text(line + "\n")
        return read_env(p)["X"]


@pytest.mark.parametrize(
    ("path", "lang"),
    [("a/b.py", "python"), ("x.mjs", "js"), ("x.tsx", "ts"), ("Dockerfile.prod", "dockerfile"), (".env.local", "dotenv"),
     (".github/workflows/ci.yaml", "yaml-github"), (".circleci/config.yml", "yaml-circleci"), ("compose.yaml", "yaml-compose"),
     ("k8s/deploy.yaml", "yaml"), ("README.md", None)],
)
def test_language_detection(path: str, lang: str | None) -> None:
    assert language_of(Path(path)) == lang


def test_shell_script_without_suffix_is_detected_by_shebang() -> None:
    assert language_of(Path("bin/deploy"), "#!/usr/bin/env bash\n") == "shell"


def test_single_file_outside_git_keeps_crlf_and_gets_env_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    target = folder / "job.py"
    target.write_bytes(f'import sys\r\nTOKEN = "{CCI}"\r\nprint(TOKEN)\r\n'.encode())
    proc = _fix(str(target))
    assert proc.returncode == 0, proc.stderr.decode()
    assert target.read_bytes() == b'import os\r\nimport sys\r\nTOKEN = os.environ["CIRCLECI_TOKEN"]\r\nprint(TOKEN)\r\n'
    assert read_env(folder / ".env") == {"CIRCLECI_TOKEN": CCI}
    assert (folder / ".gitignore").read_text().splitlines()[-1] == ".env"


def test_cli_help_of_the_remediation_commands() -> None:
    for cmd, words in (("explain", "--store"), ("remediate", "--write-replacements"), ("fix", "--dry-run")):
        proc = run_cli(cmd, "--help")
        assert proc.returncode == 0 and words in proc.stdout.decode(), cmd


def test_ignored_fingerprints_are_not_rewritten(tmp_path: Path) -> None:
    from leakwarden.models import secret_fingerprint

    repo = _git_repo(tmp_path / "repo")
    text = f'FIXTURE = "{CCI}"\nREAL = "{CIO}"\n'
    (repo / "t.py").write_text(text)
    (repo / ".leakwardenignore").write_text(secret_fingerprint("circleci-personal-token", CCI) + "  # test fixture\n")
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert (repo / "t.py").read_text() == f'import os\nFIXTURE = "{CCI}"\nREAL = os.environ["CARGO_REGISTRY_TOKEN"]\n'


def test_import_os_goes_below_a_docstring_that_mentions_from(tmp_path: Path) -> None:
    """A docstring line starting with "from"/"import" is prose, not the first import."""
    repo = _git_repo(tmp_path / "repo")
    target = repo / "client.py"
    target.write_text(f'"""CI client.\n\nfrom here on everything talks to CircleCI.\n"""\nTOKEN = "{CCI}"\nprint(TOKEN)\n')
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert target.read_text() == '"""CI client.\n\nfrom here on everything talks to CircleCI.\n"""\nimport os\nTOKEN = os.environ["CIRCLECI_TOKEN"]\nprint(TOKEN)\n'
    out = _run([sys.executable, "client.py"], repo, {"CIRCLECI_TOKEN": CCI})
    assert out == CCI + "\n"


def test_import_os_goes_above_code_that_precedes_the_first_import(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    target = repo / "late.py"
    target.write_text(f'#!/usr/bin/env python3\nTOKEN = "{CCI}"\nimport sys\nprint(TOKEN, file=sys.stdout)\n')
    assert _fix(str(repo)).returncode == 0
    assert target.read_text().startswith('#!/usr/bin/env python3\nimport os\nTOKEN = os.environ["CIRCLECI_TOKEN"]\nimport sys\n')
    assert _run([sys.executable, "late.py"], repo, {"CIRCLECI_TOKEN": CCI}) == CCI + "\n"


def test_a_split_literal_keeps_what_applies_to_the_whole_string(tmp_path: Path) -> None:
    """`"Bearer TOKEN".encode()` must not become `"Bearer " + os.environ[...].encode()`."""
    javac, java = require_tool("javac"), require_tool("java")
    repo = _git_repo(tmp_path / "repo")
    py = f'print("Bearer {CCI}".encode(), "{{}}/me?key={CIO}".format("https://x.io"), "%s:{CCI}" % "user")\n'
    (repo / "calls.py").write_text(py)
    (repo / "Main.java").write_text(
        f'public class Main {{\n    public static void main(String[] a) {{\n        System.out.println(new String("Bearer {CCI}".getBytes()).length());\n    }}\n}}\n'
    )
    before = _run([sys.executable, "calls.py"], repo)
    _run([javac, "-d", "out", "Main.java"], repo)
    java_before = _run([java, "-cp", "out", "Main"], repo)
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert '("Bearer " + os.environ["CIRCLECI_TOKEN"]).encode()' in (repo / "calls.py").read_text()
    assert '("%s:" + os.environ["CIRCLECI_TOKEN"]) % "user"' in (repo / "calls.py").read_text()
    env = read_env(repo / ".env")
    assert _run([sys.executable, "calls.py"], repo, env) == before
    _run([javac, "-d", "out", "Main.java"], repo)
    assert _run([java, "-cp", "out", "Main"], repo, env) == java_before


def test_implicit_concatenation_is_left_for_a_person(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    text = f'AUTH = "Bearer " "{CCI}"\n'
    (repo / "auth.py").write_text(text)
    (repo / "auth.rb").write_text(f"AUTH = \"Bearer \" '{CIO}'\n")
    proc = _fix(str(repo))
    assert proc.returncode == 1
    assert (repo / "auth.py").read_text() == text, "the rewrite would have been a syntax error"
    assert (repo / "auth.rb").read_text() == f"AUTH = \"Bearer \" '{CIO}'\n"
    assert proc.stderr.decode().count("implicit string concatenation") == 2


def test_go_file_with_crlf_line_ends_keeps_them(tmp_path: Path) -> None:
    """`import (` and `package` lines end in \r\n here: the import joins the block, no stray \r."""
    repo = _git_repo(tmp_path / "repo")
    block = repo / "block.go"
    block.write_bytes(f'package main\r\n\r\nimport (\r\n\t"fmt"\r\n)\r\n\r\nfunc main() {{ fmt.Println("{CCI}") }}\r\n'.encode())
    bare = repo / "bare.go"
    bare.write_bytes(f'package main\r\n\r\nvar token = "{CIO}"\r\n'.encode())
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert block.read_bytes() == b'package main\r\n\r\nimport (\r\n\t"fmt"\r\n\t"os"\r\n)\r\n\r\nfunc main() { fmt.Println(os.Getenv("CIRCLECI_TOKEN")) }\r\n'
    assert bare.read_bytes() == b'package main\r\n\r\nimport "os"\r\n\r\nvar token = os.Getenv("CARGO_REGISTRY_TOKEN")\r\n'


def test_go_import_joins_its_group_in_order_and_stays_gofmt_clean(tmp_path: Path) -> None:
    gofmt = require_tool("gofmt")
    repo = _git_repo(tmp_path / "repo")
    src = repo / "main.go"
    src.write_text(
        'package main\n\nimport (\n\t"fmt"\n\tstr "strings"\n\n\t"example.com/lib"\n)\n\n'
        f'func main() {{\n\tfmt.Println(str.ToUpper("{CCI}"), lib.X)\n}}\n'
    )
    assert _fix(str(repo)).returncode == 0
    text = src.read_text()
    assert 'import (\n\t"fmt"\n\t"os"\n\tstr "strings"\n\n\t"example.com/lib"\n)' in text
    proc = subprocess.run([gofmt, "-l", str(src)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_compose_file_in_a_subfolder_gets_its_own_env(tmp_path: Path) -> None:
    """Docker Compose reads the .env beside the compose file: a value moved to the project's
    .env only would leave the service's variable unset."""
    repo = _git_repo(tmp_path / "repo")
    (repo / "deploy").mkdir()
    compose = repo / "deploy" / "docker-compose.yml"
    compose.write_text(f'services:\n  ci:\n    environment:\n      CIRCLE_TOKEN: "{CCI}"\n')
    (repo / "app.py").write_text(f'TOKEN = "{CIO}"\n')
    (repo / ".gitignore").write_text("/.env\n")  # anchored: does not cover deploy/.env
    proc = _fix(str(repo))
    assert proc.returncode == 0, proc.stderr.decode()
    assert compose.read_text() == 'services:\n  ci:\n    environment:\n      CIRCLE_TOKEN: "${CIRCLECI_TOKEN}"\n'
    assert read_env(repo / "deploy" / ".env") == {"CIRCLECI_TOKEN": CCI}
    assert read_env(repo / ".env") == {"CARGO_REGISTRY_TOKEN": CIO}
    assert read_env(repo / "deploy" / ".env.example") == {"CIRCLECI_TOKEN": ""}
    stderr = proc.stderr.decode()
    assert f"{repo / 'deploy' / '.env'}: CIRCLECI_TOKEN" in stderr and f"{repo / '.env'}: CARGO_REGISTRY_TOKEN" in stderr
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "deploy/.env", ".env"], capture_output=True, text=True)
    assert ignored.stdout.split() == ["deploy/.env", ".env"]
    # a second run finds nothing left to fix and adds nothing
    assert _fix(str(repo)).returncode == 0
    assert read_env(repo / "deploy" / ".env") == {"CIRCLECI_TOKEN": CCI}


def test_the_diff_hides_every_secret_in_the_file_not_only_the_rewritten_ones(tmp_path: Path) -> None:
    # The diff's context lines show what the fix does not touch: the body of a private key
    # (a multi-line value, left for a person), a secret the ignore file accepts, and the
    # encoded form of a secret found decoded.
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from leakwarden.models import secret_fingerprint

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    repo = _git_repo(tmp_path / "repo")
    encoded = base64.b64encode(b"token=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").decode()
    (repo / "t.py").write_text(f'FIXTURE = "{CCI}"\nREAL = "{CIO}"\nBLOB = "{encoded}"\nKEY = """{pem}"""\n')
    (repo / ".leakwardenignore").write_text(secret_fingerprint("circleci-personal-token", CCI) + "  # test fixture\n")
    dry = _fix(str(repo), "--dry-run")
    assert dry.returncode == 1, dry.stderr.decode()
    out = dry.stdout.decode()
    assert '+REAL = os.environ["CARGO_REGISTRY_TOKEN"]' in out
    body = [line for line in pem.splitlines() if not line.startswith("-----")]
    leaked = [line for line in body if line in out] + [x[i : i + 12] for x in (CCI, encoded) for i in range(len(x) - 11) if x[i : i + 12] in out]
    assert not leaked, out
    shown = _fix(str(repo), "--dry-run", "--show-secrets").stdout.decode()
    assert CIO in shown and CCI in shown and encoded in shown and body[0] in shown

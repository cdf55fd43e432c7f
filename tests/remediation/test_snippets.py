"""Every generated snippet is checked by its language's real parser; env, Vault and Conjur ones are run.

Vault and Conjur snippets are run against small HTTP servers on 127.0.0.1 that answer like the
real APIs (KV v2 read; Conjur authenticate + retrieve), so the request shapes are exercised too.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.tooling import require_tool

from leakwarden.remediation.playbook import LANGS, STORES, names_for, snippet

STUBS = Path(__file__).resolve().parents[1] / "data" / "java-stubs"
GO_STUBS = Path(__file__).resolve().parents[1] / "data" / "go-stubs" / "aws-sdk-go-v2"
VALUE = "s3cr3t-Value_for+tests/42"


@pytest.fixture(scope="module")
def env_vars(ruleset) -> list[str]:
    """Every distinct variable name the rules use (each makes different identifiers)."""
    return sorted({r.env_var for r in ruleset.rules} | {"9LIVES_KEY", "a.b-c"})


def _write_all(tmp: Path, store: str, lang: str, env_vars: list[str], ext: str) -> list[Path]:
    files = []
    for i, var in enumerate(env_vars):
        name = names_for(var)["JAVA_CLASS"] if lang == "java" else f"s{i}"
        folder = tmp / f"d{i}" if lang == "go" else tmp
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.{ext}"
        path.write_text(snippet(store, lang, var, "Test token"), encoding="utf-8")
        files.append(path)
    return files


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, **kw)


@pytest.mark.parametrize("store", STORES)
def test_python_snippets_compile(store: str, env_vars: list[str]) -> None:
    for var in env_vars:
        compile(snippet(store, "python", var), f"<{store}/{var}>", "exec")


@pytest.mark.parametrize("store", STORES)
def test_node_snippets_parse(store: str, env_vars: list[str], tmp_path: Path) -> None:
    node = require_tool("node")
    for path in _write_all(tmp_path, store, "node", env_vars, "js"):
        proc = _run([node, "--check", str(path)])
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("store", STORES)
def test_ruby_snippets_parse(store: str, env_vars: list[str], tmp_path: Path) -> None:
    ruby = require_tool("ruby")
    for path in _write_all(tmp_path, store, "ruby", env_vars, "rb"):
        proc = _run([ruby, "-c", str(path)])
        assert proc.returncode == 0 and "Syntax OK" in proc.stdout, proc.stderr


@pytest.mark.parametrize("store", STORES)
def test_go_snippets_parse_and_are_gofmt_clean(store: str, env_vars: list[str], tmp_path: Path) -> None:
    gofmt = require_tool("gofmt")
    files = _write_all(tmp_path, store, "go", env_vars, "go")
    proc = _run([gofmt, "-e", "-l", *map(str, files)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", f"not gofmt-formatted: {proc.stdout}"


@pytest.mark.parametrize("store", STORES)
def test_java_snippets_compile_against_sdk_stubs(store: str, env_vars: list[str], tmp_path: Path) -> None:
    javac = require_tool("javac")
    files = _write_all(tmp_path / "src", store, "java", env_vars, "java")
    stubs = [str(p) for p in STUBS.rglob("*.java")]
    proc = _run([javac, "-Xlint:all", "-Werror", "-d", str(tmp_path / "out"), *stubs, *map(str, files)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_go_aws_snippets_type_check_against_sdk_stubs(env_vars: list[str], tmp_path: Path) -> None:
    """`go build` (not only gofmt) for the AWS snippet, against stubs of the SDK packages it imports."""
    go = require_tool("go")
    (tmp_path / "go.mod").write_text(
        "module snippettest\n\ngo 1.19\n\nrequire github.com/aws/aws-sdk-go-v2 v1.0.0\n\n"
        f"replace github.com/aws/aws-sdk-go-v2 => {GO_STUBS}\n"
    )
    for i, var in enumerate(env_vars):
        pkg = tmp_path / f"p{i}"
        pkg.mkdir()
        (pkg / "secret.go").write_text(snippet("aws", "go", var))
    proc = _run([go, "vet", "./..."], cwd=tmp_path, env={**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "on"})
    assert proc.returncode == 0, proc.stderr


def test_a_broken_snippet_is_caught_by_the_checkers(tmp_path: Path) -> None:
    """The checkers above are able to fail: feed each a deliberately broken file."""
    with pytest.raises(SyntaxError):
        compile(snippet("env", "python", "X_TOKEN") + "\ndef broken(:\n", "<broken>", "exec")
    checks = {
        "node": (["node", "--check"], "js", "function (\n"),
        "ruby": (["ruby", "-c"], "rb", "def x(\n"),
        "gofmt": (["gofmt", "-e", "-l"], "go", "package x\nfunc (\n"),
        "javac": (["javac", "-d", str(tmp_path / "o")], "java", "class Broken { int x = ; }\n"),
    }
    for tool, (cmd, ext, text) in checks.items():
        require_tool(tool)
        path = tmp_path / f"Broken.{ext}"
        path.write_text(text)
        assert _run([*cmd, str(path)]).returncode != 0, tool


# --- running the snippets ---------------------------------------------------------------------

VAR = "JIRA_API_TOKEN"


class _FakeSecretStores(BaseHTTPRequestHandler):
    """Vault KV v2 read and Conjur authenticate/retrieve, as their HTTP APIs answer them."""

    vault_token = "hvs.test-token"
    conjur_api_key = "conjur-api-key-123"
    conjur_access_token = b'{"protected":"eyJhbGciOiJub25lIn0","payload":"e30","signature":"x"}'

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/v1/secret/data/prod/jira-api-token":
            if self.headers.get("X-Vault-Token") != self.vault_token:
                return self._send(403, b'{"errors":["permission denied"]}')
            return self._send(200, json.dumps({"data": {"data": {VAR: VALUE}, "metadata": {"version": 3}}}).encode())
        if self.path == "/secrets/acme/variable/prod%2Fjira-api-token":
            expected = 'Token token="' + base64.b64encode(self.conjur_access_token).decode() + '"'
            if self.headers.get("Authorization") != expected:
                return self._send(401, b"")
            return self._send(200, VALUE.encode(), "text/plain")
        self._send(404, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("X-Amz-Target") == "secretsmanager.GetSecretValue":
            signed = (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST")
            if not signed or json.loads(body) != {"SecretId": "prod/jira-api-token"}:
                return self._send(400, b'{"__type":"ResourceNotFoundException","message":"no such secret"}')
            answer = {"ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/jira-api-token-AbCdEf",
                      "Name": "prod/jira-api-token", "SecretString": VALUE, "VersionId": "v1", "VersionStages": ["AWSCURRENT"]}
            return self._send(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")
        if self.path == "/authn/acme/host%2Fmyapp/authenticate" and body == self.conjur_api_key.encode():
            return self._send(200, self.conjur_access_token)
        self._send(401, b"")


@pytest.fixture(scope="module")
def store_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSecretStores)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _env(store: str, server: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "CONJUR_", "AWS_", VAR))}
    env.update(GOFLAGS="-mod=mod", GOPROXY="off", GO111MODULE="on", GOCACHE=env.get("GOCACHE", str(Path.home() / ".cache" / "go-build")))
    if store == "env":
        env[VAR] = VALUE
    elif store == "aws":
        env.update(AWS_ENDPOINT_URL_SECRETS_MANAGER=server, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="test-secret",
                   AWS_DEFAULT_REGION="eu-west-1", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    elif store == "vault":
        env.update(VAULT_ADDR=server + "/", VAULT_TOKEN=_FakeSecretStores.vault_token)
    else:
        env.update(CONJUR_APPLIANCE_URL=server, CONJUR_ACCOUNT="acme", CONJUR_AUTHN_LOGIN="host/myapp", CONJUR_AUTHN_API_KEY=_FakeSecretStores.conjur_api_key)
    return env


RUNNABLE = ("env", "vault", "conjur")  # AWS needs the SDK and AWS; it is parsed and type-checked above


@pytest.mark.parametrize("store", RUNNABLE)
def test_python_snippet_runs(store: str, store_server: str, tmp_path: Path) -> None:
    (tmp_path / "snip.py").write_text(snippet(store, "python", VAR))
    code = f"import snip; print(snip.{names_for(VAR)['PY_FUNC']}())"
    proc = _run([sys.executable, "-c", code], cwd=tmp_path, env=_env(store, store_server))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VALUE


def test_python_aws_snippet_runs_with_boto3(store_server: str, tmp_path: Path) -> None:
    """The AWS snippet with the real boto3, against a Secrets Manager imitation on 127.0.0.1."""
    pytest.importorskip("boto3")
    (tmp_path / "snip.py").write_text(snippet("aws", "python", VAR))
    code = f"import snip; print(snip.{names_for(VAR)['PY_FUNC']}())"
    proc = _run([sys.executable, "-c", code], cwd=tmp_path, env=_env("aws", store_server))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VALUE


def test_python_env_snippet_fails_clearly_without_the_variable(tmp_path: Path) -> None:
    (tmp_path / "snip.py").write_text(snippet("env", "python", VAR))
    env = {k: v for k, v in os.environ.items() if k != VAR}
    proc = _run([sys.executable, "-c", f"import snip; snip.{names_for(VAR)['PY_FUNC']}()"], cwd=tmp_path, env=env)
    assert proc.returncode != 0 and f"{VAR} is not set" in proc.stderr


@pytest.mark.parametrize("store", RUNNABLE)
def test_node_snippet_runs(store: str, store_server: str, tmp_path: Path) -> None:
    node = require_tool("node")
    (tmp_path / "snip.js").write_text(snippet(store, "node", VAR))
    fn = names_for(VAR)["JS_FUNC"]
    code = f'Promise.resolve(require("./snip.js").{fn}()).then((v) => console.log(v), (e) => {{ console.error(e); process.exit(3); }});'
    proc = _run([node, "-e", code], cwd=tmp_path, env=_env(store, store_server))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VALUE


@pytest.mark.parametrize("store", RUNNABLE)
def test_ruby_snippet_runs(store: str, store_server: str, tmp_path: Path) -> None:
    ruby = require_tool("ruby")
    (tmp_path / "snip.rb").write_text(snippet(store, "ruby", VAR))
    proc = _run([ruby, "-r", "./snip.rb", "-e", f"puts {names_for(VAR)['RUBY_METHOD']}"], cwd=tmp_path, env=_env(store, store_server))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VALUE


def test_go_snippets_run(store_server: str, tmp_path: Path) -> None:
    """One module, one package per store, one main printing each: a single (slow) Go build."""
    go = require_tool("go")
    (tmp_path / "go.mod").write_text("module snippettest\n\ngo 1.19\n")
    fn = names_for(VAR)["GO_FUNC"]
    for store in RUNNABLE:
        pkg = tmp_path / store
        pkg.mkdir()
        (pkg / "secret.go").write_text(snippet(store, "go", VAR).replace("package secrets", f"package {store}", 1))
    imports = "\n".join(f'\t"snippettest/{s}"' for s in RUNNABLE)
    calls = "\n".join(f'\tshow({s}.{fn}())' for s in RUNNABLE)
    (tmp_path / "main.go").write_text(
        f'package main\n\nimport (\n\t"fmt"\n\t"os"\n\n{imports}\n)\n\n'
        'func show(v string, err error) {\n\tif err != nil {\n\t\tfmt.Fprintln(os.Stderr, err)\n\t\tos.Exit(3)\n\t}\n\tfmt.Println(v)\n}\n\n'
        f"func main() {{\n{calls}\n}}\n"
    )
    env = _env("env", store_server)
    env.update({k: v for k, v in _env("vault", store_server).items() if k.startswith("VAULT_")})
    env.update({k: v for k, v in _env("conjur", store_server).items() if k.startswith("CONJUR_")})
    proc = _run([go, "run", "."], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [VALUE] * len(RUNNABLE)


def test_java_snippets_run(store_server: str, tmp_path: Path) -> None:
    javac, java = require_tool("javac"), require_tool("java")
    cls = names_for(VAR)["JAVA_CLASS"]
    out = []
    for store in ("env", "conjur"):  # vault uses the driver SDK (stubbed), so it is compiled only
        src = tmp_path / store
        src.mkdir()
        (src / f"{cls}.java").write_text(snippet(store, "java", VAR))
        (src / "Main.java").write_text(f"public class Main {{ public static void main(String[] a) throws Exception {{ System.out.println({cls}.get()); }} }}\n")
        proc = _run([javac, "-d", str(src / "out"), str(src / f"{cls}.java"), str(src / "Main.java")])
        assert proc.returncode == 0, proc.stderr
        proc = _run([java, "-cp", str(src / "out"), "Main"], env=_env(store, store_server))
        assert proc.returncode == 0, proc.stderr
        out.append(proc.stdout.strip())
    assert out == [VALUE, VALUE]


def test_every_language_and_store_has_a_snippet() -> None:
    for store in STORES:
        for lang in LANGS:
            text = snippet(store, lang, "MY_TOKEN")
            assert "MY_TOKEN" in text and "%%" not in text

"""Pull images from a real distribution registry on 127.0.0.1: anonymous, basic and token auth."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from leakwarden.artifacts import scan_image
from leakwarden.errors import SourceError
from leakwarden.sources.registry import is_loopback, parse_reference
from tests.artifacts.imagebuild import (
    CIRCLE,
    CIRCLE2,
    CRATES,
    Image,
    Layer,
    oci_files,
    secret_image,
    write_dir,
)
from tests.artifacts.registry_fixture import PASSWORD, USER, start_registry
from tests.conftest import run_cli


def _multi_arch() -> list[Image]:
    shared = Layer({"usr/share/base.conf": f"k={CRATES}\n".encode()}, "ADD base.tar /")
    return [
        Image(layers=[shared, Layer({"opt/amd.txt": f"t={CIRCLE}\n".encode()}, "RUN build")], arch="amd64"),
        Image(layers=[shared, Layer({"opt/arm.txt": f"t={CIRCLE2}\n".encode()}, "RUN build")], arch="arm64"),
    ]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    base = tmp_path_factory.mktemp("layouts")
    return {
        "single": write_dir(base / "single", oci_files([secret_image()])),
        "multi": write_dir(base / "multi", oci_files(_multi_arch(), multiarch=True)),
    }


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory, layouts):
    reg = start_registry(tmp_path_factory.mktemp("reg-open"), "none")
    reg.push(layouts["single"], "team/app:1.0")
    reg.push(layouts["multi"], "team/multi:2.0")
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory, layouts):
    reg = start_registry(tmp_path_factory.mktemp("reg-basic"), "htpasswd")
    reg.push(layouts["single"], "private/app:1.0")
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory, layouts):
    reg = start_registry(tmp_path_factory.mktemp("reg-token"), "token")
    reg.push(layouts["single"], "private/app:1.0")
    reg.push(layouts["single"], "public/app:1.0")
    yield reg
    reg.stop()


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    folder = tmp_path / "docker"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder / "config.json"


def _paths(result):
    return sorted(f.location.path for f in result.findings)


def test_anonymous_pull_finds_everything(open_registry, docker_config):
    result = scan_image(f"{open_registry.host}/team/app:1.0", use_cache=False)
    assert _paths(result) == ["/app/.env", "/app/lib/service.jar!/application.properties", "image-config/Env"]
    env = next(f for f in result.findings if f.location.path == "/app/.env")
    assert env.location.extra["note"] == "deleted in layer 3 but still in the image"
    assert env.location.extra["instruction"] == "COPY .env /app/.env"
    assert env.location.layer.startswith("sha256:")
    assert not [e for e in result.errors if e.kind != "binary"]


def test_manifest_list_all_platforms_and_filter(open_registry, docker_config):
    ref = f"{open_registry.host}/team/multi:2.0"
    result = scan_image(ref, use_cache=False)
    assert sorted((f.location.path, f.location.extra["platform"]) for f in result.findings) == [
        ("/opt/amd.txt", "linux/amd64"),
        ("/opt/arm.txt", "linux/arm64"),
        ("/usr/share/base.conf", "linux/amd64"),
        ("/usr/share/base.conf", "linux/arm64"),
    ]
    arm = scan_image(ref, platform="linux/arm64", use_cache=False)
    assert _paths(arm) == ["/opt/arm.txt", "/usr/share/base.conf"]


def test_pull_by_digest_and_missing_tag(open_registry, docker_config):
    import httpx

    resp = httpx.get(f"http://{open_registry.host}/v2/team/app/manifests/1.0", headers={"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"})
    digest = resp.headers["Docker-Content-Digest"]
    result = scan_image(f"{open_registry.host}/team/app@{digest}", use_cache=False)
    assert "/app/.env" in _paths(result)
    with pytest.raises(SourceError, match="not found"):
        scan_image(f"{open_registry.host}/team/app:nope", use_cache=False)


def test_clean_layers_are_not_downloaded_twice(open_registry, docker_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    ref = f"{open_registry.host}/team/app:1.0"
    first = scan_image(ref)
    cached = list((tmp_path / "cache" / "image-layers").rglob("*.json"))
    # The base layer and the layer that only deletes /app/.env are clean; the cache keeps the
    # whiteouts (no secrets) so the deletion note survives a cached rescan.
    assert len(cached) == 2
    assert any(json.loads(p.read_text()).get("deleted") == ["app/.env"] for p in cached)
    second = scan_image(ref)
    assert _paths(first) == _paths(second)
    assert second.stats.bytes < first.stats.bytes
    env = next(f for f in second.findings if f.location.path == "/app/.env")
    assert env.location.extra["deleted_in_layer"] == 3


def test_basic_auth_needs_credentials(basic_registry, docker_config):
    ref = f"{basic_registry.host}/private/app:1.0"
    with pytest.raises(SourceError, match="requires a login"):
        scan_image(ref, use_cache=False)
    with pytest.raises(SourceError, match="refused the credentials"):
        scan_image(ref, use_cache=False, registry_options={"username": USER, "password": "wrong"})
    result = scan_image(ref, use_cache=False, registry_options={"username": USER, "password": PASSWORD})
    assert "/app/.env" in _paths(result)


def test_basic_auth_from_docker_config_auths(basic_registry, docker_config):
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    docker_config.write_text(json.dumps({"auths": {f"http://{basic_registry.host}": {"auth": auth}}}))
    result = scan_image(f"{basic_registry.host}/private/app:1.0", use_cache=False)
    assert "/app/.env" in _paths(result)


def _helper(tmp_path, name: str, registry_host: str) -> str:
    """A real credential helper program on PATH, speaking the docker-credential protocol."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read server\n"
        f'if [ "$server" = "{registry_host}" ]; then\n'
        f'  printf \'{{"ServerURL": "%s", "Username": "{USER}", "Secret": "{PASSWORD}"}}\' "$server"\n'
        "else\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bindir)


def test_credential_helpers(basic_registry, docker_config, tmp_path, monkeypatch):
    bindir = _helper(tmp_path, "lwtest", basic_registry.host)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ["PATH"])
    ref = f"{basic_registry.host}/private/app:1.0"
    docker_config.write_text(json.dumps({"credHelpers": {basic_registry.host: "lwtest"}}))
    assert "/app/.env" in _paths(scan_image(ref, use_cache=False))
    docker_config.write_text(json.dumps({"auths": {basic_registry.host: {}}, "credsStore": "lwtest"}))
    assert "/app/.env" in _paths(scan_image(ref, use_cache=False))
    docker_config.write_text(json.dumps({"credsStore": "not-installed-helper"}))
    with pytest.raises(SourceError, match="docker-credential-not-installed-helper"):
        scan_image(ref, use_cache=False)


def test_bearer_token_auth(token_registry, docker_config):
    # Anonymous token: the token server grants pull on public/* only.
    assert "/app/.env" in _paths(scan_image(f"{token_registry.host}/public/app:1.0", use_cache=False))
    private = f"{token_registry.host}/private/app:1.0"
    with pytest.raises(SourceError, match="refused"):
        scan_image(private, use_cache=False)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    docker_config.write_text(json.dumps({"auths": {token_registry.host: {"auth": auth}}}))
    assert "/app/.env" in _paths(scan_image(private, use_cache=False))
    with pytest.raises(SourceError, match="token endpoint refused"):
        scan_image(private, use_cache=False, registry_options={"username": USER, "password": "nope"})


def test_cli_pull_with_password_stdin(basic_registry, docker_config):
    proc = run_cli("scan", "image", f"{basic_registry.host}/private/app:1.0", "--no-cache", "--username", USER,
                   "--password-stdin", "-f", "json", input=PASSWORD.encode() + b"\n",
                   env={"DOCKER_CONFIG": str(docker_config.parent)})
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert any(f["path"] == "/app/.env" and f["layer_index"] == 2 for f in data["findings"])
    assert PASSWORD.encode() not in proc.stdout + proc.stderr


def test_reference_parsing_and_plain_http_policy():
    assert parse_reference("alpine") == parse_reference("docker.io/library/alpine:latest")
    ref = parse_reference("ghcr.io/org/app:1.4@sha256:" + "a" * 64)
    assert (ref.registry, ref.repository, ref.tag) == ("ghcr.io", "org/app", "1.4")
    assert parse_reference("localhost:5000/x").registry == "localhost:5000"
    with pytest.raises(SourceError):
        parse_reference("Not A Ref!")
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example.com:5000")
    from leakwarden.sources.registry import RegistryStore

    assert RegistryStore(parse_reference("registry.example.com/a/b")).base == "https://registry.example.com"
    assert RegistryStore(parse_reference("registry.example.com/a/b"), insecure=True).base == "http://registry.example.com"
    assert RegistryStore(parse_reference("127.0.0.1:5000/a/b")).base == "http://127.0.0.1:5000"


def test_tampered_blob_is_reported(open_registry, docker_config, tmp_path):
    img = Image(layers=[Layer({"srv/tamper.txt": b"original content\n" * 100}, "COPY tamper.txt /srv/")], env=["PATH=/bin", "TAMPER=1"])
    files = oci_files([img], gzip_layers=False)
    layout = write_dir(tmp_path / "tamper", files)
    open_registry.push(layout, "team/tamper:1.0", all_platforms=False)
    import httpx

    manifest = httpx.get(f"http://{open_registry.host}/v2/team/tamper/manifests/1.0", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    layer_hex = manifest["layers"][0]["digest"].split(":")[1]
    stored = next((open_registry.tmp / "data").rglob(f"blobs/sha256/{layer_hex[:2]}/{layer_hex}/data"))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same length
    stored.write_bytes(bytes(data))
    result = scan_image(f"{open_registry.host}/team/tamper:1.0", use_cache=False)
    assert any("does not match its digest" in e.message for e in result.errors)

"""`scan pypi` / `scan npm` against a small package index served on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leakwarden.artifacts import scan_package
from leakwarden.errors import SourceError, UsageError
from tests.artifacts.imagebuild import CIRCLE, CIRCLE2, CRATES
from tests.conftest import run_cli


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


class Index:
    """Files and JSON documents served by path; `base` is filled once the server listens."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.base = ""
        self.requests: list[str] = []

    def add(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.routes[path] = (content_type, body)
        return self.base + path

    def add_json(self, path: str, doc: object) -> None:
        self.add(path, json.dumps(doc).encode(), "application/json")


@pytest.fixture(scope="module")
def index():
    idx = Index()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            idx.requests.append(self.path)
            route = idx.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", route[0])
            self.send_header("Content-Length", str(len(route[1])))
            self.end_headers()
            self.wfile.write(route[1])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    idx.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _publish_pypi(idx)
    _publish_npm(idx)
    yield idx
    server.shutdown()
    server.server_close()


def _pypi_file(idx: Index, filename: str, data: bytes, kind: str, digest: str | None = None) -> dict:
    url = idx.add(f"/files/{filename}", data)
    return {"filename": filename, "url": url, "packagetype": kind, "digests": {"sha256": digest or hashlib.sha256(data).hexdigest()}}


def _publish_pypi(idx: Index) -> None:
    sdist = _tar_gz({"demo-1.1/PKG-INFO": b"Name: demo\n", "demo-1.1/demo/settings.py": f'DEBUG = True\n\nCIRCLE = "{CIRCLE}"\n'.encode()})
    wheel = _zip({"demo/__init__.py": b"", "demo/settings.py": f'DEBUG = True\n\nCIRCLE = "{CIRCLE}"\n'.encode(), "demo-1.1.dist-info/METADATA": b"Name: demo\n"})
    arch_wheel = _zip({"demo/_native.txt": f"k={CRATES}\n".encode()})
    files_11 = [
        _pypi_file(idx, "demo-1.1.tar.gz", sdist, "sdist"),
        _pypi_file(idx, "demo-1.1-cp311-cp311-manylinux_2_17_x86_64.whl", arch_wheel, "bdist_wheel"),
        _pypi_file(idx, "demo-1.1-py3-none-any.whl", wheel, "bdist_wheel"),
    ]
    old = _tar_gz({"demo-1.0/setup.py": f"token = '{CIRCLE2}'\n".encode()})
    files_10 = [_pypi_file(idx, "demo-1.0.tar.gz", old, "sdist")]
    idx.add_json("/pypi/demo/json", {"info": {"name": "demo", "version": "1.1"}, "urls": files_11})
    idx.add_json("/pypi/demo/1.1/json", {"info": {"name": "demo", "version": "1.1"}, "urls": files_11})
    idx.add_json("/pypi/demo/1.0/json", {"info": {"name": "demo", "version": "1.0"}, "urls": files_10})
    bad = _tar_gz({"x/y.py": b"x = 1\n"})
    idx.add_json("/pypi/tampered/json", {"info": {"name": "tampered", "version": "0.1"}, "urls": [_pypi_file(idx, "tampered-0.1.tar.gz", bad, "sdist", digest="0" * 64)]})


def _publish_npm(idx: Index) -> None:
    def tarball(name: str, version: str, extra: dict[str, bytes]) -> dict:
        data = _tar_gz({"package/package.json": json.dumps({"name": name, "version": version}).encode(), **extra})
        short = name.split("/")[-1]
        url = idx.add(f"/{name}/-/{short}-{version}.tgz", data)
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        return {"name": name, "version": version, "dist": {"tarball": url, "integrity": integrity, "shasum": hashlib.sha1(data).hexdigest()}}

    left = tarball("left-pad", "1.3.0", {"package/index.js": b"module.exports = pad;\n", "package/.npmrc": f"# publish\ntoken={CIRCLE}\n".encode()})
    old = tarball("left-pad", "1.2.0", {"package/index.js": b"module.exports = pad;\n"})
    idx.add_json("/left-pad", {"name": "left-pad", "dist-tags": {"latest": "1.3.0", "legacy": "1.2.0"}, "versions": {"1.3.0": left, "1.2.0": old}})
    scoped = tarball("@acme/cfg", "0.0.1", {"package/lib/config.js": f"module.exports = {{\n  token: '{CRATES}',\n}};\n".encode()})
    idx.add_json("/@acme%2fcfg", {"name": "@acme/cfg", "dist-tags": {"latest": "0.0.1"}, "versions": {"0.0.1": scoped}})
    broken = tarball("broken", "1.0.0", {})
    broken["dist"]["integrity"] = "sha512-" + base64.b64encode(b"\0" * 64).decode()
    idx.add_json("/broken", {"name": "broken", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": broken}})


def test_pypi_latest_scans_sdist_and_pure_wheel(index):
    result = scan_package("pypi", "demo", index_url=index.base)
    paths = sorted(f.location.path for f in result.findings)
    assert paths == ["demo-1.1-py3-none-any.whl!/demo/settings.py", "demo-1.1.tar.gz!/demo-1.1/demo/settings.py"]
    f = result.findings[0]
    assert f.location.kind == "package" and f.location.start_line == 3
    assert f.location.extra["package"] == "demo" and f.location.extra["version"] == "1.1"
    # The identical settings.py in sdist and wheel is one blob, scanned once.
    assert result.findings[0].location.blob == result.findings[1].location.blob


def test_pypi_all_files_and_pinned_version(index):
    every = scan_package("pypi", "demo==1.1", index_url=index.base, all_files=True)
    assert any(f.location.path.endswith("manylinux_2_17_x86_64.whl!/demo/_native.txt") for f in every.findings)
    old = scan_package("pypi", "demo==1.0", index_url=index.base)
    assert [(f.location.path, f.secret.reveal()) for f in old.findings] == [("demo-1.0.tar.gz!/demo-1.0/setup.py", CIRCLE2)]


def test_pypi_errors(index):
    with pytest.raises(SourceError, match="not found on the index"):
        scan_package("pypi", "nothing-here", index_url=index.base)
    with pytest.raises(SourceError, match="does not match the sha256 digest"):
        scan_package("pypi", "tampered", index_url=index.base)
    with pytest.raises(UsageError):
        scan_package("pypi", "bad name==", index_url=index.base)


def test_npm_latest_tag_version_and_scope(index):
    latest = scan_package("npm", "left-pad", index_url=index.base)
    assert [(f.location.path, f.location.start_line) for f in latest.findings] == [("left-pad-1.3.0.tgz!/package/.npmrc", 2)]
    assert scan_package("npm", "left-pad@1.2.0", index_url=index.base).findings == []
    assert scan_package("npm", "left-pad@legacy", index_url=index.base).findings == []
    scoped = scan_package("npm", "@acme/cfg", index_url=index.base)
    assert [(f.location.path, f.location.start_line) for f in scoped.findings] == [("cfg-0.0.1.tgz!/package/lib/config.js", 2)]
    with pytest.raises(SourceError, match="no such published version"):
        scan_package("npm", "left-pad@^1.0.0", index_url=index.base)
    with pytest.raises(SourceError, match="does not match the sha512 digest"):
        scan_package("npm", "broken", index_url=index.base)


def test_cli_pypi_and_npm(index):
    proc = run_cli("scan", "pypi", "demo==1.1", "-f", "json", env={"LEAKWARDEN_PYPI_URL": index.base})
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert {f["package"] for f in data["findings"]} == {"demo"}
    assert data["findings"][0]["archive"] in ("demo-1.1.tar.gz", "demo-1.1-py3-none-any.whl")
    proc = run_cli("scan", "npm", "left-pad", "--registry", index.base)
    assert proc.returncode == 1 and b"left-pad-1.3.0.tgz!/package/.npmrc" in proc.stdout
    assert CIRCLE.encode() not in proc.stdout
    proc = run_cli("scan", "npm", "missing-pkg", "--registry", index.base)
    assert proc.returncode == 2 and b"not found on the index" in proc.stderr


def test_plain_http_download_refused_from_https_index():
    from leakwarden.sources.packages import _check_url

    with pytest.raises(SourceError, match="not https"):
        _check_url("http://files.example/x.tgz", "https://registry.example", "npm:x")
    assert _check_url("/x.tgz", "http://127.0.0.1:1", "npm:x") == "http://127.0.0.1:1/x.tgz"



@pytest.mark.parametrize(
    ("ecosystem", "path", "doc"),
    [
        ("pypi", "/pypi/shapeless/json", []),
        ("pypi", "/pypi/shapeless/json", {"info": "x", "urls": []}),
        ("pypi", "/pypi/shapeless/json", {"urls": [{"url": "/f.whl", "digests": "abc"}]}),
        ("npm", "/shapeless", {"dist-tags": ["latest"]}),
        ("npm", "/shapeless", {"versions": {"1.0.0": {"dist": "x"}}, "dist-tags": {"latest": "1.0.0"}}),
    ],
)
def test_index_metadata_of_the_wrong_shape_is_a_clean_error(index, ecosystem, path, doc):
    index.add_json(path, doc)
    with pytest.raises(SourceError, match="malformed metadata"):
        scan_package(ecosystem, "shapeless", index_url=index.base)

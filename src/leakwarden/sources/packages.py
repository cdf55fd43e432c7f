"""Published packages by name: PyPI (JSON API) and npm (registry metadata), downloaded for scanning.

The released files are downloaded into memory (spilling to an anonymous temporary file when
large, never unpacked), checked against the digest the index publishes, and handed to the
archive walker. Index URLs are configurable so mirrors and tests on 127.0.0.1 work.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urljoin, urlparse

from leakwarden.errors import SourceError, UsageError

PYPI_URL = "https://pypi.org"
NPM_URL = "https://registry.npmjs.org"
MAX_DOWNLOAD = 2 * 1024**3
_SPOOL = 64 * 1024 * 1024
_PYPI_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_NPM_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9._~-][a-z0-9._~-]*$", re.IGNORECASE)


@dataclass
class Artifact:
    """One downloaded release file; `stream` is an open, seekable file positioned at 0."""

    display: str
    stream: IO[bytes]
    extra: dict[str, str] = field(default_factory=dict)


def _client() -> Any:
    import httpx

    return httpx.Client(timeout=60.0, follow_redirects=True, headers={"User-Agent": "leakwarden"})


def _get_json(client: Any, url: str, what: str) -> Any:
    import httpx

    try:
        resp = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SourceError(f"{what}: cannot reach {url}: {exc}") from None
    if resp.status_code == 404:
        raise SourceError(f"{what}: not found on the index ({url})")
    if resp.status_code != 200:
        raise SourceError(f"{what}: the index answered HTTP {resp.status_code} ({url})")
    try:
        return resp.json()
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise SourceError(f"{what}: the index returned something that is not JSON ({url})") from None


def _check_url(url: str, base: str, what: str) -> str:
    full = urljoin(base.rstrip("/") + "/", url)
    scheme = urlparse(full).scheme
    if scheme == "https" or (scheme == "http" and urlparse(base).scheme == "http"):
        return full
    raise SourceError(f"{what}: refusing to download {full!r} (not https)")


def download(client: Any, url: str, what: str, check: tuple[str, str] | None) -> IO[bytes]:
    """Stream `url` into a spooled temp file, verifying `check = (algorithm, expected digest)`."""
    import httpx

    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - returned to the caller
    digest = hashlib.new(check[0]) if check else None
    size = 0
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise SourceError(f"{what}: download failed with HTTP {resp.status_code} ({url})")
            for piece in resp.iter_bytes(1 << 20):
                size += len(piece)
                if size > MAX_DOWNLOAD:
                    raise SourceError(f"{what}: larger than {MAX_DOWNLOAD / 1e9:.0f} GB; not downloaded")
                if digest is not None:
                    digest.update(piece)
                out.write(piece)
    except httpx.HTTPError as exc:
        out.close()
        raise SourceError(f"{what}: download failed: {exc}") from None
    except SourceError:
        out.close()
        raise
    if digest is not None and check is not None:
        if digest.hexdigest() != check[1].lower():
            out.close()
            raise SourceError(f"{what}: the download does not match the {check[0]} digest the index publishes")
    out.seek(0)
    return out


# --- PyPI ---------------------------------------------------------------------------------


def parse_pypi_spec(spec: str) -> tuple[str, str | None]:
    name, sep, version = spec.partition("==")
    name, version = name.strip(), version.strip()
    if not _PYPI_NAME.match(name) or (sep and not version):
        raise UsageError(f"{spec!r}: expected PACKAGE or PACKAGE==VERSION")
    return name, version or None


def _pick_pypi_files(files: list[dict[str, Any]], all_files: bool) -> list[dict[str, Any]]:
    if all_files:
        return files
    sdists = [f for f in files if f.get("packagetype") == "sdist"]
    wheels = [f for f in files if f.get("packagetype") == "bdist_wheel"]
    pure = [w for w in wheels if str(w.get("filename", "")).endswith("-none-any.whl")]
    chosen = sdists[:1] + (pure or wheels)[:1]
    return chosen or files[:1]


def fetch_pypi(spec: str, index_url: str | None = None, all_files: bool = False) -> Iterator[Artifact]:
    name, version = parse_pypi_spec(spec)
    base = (index_url or os.environ.get("LEAKWARDEN_PYPI_URL") or PYPI_URL).rstrip("/")
    with _client() as client:
        path = f"/pypi/{quote(name)}/{quote(version)}/json" if version else f"/pypi/{quote(name)}/json"
        meta = _get_json(client, base + path, f"pypi:{spec}")
        info = meta.get("info") or {}
        real_version = str(info.get("version") or version or "")
        files = [f for f in meta.get("urls") or [] if isinstance(f, dict) and f.get("url")]
        if not files:
            raise SourceError(f"pypi:{name}=={real_version}: the release has no downloadable files")
        for f in _pick_pypi_files(files, all_files):
            filename = os.path.basename(str(f.get("filename") or urlparse(f["url"]).path))
            sha256 = (f.get("digests") or {}).get("sha256")
            url = _check_url(str(f["url"]), base, f"pypi:{name}")
            stream = download(client, url, f"pypi:{filename}", ("sha256", sha256) if sha256 else None)
            yield Artifact(filename, stream, {"package": name, "version": real_version, "ecosystem": "pypi"})


# --- npm ----------------------------------------------------------------------------------


def parse_npm_spec(spec: str) -> tuple[str, str | None]:
    at = spec.rfind("@")
    name, version = (spec[:at], spec[at + 1:]) if at > 0 else (spec, "")
    if not _NPM_NAME.match(name) or (at > 0 and not version):
        raise UsageError(f"{spec!r}: expected PACKAGE, @scope/PACKAGE or PACKAGE@VERSION")
    return name, version or None


def _integrity(dist: dict[str, Any]) -> tuple[str, str] | None:
    """(algorithm, hex digest) from `dist.integrity` (SRI sha512) or the older `dist.shasum`."""
    for item in str(dist.get("integrity") or "").split():
        algo, _, b64 = item.partition("-")
        if algo == "sha512":
            try:
                return "sha512", base64.b64decode(b64, validate=True).hex()
            except ValueError:
                raise SourceError(f"malformed integrity value {item[:30]!r}") from None
    if dist.get("shasum"):
        return "sha1", str(dist["shasum"]).lower()
    return None


def fetch_npm(spec: str, index_url: str | None = None, all_files: bool = False) -> Iterator[Artifact]:
    del all_files  # an npm release is one tarball
    name, version = parse_npm_spec(spec)
    base = (index_url or os.environ.get("LEAKWARDEN_NPM_REGISTRY") or NPM_URL).rstrip("/")
    with _client() as client:
        meta = _get_json(client, f"{base}/{name.replace('/', '%2f')}", f"npm:{name}")  # npm escapedName
        tags = meta.get("dist-tags") or {}
        wanted = tags.get(version or "latest", version)
        release = (meta.get("versions") or {}).get(wanted or "")
        if not isinstance(release, dict):
            raise SourceError(f"npm:{spec}: no such published version (a range is not accepted; give an exact version or a dist-tag)")
        dist = release.get("dist") or {}
        if not dist.get("tarball"):
            raise SourceError(f"npm:{name}@{wanted}: the registry lists no tarball")
        url = _check_url(str(dist["tarball"]), base, f"npm:{name}")
        filename = os.path.basename(urlparse(url).path)
        stream = download(client, url, f"npm:{filename}", _integrity(dist))
        yield Artifact(filename, stream, {"package": name, "version": str(wanted), "ecosystem": "npm"})


FETCHERS = {"pypi": fetch_pypi, "npm": fetch_npm}


def fetch(ecosystem: str, spec: str, *, index_url: str | None = None, all_files: bool = False) -> Iterator[Artifact]:
    try:
        fetcher = FETCHERS[ecosystem]
    except KeyError:
        raise UsageError(f"unknown package ecosystem {ecosystem!r} (known: {', '.join(sorted(FETCHERS))})") from None
    try:
        yield from fetcher(spec, index_url, all_files)
    except (AttributeError, TypeError) as exc:  # a field of the index's JSON is not the documented type
        raise SourceError(f"{ecosystem}:{spec}: the index answered with malformed metadata ({type(exc).__name__}: {exc})") from None

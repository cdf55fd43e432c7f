"""Pull images from a registry with the OCI distribution API, layer by layer, without a daemon.

Auth follows the registry's `WWW-Authenticate` challenge: anonymous first, then a bearer token
from the token endpoint (with basic credentials when we have them) or basic auth. Credentials
come from the command line or `~/.docker/config.json` (`auths`, `credHelpers`, `credsStore`,
helpers run as `docker-credential-<name> get`). Plain HTTP is used only for loopback
registries or with `insecure=True`. Blobs are streamed and their digest checked at the end.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakwarden.errors import SourceError
from leakwarden.sources.images import BlobDigest

if TYPE_CHECKING:
    from leakwarden.sources import OnError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
_MAX_MANIFEST = 16 * 1024 * 1024
_REF_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True, slots=True)
class Reference:
    registry: str  # host[:port] as written (docker.io for Docker Hub)
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> Reference:
    """`[registry/]repo[:tag][@digest]`, with Docker Hub's defaults (`library/`, `latest`)."""
    rest, _, digest = text.partition("@")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    name, _, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not name or not _REF_RE.match(name):
        raise SourceError(f"{text}: not an image reference (expected [registry/]name[:tag][@digest]) or an existing file/folder")
    if digest and not re.match(r"^[a-z0-9]+:[a-f0-9]{32,}$", digest):
        raise SourceError(f"{text}: malformed digest {digest!r}")
    return Reference(registry, name, tag or (None if digest else "latest"), digest or None)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# --- credentials --------------------------------------------------------------------------


def _host_key(key: str) -> str:
    key = re.sub(r"^https?://", "", key).split("/", 1)[0]
    return "docker.io" if key in ("index.docker.io", "registry-1.docker.io") else key


def docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(folder) / "config.json"


def credential_helper(helper: str, server: str) -> tuple[str, str] | None:
    """Run `docker-credential-<helper> get`; None when it knows no credentials for `server`."""
    try:
        proc = subprocess.run([f"docker-credential-{helper}", "get"], input=server.encode(), capture_output=True, timeout=30, check=False)
    except FileNotFoundError:
        raise SourceError(f"credential helper docker-credential-{helper} (from {docker_config_path()}) is not installed") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"credential helper docker-credential-{helper} did not answer within 30s") from None
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout)
        return str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError):
        raise SourceError(f"credential helper docker-credential-{helper} returned something that is not credentials JSON") from None


def docker_credentials(registry: str) -> tuple[str, str] | None:
    """Credentials for `registry` from the Docker config, the way `docker pull` finds them."""
    path = docker_config_path()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read Docker config: {exc}") from None
    if not isinstance(config, dict):
        return None
    want = _host_key(registry)
    server = DOCKER_HUB_CONFIG_KEY if want == DOCKER_HUB else registry
    for key, helper in (config.get("credHelpers") or {}).items():
        if _host_key(key) == want:
            return credential_helper(str(helper), server)
    for key, entry in (config.get("auths") or {}).items():
        if _host_key(key) != want or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise SourceError(f"{path}: auths[{key!r}].auth is not base64 of user:password") from None
            return user, password
        if entry.get("username") and entry.get("password"):
            return str(entry["username"]), str(entry["password"])
    if config.get("credsStore"):
        return credential_helper(str(config["credsStore"]), server)
    return None


# --- the client ---------------------------------------------------------------------------


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


class _StreamReader:
    """File-like view of a streamed HTTP body that checks the blob digest once it ends."""

    def __init__(self, response: Any, digest: str) -> None:
        self._iter = response.iter_raw(1 << 20)
        self._piece = b""
        self._pos = 0
        self._eof = False
        self._blob = BlobDigest(digest)
        self.digest = digest

    def _next_piece(self) -> bool:
        """Load the next piece of the body; False at the end (after checking the digest)."""
        while not self._eof:
            try:
                piece = next(self._iter)
            except StopIteration:
                self._eof = True
                self._blob.check("downloaded content")
                return False
            if piece:
                self._blob.update(piece)
                self._piece, self._pos = piece, 0
                return True
        return False

    def read(self, n: int = -1) -> bytes:
        # NOTE: hand out slices of the current piece instead of re-joining a growing buffer:
        # decompressors read in small blocks, and copying the buffer each time was quadratic.
        if n is None or n < 0:
            parts = [self._piece[self._pos:]]
            self._pos = len(self._piece)
            while self._next_piece():
                parts.append(self._piece)
                self._pos = len(self._piece)
            return b"".join(parts)
        if self._pos >= len(self._piece) and not self._next_piece():
            return b""
        data = self._piece[self._pos : self._pos + n]
        self._pos += len(data)
        return data


class RegistryStore:
    """A `BlobStore` over one repository of a registry."""

    def __init__(self, ref: Reference, *, insecure: bool = False, username: str | None = None, password: str | None = None, timeout: float = 60.0) -> None:
        import httpx

        self.ref = ref
        host = ref.api_host
        scheme = "http" if insecure or is_loopback(host) else "https"
        self.base = f"{scheme}://{host}"
        self.client = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "leakwarden"})
        self._explicit = (username, password or "") if username else None
        self._creds: tuple[str, str] | None | bool = False  # False = not looked up yet
        self._auth: str | None = None

    def close(self) -> None:
        self.client.close()

    def _credentials(self) -> tuple[str, str] | None:
        if self._explicit is not None:
            return self._explicit
        if self._creds is False:
            self._creds = docker_credentials(self.ref.registry)
        return self._creds  # type: ignore[return-value]

    def _authenticate(self, challenge: str) -> None:
        import httpx

        scheme, params = _parse_challenge(challenge)
        creds = self._credentials()
        if scheme == "basic":
            if creds is None:
                raise SourceError(f"{self.ref.registry}: the registry requires a login (docker login, or --username/--password-stdin)")
            self._auth = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            return
        if scheme != "bearer" or "realm" not in params:
            raise SourceError(f"{self.ref.registry}: unsupported authentication challenge {challenge[:80]!r}")
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        realm = params["realm"]
        if not realm.startswith("https://") and not (realm.startswith("http://") and (self.base.startswith("http://"))):
            raise SourceError(f"{self.ref.registry}: refusing token endpoint {realm!r} (plain HTTP to a non-local host)")
        try:
            resp = self.client.get(realm, params=query, auth=creds if creds else None)
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.ref.registry}: token endpoint unreachable: {exc}") from None
        if resp.status_code in (401, 403):
            raise SourceError(f"{self.ref.registry}: the token endpoint refused {'the credentials' if creds else 'anonymous access'} (HTTP {resp.status_code})")
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError, RecursionError):  # not JSON, not an object, nested too deep
            token = None
        if resp.status_code != 200 or not token:
            raise SourceError(f"{self.ref.registry}: the token endpoint gave no token (HTTP {resp.status_code})")
        self._auth = f"Bearer {token}"

    def _send(self, path: str, accept: str | None = None, stream: bool = False) -> Any:
        import httpx

        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        for attempt in range(2):
            headers = {"Accept": accept} if accept else {}
            if self._auth:
                headers["Authorization"] = self._auth
            try:
                request = self.client.build_request("GET", url, headers=headers)
                resp = self.client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise SourceError(f"{self.ref.registry}: {type(exc).__name__}: {exc}") from None
            if resp.status_code == 401 and attempt == 0 and resp.headers.get("www-authenticate"):
                resp.close()
                self._authenticate(resp.headers["www-authenticate"])
                continue
            if resp.status_code == 200:
                return resp
            resp.close()
            if resp.status_code == 401:
                raise SourceError(f"{self.ref}: the registry refused the credentials (HTTP 401)")
            if resp.status_code == 404:
                raise SourceError(f"{self.ref}: not found in the registry ({path.split('/')[0]} {path.split('/')[-1]})")
            raise SourceError(f"{self.ref}: registry answered HTTP {resp.status_code} for {path}")
        raise SourceError(f"{self.ref}: authentication failed")

    def read_manifest(self, reference: str) -> bytes:
        resp = self._send(f"manifests/{reference}", accept=ACCEPT, stream=True)
        try:
            data = b""
            for piece in resp.iter_bytes():
                data += piece
                if len(data) > _MAX_MANIFEST:
                    raise SourceError(f"{self.ref}: manifest larger than {_MAX_MANIFEST} bytes")
        finally:
            resp.close()
        if reference.startswith("sha256:") and "sha256:" + hashlib.sha256(data).hexdigest() != reference:
            raise SourceError(f"{self.ref}: manifest {reference} does not match its digest")
        return data

    def read(self, ref: str) -> bytes:
        parts, size = [], 0
        with self.open(ref) as fh:
            while piece := fh.read(1 << 20):  # to the end, so the digest is checked
                parts.append(piece)
                size += len(piece)
                if size > _MAX_MANIFEST:
                    raise SourceError(f"{self.ref}: blob {ref} is too large to be image metadata")
        return b"".join(parts)

    @contextmanager
    def open(self, ref: str) -> Iterator[_StreamReader]:
        resp = self._send(f"blobs/{ref}", stream=True)
        try:
            yield _StreamReader(resp, ref)
        finally:
            resp.close()


def open_remote_image(target: str, platform: str | None, *, insecure: bool = False, username: str | None = None, password: str | None = None,
                      on_error: OnError | None = None) -> tuple[list[Any], RegistryStore]:
    """Resolve a registry reference into image manifests (all platforms, or `platform`); warnings
    go to `on_error`."""
    from leakwarden.sources.images import resolve

    ref = parse_reference(target)
    store = RegistryStore(ref, insecure=insecure, username=username, password=password)
    try:
        raw = store.read_manifest(ref.digest or ref.tag or "latest")
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise SourceError(f"{ref}: the registry returned a manifest that is not JSON") from None
        manifests = resolve(store, doc, str(ref), platform, on_error=on_error)
    except (SourceError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: a list or number where an object belongs
        store.close()
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"{ref}: malformed manifest ({type(exc).__name__}: {exc})") from None
    if not manifests:
        store.close()
        raise SourceError(f"{ref}: no image matches platform {platform!r}" if platform else f"{ref}: the index lists no images")
    return manifests, store

"""Damaged archives and images never crash the walk: every problem becomes a ScanError."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakwarden.artifacts import scan_image
from leakwarden.errors import SourceError
from leakwarden.sources.archives import ArchiveLimits, ArchiveWalker, archive_origin
from tests.artifacts.imagebuild import CIRCLE, oci_files, secret_image, write_tar


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/conf.txt", f"token={CIRCLE}\n")
        zf.writestr("b/inner.zip", _inner_zip())
        zf.writestr("c/readme.md", "# readme\n" * 50)
    return buf.getvalue()


def _inner_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("deep.txt", "hello\n" * 20)
    return buf.getvalue()


def _tgz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("x/conf.txt", f"t={CIRCLE}\n".encode()), ("x/big.txt", b"line\n" * 400), ("x/n.zip", _inner_zip())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


SAMPLES = {"zip": _zip(), "tgz": _tgz()}


def _walk(data: bytes) -> list:
    errors: list = []
    walker = ArchiveWalker(ArchiveLimits(max_total_bytes=50_000_000), errors.append)
    chunks = list(walker.walk_top(io.BytesIO(data), "fuzz.bin", archive_origin("fuzz.bin")))
    assert all(isinstance(c.data, bytes) for c in chunks)
    return errors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SAMPLES)), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8), cut=st.integers(0, 10**6))
def test_mutated_archives_never_crash(kind, edits, cut):
    data = bytearray(SAMPLES[kind])
    for pos, value in edits:
        data[pos % len(data)] = value
    _walk(bytes(data))
    _walk(bytes(data[: cut % (len(data) + 1)]))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(blob):
    _walk(blob)
    _walk(b"PK\x03\x04" + blob)
    _walk(b"\x1f\x8b\x08\x00" + blob)


def test_mutated_image_layers_never_crash(tmp_path):
    files = oci_files([secret_image()])
    layers = [n for n, d in files.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b"]
    for i, name in enumerate(layers):
        broken = dict(files)
        data = bytearray(gzip.decompress(files[name]))
        for pos in range(100, len(data), 97):
            data[pos] ^= 0x5A
        broken[name] = gzip.compress(bytes(data))
        target = write_tar(tmp_path / f"m{i}.tar", broken)
        try:
            result = scan_image(str(target), use_cache=False)
        except SourceError:
            continue
        assert all(e.message for e in result.errors)

"""Archives built in the test: every kind, nesting, bombs, traversal names, damage, encryption."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib

import pytest

from leakwarden.artifacts import scan_archives, scan_image
from leakwarden.errors import SourceError
from leakwarden.sources.archives import (
    ArchiveLimits,
    _FlagMasked,
    misflagged_names,
    sanitize_member_name,
)
from tests.artifacts.imagebuild import CIRCLE, CIRCLE2, CRATES
from tests.conftest import run_cli
from tests.tooling import require_tool

CONFIG = f"# settings\nserver.port=8080\n\ncircle.token={CIRCLE}\n".encode()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def by_path(result):
    return {f.location.path: f for f in result.findings}


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("release.zip", lambda m: zip_bytes(m)),
        ("stored.zip", lambda m: zip_bytes(m, zipfile.ZIP_STORED)),
        ("app.jar", lambda m: zip_bytes(m)),
        ("site.war", lambda m: zip_bytes(m)),
        ("bundle.ear", lambda m: zip_bytes(m)),
        ("pkg-1.0-py3-none-any.whl", lambda m: zip_bytes(m)),
        ("pkg-1.0-py3.11.egg", lambda m: zip_bytes(m)),
        ("Pkg.1.0.0.nupkg", lambda m: zip_bytes(m)),
        ("app-release.apk", lambda m: zip_bytes(m)),
        ("dist.tar", tar_bytes),
        ("dist.tar.gz", lambda m: gzip.compress(tar_bytes(m))),
        ("dist.tgz", lambda m: gzip.compress(tar_bytes(m))),
        ("dist.tar.bz2", lambda m: bz2.compress(tar_bytes(m))),
        ("dist.tar.xz", lambda m: lzma.compress(tar_bytes(m))),
        ("dist.tar.zst", lambda m: zstd_compress(tar_bytes(m))),
    ],
)
def test_each_kind_finds_member_with_line(tmp_path, name, make):
    target = tmp_path / name
    target.write_bytes(make({"conf/app.properties": CONFIG, "README.md": b"# hello\n"}))
    result = scan_archives([target])
    found = by_path(result)
    f = found[f"{target}!/conf/app.properties"]
    assert f.rule_id == "circleci-personal-token"
    assert (f.location.start_line, f.location.start_column) == (4, 14)
    assert f.location.kind == "archive"
    assert f.location.extra["archive"] == str(target)
    assert f.location.extra["member"] == "conf/app.properties"
    assert not result.errors


def test_gem_and_npm_tarball_layouts(tmp_path):
    data = gzip.compress(tar_bytes({"lib/client.rb": b'API = "x"\nTOKEN = "' + CRATES.encode() + b'"\n'}))
    meta = gzip.compress(b"--- !ruby/object:Gem::Specification\nname: demo\n")
    gem = tmp_path / "demo-1.0.gem"
    gem.write_bytes(tar_bytes({"metadata.gz": meta, "data.tar.gz": data}))
    npm = tmp_path / "demo-1.0.0.tgz"
    npm.write_bytes(gzip.compress(tar_bytes({"package/package.json": b'{"name": "demo"}\n', "package/.npmrc": f"//registry.npmjs.org/:_authToken=x\nci={CIRCLE}\n".encode()})))
    result = scan_archives([gem, npm])
    found = by_path(result)
    assert found[f"{gem}!/data.tar.gz!/lib/client.rb"].location.start_line == 2
    assert found[f"{npm}!/package/.npmrc"].location.start_line == 2


def test_nested_archives_carry_the_whole_chain(tmp_path):
    jar = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "config.properties": CONFIG, "App.class": b"\xca\xfe\xba\xbe\x00\x00"})
    war = zip_bytes({"WEB-INF/lib/app.jar": jar, "WEB-INF/web.xml": b"<web-app/>\n"})
    inner_tgz = gzip.compress(tar_bytes({"deploy/site.war": war}))
    release = tmp_path / "release.zip"
    release.write_bytes(zip_bytes({"bundle.tgz": inner_tgz, "notes.txt.gz": gzip.compress(b"line1\nline2\ncrates=" + CRATES.encode() + b"\n")}))
    result = scan_archives([release])
    found = by_path(result)
    chain = f"{release}!/bundle.tgz!/deploy/site.war!/WEB-INF/lib/app.jar!/config.properties"
    assert found[chain].location.start_line == 4
    assert found[f"{release}!/notes.txt.gz"].location.start_line == 3
    assert result.stats.skipped >= 1  # App.class is binary, skipped without an error


def test_identical_members_are_scanned_once_and_reported_everywhere(tmp_path):
    payload = CONFIG + b"x" * 50_000
    target = tmp_path / "dups.zip"
    target.write_bytes(zip_bytes({"a/app.properties": payload, "b/app.properties": payload, "c/other.txt": b"nothing\n"}))
    result = scan_archives([target])
    paths = sorted(f.location.path for f in result.findings)
    assert paths == [f"{target}!/a/app.properties", f"{target}!/b/app.properties"]
    assert result.stats.files == 2  # two unique contents
    assert result.stats.bytes < 2 * len(payload)
    assert result.findings[0].location.blob == result.findings[1].location.blob


def test_identical_members_under_a_path_allowlist_are_judged_by_their_own_path(tmp_path):
    # generic-secret-assignment skips AWS SDK example files: the same bytes elsewhere count
    payload = b'{"examples": [{"input": {"ClientSecret": "' + b"Qm9vZ1x7Lk3rT9pW2vZs" + b'"}}]}\n'
    target = tmp_path / "sdk.zip"
    target.write_bytes(zip_bytes({"data/sso/2019/examples-1.json": payload, "app/settings.json": payload, "lib/other/examples-1.json": payload}))
    result = scan_archives([target])
    assert sorted(f.location.path for f in result.findings) == [f"{target}!/app/settings.json"]
    assert result.stats.bytes < 3 * len(payload)  # the two example files still share one scan


def test_zip_bomb_is_refused_by_ratio(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("zeros.txt", "w") as fh:
            block = b"\0" * (1 << 20)
            for _ in range(64):
                fh.write(block)
        zf.writestr("ok.txt", b"token=" + CIRCLE.encode() + b"\n")
    assert bomb.stat().st_size < 200_000
    result = scan_archives([bomb])
    assert [f.location.path for f in result.findings] == [f"{bomb}!/ok.txt"]
    errors = [e for e in result.errors if e.kind == "limit"]
    assert errors and "zip bomb" in errors[0].message and "zeros.txt" in errors[0].path


def test_gzip_bomb_stops_while_streaming(tmp_path):
    bomb = tmp_path / "big.log.gz"
    comp = zlib_gzip_zeros(40 << 20)
    bomb.write_bytes(comp)
    result = scan_archives([bomb])
    assert any(e.kind == "limit" and "decompression bomb" in e.message for e in result.errors)


def test_zstd_bomb_stops_while_streaming(tmp_path):
    bomb = tmp_path / "big.log.zst"
    bomb.write_bytes(zstd_compress(b"A" * (40 << 20)))
    assert bomb.stat().st_size < 64 * 1024
    result = scan_archives([bomb])
    assert any(e.kind == "limit" and "decompression bomb" in e.message for e in result.errors)


def test_corrupt_zstd_frame_is_reported(tmp_path):
    bad = tmp_path / "bad.tar.zst"
    data = bytearray(zstd_compress(tar_bytes({"a.txt": b"a=1\n" * 5000})))
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)
    bad.write_bytes(bytes(data))
    result = scan_archives([bad])
    assert [e.kind for e in result.errors] == ["corrupt"]


def zstd_compress(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3).compress(data)


def zlib_gzip_zeros(n: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        block = b"A" * (1 << 20)
        for _ in range(n >> 20):
            gz.write(block)
    return buf.getvalue()


def test_nested_bomb_hits_the_total_budget(tmp_path):
    # 42.zip in miniature: each level holds several copies of the level below.
    level = zip_bytes({"data.txt": b"a" * 200_000})
    for _ in range(3):
        level = zip_bytes({f"part{i}.zip": level for i in range(8)})
    target = tmp_path / "nested-bomb.zip"
    target.write_bytes(level)
    result = scan_archives([target], limits=ArchiveLimits(max_total_bytes=20_000_000))
    assert any(e.kind == "limit" and "decompressed" in e.message for e in result.errors)


def test_member_count_limit(tmp_path):
    target = tmp_path / "many.zip"
    target.write_bytes(zip_bytes({f"f{i}.txt": b"x" for i in range(50)}))
    result = scan_archives([target], limits=ArchiveLimits(max_members=10))
    assert any(e.kind == "limit" and "more than 10 members" in e.message for e in result.errors)


def test_deep_nesting_and_self_containing_zip(tmp_path):
    level = zip_bytes({"secret.txt": b"t=" + CIRCLE.encode()})
    for i in range(12):
        level = zip_bytes({f"l{i}.zip": level})
    deep = tmp_path / "deep.zip"
    deep.write_bytes(level)
    result = scan_archives([deep])
    assert not result.findings
    assert any("nested deeper than 8 levels" in e.message for e in result.errors)



def test_quine_detection(tmp_path):
    """An archive whose member is byte-identical to an ancestor is not reopened."""
    from leakwarden.sources.archives import ArchiveWalker, archive_origin

    inner = zip_bytes({"x.txt": b"x"})
    errors = []
    walker = ArchiveWalker(ArchiveLimits(), errors.append)
    walker._ancestors.append(__import__("hashlib").sha256(inner).hexdigest())
    list(walker.content(io.BytesIO(inner), "outer.zip!/self.zip", 1, archive_origin("outer.zip")))
    assert errors and "contains itself" in errors[0].message


def test_path_traversal_names_are_reported_and_never_used(tmp_path):
    target = tmp_path / "evil.tar"
    target.write_bytes(tar_bytes({"../../etc/passwd": b"root:x:0:0\n" + CIRCLE.encode() + b"\n", "/abs/key.txt": b"k\n", "ok.txt": b"fine\n"}))
    result = scan_archives([target])
    traversal = [e for e in result.errors if e.kind == "path-traversal"]
    assert {e.path for e in traversal} == {f"{target}!/etc/passwd", f"{target}!/abs/key.txt"}
    assert "'../../etc/passwd'" in traversal[0].message or "'../../etc/passwd'" in traversal[1].message
    assert [f.location.path for f in result.findings] == [f"{target}!/etc/passwd"]
    assert not (tmp_path.parent / "etc").exists()
    assert sanitize_member_name("..\\..\\win\\x.ini") == ("win/x.ini", True)
    assert sanitize_member_name("C:/x/y") == ("x/y", True)
    assert sanitize_member_name("./a/b") == ("a/b", False)
    assert sanitize_member_name("a/\x1b[31mb") == ("a/?[31mb", False)


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar", "xz", "tar.zst"])
def test_truncated_archives_give_a_clear_message(tmp_path, kind):
    members = {"a.txt": b"a=" + CIRCLE.encode() + b"\n", "b.txt": b"b\n" * 40_000}
    data = {
        "zip": zip_bytes(members),
        "tar.gz": gzip.compress(tar_bytes(members)),
        "tar": tar_bytes(members),
        "xz": lzma.compress(tar_bytes(members)),
        "tar.zst": zstd_compress(tar_bytes(members)),
    }[kind]
    target = tmp_path / f"cut.{kind}"
    target.write_bytes(data[: len(data) // 2])
    result = scan_archives([target])
    assert result.errors, kind
    message = " ".join(e.message for e in result.errors)
    assert "truncated" in message or "corrupt" in message


def _encrypt_flag(data: bytes, name: bytes) -> bytes:
    """Set general-purpose flag bit 0 (encrypted) in the local and central headers of `name`."""
    out = bytearray(data)
    for sig, flag_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        pos = 0
        while (pos := out.find(sig, pos)) >= 0:
            n = struct.unpack_from("<H", out, pos + name_len_at)[0]
            if bytes(out[pos + name_at : pos + name_at + n]) == name:
                flags = struct.unpack_from("<H", out, pos + flag_at)[0]
                struct.pack_into("<H", out, pos + flag_at, flags | 1)
            pos += 4
    return bytes(out)


def test_password_protected_member_crafted(tmp_path):
    raw = zip_bytes({"secret.env": b"TOKEN=" + CIRCLE.encode(), "plain.txt": b"t=" + CIRCLE2.encode() + b"\n"}, zipfile.ZIP_STORED)
    target = tmp_path / "locked.zip"
    target.write_bytes(_encrypt_flag(raw, b"secret.env"))
    result = scan_archives([target])
    assert [e.kind for e in result.errors] == ["encrypted"]
    assert result.errors[0].path == f"{target}!/secret.env"
    assert "password-protected" in result.errors[0].message
    assert [f.location.path for f in result.findings] == [f"{target}!/plain.txt"]


def test_password_protected_zip_from_zip_tool(tmp_path):
    zip_tool = require_tool("zip")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "creds.txt").write_text(f"token={CIRCLE}\n")
    target = tmp_path / "enc.zip"
    subprocess.run([zip_tool, "-q", "-P", "hunter2", str(target), "creds.txt"], cwd=tmp_path / "in", check=True)
    result = scan_archives([target])
    assert not result.findings
    assert [(e.kind, e.path) for e in result.errors] == [("encrypted", f"{target}!/creds.txt")]


def test_not_an_archive_and_missing_file(tmp_path):
    text = tmp_path / "plain.txt"
    text.write_text(f"t={CIRCLE}\n")
    assert len(scan_archives([text]).findings) == 1
    proc = run_cli("scan", "archive", str(tmp_path / "missing.zip"))
    assert proc.returncode == 2
    assert b"no such file" in proc.stderr


def test_cli_archive_reports_in_every_format(tmp_path):
    jar = zip_bytes({"config.properties": CONFIG})
    target = tmp_path / "release.zip"
    target.write_bytes(zip_bytes({"lib/app.jar": jar, "../escape.txt": b"x\n"}))
    text = run_cli("scan", "archive", str(target))
    assert text.returncode == 1, text.stderr
    out = text.stdout.decode()
    assert f"{target}!/lib/app.jar!/config.properties" in out and "4:14" in out
    assert "path traversal" in out
    assert CIRCLE not in out

    js = run_cli("scan", "archive", str(target), "-f", "json")
    data = json.loads(js.stdout)
    f = data["findings"][0]
    assert f["path"] == f"{target}!/lib/app.jar!/config.properties"
    assert f["archive"] == str(target) and f["member"] == "lib/app.jar!/config.properties"
    assert f["start_line"] == 4 and f["secret_redacted"] is True
    assert any(e["kind"] == "path-traversal" for e in data["errors"])

    sarif = json.loads(run_cli("scan", "archive", str(target), "-f", "sarif").stdout)
    res = sarif["runs"][0]["results"][0]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("release.zip!/lib/app.jar!/config.properties")
    assert res["properties"]["member"] == "lib/app.jar!/config.properties"

    lines = run_cli("scan", "archive", str(target), "-f", "jsonl").stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["start_line"] == 4


def test_scan_path_archives_flag(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg-1.0.tar.gz").write_bytes(gzip.compress(tar_bytes({"pkg-1.0/settings.py": CONFIG})))
    without = run_cli("scan", "path", str(tmp_path), "-f", "json")
    assert without.returncode == 0 and json.loads(without.stdout)["findings"] == []
    with_archives = run_cli("scan", "path", str(tmp_path), "--archives", "-f", "json")
    assert with_archives.returncode == 1
    f = json.loads(with_archives.stdout)["findings"][0]
    assert f["path"] == f"{tmp_path}/dist/pkg-1.0.tar.gz!/pkg-1.0/settings.py"
    assert f["start_line"] == 4


def test_never_writes_members_to_disk(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    target = tmp_path / "a.tar.gz"
    target.write_bytes(gzip.compress(tar_bytes({"x/y.txt": CONFIG})))
    scan_archives([target])
    assert list(work.iterdir()) == []
    shutil.rmtree(work)


def _misflag(data: bytes, placeholder: bytes, raw: bytes) -> bytes:
    """Rename `placeholder` to the same-length bytes `raw` (not UTF-8) and mark it UTF-8 (bit 11)
    in the central directory and the local header, as some broken zip writers do."""
    assert len(placeholder) == len(raw)
    out = bytearray(data.replace(placeholder, raw))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            name_at = pos + (30 if sig == b"PK\x03\x04" else 46)
            if out[name_at : name_at + len(raw)] == raw:
                out[pos + flag_at + 1] |= 0x08
            pos = out.find(sig, pos + 4)
    return bytes(out)


def test_member_name_flagged_utf8_but_invalid_does_not_hide_the_archive(tmp_path):
    inner = _misflag(zip_bytes({"zzbad.env": CONFIG, "good.properties": CONFIG}), b"zzbad", b"\xff\xfebad")
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(io.BytesIO(inner))
    top = tmp_path / "x.zip"
    top.write_bytes(inner)
    nested = tmp_path / "outer.zip"
    nested.write_bytes(zip_bytes({"lib/inner.jar": inner}))
    for path, prefix in ((top, f"{top}!/"), (nested, f"{nested}!/lib/inner.jar!/")):
        result = scan_archives([path])
        assert sorted(by_path(result)) == [prefix + "?■bad.env", prefix + "good.properties"], path  # \xa0 is not printable
        assert [e.kind for e in result.errors] == ["name"]
        assert "not valid UTF-8" in result.errors[0].message
    proc = run_cli("scan", "archive", str(top), "-f", "json")
    assert proc.returncode == 1 and len(json.loads(proc.stdout)["findings"]) == 2
    # a self-extractor: bytes before the archive shift every offset
    sfx = io.BytesIO(b"#!/bin/sh\nexit 0\n" + inner)
    flags = misflagged_names(sfx)
    assert flags is not None and len(flags[0]) == len(flags[1]) == 1
    with zipfile.ZipFile(_FlagMasked(sfx, sorted(flags[0] + flags[1]))) as zf:
        assert zf.read("\xa0■bad.env") == CONFIG
    assert misflagged_names(io.BytesIO(zip_bytes({"ok.txt": b"x"}))) is None


def test_zip_behind_a_launch_script_is_opened(tmp_path):
    # Spring Boot "fully executable" jars start with a shell script; the zip follows it
    script = b'#!/bin/bash\n# launch script\nexec java -jar "$0" "$@"\n' + b"#" * 2000 + b"\n"
    jar = script + zip_bytes({"BOOT-INF/classes/application.properties": CONFIG})
    (tmp_path / "app.jar").write_bytes(jar)
    (tmp_path / "bundle.zip").write_bytes(zip_bytes({"lib/app.jar": jar}, zipfile.ZIP_STORED))
    (tmp_path / "notes.zip").write_bytes(b"not a zip, just text\n")
    found = by_path(scan_archives([tmp_path / "app.jar", tmp_path / "bundle.zip"]))
    assert set(found) == {f"{tmp_path}/app.jar!/BOOT-INF/classes/application.properties", f"{tmp_path}/bundle.zip!/lib/app.jar!/BOOT-INF/classes/application.properties"}
    assert all(f.location.start_line == 4 for f in found.values())
    result = scan_archives([tmp_path / "notes.zip"])
    assert not result.findings and not result.errors


def test_pax_header_declaring_gigabytes_is_not_read_into_memory(tmp_path):
    # tarfile reads a pax (or GNU long name) header's body whole: 3 MB of gzip declaring 400 MB
    # made it hold 400 MB; such a header is refused before its body is read
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 400 * 1024 * 1024
    body = header.tobuf(format=tarfile.USTAR_FORMAT) + b"17 comment=hello\n" * 1000
    (tmp_path / "pax.tar.gz").write_bytes(gzip.compress(body))
    (tmp_path / "pax.tar").write_bytes(body)
    for name in ("pax.tar.gz", "pax.tar"):
        result = scan_archives([tmp_path / name])
        assert [e.kind for e in result.errors] == ["corrupt"], name
        assert "pax header declares 419430400 bytes" in result.errors[0].message
    from tests.artifacts.imagebuild import write_tar

    image = write_tar(tmp_path / "image.tar", {"manifest.json": b"[]"})
    image.write_bytes(gzip.compress(body))
    with pytest.raises(SourceError, match="pax header declares"):
        scan_image(str(image), use_cache=False)


def _many_entries_zip(entries: int) -> bytes:
    """A zip whose central directory lists `entries` names, all pointing at one small member."""
    data, name = b"hello\n", b"a"
    crc = zlib.crc32(data)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0) + name + data
    entry = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0, 0, 0, 0, 0, 0) + name
    cd = entry * entries
    count = min(entries, 0xFFFF)
    return local + cd + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(cd), len(local), 0)


def test_central_directory_far_beyond_the_member_limit_is_not_parsed(tmp_path):
    # zipfile builds every entry of the central directory before the member limit can act: about
    # ten times its size in memory (a 47 MB one took 440 MB); one too large for the limit is refused
    (tmp_path / "many.zip").write_bytes(_many_entries_zip(25_000))
    result = scan_archives([tmp_path / "many.zip"], limits=ArchiveLimits(max_members=100))
    assert [e.kind for e in result.errors] == ["limit"] and "central directory of 1 MB" in result.errors[0].message
    result = scan_archives([tmp_path / "many.zip"], limits=ArchiveLimits(max_members=30_000))
    assert not result.errors and result.stats.files == 1


def test_text_before_the_damage_in_a_truncated_member_is_scanned(tmp_path):
    # a cut download: the member's first part is readable, only its end is lost; that part was
    # dropped with the damage, the secret in it unreported
    text = f"t={CIRCLE}\n".encode() + b"lorem ipsum dolor sit amet\n" * 20_000
    gz = gzip.compress(text)
    (tmp_path / "notes.txt.gz").write_bytes(gz[: len(gz) // 2])
    (tmp_path / "cut.tar").write_bytes(tar_bytes({"app.env": text})[:300_000])
    (tmp_path / "bad-crc.zip").write_bytes(zip_bytes({"app.env": text}, zipfile.ZIP_STORED).replace(b"lorem ipsum", b"LOREM ipsum", 1))
    for name, says in (("notes.txt.gz", "truncated"), ("cut.tar", "unexpected end of data"), ("bad-crc.zip", "Bad CRC-32")):
        result = scan_archives([tmp_path / name])
        assert [f.secret.reveal() for f in result.findings] == [CIRCLE], name
        assert result.findings[0].location.start_line == 1
        assert result.errors and says in result.errors[0].message, (name, result.errors)

"""UTF-16/32 text in git (PowerShell's `>`, Windows tools): git calls it binary, but history
scans and gates read it as text, transcoded, like files on disk."""

from __future__ import annotations

import codecs

from gitrepo import Repo, crates_token
from test_delta_scan import _both, _comparable, _filler, _repack

from leakwarden.api import scan_commits, scan_staged

T1, T2 = crates_token(31), crates_token(32)


def _utf16(text: str, bom: bool = True) -> bytes:
    return (codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le")


def test_history_finds_secrets_in_utf16_files_through_delta_chains(tmp_path):
    r = Repo(tmp_path / "repo")
    body = [line.replace("    ", "", 1) for line in _filler(400, 5)]
    r.commit("start", {"deploy/setup.ps1": _utf16("".join(body))})
    body[7] = f'$env:CARGO_REGISTRY_TOKEN = "{T1}"\r\n'
    added = r.commit("set the token", {"deploy/setup.ps1": _utf16("".join(body))})
    for i in range(12):
        body[300 + i] = f"$step{i} = {i}\r\n"
        r.commit(f"step {i}", {"deploy/setup.ps1": _utf16("".join(body))})
    body[7] = "$env:CARGO_REGISTRY_TOKEN = $null\r\n"
    r.commit("drop the token", {"deploy/setup.ps1": _utf16("".join(body))})
    r.commit("notes", {"NOTES.txt": _utf16(f"old token {T2}\n", bom=False)})  # BOM-less UTF-16
    _repack(r)
    deltas, whole = _both(r.path)
    assert _comparable(deltas) == _comparable(whole)
    found = {f.secret.reveal(): f for f in deltas.findings}
    assert set(found) == {T1, T2}
    f = found[T1]
    assert (f.location.commit, f.location.path, f.location.start_line) == (added, "deploy/setup.ps1", 8)
    assert f.location.extra["encoding"] == "utf-16-le"
    assert f.details["occurrence_count"] == 13  # every version that still holds it
    assert found[T2].location.extra["encoding"] == "utf-16-le"


def test_gates_read_utf16_files_git_diffs_as_binary(tmp_path):
    repo = Repo(tmp_path / "r")
    base = repo.commit("readme", {"README": "hello\n"})
    repo.write("setup.ps1", _utf16(f"# setup\r\n$token = '{T1}'\r\n"))
    repo.git("add", "setup.ps1")
    (f,) = scan_staged(repo.path).findings
    assert (f.secret.reveal(), f.location.path, f.location.start_line) == (T1, "setup.ps1", 2)
    head = repo.commit("add setup")
    (f,) = scan_commits(repo.path, [f"{base}..{head}"])[0].findings
    assert (f.secret.reveal(), f.location.commit) == (T1, head)
    # a real binary is still skipped
    repo.write("blob.bin", b"\x00\x01\x02" + T2.encode())
    repo.git("add", "blob.bin")
    assert scan_staged(repo.path).findings == []

"""History scans that match only what pack deltas change: same findings as matching every
blob version whole, on real repositories packed by git itself."""

from __future__ import annotations

import base64
import json
import os
import random
import string

import pytest
from gitrepo import Repo, crates_token
from tests.conftest import run_cli, run_cli_on_pty

from leakwarden.api import build_detector, scan_git
from leakwarden.config import Settings
from leakwarden.sources.git_delta_scan import _slice_blobs, delta_slice, objects_dir, widen
from leakwarden.sources.git_packs import (
    PackError,
    PackWalker,
    delta_changes,
    pack_paths,
    read_index,
)
from leakwarden.sources.gitcmd import Git

T1, T2 = crates_token(11), crates_token(12)


# --- delta instructions ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _delta(source: int, ops: list[tuple[str, int, int] | tuple[str, bytes]]) -> bytes:
    body = bytearray()
    target = 0
    for op in ops:
        if op[0] == "copy":
            _, off, size = op  # type: ignore[misc]
            code, args = 0x80, bytearray()
            for i in range(4):
                if (off >> (8 * i)) & 0xFF:
                    code |= 1 << i
                    args.append((off >> (8 * i)) & 0xFF)
            for i in range(3):
                if (size >> (8 * i)) & 0xFF:
                    code |= 0x10 << i
                    args.append((size >> (8 * i)) & 0xFF)
            body += bytes([code]) + args
            target += size
        else:
            data = op[1]
            assert isinstance(data, bytes) and 0 < len(data) < 128
            body += bytes([len(data)]) + data
            target += len(data)
    return _varint(source) + _varint(target) + bytes(body)


def test_inserts_are_changed_regions_and_close_ones_merge():
    d = _delta(100_000, [("copy", 0, 50_000), ("ins", b"NEW"), ("copy", 50_010, 20_000), ("ins", b"MORE")])
    target, changes = delta_changes(d)
    assert target == 70_007
    assert changes == [(50_000, 50_003), (70_003, 70_007)]
    # two inserts closer than the gap are one region
    d = _delta(1000, [("copy", 0, 100), ("ins", b"a"), ("copy", 110, 100), ("ins", b"b"), ("copy", 300, 700)])
    assert delta_changes(d, gap=4096)[1] == [(100, 202)]
    assert delta_changes(d, gap=10)[1] == [(100, 101), (201, 202)]


def test_a_deletion_between_two_copies_is_a_seam():
    # bytes 1000..2000 of the source were deleted: the copies jump there
    d = _delta(50_000, [("copy", 0, 1000), ("copy", 2000, 48_000)])
    assert delta_changes(d) == (49_000, [(1000, 1000)])
    # where copies meet the source nearly always jumps, so any copy-after-copy counts as one
    # (a contiguous pair only costs a needless region); copies between inserts are no seam
    d = _delta(50_000, [("copy", 0, 1000), ("copy", 1000, 49_000)])
    assert delta_changes(d) == (50_000, [(1000, 1000)])
    d = _delta(50_000, [("copy", 0, 20_000), ("ins", b"x"), ("copy", 30_000, 20_000)])
    assert delta_changes(d) == (40_001, [(20_000, 20_001)])


def test_cut_start_and_cut_end_are_seams():
    d = _delta(30_000, [("copy", 10_000, 10_000)])
    assert delta_changes(d, gap=0) == (10_000, [(0, 0), (10_000, 10_000)])


@pytest.mark.parametrize(
    "raw",
    [
        _varint(10) + _varint(5) + b"\x00",  # opcode 0 is reserved
        _varint(10) + _varint(9) + b"\x05abcde",  # adds up to less than the target size
        _varint(10) + _varint(5) + b"\x05ab",  # insert runs past the end
        _varint(10) + _varint(5) + b"\x91",  # copy arguments missing
    ],
)
def test_corrupt_deltas_raise_pack_error(raw):
    with pytest.raises(PackError):
        delta_changes(raw)


def test_widen_takes_whole_lines_and_enough_of_them():
    lines = [f"line {i:04d} with some filler text to make it longer\n".encode() for i in range(2000)]
    data = b"".join(lines)
    at = sum(len(x) for x in lines[:1000])
    (region,) = widen(data, [(at + 5, at + 9)], 20)
    lo, hi = region
    assert data[lo - 1 : lo] == b"\n" and data[hi - 1 : hi] == b"\n"
    assert data.count(b"\n", lo, at) >= 20 and data.count(b"\n", at + 9, hi) >= 20
    # regions covering most of a blob: scan it whole
    assert widen(data, [(0, len(data) // 2), (len(data) // 2 + 10, len(data))]) is None


# --- real repositories --------------------------------------------------------------------------


def _filler(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["compute", "render", "parse", "load", "store", "merge", "split", "check"]
    return [f"    result_{i} = {rng.choice(words)}(value_{i}, {rng.randint(0, 9999)})  # {''.join(rng.choices(string.ascii_lowercase, k=12))}\n" for i in range(n)]


def _repack(repo: Repo) -> None:
    repo.git("repack", "-a", "-d", "-f", "--depth=50", "--window=50", "-q")


def _comparable(result) -> list[str]:
    """Every finding in full (location, details with the other occurrences, display line)."""
    return sorted(
        json.dumps([f.rule_id, f.secret.reveal(), f.location, f.details, f.line, f.decoded, {k: v.reveal() for k, v in f.related.items()}], sort_keys=True, default=repr)
        for f in result.findings
    )


def _both(path, **kw):
    settings = Settings(jobs=1, **kw)
    detector = build_detector(settings)
    deltas = scan_git(path, settings=settings, detector=detector)
    whole = scan_git(path, settings=settings, detector=detector, whole_blobs=True)
    return deltas, whole


@pytest.fixture
def long_history(tmp_path):
    """A file with a secret near the top, then many commits editing lines far below it, then
    the secret removed; packed by git so older versions are deltas of newer ones."""
    r = Repo(tmp_path / "repo")
    body = _filler(600, 1)
    r.commit("start", {"app/service.py": "".join(body)})
    body[5] = f'    registry_token = "{T1}"\n'
    added = r.commit("configure registry", {"app/service.py": "".join(body)})
    for i in range(25):
        body[400 + i] = f"    result_{400 + i} = tuned({i})\n"
        r.commit(f"tune {i}", {"app/service.py": "".join(body)})
    body[5] = '    registry_token = os.environ["CARGO_REGISTRY_TOKEN"]\n'
    r.commit("read token from the environment", {"app/service.py": "".join(body)})
    for i in range(5):
        body[500 + i] = f"    result_{500 + i} = later({i})\n"
        r.commit(f"later {i}", {"app/service.py": "".join(body)})
    _repack(r)
    return r, added


def test_repository_is_really_packed_as_deltas(long_history):
    repo, _ = long_history
    objects = objects_dir(Git(repo.path))
    assert objects is not None
    (pack,) = pack_paths(objects)
    blobs = list(PackWalker(read_index(pack)).blobs(0, 1 << 62))
    deltas = [b for b in blobs if b.changes is not None]
    assert len(blobs) == 33 and len(deltas) >= 25
    assert all(b.base for b in deltas)


def test_secret_copied_through_delta_chains_is_found_in_every_version(long_history):
    repo, added = long_history
    deltas, whole = _both(repo.path)
    assert _comparable(deltas) == _comparable(whole)
    (f,) = deltas.findings
    assert f.secret.reveal() == T1
    assert f.location.commit == added  # the earliest introduction, not the newest copy
    assert f.location.start_line == 6
    assert f.details["occurrence_count"] == 26  # every version that still holds it


def test_deletion_that_brings_context_near_a_value_is_seen(tmp_path):
    # A Jira Data Center token is only reported with Jira context within 5 lines; a later
    # version deletes the lines between them, so only that version (and its later copies)
    # has the finding: the seam of the deletion must be scanned.
    r = Repo(tmp_path / "repo")
    pat = base64.b64encode(b"123456789012:" + bytes(random.Random(3).randrange(256) for _ in range(20))).decode()
    lines = _filler(900, 2)
    lines[100] = 'jira_url = "https://jira.example.com"\n'
    lines[160] = f'auth_value = "{pat}"\n'
    r.commit("one", {"deploy/settings.py": "".join(lines)})
    for i in range(6):
        lines[700 + i] = f"x_{i} = {i}\n"
        r.commit(f"edit {i}", {"deploy/settings.py": "".join(lines)})
    del lines[102:158]
    closer = r.commit("drop old options", {"deploy/settings.py": "".join(lines)})
    for i in range(6):
        lines[600 + i] = f"y_{i} = {i}\n"
        r.commit(f"more {i}", {"deploy/settings.py": "".join(lines)})
    _repack(r)
    deltas, whole = _both(r.path)
    assert _comparable(deltas) == _comparable(whole)
    (f,) = [f for f in deltas.findings if f.rule_id == "jira-datacenter-pat"]
    assert f.secret.reveal() == pat
    assert f.location.commit == closer
    assert f.details["occurrence_count"] == 7


@pytest.mark.parametrize("rule", ["hashicorp-consul-gossip-key", "trello-token"])
def test_context_and_pairs_many_long_lines_away_are_seen(tmp_path, rule):
    # A Consul gossip key needs Consul context within 20 lines, and a Trello token takes the API
    # key up to 10 lines away as `related`: both count lines, whatever their length. With lines
    # of 2.5 kB the context lies 20 kB above the key, in versions that are deltas.
    r = Repo(tmp_path / "repo")
    rng = random.Random(8)
    data = [f'  "blob_{i}": "{"".join(rng.choices(string.ascii_lowercase + " ", k=2500))}",\n' for i in range(220)]
    if rule == "trello-token":
        head = ["# trello integration\n", f"TRELLO_KEY={rng.randbytes(16).hex()}\n"]
        value = "ATTA" + rng.randbytes(32).hex() + rng.randbytes(4).hex().upper()
        line = f"TRELLO_TOKEN={value}\n"
    else:
        head = ["# consul agent\n"]
        value = base64.b64encode(rng.randbytes(32)).decode()
        line = f'encrypt = "{value}"\n'
    body = head + data[:8] + data[20:]
    r.commit("config", {"agent.hcl": "".join(body)})
    at = len(head) + 7
    added = r.commit("add the secret", {"agent.hcl": "".join(body[:at] + [line] + body[at:])})
    for i in range(4):
        body[150 + i] = data[8 + i]
        r.commit(f"edit {i}", {"agent.hcl": "".join(body[:at] + [line] + body[at:])})
    # the newest and largest version, stored whole, has none: the others are deltas of it
    r.commit("drop the secret", {"agent.hcl": "".join(body[:at] + ["# the secret moved to the vault" + "." * 200 + "\n"] + body[at:])})
    _repack(r)
    deltas, whole = _both(r.path)
    assert _comparable(deltas) == _comparable(whole)
    (f,) = [f for f in deltas.findings if f.rule_id == rule]
    assert (f.secret.reveal(), f.location.commit, f.details["occurrence_count"]) == (value, added, 5)
    if rule == "trello-token":
        assert f.related["key"].reveal() == head[1].split("=")[1].strip()


def test_version_whose_base_is_over_the_size_limit_is_scanned_whole(tmp_path):
    r = Repo(tmp_path / "repo")
    body = _filler(300, 3)
    body[10] = f'token = "{T2}"\n'
    small = r.commit("small", {"lib.py": "".join(body)})
    r.commit("grow", {"lib.py": "".join(body + _filler(3000, 4))})  # newer and bigger: the base
    _repack(r)
    limit = len("".join(body)) + 100
    deltas, whole = _both(r.path, max_file_size=limit)
    assert _comparable(deltas) == _comparable(whole)
    assert [(f.secret.reveal(), f.location.commit) for f in deltas.findings] == [(T2, small)]


def test_loose_objects_and_duplicated_packs(long_history):
    repo, _ = long_history
    # a second pack holding every object again, and loose objects from new commits
    objs = repo.git("rev-list", "--objects", "--all")
    repo.git("pack-objects", "-q", ".git/objects/pack/pack", input=(objs + "\n").encode())
    extra = crates_token(99)
    repo.commit("loose", {"notes.txt": f"cargo login {extra}\n"})
    objects = objects_dir(Git(repo.path))
    assert objects is not None and len(pack_paths(objects)) == 2
    deltas, whole = _both(repo.path)
    assert _comparable(deltas) == _comparable(whole)
    assert {f.secret.reveal() for f in deltas.findings} == {T1, extra}


def test_worker_stripes_cover_every_blob_once(long_history):
    repo, _ = long_history
    git = Git(repo.path)
    objects = objects_dir(git)
    assert objects is not None
    every = sorted(b.oid for b in _slice_blobs(git, objects, 0, 1))
    parts = [sorted(b.oid for b in _slice_blobs(git, objects, k, 3)) for k in range(3)]
    assert sorted(sum(parts, [])) == every
    assert all(parts)
    # and each worker's slice scans to the same findings as one worker
    detector = build_detector(Settings())
    one = delta_slice(str(repo.path), detector, 0, 1, 25 << 20)
    split = [delta_slice(str(repo.path), detector, k, 3, 25 << 20) for k in range(3)]
    assert sorted(o for o, _ in one.findings) == sorted(o for p in split for o, _ in p.findings)


def test_stripes_taken_from_a_shared_counter_cover_every_blob_once(long_history):
    """Workers that take the next stripe when free: however the stripes fall (interleaved, or
    one worker taking them all), every blob is scanned once and the findings are the same."""
    import itertools

    repo, _ = long_history
    git = Git(repo.path)
    objects = objects_dir(git)
    assert objects is not None
    every = sorted(b.oid for b in _slice_blobs(git, objects, 0, 1))
    counter = itertools.count()
    first, second = _slice_blobs(git, objects, 0, 2, lambda: next(counter)), _slice_blobs(git, objects, 1, 2, lambda: next(counter))
    got: list[str] = []
    for a, b in itertools.zip_longest(first, second):  # the two workers alternate blob by blob
        got += [x.oid for x in (a, b) if x is not None]
    assert sorted(got) == every
    counter = itertools.count()
    greedy = [b.oid for b in _slice_blobs(git, objects, 0, 2, lambda: next(counter))]
    assert sorted(greedy) == every and list(_slice_blobs(git, objects, 1, 2, lambda: next(counter))) == []
    detector = build_detector(Settings())
    counter = itertools.count()
    split = [delta_slice(str(repo.path), detector, k, 2, 25 << 20, take=lambda: next(counter)) for k in range(2)]
    one = delta_slice(str(repo.path), detector, 0, 1, 25 << 20)
    assert sorted(o for o, _ in one.findings) == sorted(o for p in split for o, _ in p.findings)


def test_unreadable_pack_index_falls_back_to_whole_blobs(long_history, tmp_path):
    repo, added = long_history
    pack_dir = repo.path / ".git" / "objects" / "pack"
    (pack_dir / "pack-0000000000000000000000000000000000000000.pack").write_bytes(b"PACK\x00\x00\x00\x02garbage")
    (pack_dir / "pack-0000000000000000000000000000000000000000.idx").write_bytes(b"not an index")
    result = scan_git(repo.path, settings=Settings(jobs=1))
    assert [(f.secret.reveal(), f.location.commit) for f in result.findings] == [(T1, added)]


def test_cli_whole_blobs_flag_gives_the_same_report(long_history):
    repo, _ = long_history
    reports = []
    for extra in ([], ["--whole-blobs"]):
        proc = run_cli("scan", "git", str(repo.path), "-f", "json", "--show-secrets", *extra)
        assert proc.returncode == 1, proc.stderr
        doc = json.loads(proc.stdout)
        reports.append(doc["findings"])
    assert reports[0] == reports[1] and reports[0][0]["secret"] == T1


def test_reverse_index_file_gives_the_same_pack_order(long_history, monkeypatch):
    repo, _ = long_history
    repo.git("-c", "pack.writeReverseIndex=true", "repack", "-a", "-d", "-q")
    objects = objects_dir(Git(repo.path))
    assert objects is not None
    (pack,) = pack_paths(objects)
    assert os.path.exists(pack[:-5] + ".rev")
    from_rev = read_index(pack)
    import leakwarden.sources.git_packs as git_packs

    monkeypatch.setattr(git_packs, "_reverse_index", lambda *_: None)
    sorted_here = read_index(pack)
    assert list(from_rev.by_offset) == list(sorted_here.by_offset)
    assert list(from_rev.position) == list(sorted_here.position)


def test_pack_vanishing_mid_walk_falls_back_to_whole_blobs(long_history, monkeypatch):
    # A concurrent `git gc` can delete a pack while a worker walks it: the worker's error must
    # not end the scan early with a partial result.
    repo, added = long_history
    import leakwarden.sources.git_packs as git_packs

    real = git_packs.PackWalker.blobs

    def vanishing(self, lo, hi, whole_below=0):
        for i, blob in enumerate(real(self, lo, hi, whole_below)):
            if i == 3:
                raise FileNotFoundError(2, "No such file or directory", self.index.pack)
            yield blob

    monkeypatch.setattr(git_packs.PackWalker, "blobs", vanishing)
    result = scan_git(repo.path, settings=Settings(jobs=1))
    (f,) = result.findings
    assert (f.secret.reveal(), f.location.commit, f.details["occurrence_count"]) == (T1, added, 26)


def test_follow_up_order_puts_bases_first_and_survives_a_forged_cycle():
    from leakwarden.sources.git_delta_scan import _bases_first

    order = _bases_first({b"c": b"b", b"b": b"a", b"d": b"c"})  # a is a root with findings
    assert order.index(b"b") < order.index(b"c") < order.index(b"d")
    assert sorted(_bases_first({b"a": b"b", b"b": b"a"})) == [b"a", b"b"]  # terminates


def test_history_scan_shows_progress_on_a_terminal_only(long_history):
    repo, _ = long_history
    code, shown = run_cli_on_pty(["scan", "git", str(repo.path)], repo.path, {})
    assert code == 1 and "scanning" in shown and "blobs" in shown and "findings" in shown
    code, shown = run_cli_on_pty(["scan", "git", str(repo.path), "--quiet"], repo.path, {})
    assert code == 1 and "scanning" not in shown
    res = run_cli("scan", "git", str(repo.path), env={"LEAKWARDEN_PROGRESS_ALWAYS": "1"})
    assert res.returncode == 1 and b"scanning" not in res.stderr  # not a terminal


def test_linked_worktree_reads_the_main_repositorys_packs(long_history, tmp_path):
    repo, added = long_history
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"))
    objects = objects_dir(Git(tmp_path / "wt"))
    assert objects is not None and os.path.samefile(objects, repo.path / ".git" / "objects")
    (f,) = scan_git(tmp_path / "wt", settings=Settings(jobs=1)).findings
    assert (f.secret.reveal(), f.location.commit) == (T1, added)


@pytest.mark.parametrize("packed", [False, True])
def test_sha256_repository_is_scanned_whole_loose_or_packed(tmp_path, packed):
    # SHA-256 object ids are 32 bytes (64 hex digits, 62 in a loose object's file name): the
    # pack walker reads SHA-1 packs only, so such a repository is matched whole, never reported
    # clean for want of reading it.
    r = Repo(tmp_path / "repo", init=False)
    r.path.mkdir()
    r.git("init", "-q", "-b", "main", "--object-format=sha256")
    body = _filler(300, 4)
    r.commit("start", {"app.py": "".join(body)})
    body[10] = f'TOKEN = "{T1}"\n'
    added = r.commit("add token", {"app.py": "".join(body)})
    body[10] = "TOKEN = None\n"
    r.commit("drop token", {"app.py": "".join(body)})
    if packed:
        _repack(r)
        r.commit("loose after the pack", {"late.env": f"T={T2}\n"})
    result = scan_git(r.path, settings=Settings(jobs=1))
    assert {(f.secret.reveal(), f.location.commit) for f in result.findings} >= {(T1, added)}
    assert {f.secret.reveal() for f in result.findings} == ({T1, T2} if packed else {T1})
    assert result.errors == []
    assert objects_dir(Git(r.path)) is None
    if not packed:  # a loose object deleted outright is missed, not passed over in silence
        blob = r.git("rev-parse", "HEAD~1:app.py")
        (r.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
        (error,) = scan_git(r.path, settings=Settings(jobs=1)).errors
        assert error.kind == "unreadable-objects" and error.incomplete

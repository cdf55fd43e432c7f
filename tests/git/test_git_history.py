"""History scans on real repositories: every blob once, attributed to the commit that added it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from gitrepo import Repo, crates_token, git_env
from tests.conftest import run_cli

from leakwarden.api import scan_git, scan_paths
from leakwarden.config import Settings
from leakwarden.models import Chunk, Origin
from leakwarden.sources import git_history

T1, T2, T3 = crates_token(1), crates_token(2), crates_token(3)


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.commit("initial", {"README.md": "hello\n"})
    return r


def secrets_of(result):
    return {f.secret.reveal() for f in result.findings}


def test_secret_added_then_deleted_is_found_in_history_not_in_head(repo):
    added = repo.commit("add config", {"config/settings.toml": f"[registry]\ntoken = \"{T1}\"\n"})
    repo.commit("remove config", remove=("config/settings.toml",))
    assert scan_paths([repo.path]).findings == []
    result = scan_git(repo.path)
    assert secrets_of(result) == {T1}
    (f,) = result.findings
    assert f.location.commit == added
    assert f.location.path == "config/settings.toml"
    assert f.location.start_line == 2
    assert f.location.extra["author"] == "Ada Tester"
    assert f.location.extra["email"] == "ada@example.org"
    assert f.location.extra["subject"] == "add config"
    assert f.location.extra["date"].startswith("2024-01-01T00:00:02")


def test_same_secret_on_two_branches_is_one_finding_with_two_occurrences(repo):
    repo.git("checkout", "-q", "-b", "one")
    c1 = repo.commit("one", {"a.env": f"CARGO_REGISTRY_TOKEN={T1}\n"})
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", "two")
    c2 = repo.commit("two", {"a.env": f"CARGO_REGISTRY_TOKEN={T1}\n"})
    result = scan_git(repo.path)
    (f,) = result.findings
    assert f.location.commit == c1  # the earlier one
    assert f.details["occurrence_count"] == 2
    assert [o["commit"] for o in f.details["other_occurrences"]] == [c2]


def test_same_secret_in_two_files_lists_both_paths(repo):
    repo.commit("two files", {"a.env": f"X={T1}\n", "deploy/b.env": f"# note\nY={T1}\n"})
    (f,) = scan_git(repo.path).findings
    others = f.details["other_occurrences"]
    assert {f.location.path, others[0]["path"]} == {"a.env", "deploy/b.env"}
    assert f.details["occurrence_count"] == 2


def test_rename_keeps_the_original_introduction(repo):
    c1 = repo.commit("add", {"old.env": f"T={T1}\n"})
    repo.git("mv", "old.env", "new.env")
    c2 = repo.commit("rename")
    (f,) = scan_git(repo.path).findings
    assert (f.location.commit, f.location.path) == (c1, "old.env")
    assert f.details["other_occurrences"][0]["commit"] == c2
    assert f.details["other_occurrences"][0]["path"] == "new.env"


def test_merge_attributes_branch_content_to_the_branch_commit_and_evil_merges_to_the_merge(repo):
    repo.git("checkout", "-q", "-b", "feature")
    c_feature = repo.commit("feature work", {"feature.env": f"T={T1}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"main.txt": "x\n"})
    repo.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    repo.write("merge-only.env", f"T={T2}\n")
    repo.git("add", "merge-only.env")
    merge = repo.commit("merge feature")
    assert len(repo.git("show", "-s", "--format=%P", merge).split()) == 2
    by_secret = {f.secret.reveal(): f for f in scan_git(repo.path).findings}
    assert by_secret[T1].location.commit == c_feature
    assert by_secret[T1].details["occurrence_count"] == 1
    assert by_secret[T2].location.commit == merge


def test_binary_blobs_are_skipped(repo):
    repo.commit("binary", {"image.bin": b"\x89PNG\x00\x00" + T1.encode() + b"\x00"})
    result = scan_git(repo.path)
    assert result.findings == []
    assert result.stats.skipped == 1


def test_blobs_over_the_size_cap_are_skipped_and_reported(repo):
    repo.commit("big", {"big.txt": f"T={T1}\n" + "x" * 5000})
    result = scan_git(repo.path, settings=Settings(max_file_size=1000))
    assert result.findings == []
    assert any(e.kind == "too-large" for e in result.errors)


def test_empty_repository(tmp_path):
    r = Repo(tmp_path / "empty")
    result = scan_git(r.path)
    assert result.findings == [] and result.errors == []
    proc = run_cli("scan", "git", str(r.path))
    assert proc.returncode == 0, proc.stderr


def test_detached_head_commit_is_scanned_and_attributed(repo):
    repo.git("checkout", "-q", "--detach")
    c = repo.commit("detached", {"d.env": f"T={T1}\n"})
    (f,) = scan_git(repo.path).findings
    assert f.location.commit == c


def test_rewritten_history_is_still_found(repo):
    oops = repo.commit("oops", {"leak.env": f"T={T1}\n"})
    repo.git("rm", "-q", "leak.env")
    repo.write("other.txt", "fine\n")
    repo.git("add", "other.txt")
    repo.git("commit", "-q", "--amend", "-m", "clean")
    # No ref reaches the secret any more, but its blob is still in the object database and
    # the reflog still names the commit that added it.
    assert repo.git("log", "--all", "--format=%H", "--", "leak.env") == ""
    (f,) = scan_git(repo.path).findings
    assert f.secret.reveal() == T1
    assert f.location.commit == oops
    assert "reflog" in f.location.extra["note"]
    # Once the reflog is gone, the blob is still reported, without a commit.
    repo.git("reflog", "expire", "--expire=now", "--all")
    (f,) = scan_git(repo.path).findings
    assert f.location.commit is None and "unreferenced" in f.location.extra["note"]


def test_shallow_clone(repo, tmp_path):
    repo.commit("old secret", {"old.env": f"T={T1}\n"})
    repo.commit("drop", remove=("old.env",))
    repo.commit("new secret", {"new.env": f"T={T2}\n"})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)], check=True, env=git_env(repo.home))
    result = scan_git(clone)
    assert secrets_of(result) == {T2}
    assert result.findings[0].location.commit is not None


def test_partial_clone_reports_what_it_could_not_scan(repo, tmp_path):
    """A blobless clone has the history but not the old blobs: the scan says so (and how to fetch
    them) instead of reporting the history clean; once fetched, the old secret is found."""
    repo.commit("old secret", {"old.env": f"T={T1}\n"})
    repo.commit("drop", remove=("old.env",))
    repo.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "partial"
    env = git_env(repo.home)
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{repo.path}", str(clone)], check=True, env=env)
    assert git_history.is_partial_clone(git_history.Git(clone))
    for result, missing in ((scan_git(clone), 2), (scan_git(clone, revs=("HEAD~2..HEAD",)), 1)):
        assert result.findings == []
        (warning,) = [e for e in result.errors if e.kind == "missing-objects"]
        assert warning.message.startswith(f"{missing} object(s) reachable from the scanned history are not in this partial clone")
        assert "git config --unset remote.origin.partialclonefilter && git fetch --refetch origin" in warning.message
    proc = run_cli("scan", "git", str(clone), cwd=tmp_path)
    assert proc.returncode == 0 and "not in this partial clone" in (proc.stdout + proc.stderr).decode()
    # a snapshot of a partial clone with no promisor remote left: nothing to fetch from
    snapshot = tmp_path / "snapshot"
    shutil.copytree(clone, snapshot, symlinks=True)
    subprocess.run(["git", "-C", str(snapshot), "remote", "remove", "origin"], check=True, env=env)
    (warning,) = [e for e in scan_git(snapshot).errors if e.kind == "missing-objects"]
    assert warning.message.endswith("the repository names no remote to fetch them from: scan a full clone")
    subprocess.run(["git", "-C", str(clone), "config", "--unset", "remote.origin.partialclonefilter"], check=True, env=env)
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "--refetch", "origin"], check=True, env=env)
    result = scan_git(clone)
    assert secrets_of(result) == {T1}
    assert [e for e in result.errors if e.kind == "missing-objects"] == []
    assert not git_history.is_partial_clone(git_history.Git(repo.path))


def test_partial_clone_with_findings_fetches_nothing(repo, tmp_path):
    """Attributing the blobs with findings must not make git fetch the clone's missing blobs
    (`git log --find-object` prefetches every commit's blobs from the promisor remote, one
    fetch per commit): with the remote gone the scan still completes, and nothing is added."""
    added = repo.commit("small secret", {"app.env": f"T={T1}\n"})
    for i in range(3):
        repo.commit(f"big {i}", {"big.txt": "".join(f"line {i} {n}\n" for n in range(400))})
    repo.git("config", "uploadpack.allowFilter", "true")
    server = tmp_path / "server"
    shutil.copytree(repo.path, server, symlinks=True)
    clone = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--filter=blob:limit=1k", "--no-checkout", f"file://{server}", str(clone)], check=True, env=git_env(repo.home))
    shutil.rmtree(server)  # offline: a fetch would fail the scan
    objects = sorted(p.name for p in (clone / ".git" / "objects").rglob("*"))
    for result in (scan_git(clone), scan_git(clone, revs=("HEAD",))):
        (f,) = result.findings
        assert (f.secret.reveal(), f.location.commit, f.location.path) == (T1, added, "app.env")
        (warning,) = [e for e in result.errors if e.kind == "missing-objects"]
        assert warning.message.startswith("3 object(s) reachable from the scanned history are not in this partial clone")
    assert sorted(p.name for p in (clone / ".git" / "objects").rglob("*")) == objects


def test_submodule_contents_are_not_followed(repo, tmp_path):
    sub = Repo(tmp_path / "sub")
    sub.commit("sub secret", {"s.env": f"T={T1}\n"})
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.commit("add submodule")
    assert (repo.path / "vendor/sub/s.env").exists()
    assert scan_git(repo.path).findings == []


def test_range_since_commit_and_branch(repo):
    base = repo.commit("before", {"a.env": f"T={T1}\n"})
    repo.git("checkout", "-q", "-b", "topic")
    topic = repo.commit("topic", {"b.env": f"T={T2}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main later", {"c.env": f"T={T3}\n"})
    assert secrets_of(scan_git(repo.path, [f"{base}..topic"])) == {T2}
    assert secrets_of(scan_git(repo.path, ["main..topic"])) == {T2}
    assert secrets_of(scan_git(repo.path, ["topic"])) == {T1, T2}
    (f,) = scan_git(repo.path, [f"{base}..topic"]).findings
    assert f.location.commit == topic
    proc = run_cli("scan", "git", str(repo.path), "--since-commit", base, "-f", "json")
    assert proc.returncode == 1, proc.stderr
    assert {x["secret"][:4] for x in json.loads(proc.stdout)["findings"]} == {T3[:4]}
    proc = run_cli("scan", "git", str(repo.path), "--branch", "topic", "-f", "json")
    assert len(json.loads(proc.stdout)["findings"]) == 2


def test_unknown_revision_and_not_a_repository(repo, tmp_path):
    proc = run_cli("scan", "git", str(repo.path), "--range", "nosuch..main")
    assert proc.returncode == 2 and b"unknown revision" in proc.stderr
    (tmp_path / "plain").mkdir()
    proc = run_cli("scan", "git", str(tmp_path / "plain"))
    assert proc.returncode == 2 and b"not a git repository" in proc.stderr


def test_parallel_workers_give_the_same_findings(repo, monkeypatch):
    for i in range(30):
        repo.commit(f"c{i}", {f"f{i}.txt": f"line {i}\n" * 200 + (f"T={crates_token(100 + i)}\n" if i % 3 == 0 else "")})
    serial = scan_git(repo.path, settings=Settings(jobs=1))
    monkeypatch.setattr(git_history, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(git_history, "_BATCH_OBJECTS", 4)
    parallel = scan_git(repo.path, settings=Settings(jobs=2))
    key = lambda r: sorted((f.fingerprint, f.location.commit, f.location.path, f.location.start_line) for f in r.findings)  # noqa: E731
    assert len(serial.findings) == 10
    assert key(serial) == key(parallel)
    assert serial.stats.files == parallel.stats.files
    # three workers: uneven slices of the pack order still cover every blob exactly once
    three = scan_git(repo.path, settings=Settings(jobs=3))
    assert key(three) == key(serial)
    assert (three.stats.files, three.stats.bytes) == (serial.stats.files, serial.stats.bytes)


def test_reports_carry_commit_metadata(repo):
    repo.git("remote", "add", "origin", "https://user:hunter2@example.com/acme/app.git")
    c = repo.commit("add token", {"a.env": f"T={T1}\n"})
    proc = run_cli("scan", "git", str(repo.path), "-f", "json")
    (f,) = json.loads(proc.stdout)["findings"]
    assert (f["commit"], f["author"], f["email"], f["subject"]) == (c, "Ada Tester", "ada@example.org", "add token")
    assert T1 not in proc.stdout.decode()
    proc = run_cli("scan", "git", str(repo.path), "-f", "sarif")
    run = json.loads(proc.stdout)["runs"][0]
    assert run["versionControlProvenance"] == [{"repositoryUri": "https://example.com/acme/app.git", "revisionId": c}]
    assert run["results"][0]["properties"]["commit"] == c
    proc = run_cli("scan", "git", str(repo.path))
    text = proc.stdout.decode()
    assert f"commit {c[:12]} by Ada Tester <ada@example.org> on " in text and text.count(": add token\n") == 1


def test_other_occurrences_are_capped(repo):
    for i in range(5):
        repo.commit(f"copy {i}", {f"copy{i}.env": f"T={T1}\n"})
    proc = run_cli("scan", "git", str(repo.path), "-f", "json", "--max-occurrences", "2")
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["details"]["occurrence_count"] == 5
    assert [o["path"] for o in f["details"]["other_occurrences"]] == ["copy1.env", "copy2.env"]
    text = run_cli("scan", "git", str(repo.path)).stdout.decode()
    assert "also copy1.env:1" in text and "and 1 more occurrence" in text


def test_split_matcher_finds_what_one_database_finds(ruleset):
    """Helpers on demand give the same findings as every rule in one matcher."""
    from leakwarden.candidates import Detector
    from leakwarden.matcher.hyperscan import HyperscanMatcher
    from leakwarden.matcher.pure import PureMatcher
    from leakwarden.matcher.split import SplitMatcher

    texts = [e.text for r in ruleset.rules for e in r.examples] + [n for r in ruleset.rules for n in r.negative_examples]
    texts.append("\n".join(texts))
    for make in (HyperscanMatcher, PureMatcher):
        whole, split = Detector(ruleset, make(ruleset)), Detector(ruleset, SplitMatcher(ruleset, make))
        for text in texts:
            chunk = Chunk(text.encode(), Origin("text", path="x"))
            key = lambda fs: sorted((f.rule_id, f.secret.reveal(), f.location.offset, tuple(sorted((k, v.reveal()) for k, v in f.related.items()))) for f in fs)  # noqa: E731
            assert key(whole.scan(chunk)) == key(split.scan(chunk)), text


def test_attribution_without_find_object_gives_the_same_answer(repo, monkeypatch):
    """Many blobs with findings: the whole `git log --raw` is filtered in Python instead."""
    c1 = repo.commit("a", {"a.env": f"T={T1}\n"})
    repo.git("mv", "a.env", "b.env")
    repo.commit("rename")
    c3 = repo.commit("c", {"c.env": f"T={T2}\n"})
    expected = {(f.secret.reveal(), f.location.commit, f.location.path, f.details["occurrence_count"]) for f in scan_git(repo.path).findings}
    monkeypatch.setattr(git_history, "_FIND_OBJECT_MAX", 0)
    got = {(f.secret.reveal(), f.location.commit, f.location.path, f.details["occurrence_count"]) for f in scan_git(repo.path).findings}
    assert got == expected == {(T1, c1, "a.env", 2), (T2, c3, "c.env", 1)}


def test_attribution_split_over_processes_gives_the_same_introductions(repo, monkeypatch):
    """Blocks of commits to `git log --no-walk --stdin` processes: the same (commit, path) pairs
    as one walking `git log`, merges (evil ones included), renames and roots alike."""
    repo.commit("a", {"a.env": f"T={T1}\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature", {"f.env": f"T={T2}\n", "a.env": f"T={T1}\nX=1\n"})
    repo.git("checkout", "-q", "main")
    repo.git("mv", "a.env", "b.env")
    repo.commit("rename")
    repo.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    repo.write("merge-only.env", f"T={T3}\n")
    repo.git("add", "merge-only.env")
    repo.commit("merge")
    repo.commit("again", {"c.env": f"T={T1}\n"})
    git = git_history.Git(repo.path)
    blobs = {repo.git("rev-parse", f"{rev}:{path}") for rev, path in
             [("HEAD~3", "a.env"), ("feature", "f.env"), ("feature", "a.env"), ("HEAD", "merge-only.env"), ("HEAD", "c.env")]}

    def pairs(result):
        return {b: sorted((i.commit.sha, i.path) for i in intros) for b, intros in result.items()}

    one = pairs(git_history.attribute(git, blobs, (), jobs=1))
    monkeypatch.setattr(git_history, "_ATTRIBUTE_BLOCK", 1)
    for jobs in (2, 3):
        assert pairs(git_history.attribute(git, blobs, (), jobs=jobs)) == one
    assert pairs(git_history.attribute(git, blobs, ("HEAD~1",), jobs=2)) == pairs(git_history.attribute(git, blobs, ("HEAD~1",), jobs=1))
    assert all(one.values()) and len(one[repo.git("rev-parse", "HEAD:merge-only.env")]) == 1


def test_cherry_picked_secret_is_attributed_to_the_original_commit(repo):
    """A cherry-pick keeps the author date: the tie goes to the commit made first."""
    repo.git("branch", "maint")
    original = repo.commit("add token", {"deploy.env": f"T={T1}\n"})
    repo.git("checkout", "-q", "maint")
    repo.git("cherry-pick", original, env={"GIT_COMMITTER_DATE": "2024-06-01T00:00:00+00:00"})
    picked = repo.head()
    assert picked != original
    (f,) = scan_git(repo.path).findings
    assert f.location.commit == original
    assert f.details["occurrence_count"] == 2
    assert [o["commit"] for o in f.details["other_occurrences"]] == [picked]


def test_a_blob_or_tree_tagged_directly_is_attributed_to_its_tag(tmp_path):
    """A tag may point at a blob (a published key file) or a tree, in no commit: the finding
    names the tag (and the path inside a tagged tree), not 'no ref reaches it'."""
    r = Repo(tmp_path / "r")
    r.commit("c", {"README": "hello\n"})
    blob = r.git("hash-object", "-w", "--stdin", input=f"T={crates_token(71)}\n".encode())
    r.git("tag", "keyfile", blob)
    inner = r.git("hash-object", "-w", "--stdin", input=f"K={crates_token(72)}\n".encode())
    tree = r.git("mktree", input=f"100644 blob {inner}\tdeploy.env\n".encode())
    r.git("tag", "-a", "-m", "a tree", "bundle", tree)
    for whole in (False, True):
        got = {f.secret.reveal(): f for f in scan_git(r.path, settings=Settings(jobs=1), whole_blobs=whole).findings}
        tagged, in_tree = got[crates_token(71)], got[crates_token(72)]
        assert tagged.location.commit is None and tagged.location.extra["tag"] == "refs/tags/keyfile"
        assert "refs/tags/keyfile" in tagged.location.extra["note"]
        assert in_tree.location.extra["tag"] == "refs/tags/bundle" and in_tree.location.path == "deploy.env"

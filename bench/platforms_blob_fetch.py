"""How to bring a push's blobs into a blob:none partial clone: one batched `git fetch --stdin`
of their ids (what the monitor does) versus letting `git cat-file --batch` fetch them lazily.

Run: python bench/platforms_blob_fetch.py [N_BLOBS]   (a git daemon on 127.0.0.1, temp dirs)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def git(*args: str, cwd: Path, input: bytes | None = None) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x")
    return subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=True).stdout


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        src = root / "src"
        src.mkdir()
        git("init", "-q", "-b", "main", cwd=src)
        for i in range(n):
            (src / f"f{i}.txt").write_text(f"file {i}\n" + "x" * 2000 + "\n")
        git("add", ".", cwd=src)
        git("commit", "-qm", "many", cwd=src)
        git("clone", "-q", "--bare", str(src), str(root / "srv.git"), cwd=root)
        git("config", "uploadpack.allowFilter", "true", cwd=root / "srv.git")
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=root / "srv.git")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        daemon = subprocess.Popen(["git", "daemon", "--export-all", "--reuseaddr", f"--base-path={root}", "--listen=127.0.0.1",
                                   f"--port={port}", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            url = f"git://127.0.0.1:{port}/srv.git"
            results = {}
            for mode in ("fetch --stdin (one request)", "cat-file --batch (lazy)"):
                clone = root / f"c{len(results)}"
                git("clone", "-q", "--bare", "--filter=blob:none", url, str(clone), cwd=root)
                missing = [line[1:] for line in git("rev-list", "--objects", "--missing=print", "main", cwd=clone).decode().split() if line.startswith("?")]
                started = time.perf_counter()
                if mode.startswith("fetch"):
                    git("-c", "fetch.negotiationAlgorithm=noop", "fetch", "-q", "--no-tags", "--filter=blob:none", "--stdin", "origin",
                        cwd=clone, input="".join(f"{m}\n" for m in missing).encode())
                else:
                    git("cat-file", "--batch", cwd=clone, input="".join(f"{m}\n" for m in missing).encode())
                results[mode] = (len(missing), time.perf_counter() - started)
            for mode, (count, seconds) in results.items():
                print(f"{mode:32} {count} blobs  {seconds * 1000:8.1f} ms")
        finally:
            daemon.kill()
            daemon.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

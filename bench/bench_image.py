"""Throughput of `scan image` on a large synthetic image built from a real source tree.

    python bench/bench_image.py [--source DIR] [--mb 400] [--layers 6] [--gzip] [--keep]

Layers are made of the files under DIR (default: this Python's standard library, including
site-packages), split across layers; every file gets a one-line layer-specific header so blob
dedup cannot skip the work. A few secrets are planted (one in a file a later layer deletes).
Reports the time to build, and the scan rate in MB/s of uncompressed layer content. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from artifacts.imagebuild import CIRCLE, CRATES, Image, Layer, docker_save_files, oci_files  # noqa: E402

SKIP_DIRS = {"__pycache__", ".git"}


def collect(source: Path, budget: int) -> list[tuple[str, bytes]]:
    files, total = [], 0
    for folder, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            path = Path(folder) / name
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            files.append((str(path.relative_to(source)), data))
            total += len(data)
            if total >= budget:
                return files
    return files


def build(source: Path, mb: int, layers: int) -> tuple[Image, int]:
    files = collect(source, mb * 1_000_000)
    per = max(1, len(files) // layers)
    out, total = [], 0
    for i in range(layers):
        part = files[i * per : (i + 1) * per] if i < layers - 1 else files[i * per :]
        content: dict[str, bytes | None] = {}
        for rel, data in part:
            body = data if b"\0" in data[:8192] else f"# layer {i}\n".encode() + data
            content[f"usr/lib/app/{rel}"] = body
            total += len(body)
        if i == 1:
            content["app/.env"] = f"CARGO_REGISTRY_TOKEN={CRATES}\n".encode()
        if i == layers - 1:
            content["app/config/ci.yml"] = f"circle_token: {CIRCLE}\n".encode()
        out.append(Layer(content, f"COPY part{i} /usr/lib/app/ # buildkit", whiteouts=("app/.env",) if i == 2 else ()))
    return Image(layers=out), total


def write_tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--mb", type=int, default=400, help="approximate uncompressed content size")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--gzip", action="store_true", help="OCI layout with gzip layers instead of a plain docker save tar")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from leakwarden.api import build_detector
    from leakwarden.artifacts import scan_image
    from leakwarden.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("LEAKWARDEN_CACHE_DIR", str(Path(tmp) / "cache"))
        started = time.perf_counter()
        image, content_bytes = build(args.source, args.mb, args.layers)
        files = oci_files([image], gzip_layers=True) if args.gzip else docker_save_files(image)
        target = Path(tmp) / ("image.oci.tar" if args.gzip else "image.tar")
        write_tar(target, files)
        del files, image
        built = time.perf_counter() - started
        size = target.stat().st_size
        settings = Settings(engine=args.engine)
        detector = build_detector(settings)
        runs, cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            result = scan_image(str(target), settings, detector, use_cache=False)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        best = min(runs)
        report = {
            "tarball": target.name,
            "tarball_mb": round(size / 1e6, 1),
            "layer_content_mb": round(content_bytes / 1e6, 1),
            "scanned_text_mb": round(result.stats.bytes / 1e6, 1),
            "files": result.stats.files,
            "binary_skipped": result.stats.skipped,
            "findings": len(result.findings),
            "deleted_notes": sum(1 for f in result.findings if f.location.extra.get("deleted_in_layer")),
            "engine": type(detector.matcher).__name__,
            "build_s": round(built, 1),
            "scan_s": [round(r, 2) for r in runs],
            "scan_cpu_s": [round(c, 2) for c in cpu],
            "mb_per_cpu_s_layer_content": round(content_bytes / 1e6 / min(cpu), 1),
            "mb_per_s_layer_content": round(content_bytes / 1e6 / best, 1),
            "mb_per_s_tarball": round(size / 1e6 / best, 1),
        }
        print(json.dumps(report, indent=2))
        if args.keep:
            keep = ROOT / "bench" / target.name
            keep.write_bytes(target.read_bytes())
            print(f"kept {keep}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Accuracy benchmark: generate the labelled corpus, scan it with leakwarden, gitleaks and
Kingfisher, and score all three with the same labels (a finding counts by file + line).

    /tmp/venv/bin/python bench/accuracy/run.py [--seed 7] [--rounds 6] [--tools leakwarden,gitleaks,kingfisher]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "src"))
sys.path.insert(0, str(HERE))

from generate import PRIORITY, generate  # noqa: E402

WORK = HERE.parent / ".work" / "accuracy"
GITLEAKS = "/tmp/venv/bin/gitleaks"
KINGFISHER = "/tmp/venv/bin/kingfisher"


def run_leakwarden(corpus: Path) -> set[tuple[str, int]]:
    from leakwarden import scan_paths

    result = scan_paths([corpus])
    return {(Path(f.location.path).name, f.location.start_line) for f in result.findings}


def run_gitleaks(corpus: Path) -> set[tuple[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "gl.json"
        subprocess.run([GITLEAKS, "dir", str(corpus), "--no-banner", "--exit-code", "0", "-f", "json", "-r", str(report)],
                       check=True, capture_output=True)
        return {(Path(f["File"]).name, int(f["StartLine"])) for f in json.loads(report.read_text() or "[]")}


def run_kingfisher(corpus: Path) -> set[tuple[str, int]]:
    # --no-dedup: by default Kingfisher reports a secret once even when it occurs in many files
    proc = subprocess.run([KINGFISHER, "scan", str(corpus), "--no-update-check", "--no-validate", "--no-dedup", "--format", "json"],
                          capture_output=True, text=True)
    doc, _ = json.JSONDecoder().raw_decode(proc.stdout)  # a summary document follows the report
    out = set()
    for f in doc.get("findings", []):
        fin = f.get("finding", f)
        path = fin.get("path") or fin.get("file") or f.get("path")
        line = fin.get("line") or fin.get("start_line") or (fin.get("snippet_location") or {}).get("start_line")
        if path and line:
            out.add((Path(path).name, int(line)))
    return out


TOOLS = {"leakwarden": run_leakwarden, "gitleaks": run_gitleaks, "kingfisher": run_kingfisher}


def score(labels: dict[str, list[dict]], found: set[tuple[str, int]]) -> dict:
    hit_types: Counter[str] = Counter()
    all_types: Counter[str] = Counter()
    fp_kind: Counter[str] = Counter()
    missed: list[tuple[str, str]] = []
    tp = 0
    explained: set[tuple[str, int]] = set()
    for name, labs in labels.items():
        lines = {ln for (f, ln) in found if f == name}
        for lab in labs:
            inside = {ln for ln in lines if lab["start"] <= ln <= lab["end"]}
            explained |= {(name, ln) for ln in inside}
            if lab["kind"] == "positive":
                all_types[lab["type"]] += 1
                if inside:
                    hit_types[lab["type"]] += 1
                    tp += 1
                else:
                    missed.append((name, lab["type"]))
            elif inside:
                fp_kind[lab["type"]] += 1
    fp_kind["unlabelled-line"] = len(found - explained)
    fp = sum(fp_kind.values())
    positives = sum(all_types.values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "positives": positives, "precision": precision, "recall": recall, "f1": f1,
            "types": {t: (hit_types[t], n) for t, n in all_types.items()}, "fp_kind": fp_kind, "missed": missed}


def group_of(t: str) -> str:
    for types in PRIORITY.values():
        if t in types:
            return f"priority:{t}"
    return t if t.startswith("generic:") else "other-rule-examples"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--tools", default="leakwarden,gitleaks,kingfisher")
    ap.add_argument("--show-missed", action="store_true")
    args = ap.parse_args()
    corpus = WORK / "corpus"
    shutil.rmtree(WORK, ignore_errors=True)
    labels = generate(corpus, args.seed, args.rounds)
    n_neg = sum(1 for labs in labels.values() for lab in labs if lab["kind"] == "negative")
    results = {}
    for tool in args.tools.split(","):
        if tool != "leakwarden" and not Path({"gitleaks": GITLEAKS, "kingfisher": KINGFISHER}[tool]).exists():
            print(f"{tool}: not installed, skipped")
            continue
        results[tool] = score(labels, TOOLS[tool](corpus))
    tools = list(results)
    first = next(iter(results.values()))
    print(f"corpus: {len(labels)} files, {first['positives']} planted secrets, {n_neg} hard negatives (seed {args.seed})\n")
    print(f"{'':34}" + "".join(f"{t:>22}" for t in tools))
    for key in ("precision", "recall", "f1"):
        print(f"{key:34}" + "".join(f"{results[t][key]:>22.3f}" for t in tools))
    print(f"{'true / false positives':34}" + "".join(f"{str(results[t]['tp']) + ' / ' + str(results[t]['fp']):>22}" for t in tools))
    print("\nrecall per type (found/planted)")
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for t in tools:
        for typ, (h, n) in results[t]["types"].items():
            g = groups[group_of(typ)][t]
            g[0] += h
            g[1] += n
    for g in sorted(groups):
        print(f"  {g:32}" + "".join(f"{f'{groups[g][t][0]}/{groups[g][t][1]} ({groups[g][t][0] / groups[g][t][1]:.2f})':>22}" for t in tools))
    print("\nfalse positives per negative kind")
    kinds = sorted({k for t in tools for k in results[t]["fp_kind"]})
    for k in kinds:
        print(f"  {k:32}" + "".join(f"{results[t]['fp_kind'][k]:>22}" for t in tools))
    if args.show_missed:
        for t in tools:
            print(f"\n{t} missed:", results[t]["missed"][:60])


if __name__ == "__main__":
    main()

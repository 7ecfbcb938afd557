"""The AST-GNN ablation table in one command: text only (``dense``), projections only
(``astgnn:graph=false``), structure only (``astgnn:gate=1``) and full (``astgnn``, gate chosen on dev),
each trained on code:stdlib train (4,968 pairs) and on a site-packages training set, evaluated on
code:stdlib test and cosqa test, then ``rageval compare`` (randomization test, Holm) against ``dense``
and against each training set's ``astgnn:graph=false``.

    python bench/astgnn_ablation.py [--train-set DIR] [--max-pairs 20000] [--cosqa PATH] [--out runs/astgnn-ablation]

``--train-set`` is built first when missing (``python -m rageval.data.code_pairs DIR --max-pairs N``:
site-packages, leakage-filtered against code:stdlib and cosqa). Models are selected on the dev split
of their training data only; every trained model is cached, so a second call only scores.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

METRICS = ("MRR@10", "nDCG@10")


def retrievers(train_set: Path, extra: str) -> list[tuple[str, str]]:
    """(label, spec) of every system of the table."""
    out = [("text only (dense)", "dense")]
    for data, train in (("stdlib", "code:stdlib"), ("site-packages", str(train_set))):
        for label, options in (("projections only", "graph=false"), ("structure only", "gate=1"), ("full", "")):
            spec = ",".join(o for o in (f"train={train}", options, extra) if o)
            out.append((f"{label}, {data}", f"astgnn:{spec}"))
    return out


def rageval(*args: str) -> None:
    print("$ rageval " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "rageval.cli", *args], check=True)


def table(out: Path, systems: list[tuple[str, str]], datasets: list[str]) -> str:
    """A markdown table of MRR@10 / nDCG@10 per system and dataset, read from the run's metrics files."""
    scores: dict[tuple[str, str], dict] = {}
    for path in out.glob("*/*/metrics.json"):
        metrics = json.loads(path.read_text())
        scores[(metrics["retriever"], metrics["dataset"])] = metrics
    labels = sorted({d for _, d in scores})
    rows = ["| system | spec | " + " | ".join(f"{d} MRR@10 / nDCG@10" for d in labels) + " | training (gate, epoch) |",
            "|---" * (3 + len(labels)) + "|"]
    for label, spec in systems:
        cells, info = [], ""
        for d in labels:
            m = scores.get((spec, d))
            cells.append(f"{m['metrics']['MRR@10']:.4f} / {m['metrics']['nDCG@10']:.4f}" if m else "")
            train = (m or {}).get("run_meta", {}).get("astgnn", {}).get("train")
            if train and not info:
                info = (f"{train['pairs']} pairs, {train['seconds']} s, gate {train['gate']}, "
                        f"epoch {train['best_epoch']}")
        rows.append(f"| {label} | `{spec}` | " + " | ".join(cells) + f" | {info} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-set", type=Path, default=Path("runs/site-packages-pairs"))
    parser.add_argument("--max-pairs", type=int, default=20000)
    parser.add_argument("--cosqa", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cosqa"))
    parser.add_argument("--out", type=Path, default=Path("runs/astgnn-ablation"))
    parser.add_argument("--options", default="", help="astgnn options added to every astgnn spec")
    args = parser.parse_args()
    if not (args.train_set / "build.json").is_file():
        subprocess.run([sys.executable, "-m", "rageval.data.code_pairs", str(args.train_set), "--max-pairs",
                        str(args.max_pairs), "--exclude", "code:stdlib", "--exclude", args.cosqa], check=True)
    systems = retrievers(args.train_set, args.options)
    datasets = ["code:stdlib", args.cosqa]
    run_args = [a for d in datasets for a in ("--dataset", d)] + [a for _, s in systems for a in ("--retriever", s)]
    rageval("run", *run_args, *[a for m in METRICS for a in ("--metric", m)], "--out", str(args.out))
    print(table(args.out, systems, datasets))
    baselines = [("dense", "dense"), ("projections-stdlib", systems[1][1]), ("projections-site", systems[4][1])]
    for name, baseline in baselines:
        rageval("compare", str(args.out), "--baseline", baseline, *[a for m in METRICS for a in ("--metric", m)],
                "--json", str(args.out / f"compare-vs-{name}.json"))


if __name__ == "__main__":
    main()

"""The report page at scale: 20 retrievers x 5 datasets x 10,000 queries.

    python bench/report.py [--systems 20] [--datasets 5] [--queries 10000]

Writes a synthetic output folder (metrics.json with intervals, ties and measure@k curves,
per_query.jsonl and queries.jsonl, as ``rageval run`` writes them), then times ``rageval report``
on it, prints the page's size, and times opening it in headless Chromium (Debian's, through
playwright) until every chart has rendered.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rageval.reporting.page import write_report
from rageval.store.run_folder import pair_folder, slug

MEASURES = ("nDCG@10", "MRR@10", "Recall@100", "Sufficiency@10")


def synthetic(out: Path, n_systems: int, n_datasets: int, n_queries: int) -> None:
    rng = np.random.default_rng(0)
    for d in range(n_datasets):
        dataset = f"dataset{d}.test"
        qids = [f"q{i}" for i in range(n_queries)]
        (out / slug(dataset)).mkdir(parents=True)
        with open(out / slug(dataset) / "queries.jsonl", "w") as f:
            f.writelines(json.dumps({"query_id": q, "text": f"what is the meaning of query number {q}?"}) + "\n"
                         for q in qids)
        for s in range(n_systems):
            system = f"bm25:k1={0.5 + s / 10:.1f}"
            folder = pair_folder(out, dataset, system)
            folder.mkdir(parents=True)
            values = {m: np.clip(rng.beta(2, 3, n_queries) + s / 100, 0, 1) for m in MEASURES}
            with open(folder / "per_query.jsonl", "w") as f:
                f.writelines(json.dumps({"query_id": q, **{m: float(values[m][i]) for m in MEASURES}}) + "\n"
                             for i, q in enumerate(qids))
            means = {m: float(v.mean()) for m, v in values.items()}
            curve = np.sort(rng.random(100)).tolist()
            (folder / "metrics.json").write_text(json.dumps({
                "dataset": dataset, "retriever": system, "metrics": means,
                "intervals": {m: [v - 0.01, v + 0.01] for m, v in means.items()},
                "ties": {m: {"queries_with_tie_at_cut": 0, "expected": v, "min": v, "max": v} for m, v in means.items()},
                "curves": {"Recall": curve, "nDCG": curve, "Sufficiency": curve},
                "n_queries": n_queries, "run": {"dataset": dataset, "retriever": system, "chunker": None,
                                                "config": {"name": "bm25", "k1": 0.5 + s / 10}},
                "timings": {"index_s": 1.0, "search_s": 0.5, "index_bytes": 1 << 20},
                "versions": {"rageval": "0.1.0"}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=int, default=20)
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--queries", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs"
        synthetic(out, args.systems, args.datasets, args.queries)
        start = time.perf_counter()
        page = write_report(out)
        written = time.perf_counter() - start
        print(f"{args.systems} systems x {args.datasets} datasets x {args.queries} queries")
        print(f"written in {written:.2f} s, {page.stat().st_size / 1e6:.2f} MB")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            tab = browser.new_page(viewport={"width": 1300, "height": 900})
            start = time.perf_counter()
            tab.goto(page.as_uri())
            tab.wait_for_function("Array.from(document.querySelectorAll('.chart')).every(c => c.querySelector("
                                  "'svg, canvas'))", timeout=120_000)
            print(f"opened with every chart rendered in {time.perf_counter() - start:.2f} s")
            browser.close()


if __name__ == "__main__":
    main()

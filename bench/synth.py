"""How far to trust a synthetic span benchmark: the leaderboard of chunker x retriever configurations
on human-written questions against the leaderboard on synthetic ones, as Kendall's tau.

    python bench/synth.py [--xquad ../shared/datasets/xquad_en] [--requests 40] [--out /tmp/rageval-bench-synth]

xquad_en (SQuAD v1.1 dev paragraphs, human questions with answer spans) is scored by 8 configurations
(recursive chunks of 100 / 200 / 400 / 800 characters x bm25 / dense) on span_recall@5 and IoU@5:
1. with its human questions;
2. with questions made by the bundled local model (``local``, SmolLM2-135M-Instruct) over the same
   paragraphs, ``--requests`` requests, the default filters;
3. with questions replayed by a scripted generator (``Replay``, in this file): for each window it answers
   with a human question of that paragraph and, as reference, the sentence holding the human answer.
   Not a model: it measures what the pipeline itself (windows, verification, the default filters,
   sentence references instead of answer spans) does to the leaderboard, and, run with each filter alone,
   how many genuine human questions each filter drops;
4. ``headings`` over the documentation files (.md / .rst) shipped in the installed packages, scored by the
   same 8 configurations (its own leaderboard: no model-made set of that corpus to hold it against when the
   local model keeps nothing).
Every synthetic set prints its kept / dropped counts. Tau is over the 8 configurations, per measure.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sysconfig
from pathlib import Path
from typing import Any, Iterator, Sequence

from scipy.stats import kendalltau

import rageval
from rageval import Generator, load_dataset

CHUNKERS = ["recursive:size=100", "recursive:size=200", "recursive:size=400", "recursive:size=800"]
RETRIEVERS = ["bm25", "dense"]
METRICS = ["span_recall@5", "IoU@5"]


class Replay(Generator):
    """Answers a window with a human question of its paragraph (the next one not yet kept) and the sentence
    that holds the human answer, as JSON."""

    name = "replay"

    def __init__(self, dataset: Any):
        super().__init__()
        self.by_text: dict[str, list[tuple[str, str]]] = {}
        spans = dataset.spans or {}
        for qid, text in zip(dataset.queries.ids, dataset.queries.texts):
            for doc_id, start, end in spans.get(qid, [])[:1]:
                doc = dataset.corpus.texts[dataset.corpus.position(doc_id)]
                self.by_text.setdefault(doc, []).append((text, _sentence(doc, start, end)))

    def identity(self) -> dict[str, Any]:
        return {"kind": "replay of xquad_en's human questions", "questions": len(self.by_text)}

    def complete(self, prompts: Sequence[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        import json

        for i, prompt in enumerate(prompts):
            window = prompt.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
            asked = set(re.findall(r"^- (.*)$", prompt.split("<<<\n", 1)[0], flags=re.M))
            choices = [qa for qa in self.by_text.get(window, []) if qa[0] not in asked]
            yield i, json.dumps({"question": choices[0][0], "references": [choices[0][1]]}) if choices else "{}"


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` that holds characters start:end."""
    left = max(text.rfind(". ", 0, start) + 2, 0) if text.rfind(". ", 0, start) >= 0 else 0
    right = text.find(". ", end)
    return text[left:right + 1 if right >= 0 else len(text)].strip()


def leaderboard(spec: str, out: Path) -> dict[str, dict[str, float]]:
    """Every configuration's means on ``spec``."""
    outcomes = rageval.benchmark(spec, RETRIEVERS, METRICS, k=5, chunkers=CHUNKERS, out=out)
    return {o.system: o.means for o in outcomes if not o.error}


def taus(human: dict, synthetic: dict) -> str:
    shared = sorted(set(human) & set(synthetic))
    parts = []
    for metric in METRICS:
        tau, p = kendalltau([human[s][metric] for s in shared], [synthetic[s][metric] for s in shared])
        parts.append(f"{metric} tau {tau:+.3f} (p {p:.3f})")
    return f"{len(shared)} configurations: " + ", ".join(parts)


def show(name: str, board: dict) -> None:
    print(f"\n{name}")
    for system, means in sorted(board.items(), key=lambda kv: -kv[1][METRICS[0]]):
        print(f"  {system:<32}" + "".join(f"{m} {means[m]:.4f}  " for m in METRICS))


def counts(manifest: dict) -> str:
    c = manifest["counts"]
    return f"kept {c['kept']} in {c['requests']} requests, dropped {c['dropped']}"


def package_docs(folder: Path, limit: int = 300) -> Path:
    """Up to ``limit`` .md / .rst files of the installed packages, copied into ``folder``."""
    site = Path(sysconfig.get_paths()["purelib"])
    found = sorted(p for p in site.rglob("*") if p.suffix in (".md", ".rst") and p.is_file() and p.stat().st_size > 500)
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(found[:limit]):
        shutil.copyfile(path, folder / f"{i:04d}-{path.name}")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xquad", default="../shared/datasets/xquad_en")
    ap.add_argument("--requests", type=int, default=40, help="requests of the local model")
    ap.add_argument("--out", default="/tmp/rageval-bench-synth")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    spec = f"beir:{args.xquad}"
    human = leaderboard(spec, out / "runs-human")
    show("human questions (xquad_en, 1190)", human)

    try:
        manifest = rageval.synth(spec, "local:max_new_tokens=256", n=args.requests, out=out / "synth-local",
                                 max_requests=args.requests)
        print(f"\nlocal model: {counts(manifest)}")
    except rageval.RagevalError as e:  # nothing kept: the error gives the counts
        print(f"\nlocal model: {e}")
        manifest = {"counts": {"kept": 0}}
    if manifest["counts"]["kept"] >= 2:
        local = leaderboard(f"docs:{out / 'synth-local'}", out / "runs-local")
        show("local model's questions", local)
        print("tau human vs local:", taus(human, local))

    replay = Replay(load_dataset(spec))
    for filters in ("none", "leak", "relevance", "duplicate", "roundtrip"):  # what each filter does to human questions
        manifest = rageval.synth(spec, replay, n=400, out=out / f"synth-replay-{filters}", max_requests=1200,
                                 filters=filters)
        print(f"replay, --filter {filters}: {counts(manifest)}")
    manifest = rageval.synth(spec, replay, n=400, out=out / "synth-replay", max_requests=1200)
    print(f"\nreplay: {counts(manifest)}")
    replayed = leaderboard(f"docs:{out / 'synth-replay'}", out / "runs-replay")
    show("replayed human questions through the pipeline", replayed)
    print("tau human vs replay:", taus(human, replayed))

    docs = package_docs(out / "package-docs")
    manifest = rageval.synth(f"docs:{docs}", "headings", n=300, out=out / "synth-headings", filters="none")
    print(f"\nheadings over {len(list(docs.iterdir()))} documentation files: {counts(manifest)}")
    show("headings' questions", leaderboard(f"docs:{out / 'synth-headings'}", out / "runs-headings"))


if __name__ == "__main__":
    main()

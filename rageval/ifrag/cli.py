"""``rageval ifrag build`` and ``rageval ifrag score``."""
from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

from rageval import registry
from rageval.errors import RagevalError
from rageval.ifrag.builder import build
from rageval.ifrag.followrag_table import RATING_PROMPT, rate, read_prompt, table
from rageval.ifrag.instructions import SEMANTICS
from rageval.ifrag.scoring import match, read_responses, score
from rageval.ifrag.testset import read_testset, write_testset
from rageval.reporting.leaderboard import table as text_table
from rageval.scoring.significance import check_seed
from rageval.store.files import output_file, write_json, write_jsonl


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ifrag", help="build and score instruction-following RAG test sets")
    commands = p.add_subparsers(dest="ifrag_command", required=True)
    b = commands.add_parser("build", help="questions with gold answers + retrieved passages + instructions -> JSONL")
    b.add_argument("--dataset", required=True, metavar="SPEC", help="a dataset whose queries carry answers")
    b.add_argument("--split", help="qrels split (default: test, or the only one)")
    b.add_argument("--retriever", default="bm25", metavar="SPEC", help="retriever of the passages (default bm25)")
    b.add_argument("--k", type=registry.number_option(int), default=3, help="passages per item (default 3)")
    b.add_argument("--n", type=registry.number_option(int), default=200, help="items (default 200)")
    b.add_argument("--max-instructions", type=registry.number_option(int), default=3, help="instructions per item: 1..M (default 3)")
    b.add_argument("--seed", type=registry.number_option(int), default=0, help="same seed, same file (default 0)")
    b.add_argument("--format", choices=("jsonl", "followrag"), default="jsonl",
                   help="jsonl (rageval's schema, default) or followrag (FollowRAG's published JSON array)")
    b.add_argument("--out", required=True, help="test set file to write")
    s = commands.add_parser("score", help="score responses (from a file or a generator) against a test set")
    s.add_argument("--testset", required=True, help="a test set: rageval's JSONL or FollowRAG's published JSON array")
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--responses", help='JSONL or JSON array of {"key" or "id", "response"} '
                                            '(or IFEval\'s {"prompt", "response"})')
    source.add_argument("--generator", metavar="SPEC", help="generate the responses, e.g. local or openai:model=...")
    s.add_argument("--semantics", choices=SEMANTICS, default="ifeval",
                   help="instruction verdicts: ifeval (the reference checkers', default) or rageval (stricter)")
    s.add_argument("--protocol", choices=("rageval", "followrag"), default="rageval",
                   help="followrag: FollowRAG's IF / RAG / Avg table (RAG needs --judge)")
    s.add_argument("--judge", metavar="SPEC", help="a generator to judge answer correctness (LLM as judge)")
    s.add_argument("--judge-prompt", metavar="FILE", help="the followrag judge's prompt, with {question}, "
                                                          "{answer_gold} and {response}")
    s.add_argument("--partial", action="store_true", help="score the matched items when keys do not match")
    s.add_argument("--sample", type=registry.number_option(int), metavar="N", help="score a seeded random sample of N items (for slow generators)")
    s.add_argument("--seed", type=registry.number_option(int), default=0, help="seed of --sample (default 0)")
    s.add_argument("--out", help="scores JSON (default: <testset>.scores.json)")


def run_build(args: argparse.Namespace) -> int:
    output_file(args.out, "--out")
    check_seed(args.seed)
    items = build(args.dataset, args.retriever, args.n, args.max_instructions, args.seed, args.k, args.split)
    write_testset(Path(args.out), items, args.format, default_type=items[0].extra["source"]["dataset"])
    kinds = Counter(i.id for item in items for i in item.instructions)
    print(text_table(["instruction", "items"], [[iid, n] for iid, n in sorted(kinds.items())]))
    print(f"\n{len(items)} items, {sum(kinds.values())} instructions: {args.out}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    testset = Path(args.testset)
    out = output_file(args.out, "--out") or testset.with_suffix(".scores.json")
    check_seed(args.seed)
    if out.resolve() == testset.resolve():
        raise RagevalError(f"--out {out} is the test set itself: give another file")
    prompt = read_prompt(Path(args.judge_prompt)) if args.judge_prompt else RATING_PROMPT
    items = read_testset(testset)
    if args.sample is not None:
        if args.sample < 1:
            raise RagevalError(f"--sample must be at least 1, got {args.sample}")
        keep = set(random.Random(args.seed).sample(range(len(items)), min(args.sample, len(items))))
        items = [item for i, item in enumerate(items) if i in keep]
    judge = registry.create("generators", args.judge) if args.judge else None
    if args.generator:
        generator = registry.create("generators", args.generator)
        texts = generator.generate([item.prompt for item in items])
        responses = {str(item.key): text for item, text in zip(items, texts)}
        saved = out.with_suffix(".responses.jsonl")
        write_jsonl(saved, ({"key": item.key, "response": text} for item, text in zip(items, texts)))
        print(f"responses: {saved}")
        source = args.generator
    else:
        responses = read_responses(Path(args.responses), items)
        source = args.responses
    if args.sample is not None:  # responses to items outside the sample are not "extra"
        wanted = {str(item.key) for item in items}
        responses = {k: v for k, v in responses.items() if k in wanted}
    matched = match(items, responses, args.partial, source)
    followrag = args.protocol == "followrag"
    results = score(matched, responses, None if followrag else judge, args.semantics)
    results = {"testset": str(testset), "responses": source, "judge": args.judge, "protocol": args.protocol,
               "sample": {"n": args.sample, "seed": args.seed} if args.sample is not None else None,
               "n_items_in_testset": len(items), **results}
    if followrag:
        ratings = rate(judge, matched, responses, prompt) if judge else None
        results["followrag"] = table(results["per_item"], ratings)
        if ratings is not None:
            results["judge_prompt"] = prompt
            for row, rating in zip(results["per_item"], ratings):
                row["rating"] = rating
        _print_followrag(results["followrag"], judge is not None, args.semantics)
    else:
        _print_measures(results, judge is not None)
    write_json(out, results)
    print(f"\n{results['n_items']} items scored ({args.semantics} semantics): {out}")
    return 0


def _print_measures(results: dict, judged: bool) -> None:
    overall = [["prompt-level strict", results["prompt_level"]["strict"]],
               ["prompt-level loose", results["prompt_level"]["loose"]],
               ["instruction-level strict", results["instruction_level"]["strict"]],
               ["instruction-level loose", results["instruction_level"]["loose"]],
               ["answer exact match", results["answer"]["exact_match"]], ["answer F1", results["answer"]["f1"]],
               ["answer recall", results["answer"]["recall"]],
               ["K-precision", results["faithfulness"]["k_precision"]]]
    if judged:
        overall.append([f"judge correct ({results['judge']['judged']} judged)", results["judge"]["correct"]])
    print(text_table(["measure", "value"], [[m, f"{v:.4f}"] for m, v in overall]))
    print()
    print(text_table(["instruction", "n", "strict", "loose"],
                [[iid, r["n"], f"{r['strict']:.4f}", f"{r['loose']:.4f}"] for iid, r in results["per_instruction"].items()]))


def _print_followrag(rows: dict, judged: bool, semantics: str) -> None:
    def cell(value):
        return "-" if value is None else f"{value:.2f}"

    print(text_table(["subset", "items", "IF", "RAG", "Avg"],
                [[name, r["n_items"], cell(r["IF"]), cell(r["RAG"]), cell(r["Avg"])] for name, r in rows.items()]))
    print(f"\nIF = loose instruction-level accuracy x 100 ({semantics} semantics)")
    if not judged:
        print("RAG and Avg need --judge SPEC: a generator that rates each response against answer_gold (0 / 0.5 / 1)")

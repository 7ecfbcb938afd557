"""``rageval synth``: a span benchmark made from a folder of documents by a model (or from headings)."""
from __future__ import annotations

import argparse
import json

from rageval.errors import RagevalError
from rageval.registry import number_option
from rageval.synthesis.filters import DEFAULT_FILTERS, FILTERS, FilterSettings
from rageval.synthesis.pipeline import HEADINGS, first_prompt, is_headings, synth

EXAMPLES = """examples:
  rageval synth --dataset docs:path/to/folder --generator local --n 50 --out bench-synth
  rageval synth --dataset docs:path/to/folder --n 200 --concurrency 4 --out bench-synth \
      --generator openai:base_url=http://localhost:11434/v1,model=qwen3:8b
  rageval synth --dataset docs:path/to/folder --generator headings --n 100 --filter leak --out bench-headings
  rageval run --dataset docs:bench-synth --chunker recursive:size=400 --retriever bm25 --retriever dense"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = FilterSettings()
    p = sub.add_parser("synth", help="make a span benchmark from your own documents with a model, every span verified",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, metavar="SPEC",
                   help="the documents: docs:PATH (a folder; no questions needed), beir:PATH, irds:ID, ...")
    p.add_argument("--generator", required=True, metavar="SPEC",
                   help=f"local, openai:base_url=...,model=..., a plugin generator, or {HEADINGS} (no model: section "
                        "titles become questions)")
    p.add_argument("--n", type=number_option(int), required=True, help="questions to keep")
    p.add_argument("--out", required=True, help="the benchmark folder to write (new, empty, or an earlier synth folder)")
    p.add_argument("--window", type=number_option(int), default=4000,
                   help="characters of a document shown per request (default 4000, as published)")
    p.add_argument("--max-references", type=number_option(int), default=5, help="references a question may have (default 5)")
    p.add_argument("--seed", type=number_option(int), default=0, help="seed of the windows drawn (default 0)")
    p.add_argument("--max-requests", type=number_option(int), metavar="N",
                   help="requests at most (default 3 x --n; it stops earlier when --n questions are kept, or when every "
                        "window was asked since its document's last kept question)")
    p.add_argument("--filter", default=",".join(DEFAULT_FILTERS), metavar="LIST",
                   help=f"comma list of {', '.join(FILTERS)}, or none (default {','.join(DEFAULT_FILTERS)})")
    p.add_argument("--relevance", type=number_option(float), default=d.relevance,
                   help=f"relevance filter: least mean cosine of the references to the question (default {d.relevance})")
    p.add_argument("--duplicate", type=number_option(float), default=d.duplicate,
                   help=f"duplicate filter: most cosine to an earlier kept question (default {d.duplicate})")
    p.add_argument("--roundtrip", default=d.roundtrip, metavar="SPEC",
                   help=f"roundtrip filter: the retriever that must find a reference (default {d.roundtrip})")
    p.add_argument("--roundtrip-chunker", default=d.roundtrip_chunker, metavar="SPEC",
                   help=f"roundtrip filter: the chunker its retriever searches (default {d.roundtrip_chunker})")
    p.add_argument("--roundtrip-k", type=number_option(int), default=d.roundtrip_k,
                   help=f"roundtrip filter: how deep a reference's chunk must be found (default {d.roundtrip_k})")
    p.add_argument("--leak-words", type=number_option(int), default=d.leak_words,
                   help=f"leak filter: consecutive words of a reference a question may not copy (default {d.leak_words})")
    p.add_argument("--fuzzy", type=number_option(float), metavar="SCORE",
                   help="also locate a reference by fuzzy matching at this rapidfuzz score (0-100; off by default)")
    p.add_argument("--partial", action="store_true",
                   help="keep a question whose other references were found when one is not (default: drop it)")
    p.add_argument("--concurrency", type=number_option(int), default=1,
                   help="requests in flight at once (default 1: each prompt lists every question kept before it)")
    p.add_argument("--show-prompt", action="store_true", help="print the first request's prompt and stop (no request)")
    p.add_argument("-v", "--verbose", action="store_true", help="show debugging detail")


def run(args: argparse.Namespace) -> int:
    options = dict(window=args.window, max_references=args.max_references, seed=args.seed,
                   max_requests=args.max_requests, filters=args.filter, partial=args.partial, fuzzy=args.fuzzy,
                   concurrency=args.concurrency, relevance=args.relevance, duplicate=args.duplicate,
                   roundtrip=args.roundtrip, roundtrip_chunker=args.roundtrip_chunker, roundtrip_k=args.roundtrip_k,
                   leak_words=args.leak_words)
    if args.show_prompt:
        if is_headings(args.generator):
            raise RagevalError(f"--generator {HEADINGS} sends no prompt: --show-prompt shows a model's prompt")
        print(first_prompt(args.dataset, args.n, **options))
        return 0
    manifest = synth(args.dataset, args.generator, args.n, args.out, **options)
    counts = manifest["counts"]
    print(f"kept {counts['kept']} questions ({counts['references']} references) in {counts['requests']} requests; "
          f"dropped: {json.dumps(counts['dropped']) if counts['dropped'] else 'none'}; {args.out}")
    return 0

"""A CodeSearchNet-style training set from a source tree (by default the installed site-packages),
written as a BEIR folder that ``astgnn:train=PATH`` (or any trained retriever) reads.

Recipe (``python -m rageval.data.code_pairs OUT [--source site-packages] [--exclude SPEC]...``):
``code:PATH`` parses the tree (every function or method with a usable docstring summary: the
summary is the query, the code without its docstring the document; files split 80/10/10 by a hash
of their path, here train = train + test buckets, dev = the dev bucket). Then:

- dedup: documents whose normalised token sequence (comments and string literals dropped, the
  rest tokenised as identifiers, numbers and punctuation) is identical are kept once (the first id);
- leakage filter: a document is removed when its normalised body equals, or is a near duplicate
  of, any document of an excluded dataset's corpus (default ``code:stdlib`` and cosqa, every split).
  Near duplicate = Jaccard similarity >= ``threshold`` (0.7) of the sets of 5-token shingles,
  candidates found by MinHash LSH (32 hash functions: splitmix64 over seeded shingle hashes; 8 bands
  of 4 rows: a pair at Jaccard 0.7 is a
  candidate with probability 0.96, at 0.9 with 0.9999), every candidate checked exactly.

A tree with no documented function is an error naming it; one whose every pair is removed is refused.
The folder is written atomically (``build.json`` records sources, counts and settings); the same tree
and exclusions give the same bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import sysconfig
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rageval.data.loading import dataset_loader
from rageval.errors import DataError, RagevalError
from rageval.store.files import atomic_folder

FORMAT = 1
SHINGLE = 5
PERMUTATIONS, BANDS = 32, 8
DEFAULT_EXCLUDE = ("code:stdlib", "/work/shared/datasets/cosqa")
_STRIPPED = re.compile(r'(?s)""".*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|#[^\n]*')
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|[^\w\s]")


def normalised_tokens(code: str) -> list[str]:
    """The code's tokens without comments and string literals (so a docstring or a reworded comment
    does not hide a copy)."""
    return _TOKEN.findall(_STRIPPED.sub(" ", code))


def body_hash(tokens: Sequence[str]) -> str:
    return hashlib.sha1(" ".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()


def shingles(tokens: Sequence[str]) -> np.ndarray:
    """The distinct crc32 hashes of the ``SHINGLE``-token windows (the whole sequence when shorter)."""
    grams = [" ".join(tokens[i:i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))]
    return np.unique(np.array([zlib.crc32(g.encode("utf-8", "surrogatepass")) for g in grams], dtype=np.uint64))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (wrapping uint64 arithmetic): one hash function per seed xor-ed in."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class NearDuplicateIndex:
    """MinHash LSH over shingle sets, with an exact Jaccard check of every candidate."""

    def __init__(self, threshold: float = 0.7, seed: int = 0):
        self.seeds = np.random.default_rng(seed).integers(0, np.iinfo(np.uint64).max, PERMUTATIONS, dtype=np.uint64)
        self.threshold = threshold
        self.sets: list[np.ndarray] = []
        self.buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)

    def _bands(self, items: np.ndarray) -> list[tuple[int, bytes]]:
        signature = _mix(items[:, None] ^ self.seeds[None, :]).min(axis=0)
        rows = PERMUTATIONS // BANDS
        return [(band, signature[band * rows:(band + 1) * rows].tobytes()) for band in range(BANDS)]

    def add(self, items: np.ndarray) -> None:
        for band in self._bands(items):
            self.buckets[band].append(len(self.sets))
        self.sets.append(items)

    def matches(self, items: np.ndarray) -> bool:
        """Whether an indexed set has Jaccard similarity >= threshold with ``items``."""
        seen: set[int] = set()
        for band in self._bands(items):
            for i in self.buckets.get(band, ()):
                if i in seen:
                    continue
                seen.add(i)
                other = self.sets[i]
                common = len(np.intersect1d(items, other, assume_unique=True))
                if common / (len(items) + len(other) - common) >= self.threshold:
                    return True
        return False


class EvaluationSet:
    """The documents a training set must not contain: their normalised body hashes and near-duplicate index."""

    def __init__(self, threshold: float = 0.7):
        self.hashes: set[str] = set()
        self.index = NearDuplicateIndex(threshold)

    def add(self, texts: Iterable[str]) -> None:
        for text in texts:
            tokens = normalised_tokens(text)
            if body_hash(tokens) not in self.hashes:
                self.hashes.add(body_hash(tokens))
                self.index.add(shingles(tokens))

    def leak(self, text: str) -> str | None:
        """Why ``text`` is (a near copy of) an evaluation document, or None when it is not."""
        tokens = normalised_tokens(text)
        if body_hash(tokens) in self.hashes:
            return "same body as an evaluation document"
        if self.index.matches(shingles(tokens)):
            return "near duplicate of an evaluation document"
        return None


def evaluation_set(specs: Iterable[str], threshold: float) -> tuple[EvaluationSet, dict[str, int]]:
    """The evaluation set of every document of the datasets ``specs`` (all splits), and their sizes."""
    evaluation, sizes = EvaluationSet(threshold), {}
    for spec in specs:
        corpus = dataset_loader(spec, corpus_only=True).corpus()
        sizes[spec] = len(corpus)
        evaluation.add(corpus.texts)
    return evaluation, sizes


def filter_records(records: list[dict], evaluation: EvaluationSet) -> tuple[list[dict], Counter]:
    """``records`` without duplicate bodies (the first kept) and without copies or near copies of an
    evaluation document; the count of each removal."""
    kept, dropped, seen = [], Counter(), set()
    for r in records:
        leak = evaluation.leak(r["code"])
        digest = body_hash(normalised_tokens(r["code"]))
        if leak:
            dropped[leak] += 1
        elif digest in seen:
            dropped["duplicate body"] += 1
        else:
            seen.add(digest)
            kept.append(r)
    return kept, dropped


def source_records(source: str, language: str) -> tuple[Path, list[dict], dict]:
    """The documented functions of ``source`` (``site-packages``, or a folder) in ``language``."""
    from rageval.corpora.code import CodeLoader

    root = Path(sysconfig.get_paths()["purelib"]) if source == "site-packages" else Path(source)
    loader = CodeLoader(str(root))
    loader.check()
    records, stats = loader.records()
    records = [r for r in records if r["language"] == language]
    if not records:
        raise DataError(root, f"no {language} function with a usable docstring summary: nothing to build a "
                              f"training set from ({stats.get('functions', 0)} functions found, "
                              f"dropped: {stats.get('dropped') or 'none'})")
    return root, records, stats


def build(out: Path, source: str = "site-packages", exclude: Sequence[str] = DEFAULT_EXCLUDE,
          threshold: float = 0.7, language: str = "python", max_pairs: int | None = None) -> dict:
    """Write the training set of ``source`` (see the module docstring) to the BEIR folder ``out``, at
    most ``max_pairs`` pairs (those whose id hashes lowest: a fixed sample); its summary."""
    out = Path(out)
    if out.exists() and not (out / "build.json").is_file():
        raise DataError(out, "exists and is not a training set this command wrote: give a new folder")
    if not 0 < threshold <= 1:
        raise RagevalError(f"threshold={threshold}: a Jaccard threshold is in (0, 1]")
    if max_pairs is not None and max_pairs < 2:
        raise RagevalError(f"max_pairs={max_pairs}: a training set needs at least 2 pairs")
    root, records, stats = source_records(source, language)
    evaluation, sizes = evaluation_set(exclude, threshold)
    kept, dropped = filter_records(sorted(records, key=lambda r: r["id"]), evaluation)
    if not kept:
        raise DataError(root, f"every one of its {len(records)} pairs is (a near copy of) a document of the "
                              f"evaluation set ({', '.join(exclude)}): refused, nothing left to train on")
    available = len(kept)
    if max_pairs is not None and len(kept) > max_pairs:
        kept = sorted(sorted(kept, key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())[:max_pairs],
                      key=lambda r: r["id"])
    splits = {"train": [r for r in kept if r["split"] != "dev"], "dev": [r for r in kept if r["split"] == "dev"]}
    summary = {"format": FORMAT, "source": str(root), "language": language, "excluded": sizes,
               "threshold": threshold, "shingle": SHINGLE, "minhash": [PERMUTATIONS, BANDS],
               "functions": len(records), "dropped": dict(dropped), "kept": available, "max_pairs": max_pairs,
               "pairs": {k: len(v) for k, v in splits.items()},
               "parse": stats}
    with atomic_folder(out) as tmp:
        _write(tmp, kept, splits, summary)
    return summary


def _write(folder: Path, kept: list[dict], splits: dict[str, list[dict]], summary: dict) -> None:
    def lines(rows: Iterable[dict]) -> str:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    (folder / "corpus.jsonl").write_text(lines({"_id": r["id"], "title": r["name"], "text": r["code"],
                                                "language": r["language"], "path": r["path"]} for r in kept),
                                         encoding="utf-8")
    (folder / "queries.jsonl").write_text(lines({"_id": f"q:{r['id']}", "text": r["summary"]} for r in kept),
                                          encoding="utf-8")
    (folder / "qrels").mkdir()
    for split, rows in splits.items():
        (folder / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"q:{r['id']}\t{r['id']}\t1\n" for r in rows), encoding="utf-8")
    (folder / "build.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rageval.data.code_pairs", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the BEIR folder to write (new, or one this command wrote)")
    parser.add_argument("--source", default="site-packages", help="a source folder, or site-packages (default)")
    parser.add_argument("--exclude", action="append", help="an evaluation dataset spec whose documents are "
                        f"removed (repeatable; default {' and '.join(DEFAULT_EXCLUDE)})")
    parser.add_argument("--threshold", type=float, default=0.7, help="near-duplicate Jaccard threshold (0.7)")
    parser.add_argument("--language", default="python")
    parser.add_argument("--max-pairs", type=int, help="keep at most this many pairs (a fixed sample by id hash)")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.source, args.exclude or DEFAULT_EXCLUDE, args.threshold, args.language,
                        args.max_pairs)
    except RagevalError as e:
        print(f"rageval: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: {summary['pairs']['train']} train and {summary['pairs']['dev']} dev pairs from "
          f"{summary['functions']} documented functions ({summary['kept']} after filtering; "
          f"dropped: {summary['dropped'] or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

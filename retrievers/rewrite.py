"""``rewrite`` — query (and document) rewriting around any base retriever, named by spec.

Methods:

- ``rm3``: pseudo-relevance feedback (``rageval.retrievers.rm3``) for lexical bases that take weighted
  queries (``bm25``); no generator.
- ``gar``: the generator writes ``n`` exemplar answers (code snippets for code corpora) per
  query. Text bases search the original query repeated once per usable generation plus the
  generations; dense bases search the mean of the original and the generated query vectors.
- ``reco``: ``gar``, and every document is summarised and regenerated from its summary with the
  same template; documents combine with their rewrites the way queries do (text repeated, or the
  mean vector). Generations are cached, so the corpus is rewritten once per generator and prompts.
- ``multi``: the generator writes ``paraphrases`` rephrasings; the rankings of the original and
  each rephrasing are fused by reciprocal-rank fusion, sum of 1 / (rrf_k + rank).

``Rewrite`` composes two stages: one that indexes the documents (as they are, or with ``reco``'s
rewrites) and one that searches (rm3 feedback, generated queries, or fused paraphrases).

A generation that is empty or has no word character is unusable: the query (or document) falls
back to its original text, and ``run.json`` counts it under ``meta.rewrite.fallbacks``.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import numpy as np

from rageval import registry
from rageval.data.model import Corpus, Queries
from rageval.data.trec import Run
from rageval.errors import SpecError
from rageval.plugins import Retriever, VectorRetriever, WeightedQueryRetriever
from rageval.retrieval.fusion import fuse
from rageval.retrievers.rewrite_prompts import load_prompts
from rageval.retrievers.rm3 import expand
from rageval.store.index_cache import cached_index

_WORD = re.compile(r"\w")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")
_GENERATION_OPTIONS = ("generator", "n", "domain", "max_new_tokens")


def is_usable(text: str) -> bool:
    """Whether a generation can be used: non-empty with at least one word character."""
    return bool(_WORD.search(text))


def paraphrases(text: str, query: str, m: int) -> list[str]:
    """Up to ``m`` distinct rephrasings from a generation, one per line (list marks, quotes and
    header lines ending in ':' dropped; the query itself left out)."""
    found: list[str] = []
    seen = {query.strip().lower()}
    for line in text.splitlines():
        line = _LIST_MARK.sub("", line).strip().strip("\"'“”").strip()
        if not is_usable(line) or line.endswith(":") or line.lower() in seen:
            continue
        seen.add(line.lower())
        found.append(line)
        if len(found) == m:
            break
    return found


class Stage:
    """One step of a rewrite: ``uses`` names the options it reads and ``prompts`` the templates."""

    uses: ClassVar[tuple[str, ...]] = ()
    prompts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rewrite: "Rewrite"):
        self.rw = rewrite


class AsIs(Stage):
    """Documents indexed by the base as they are (its index cached when the base saves one)."""

    def index(self, corpus: Corpus) -> None:
        cached_index(self.rw.base, corpus)


class RegeneratedDocuments(Stage):
    """``reco``: every document summarised and regenerated from its summary; indexed with its rewrites."""

    uses = ("doc_chars",)
    prompts = ("reco_summary", "reco_summary_code")

    def index(self, corpus: Corpus) -> None:
        rw = self.rw
        contents = corpus.contents()
        summaries = rw.generator.generate([rw.prompt("reco_summary", document=t[:rw.options["doc_chars"]])
                                           for t in contents])
        rewrites: list[list[str]] = [[] for _ in contents]
        todo = [i for i, s in enumerate(summaries) if is_usable(s)]
        for i, texts in zip(todo, rw.generate([rw.prompt("gar", query=summaries[i]) for i in todo])):
            rewrites[i] = texts
        rw.fallbacks["documents"] = sum(1 for r in rewrites if not r)
        if isinstance(rw.base, VectorRetriever):
            def encode(texts: list[str]) -> np.ndarray:
                return rw.base.encode_corpus(Corpus(ids=[str(i) for i in range(len(texts))], texts=texts,
                                                    fields=("text",)))
            rw.base.index_vectors(corpus, mean_vectors(rw.base.encode_corpus(corpus), rewrites, encode))
        else:
            cached_index(rw.base, Corpus(ids=corpus.ids, texts=combine_texts(contents, rewrites), fields=("text",)))


class FeedbackQueries(Stage):
    """``rm3``: a first search, then the query expanded with its feedback documents' terms."""

    uses = ("fb_docs", "fb_terms", "original_weight")

    def __init__(self, rewrite: "Rewrite"):
        super().__init__(rewrite)
        if not isinstance(rewrite.base, WeightedQueryRetriever):
            raise SpecError(f"rewrite: method=rm3 needs a lexical base that takes weighted queries (bm25), "
                            f"not {rewrite.options['base']!r}")
        self._terms: dict[int, list[str]] = {}

    def search(self, queries: Queries, k: int) -> Run:
        rw, opts = self.rw, self.rw.options
        analyzer, contents = rw.base.analyzer, rw.corpus.contents()
        first = rw.base.search(queries, opts["fb_docs"])
        weighted = []
        for text, positions, scores in zip(queries.texts, first.indices, first.scores):
            docs = []
            for pos in positions[positions >= 0]:
                if pos not in self._terms:
                    self._terms[pos] = analyzer.tokenize(contents[pos])
                docs.append(self._terms[pos])
            weighted.append(expand(analyzer.tokenize(text), docs, scores[positions >= 0].tolist(),
                                   opts["fb_terms"], opts["original_weight"]))
        return rw.base.search_weighted(queries.ids, weighted, k)


class GeneratedQueries(Stage):
    """``gar``: the query with ``n`` generated answers (repeated text, or the mean vector)."""

    prompts = ("gar", "gar_code")

    def search(self, queries: Queries, k: int) -> Run:
        rw = self.rw
        generated = rw.generate([rw.prompt("gar", query=q) for q in queries.texts])
        rw.fallbacks["queries"] = sum(1 for g in generated if not g)
        if isinstance(rw.base, VectorRetriever):
            vectors = mean_vectors(rw.base.encode_texts(queries.texts), generated, rw.base.encode_texts)
            return rw.base.search_vectors(queries.ids, vectors, k)
        expanded = Queries(queries.ids, combine_texts(queries.texts, generated), queries.instructions, queries.metas)
        return rw.base.search(expanded, k)


class FusedParaphrases(Stage):
    """``multi``: the query and its generated rephrasings searched apart, fused by ``rageval.retrieval.fusion.fuse`` (rrf)."""

    uses = ("paraphrases", "rrf_k")
    prompts = ("multi",)

    def search(self, queries: Queries, k: int) -> Run:
        rw, opts = self.rw, self.rw.options
        answers = rw.generator.generate([rw.prompts["multi"].format(m=opts["paraphrases"], query=q)
                                         for q in queries.texts], **rw.length())
        variants = [[q, *paraphrases(a, q, opts["paraphrases"])] for q, a in zip(queries.texts, answers)]
        rw.fallbacks["queries"] = sum(1 for v in variants if len(v) == 1)
        flat = [(qid, j, text) for qid, texts in zip(queries.ids, variants) for j, text in enumerate(texts)]
        searched = rw.base.search(Queries([str(i) for i in range(len(flat))], [t for _, _, t in flat]), k)
        runs = []
        for j in range(max(map(len, variants))):  # the j-th rephrasing of every query that has one
            rows = [i for i, (_, jj, _) in enumerate(flat) if jj == j]
            runs.append(Run([flat[i][0] for i in rows], searched.doc_ids, searched.indices[rows], searched.scores[rows]))
        return fuse(runs, "rrf", opts["rrf_k"], depth=k)


STAGES: dict[str, tuple[type[Stage], type[Stage]]] = {
    "rm3": (AsIs, FeedbackQueries), "gar": (AsIs, GeneratedQueries),
    "reco": (RegeneratedDocuments, GeneratedQueries), "multi": (AsIs, FusedParaphrases)}


def combine_texts(originals: Sequence[str], generated: Sequence[list[str]]) -> list[str]:
    """Each text repeated once per generation, then its generations."""
    return [" ".join([text] * max(1, len(gen)) + gen) for text, gen in zip(originals, generated)]


def mean_vectors(original: np.ndarray, generated: Sequence[list[str]], encode) -> np.ndarray:
    """Each vector averaged with its generations' vectors."""
    flat = [t for gen in generated for t in gen]
    if not flat:
        return original
    vectors = encode(flat)
    out = np.array(original, dtype=np.float32)
    row = 0
    for i, gen in enumerate(generated):
        if gen:
            out[i] = (original[i] + vectors[row:row + len(gen)].sum(axis=0)) / (len(gen) + 1)
            row += len(gen)
    return out


class Rewrite(Retriever):
    """Query rewriting around a base retriever: rm3 feedback, gar / reco generation, multi-query RRF."""

    name = "rewrite"
    none_means = {"max_new_tokens": "the generator's own", "prompts": "the built-in prompts"}

    def __init__(self, base: str = "bm25", method: Literal["rm3", "gar", "reco", "multi"] = "rm3",
                 generator: str = "local", fb_docs: int = 10, fb_terms: int = 10, original_weight: float = 0.5,
                 n: int = 1, temperature: float = 0.7, paraphrases: int = 3, rrf_k: int = 60,
                 domain: Literal["auto", "text", "code"] = "auto", doc_chars: int = 2000,
                 max_new_tokens: int | None = None, prompts: Path | None = None):
        if min(fb_docs, fb_terms, n, paraphrases, doc_chars) < 1 or rrf_k < 0 or not 0 <= original_weight <= 1:
            raise SpecError("rewrite: fb_docs, fb_terms, n, paraphrases and doc_chars must be positive, "
                            "rrf_k >= 0 and 0 <= original_weight <= 1")
        if base.split(":", 1)[0] == "rewrite":
            raise SpecError("rewrite: the base must be another retriever, not rewrite")
        self.base = registry.create("retrievers", base)
        self.method = method
        self.prompts = load_prompts(prompts)
        self.generator = registry.create("generators", generator) if method != "rm3" else None
        documents, searching = STAGES[method]
        self.documents, self.searching = documents(self), searching(self)
        self.fallbacks: Counter[str] = Counter()

    def config(self) -> dict:
        """The options the two stages read (and the generator's with its prompts), the base's config."""
        opts = self.options
        used = ["base", "method"]
        if self.generator:
            used += [*_GENERATION_OPTIONS, *(["temperature"] if opts["n"] > 1 else [])]
        used += [*self.searching.uses, *self.documents.uses]
        prompts = {p: self.prompts[p] for stage in (self.searching, self.documents) for p in stage.prompts}
        return {"name": self.name, **{k: opts[k] for k in used}, "base": self.base.config(),
                **({"generator": self.generator.config(), "prompts": prompts} if self.generator else {})}

    # -- what the stages share ---------------------------------------------------------------

    def prompt(self, name: str, **fields: object) -> str:
        """The template ``name`` (its ``_code`` variant on a code corpus), filled."""
        return self.prompts[f"{name}_code" if self.code and f"{name}_code" in self.prompts else name].format(**fields)

    def length(self) -> dict[str, int]:
        """The generation length option, when the spec sets one (else the generator's own)."""
        n = self.options["max_new_tokens"]
        return {} if n is None else {"max_new_tokens": n}

    def generate(self, prompts: Sequence[str]) -> list[list[str]]:
        """``n`` usable generations per prompt (greedy for n = 1, else sampled with seeds 0..n-1)."""
        n = self.options["n"]
        outputs: list[list[str]] = [[] for _ in prompts]
        for j in range(n):
            sampled = {} if n == 1 else {"temperature": self.options["temperature"], "seed": j}
            for row, text in enumerate(self.generator.generate(list(prompts), **self.length(), **sampled)):
                if is_usable(text):
                    outputs[row].append(text)
        return outputs

    # -- index and search -------------------------------------------------------------------

    def index(self, corpus: Corpus) -> None:
        domain = self.options["domain"]
        self.corpus = corpus
        self.code = domain == "code" or (domain == "auto" and "language" in corpus.metas[0])
        self.fallbacks.clear()
        self.searching = type(self.searching)(self)  # nothing cached from another corpus
        self.documents.index(corpus)

    def search(self, queries: Queries, k: int) -> Run:
        run = self.searching.search(queries, k)
        run.meta["rewrite"] = {"method": self.method, "fallbacks": dict(self.fallbacks),
                               **({"generator_calls": self.generator.calls} if self.generator else {})}
        return run


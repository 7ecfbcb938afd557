"""``rewrite`` — query (and document) rewriting around any base retriever, named by spec.

Methods:

- ``rm3``: pseudo-relevance feedback (``retrievers.rm3``) for lexical bases that take weighted
  queries (``bm25``); no generator.
- ``gar``: the generator writes ``n`` exemplar answers (code snippets for code corpora) per
  query. Text bases search the original query repeated once per usable generation plus the
  generations; dense bases search the mean of the original and the generated query vectors.
- ``reco``: ``gar``, and every document is summarised and regenerated from its summary with the
  same template; documents combine with their rewrites the way queries do (text repeated, or the
  mean vector). Generations are cached, so the corpus is rewritten once per generator and prompts.
- ``multi``: the generator writes ``paraphrases`` rephrasings; the rankings of the original and
  each rephrasing are fused by reciprocal-rank fusion, sum of 1 / (rrf_k + rank).

A generation that is empty or has no word character is unusable: the query (or document) falls
back to its original text, and ``run.json`` counts it under ``meta.rewrite.fallbacks``.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from rageval import registry
from rageval.data import Corpus, Queries
from rageval.errors import SpecError
from rageval.plugins import Retriever
from rageval.runs import Run
from rageval.topk import top_k

from .rewrite_prompts import load_prompts
from .rm3 import expand

_PROMPTS_USED = {"rm3": (), "gar": ("gar", "gar_code"), "multi": ("multi",),
                 "reco": ("gar", "gar_code", "reco_summary", "reco_summary_code")}
_WORD = re.compile(r"\w")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\(\d+\))\s*")


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


class Rewrite(Retriever):
    """Query rewriting around a base retriever: rm3 feedback, gar / reco generation, multi-query RRF."""

    name = "rewrite"

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
        self.method, self.domain = method, domain
        self.dense = all(hasattr(self.base, m) for m in ("encode_texts", "encode_corpus", "index_vectors",
                                                          "search_vectors"))
        if method == "rm3" and not (hasattr(self.base, "search_weighted") and hasattr(self.base, "analyzer")):
            raise SpecError(f"rewrite: method=rm3 needs a lexical base that takes weighted queries (bm25), "
                            f"not {base!r}")
        self.prompts = load_prompts(prompts)
        self.generator = registry.create("generators", generator) if method != "rm3" else None
        self.fb_docs, self.fb_terms, self.original_weight = fb_docs, fb_terms, original_weight
        self.n, self.temperature, self.m, self.rrf_k = n, temperature, paraphrases, rrf_k
        self.doc_chars, self.max_new_tokens = doc_chars, max_new_tokens
        self.options = {"base": base, "method": method}
        if method == "rm3":
            self.options.update(fb_docs=fb_docs, fb_terms=fb_terms, original_weight=original_weight)
        else:
            self.options.update(generator=generator, n=n, domain=domain, max_new_tokens=max_new_tokens,
                                **({"temperature": temperature} if n > 1 else {}),
                                **({"paraphrases": paraphrases, "rrf_k": rrf_k} if method == "multi" else {}),
                                **({"doc_chars": doc_chars} if method == "reco" else {}))
        self.fallbacks: Counter[str] = Counter()

    def config(self) -> dict:
        used = {name: self.prompts[name] for name in _PROMPTS_USED[self.method]}
        return {"name": self.name, **self.options, "base": self.base.config(),
                **({"generator": self.generator.config(), "prompts": used} if self.generator else {})}

    # -- generation -------------------------------------------------------------------------

    def _prompt(self, name: str, **fields: object) -> str:
        return self.prompts[f"{name}_code" if self.code and f"{name}_code" in self.prompts else name].format(**fields)

    def _length(self) -> dict[str, int]:
        """The generation length option, when the spec sets one (else the generator's own)."""
        return {} if self.max_new_tokens is None else {"max_new_tokens": self.max_new_tokens}

    def _generate(self, prompts: Sequence[str]) -> list[list[str]]:
        """``n`` usable generations per prompt (greedy for n = 1, else sampled with seeds 0..n-1)."""
        outputs: list[list[str]] = [[] for _ in prompts]
        for j in range(self.n):
            sampled = {} if self.n == 1 else {"temperature": self.temperature, "seed": j}
            for row, text in enumerate(self.generator.generate(list(prompts), **self._length(), **sampled)):
                if is_usable(text):
                    outputs[row].append(text)
        return outputs

    def _rewrite_documents(self, corpus: Corpus) -> list[list[str]]:
        contents = corpus.contents()
        summaries = self.generator.generate([self._prompt("reco_summary", document=t[:self.doc_chars])
                                             for t in contents])
        rewrites: list[list[str]] = [[] for _ in contents]
        todo = [i for i, s in enumerate(summaries) if is_usable(s)]
        for i, texts in zip(todo, self._generate([self._prompt("gar", query=summaries[i]) for i in todo])):
            rewrites[i] = texts
        self.fallbacks["documents"] = sum(1 for r in rewrites if not r)
        return rewrites

    def _combine_texts(self, originals: Sequence[str], generated: Sequence[list[str]]) -> list[str]:
        return [" ".join([text] * max(1, len(gen)) + gen) for text, gen in zip(originals, generated)]

    def _mean_vectors(self, original: np.ndarray, generated: Sequence[list[str]], encode) -> np.ndarray:
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

    # -- index and search -------------------------------------------------------------------

    def index(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.code = self.domain == "code" or (self.domain == "auto" and "language" in corpus.metas[0])
        self.fallbacks.clear()
        if self.method == "rm3":
            self._feedback_terms: dict[int, list[str]] = {}
        if self.method != "reco":
            self.base.index(corpus)
            return
        rewrites = self._rewrite_documents(corpus)
        if self.dense:
            def encode(texts: list[str]) -> np.ndarray:
                return self.base.encode_corpus(Corpus(ids=[str(i) for i in range(len(texts))], texts=texts,
                                                      fields=("text",)))
            self.base.index_vectors(corpus, self._mean_vectors(self.base.encode_corpus(corpus), rewrites, encode))
        else:
            texts = self._combine_texts(corpus.contents(), rewrites)
            self.base.index(Corpus(ids=corpus.ids, texts=texts, fields=("text",)))

    def search(self, queries: Queries, k: int) -> Run:
        if self.method == "rm3":
            run = self._rm3(queries, k)
        elif self.method == "multi":
            run = self._multi(queries, k)
        else:
            run = self._gar(queries, k)
        run.meta["rewrite"] = {"method": self.method, "fallbacks": dict(self.fallbacks),
                               **({"generator_calls": self.generator.calls} if self.generator else {})}
        return run

    def _rm3(self, queries: Queries, k: int) -> Run:
        analyzer, contents = self.base.analyzer, self.corpus.contents()
        first = self.base.search(queries, self.fb_docs)
        weighted = []
        for text, positions, scores in zip(queries.texts, first.indices, first.scores):
            docs = []
            for pos in positions[positions >= 0]:
                if pos not in self._feedback_terms:
                    self._feedback_terms[pos] = analyzer.tokenize(contents[pos])
                docs.append(self._feedback_terms[pos])
            weighted.append(expand(analyzer.tokenize(text), docs, scores[positions >= 0].tolist(),
                                   self.fb_terms, self.original_weight))
        return self.base.search_weighted(queries.ids, weighted, k)

    def _gar(self, queries: Queries, k: int) -> Run:
        generated = self._generate([self._prompt("gar", query=q) for q in queries.texts])
        self.fallbacks["queries"] = sum(1 for g in generated if not g)
        if self.dense:
            vectors = self._mean_vectors(self.base.encode_texts(queries.texts), generated, self.base.encode_texts)
            return self.base.search_vectors(queries.ids, vectors, k)
        expanded = Queries(queries.ids, self._combine_texts(queries.texts, generated), queries.instructions,
                           queries.metas)
        return self.base.search(expanded, k)

    def _multi(self, queries: Queries, k: int) -> Run:
        answers = self.generator.generate([self.prompts["multi"].format(m=self.m, query=q) for q in queries.texts],
                                          **self._length())
        variants = [[q, *paraphrases(a, q, self.m)] for q, a in zip(queries.texts, answers)]
        self.fallbacks["queries"] = sum(1 for v in variants if len(v) == 1)
        owners = [row for row, v in enumerate(variants) for _ in v]
        flat = [t for v in variants for t in v]
        runs = self.base.search(Queries([str(i) for i in range(len(flat))], flat), k)
        fused: list[Counter[int]] = [Counter() for _ in variants]
        for owner, positions in zip(owners, runs.indices):
            for rank, pos in enumerate(positions[positions >= 0], start=1):
                fused[owner][int(pos)] += 1.0 / (self.rrf_k + rank)
        tie_rank = self.corpus.id_ranks()
        indices = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float64)
        for row, ranked in enumerate(fused):
            if ranked:
                pos, val = top_k(np.fromiter(ranked, dtype=np.int64), np.fromiter(ranked.values(), dtype=np.float64),
                                 k, tie_rank)
                indices[row, :len(pos)], scores[row, :len(pos)] = pos, val
        return Run(queries.ids, self.corpus.ids, indices, scores)

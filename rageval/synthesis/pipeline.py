"""``rageval.synth`` (``rageval synth``): a span benchmark from a corpus and a generator, every reference verified.

Requests go out in rounds of ``concurrency`` prompts; each prompt shows the model one window (the
seeded sequence of ``windows``, less the repeats of a prompt already sent) and the questions already
kept from that document. Each answer is
parsed (``answers``), each reference located inside the window the model saw (``locate``), and the
question kept only if every filter passes (``filters``). It stops when ``n`` questions are kept or
``max_requests`` requests were made. Generations are cached by the generator (identity, prompt,
parameters), so a rerun makes no request and a killed run resumes where it stopped.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rageval import registry
from rageval.data.loading import dataset_loader
from rageval.data.model import Corpus
from rageval.errors import DataError, RagevalError, SpecError
from rageval.plugins import Generator
from rageval.progress import progress
from rageval.scoring.significance import check_seed
from rageval.synthesis.answers import Unparsed, clean_question, parse_answer
from rageval.synthesis.filters import Filters, FilterSettings
from rageval.synthesis.headings import html_sections, markup_of, question as heading_question, sections
from rageval.synthesis.locate import locate, merge
from rageval.synthesis.output import Question, SynthFolder, as_written
from rageval.synthesis.prompt import build_prompt, template_hash
from rageval.synthesis.windows import FreshWindows, Window, windows

log = logging.getLogger("rageval")
HEADINGS = "headings"  # the question source that needs no model
MAX_NEW_TOKENS = 1024  # a generator's default for synth when its spec sets none (references are long)
SHOWN = 1000  # characters of a reference not found that the manifest keeps


@dataclass(frozen=True)
class SynthSettings:
    """What a synth run is asked (README: "rageval synth")."""

    n: int
    window: int = 4000
    max_references: int = 5
    seed: int = 0
    max_requests: int | None = None  # None: 3 x n
    partial: bool = False
    fuzzy: float | None = None
    concurrency: int = 1
    filters: FilterSettings = field(default_factory=FilterSettings)

    @property
    def budget(self) -> int:
        return self.max_requests if self.max_requests is not None else 3 * self.n

    def check(self) -> None:
        """Every value in range, before anything is read or sent."""
        for name, value, least in (("--n", self.n, 1), ("--window", self.window, 1),
                                   ("--max-references", self.max_references, 1),
                                   ("--max-requests", self.budget, 1), ("--concurrency", self.concurrency, 1)):
            if value < least:
                raise SpecError(f"{name} must be at least {least}, got {value}")
        if self.fuzzy is not None and not 0 < self.fuzzy <= 100:
            raise SpecError(f"--fuzzy is a rapidfuzz score: above 0 and at most 100, got {self.fuzzy}")
        check_seed(self.seed)
        self.filters.check()

    def record(self) -> dict[str, Any]:
        return {"n": self.n, "window": self.window, "max_references": self.max_references, "seed": self.seed,
                "max_requests": self.budget, "partial": self.partial, "fuzzy": self.fuzzy,
                "concurrency": self.concurrency, **self.filters.record()}


@dataclass
class Tally:
    """What happened to each request: kept questions, outcomes by reason, how references were found."""

    kept: list[Question] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    matches: Counter = field(default_factory=Counter)
    references_dropped: int = 0

    def drop(self, entry: dict[str, Any], reason: str) -> None:
        entry["outcome"] = reason
        self.dropped[reason] += 1

    def note(self) -> str:
        return f"kept {len(self.kept)}, dropped {sum(self.dropped.values())}, requests {len(self.requests)}"


def synth(dataset: str, generator: str | Generator, n: int, out: str | Path, *, window: int = 4000,
          max_references: int = 5, seed: int = 0, max_requests: int | None = None,
          filters: str = ",".join(FilterSettings().names), partial: bool = False, fuzzy: float | None = None,
          concurrency: int = 1, **thresholds: Any) -> dict[str, Any]:
    """Make a span benchmark of ``n`` verified questions over ``dataset``'s corpus with ``generator`` (a
    generator spec, ``headings``, or a Generator instance) and write it to ``out`` (documents,
    questions.csv, manifest.json); returns the manifest. ``thresholds``: ``relevance``, ``duplicate``, ``roundtrip``,
    ``roundtrip_chunker``, ``roundtrip_k``, ``leak_words`` (``FilterSettings``)."""
    settings = _settings(n, window, max_references, seed, max_requests, filters, partial, fuzzy, concurrency,
                         thresholds)
    folder = SynthFolder(out)
    folder.check()
    loader = dataset_loader(dataset, corpus_only=True)
    _check_apart(loader, Path(out))
    if isinstance(generator, Generator):  # an instance made in Python (its spec, else its name, is recorded)
        model, generator = generator, getattr(generator, "spec", None) or generator.name
    else:
        model = None if is_headings(generator) else _generator(generator, concurrency)
    corpus = as_written(loader.corpus())
    _check_corpus(corpus, dataset, settings.window if model else None)
    started = time.perf_counter()
    checker = Filters(settings.filters, corpus)
    checker.prepare()
    if model is None:
        tally = _from_headings(corpus, loader, settings, checker)
        identity: dict[str, Any] = {"kind": HEADINGS}
        prompt = None
    else:
        tally = _from_model(corpus, model, settings, checker)
        identity, prompt = model.identity(), template_hash(settings.max_references)
    if len(tally.kept) < settings.n and model is None:
        log.warning("kept %d of the %d questions asked: the documents have %d sections with a title and a body; "
                    "see the manifest's dropped counts", len(tally.kept), settings.n, len(tally.requests))
    elif len(tally.kept) < settings.n:
        log.warning("kept %d of the %d questions asked after %d requests (--max-requests %d); see the manifest's "
                    "dropped counts", len(tally.kept), settings.n, len(tally.requests), settings.budget)
    manifest = {"dataset": dataset, "generator": {"spec": generator, "identity": identity},
                "prompt_sha256": prompt, "settings": settings.record(),
                "counts": {"kept": len(tally.kept), "requests": len(tally.requests),
                           "dropped": dict(sorted(tally.dropped.items())),
                           "references": sum(len(q.references) for q in tally.kept),
                           "references_found": dict(sorted(tally.matches.items())),
                           "references_dropped_partial": tally.references_dropped},
                "requests": tally.requests}
    timing = {"wall_s": round(time.perf_counter() - started, 3), "sent": model.calls if model else 0}
    return folder.write(corpus, tally.kept, manifest, timing)


def _settings(n: int, window: int, max_references: int, seed: int, max_requests: int | None, filters: str,
              partial: bool, fuzzy: float | None, concurrency: int, thresholds: dict[str, Any]) -> SynthSettings:
    """The run's settings from ``synth``'s arguments, every value checked."""
    settings = SynthSettings(n, window, max_references, seed, max_requests, partial, fuzzy, concurrency,
                             FilterSettings.parse(filters, **thresholds))
    settings.check()
    return settings


def is_headings(spec: str) -> bool:
    """Whether a generator spec names ``headings`` (which takes no options: SpecError when given some)."""
    if spec.partition(":")[0].strip() != HEADINGS:
        return False
    if spec.strip() != HEADINGS:
        raise SpecError(f"--generator {spec!r}: {HEADINGS} takes no options (write --generator {HEADINGS})")
    return True


def _generator(spec: str, concurrency: int) -> Generator:
    """The generator a spec names; synth's defaults for options the spec leaves unset: ``concurrency``
    (for endpoints that take it) and a longer answer (``MAX_NEW_TOKENS``)."""
    parsed = registry.resolve("generators", spec)
    fixed = {}
    if "concurrency" in registry.options_of(parsed.plugin) and "concurrency" not in parsed.options:
        fixed["concurrency"] = concurrency
    if "max_new_tokens" in registry.options_of(parsed.plugin) and "max_new_tokens" not in parsed.options:
        fixed["max_new_tokens"] = MAX_NEW_TOKENS
    return parsed.create(**fixed)


def _check_apart(loader: Any, out: Path) -> None:
    """``--out`` may not lie inside the dataset's folder: a later run would read the benchmark's
    copies of the documents as more documents."""
    root = getattr(loader, "path", None)
    if isinstance(root, Path) and root.is_dir() and out.resolve().is_relative_to(root.resolve()):
        raise RagevalError(f"--out {out} is inside the dataset folder {root}: a later run would read the copies "
                           "of the documents written there as more documents; give a folder outside it")


def _check_corpus(corpus: Corpus, dataset: str, window: int | None) -> None:
    """Some document must have text; a window (None: no windows, ``headings``) larger than every
    document means whole documents."""
    lengths = [len(t) for t in corpus.texts if t.strip()]
    if not lengths:
        raise DataError(Path(dataset.partition(":")[2] or dataset), "no document has any text to ask about")
    if window is not None and window >= max(lengths):
        log.info("--window %d is at least as long as every document (the longest has %d characters): "
                 "each request shows a whole document", window, max(lengths))


def _from_model(corpus: Corpus, model: Generator, settings: SynthSettings, checker: Filters) -> Tally:
    """Rounds of requests until ``n`` questions are kept, the budget is spent or no new window is left."""
    tally = Tally()
    drawn = FreshWindows(corpus.texts, settings.window, settings.seed)
    previous: dict[int, list[str]] = {}
    with progress(settings.n, "synth: questions kept", unit="question") as step:
        while len(tally.kept) < settings.n and len(tally.requests) < settings.budget:
            size = min(settings.concurrency, settings.budget - len(tally.requests), settings.n - len(tally.kept))
            round_windows = [w for w in (drawn.next() for _ in range(size)) if w is not None]
            if not round_windows:
                log.warning("every window of every document was asked since the document's last kept question: "
                            "no new prompt is left (a smaller --window gives more windows)")
                break
            prompts = [build_prompt(corpus.texts[w.doc][w.start:w.end], previous.get(w.doc, []),
                                    settings.max_references) for w in round_windows]
            answers = model.generate(prompts)
            for w, answer in zip(round_windows, answers):
                entry = {"request": len(tally.requests), "document": corpus.ids[w.doc], "start": w.start, "end": w.end}
                tally.requests.append(entry)
                question = _judge(corpus, w, answer, settings, checker, tally, entry)
                if question is not None:
                    tally.kept.append(question)
                    previous.setdefault(w.doc, []).append(question.text)
                    drawn.renew(w.doc)
                    step.update(1)
            step.note(tally.note())
    return tally


def _judge(corpus: Corpus, w: Window, answer: str, settings: SynthSettings, checker: Filters, tally: Tally,
           entry: dict[str, Any]) -> Question | None:
    """One answer parsed, its references located in the window, the filters run: the kept question or None."""
    try:
        parsed = parse_answer(answer, settings.max_references)
    except Unparsed as e:
        entry["answer_head"] = answer[:200]
        tally.drop(entry, f"unparsed:{e.reason}")
        return None
    entry["question"] = parsed.question
    if parsed.references_cut:  # empty, not text, or past --max-references: the manifest says so
        entry["references_cut"] = parsed.references_cut
    if parsed.extra_answers:
        entry["extra_answers"] = parsed.extra_answers
    text = corpus.texts[w.doc]
    found = [locate(ref, text, w.start, w.end, settings.fuzzy) for ref in parsed.references]
    missing = [_shown(ref) for ref, at in zip(parsed.references, found) if at is None]
    located = [at for at in found if at is not None]
    if missing and not (settings.partial and located):
        tally.drop(entry, "reference_not_in_window" if located or not settings.partial else "no_reference_in_window")
        entry["missing_references"] = missing
        return None
    if missing:
        entry["missing_references"] = missing
        tally.references_dropped += len(missing)
    spans = [(s, e, text[s:e]) for s, e in merge((at.start, at.end) for at in located)]
    reason = checker.verdict(parsed.question, corpus.ids[w.doc], spans)
    if reason is not None:
        tally.drop(entry, reason)
        return None
    checker.keep()
    tally.matches.update(at.how for at in located)
    entry["outcome"] = "kept"
    return Question(parsed.question, corpus.ids[w.doc], tuple(spans))


def _shown(text: str) -> str:
    """A model's text as a manifest entry keeps it: at most ``SHOWN`` characters (a huge answer does not
    swell the manifest nor the memory the run holds)."""
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


def _from_headings(corpus: Corpus, loader: Any, settings: SynthSettings, checker: Filters) -> Tally:
    """Every section title (with its path) a question, its body the reference; candidates in a seeded
    order, kept until ``n`` pass the filters (a manifest "request" is a candidate's place in that order)."""
    import random

    candidates = []
    for i, (doc_id, text) in enumerate(zip(corpus.ids, corpus.texts)):
        path = corpus.metas[i].get("path")
        markup = markup_of(path, text)
        if markup == "html":
            found = html_sections(_raw_file(loader, path), text)
        else:
            found = sections(text, markup) if markup else []
        candidates += [(i, s) for s in found]
    random.Random(settings.seed).shuffle(candidates)
    tally = Tally()
    with progress(len(candidates), "synth: headings", unit="section") as step:
        for k, (i, section) in enumerate(candidates):
            if len(tally.kept) == settings.n:
                break
            doc_id, text = corpus.ids[i], corpus.texts[i]
            asked = clean_question(heading_question(section.path))
            entry = {"request": k, "document": doc_id, "start": section.start, "end": section.end,
                     "question": asked}
            tally.requests.append(entry)
            spans = [(section.start, section.end, text[section.start:section.end])]
            reason = checker.verdict(asked, doc_id, spans)
            if reason is not None:
                tally.drop(entry, reason)
            else:
                checker.keep()
                tally.matches["heading"] += 1
                entry["outcome"] = "kept"
                tally.kept.append(Question(asked, doc_id, tuple(spans)))
            step.update(1)
    if not candidates:
        raise RagevalError("headings: no document has a section title with a body (Markdown, reStructuredText "
                           "or HTML headings)")
    return tally


def _raw_file(loader: Any, path: str | None) -> str:
    """The raw HTML of a ``docs:`` document (its headings are tags, gone from the stored text)."""
    root = getattr(loader, "path", None)
    if root is None or path is None:
        return ""
    return (Path(root) / path).read_text(encoding="utf-8")


def first_prompt(dataset: str, n: int, *, window: int = 4000, max_references: int = 5, seed: int = 0,
                 max_requests: int | None = None, filters: str = ",".join(FilterSettings().names),
                 partial: bool = False, fuzzy: float | None = None, concurrency: int = 1, **thresholds: Any) -> str:
    """The prompt of the first request ``synth`` with these arguments sends (``--show-prompt``); every
    value is checked as ``synth`` checks it, nothing is sent."""
    settings = _settings(n, window, max_references, seed, max_requests, filters, partial, fuzzy, concurrency,
                         thresholds)
    corpus = as_written(dataset_loader(dataset, corpus_only=True).corpus())
    _check_corpus(corpus, dataset, settings.window)
    w = next(windows(corpus.texts, settings.window, settings.seed))
    return build_prompt(corpus.texts[w.doc][w.start:w.end], [], settings.max_references)

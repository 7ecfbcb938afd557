"""Measures. A measure is a small frozen object: a class registered in the ``rageval.metrics``
entry-point group, a cutoff and typed parameters, written ``nDCG@10``, ``Sufficiency@5`` or
``IoU@5(unit=cl100k_base,chroma=true)`` and parsed once by ``parse_measure``. It carries what is
known about it: how to compute it per query (``compute``), its display label (``label``), what it
scores (``family``: ranked documents against judgments, or chunks against reference spans), and
its expectation over orderings of tied documents (``expected_under_ties``, or none), which gives it
a tie-aware range (``rageval.metrics.ties``).

Semantics (README, "Scoring: exact semantics"): results are ordered by score descending, ties by doc
id descending (trec_eval's rule) and cut at k; ranking measures are computed by pytrec_eval on that run.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Sequence

from rageval import registry
from rageval.data.model import Corpus, Qrels, Spans
from rageval.errors import SpecError

if TYPE_CHECKING:
    from rageval.metrics.span import SpanView
    from rageval.metrics.ties import TiedList

Ranked = Mapping[str, Sequence[tuple[str, float]]]
"""Query id -> [(doc id, score)] in trec_eval order."""

MAX_CUTOFF = 10_000
"""The deepest cutoff a measure (and ``--k``) may ask for: runs are conventionally 1,000 deep."""

_FORM = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?:@\s*([0-9]+))?\s*(?:\((.*)\))?\s*")


@dataclass
class Judged:
    """What a measure sees. ``ranked`` lists the searched items (chunks when the corpus was chunked)
    for every query with results; ``documents`` the same lists at document level (each document at
    the rank of its best chunk) for every query of ``qrels`` (only queries with a relevant judgment).
    ``corpus`` is what was searched, ``parents`` the documents that ``spans`` point into."""

    qrels: Qrels
    ranked: Ranked
    documents: Ranked
    query_ids: Sequence[str]
    corpus: Corpus | None = None
    parents: Corpus | None = None
    spans: Spans | None = None
    _span_view: "SpanView | None" = field(default=None, repr=False)

    def span_view(self) -> "SpanView":
        """The span measures' shared state (placed chunks, token offsets), built once."""
        if self._span_view is None:
            from rageval.metrics.span import SpanView

            self._span_view = SpanView(self)
        return self._span_view


@dataclass(frozen=True)
class Measure:
    """A measure class with its cutoff and parameters (subclasses add typed, defaulted fields).

    ``label`` is its display label; ``name``, how it is shown and keyed in results: the label,
    ``@cutoff``, and the parameters that its string set explicitly. ``family`` says what it scores:
    ``"ranking"`` (the ranked documents against the judgments) or ``"span"`` (the retrieved chunks
    against the reference spans, averaged over the queries that have them). ``compute`` scores every
    measure of one class at once; ``expected_under_ties``, where a class defines it, gives the
    tie-aware range.
    """

    label: ClassVar[str] = ""
    family: ClassVar[str] = "ranking"
    needs_cutoff: ClassVar[bool] = True

    cutoff: int | None = None
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def name(self) -> str:
        base = self.label if self.cutoff is None else f"{self.label}@{self.cutoff}"
        shown = [f"{key}={_plain(getattr(self, key))}" for key in self.written]
        return f"{base}({','.join(shown)})" if shown else base

    def __str__(self) -> str:
        return self.name

    @property
    def uses_spans(self) -> bool:
        """Whether it scores reference spans (the queries that have them), not judgments."""
        return self.family == "span"

    @property
    def tie_aware(self) -> bool:
        """Whether it has a tie-aware range: its class defines ``expected_under_ties``."""
        return type(self).expected_under_ties is not Measure.expected_under_ties

    def depth(self, grades: Mapping[str, int]) -> int | None:
        """How many places of a query's ranked list it reads, given the query's judgments: its cutoff
        (None: the whole list)."""
        return self.cutoff

    def expected_under_ties(self, tied: "TiedList") -> float:
        """The expected value for one query over every ordering of its tied documents, from the list's
        tie structure read to ``depth`` (``rageval.metrics.ties.TiedList``). A class that defines it also
        promises that moving a more relevant document up never lowers its value, so the least and
        greatest values are its ``compute`` on the lists with ties sorted worst / best first. Left
        undefined (here), the measure has no tie-aware range."""
        raise NotImplementedError(f"{self.name} has no tie-aware form")

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Parameter name -> type, the cutoff excluded."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name not in ("cutoff", "written")}

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence["Measure"]) -> dict["Measure", dict[str, float]]:
        """Per measure, the value of every query it scores."""
        raise NotImplementedError


def _plain(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_measure(text: str | Measure, **defaults: Any) -> Measure:
    """``"nDCG@10"`` -> ``NDCG(cutoff=10)``; ``"IoU@5(unit=chars)"`` sets a parameter. The name
    before ``@`` is the registered one, case-insensitive. ``defaults`` fill the parameters the measure
    has and the text leaves unset (how ``--span-unit`` and ``--chroma`` reach the span measures); a
    Measure is returned as it is.
    Every trec_eval measure is also known by the name trec_eval prints (``bpref``, ``P_5``; ``trec_eval.py``)."""
    if isinstance(text, Measure):
        return text
    from rageval.metrics.trec_eval import by_trec_eval_name

    if (named := by_trec_eval_name(text)) is not None:  # bpref, P_5, ndcg_cut_10: trec_eval's own names
        return named
    m = _FORM.fullmatch(text)
    if not m:
        raise SpecError(f"metric {text!r} is not of the form NAME, NAME@K or NAME@K(key=value,...) (e.g. nDCG@10)")
    registered, cutoff, params = m.group(1).lower(), m.group(2), m.group(3)
    cls = registry.plugin("metrics", registered)
    if cutoff is None and cls.needs_cutoff:
        raise SpecError(f"metric {text!r} needs a cutoff, e.g. {cls.label}@10")
    k = int(cutoff) if cutoff is not None else None
    if k is not None and not 1 <= k <= MAX_CUTOFF:
        raise SpecError(f"metric {text!r}: the cutoff must be between 1 and {MAX_CUTOFF}, got {k}")
    known = cls.parameters()
    raw: dict[str, str] = {}
    for piece in (p.strip() for p in (params or "").split(",")):
        if not piece:
            continue
        key, eq, value = (s.strip() for s in piece.partition("="))
        if not eq or key not in known:
            valid = ", ".join(f"{n} ({registry.type_name(t)})" for n, t in known.items()) or "none"
            raise SpecError(f"metric {text!r}: {piece!r} is not key=value of a parameter; its parameters: {valid}")
        raw[key] = value
    given = registry.typed_options(f"metric {text!r}", raw, known)
    filled = {key: value for key, value in defaults.items() if key in known and key not in given}
    return cls(cutoff=k, written=tuple(given), **filled, **given)


def measure_class(name: str) -> type[Measure] | None:
    """The class of the measure named ``name`` as results record it (``nDCG@10``, ``IoU@5(unit=chars)``,
    ``bpref``), for what it carries (``label``, ``family``) without building the measure again;
    None when no installed measure has that name (a plugin since uninstalled, or one that no longer imports)."""
    from rageval.metrics.trec_eval import TrecEval, by_trec_eval_name

    try:
        if by_trec_eval_name(name) is not None:
            return TrecEval
        m = _FORM.fullmatch(name)
        if m is None or m.group(1).lower() not in registry.available("metrics"):
            return None
        return registry.plugin("metrics", m.group(1).lower())
    except (SpecError, ImportError):
        return None


def parse_measures(texts: Iterable[str | Measure], **defaults: Any) -> tuple[Measure, ...]:
    """Every measure parsed, repeats dropped (first kept); two different measures may not share a name."""
    out: dict[Measure, None] = {}
    names: dict[str, Measure] = {}
    for text in texts:
        measure = parse_measure(text, **defaults)
        if names.setdefault(measure.name, measure) != measure:
            raise SpecError(f"metrics {names[measure.name]!r} and {measure!r} differ but are both named "
                            f"{measure.name}: write the parameter that differs, e.g. {measure.label}@k(unit=...)")
        out.setdefault(measure)
    return tuple(out)

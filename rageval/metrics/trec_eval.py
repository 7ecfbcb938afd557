"""Every trec_eval measure by the name trec_eval prints it under (``bpref``, ``recip_rank``, ``set_F``,
``ndcg_cut_10``, ``P_5``, ``iprec_at_recall_0.50``, ...), computed by pytrec_eval on the whole run.

Only measures whose summary over queries is the mean of their per-query values are offered, since
that is what rageval reports, compares and tests: trec_eval sums the ``num_*`` counts, takes a
geometric mean for ``gm_*``, and ``runid`` / ``relstring`` are not numbers; those are refused with
the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import pytrec_eval

from rageval import registry
from rageval.errors import SpecError
from rageval.metrics import MAX_CUTOFF, Judged, Measure

PLAIN = ("map", "Rprec", "bpref", "recip_rank", "infAP", "utility", "11pt_avg", "binG", "G", "ndcg", "ndcg_rel",
         "Rndcg", "set_P", "set_relative_P", "set_recall", "set_map", "set_F")
AT_DEPTH = ("P", "recall", "ndcg_cut", "map_cut", "relative_P", "success")  # NAME_k: k documents, 1..MAX_CUTOFF
AT_FRACTION = {"iprec_at_recall": 1.0, "Rprec_mult": 100.0}  # NAME_x.xx, 0 <= x <= the bound
NOT_MEANS = {**dict.fromkeys(("num_q", "num_ret", "num_rel", "num_rel_ret", "num_nonrel_judged_ret"),
                             "a count that trec_eval sums over queries"),
             **dict.fromkeys(("gm_map", "gm_bpref"), "a geometric mean over queries"),
             **dict.fromkeys(("runid", "relstring"), "not a number")}
_CASE = {name.lower(): name for name in (*PLAIN, *AT_DEPTH, *AT_FRACTION, *NOT_MEANS)}
_DEPTH = re.compile(rf"({'|'.join(AT_DEPTH)})_([0-9]+)", re.IGNORECASE)
_FRACTION = re.compile(rf"({'|'.join(AT_FRACTION)})_([0-9]+(?:\.[0-9]{{1,2}})?)", re.IGNORECASE)


def trec_eval_request(name: str) -> tuple[str, str]:
    """(the name as trec_eval prints it, the measure string pytrec_eval is asked for) of a trec_eval
    measure name in any letter case; SpecError when it is none or not a mean over queries."""
    text = name.strip()
    if _CASE.get(text.lower()) in PLAIN:
        return _CASE[text.lower()], _CASE[text.lower()]
    if (found := _CASE.get(text.lower())) in NOT_MEANS:
        raise SpecError(f"trec_eval measure {found!r} is {NOT_MEANS[found]}: rageval reports and compares "
                        "means of per-query values")
    if m := _DEPTH.fullmatch(text):
        family, k = _CASE[m.group(1).lower()], int(m.group(2))
        if not 1 <= k <= MAX_CUTOFF:
            raise SpecError(f"trec_eval measure {text!r}: the depth must be from 1 to {MAX_CUTOFF}, like every cutoff")
        return f"{family}_{k}", f"{family}.{k}"
    if m := _FRACTION.fullmatch(text):
        family, x = _CASE[m.group(1).lower()], float(m.group(2))
        if x > AT_FRACTION[family]:
            raise SpecError(f"trec_eval measure {text!r}: the parameter must be from 0.00 to {AT_FRACTION[family]:.2f}")
        return f"{family}_{x:.2f}", f"{family}.{x:.2f}"
    if text.lower() in _CASE:  # a family named without its parameter
        family = _CASE[text.lower()]
        example = f"{family}_10" if family in AT_DEPTH else f"{family}_0.50"
        raise SpecError(f"trec_eval measure {family!r} needs its parameter in the name, as trec_eval prints it: "
                        f"e.g. {example}")
    raise SpecError(f"{text!r} is not a trec_eval measure name; those offered: {', '.join(PLAIN)}, "
                    f"{', '.join(f + '_k' for f in AT_DEPTH)}, {', '.join(f + '_x.xx' for f in AT_FRACTION)}")


def by_trec_eval_name(text: str) -> "TrecEval | None":
    """The measure a metric string names by its trec_eval name, or None when it is no trec_eval name or
    a registered family parses it (``Rprec``, ``nDCG@10``, ``P@5``). ``map`` and ``ndcg``, spelled so,
    are trec_eval's measures over the whole run (their registered families need a cutoff)."""
    stripped = text.strip()
    head = re.match(r"[A-Za-z_0-9][\w.]*", stripped)
    if head is None:
        return None
    name = head.group(0)
    if name.lower() in registry.available("metrics"):
        bare_plain = name == stripped and name in PLAIN  # exactly as trec_eval spells it: nDCG still needs @k
        if not (bare_plain and registry.plugin("metrics", name.lower()).needs_cutoff):
            return None
    if not (name.lower() in _CASE or _DEPTH.fullmatch(name) or _FRACTION.fullmatch(name)):
        return None
    if name != stripped:
        raise SpecError(f"trec_eval measure {name!r} takes no @k or parameters: a depth is part of the name "
                        "(P_5, ndcg_cut_10)")
    return TrecEval(measure=name)


@dataclass(frozen=True)
class TrecEval(Measure):
    """Any trec_eval measure by its name: bpref, recip_rank, set_F, ndcg_cut_10, P_5, iprec_at_recall_0.50, ..."""

    label = "trec_eval"
    needs_cutoff = False

    measure: str = ""

    def __post_init__(self) -> None:
        if not self.measure:
            raise SpecError("metric trec_eval needs measure=NAME, e.g. trec_eval(measure=bpref), or simply bpref")
        if self.cutoff is not None:
            raise SpecError(f"trec_eval measure {self.measure!r} takes no @k: its depth is part of its name "
                            "(P_5, ndcg_cut_10)")
        object.__setattr__(self, "measure", trec_eval_request(self.measure)[0])

    @property
    def name(self) -> str:
        return self.measure

    @classmethod
    def compute(cls, judged: Judged, measures: Sequence[Measure]) -> dict[Measure, dict[str, float]]:
        qrels = {q: dict(j) for q, j in judged.qrels.items()}
        asked = {trec_eval_request(m.measure)[1] for m in measures}  # type: ignore[attr-defined]
        values = pytrec_eval.RelevanceEvaluator(qrels, asked).evaluate(
            {q: dict(docs) for q, docs in judged.documents.items() if docs})
        return {m: {q: values.get(q, {}).get(m.name, 0.0) for q in qrels} for m in measures}  # no results: 0

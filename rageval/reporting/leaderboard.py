"""The leaderboard: one table per dataset, one row per retriever, one column per metric."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from rageval.store.run_store import Outcome


MARKS = "▲▼†"
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0, DEL and C1: characters that move a terminal's cursor, recolour or clear it, or break a row."""


def printable(text: object) -> str:
    """``text`` with every control character (``CONTROL_CHARACTERS``) written as an escape such as
    ``\\x1b``: what a text table or a log line shows of a name it did not choose."""
    return CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _is_number(cell: str) -> bool:
    try:
        float(str(cell).rstrip(MARKS))
    except ValueError:
        return str(cell) == "-"
    return True


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table; columns of numbers are right-aligned, the rest left-aligned. Control
    characters in cells are shown escaped (``printable``), never sent to the terminal."""
    headers = [printable(h) for h in headers]
    rows = [[printable(c) for c in row] for row in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    numeric = [bool(rows) and all(_is_number(r[i]) for r in rows) for i in range(len(headers))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if num else str(c).ljust(w)
                         for c, w, num in zip(cells, widths, numeric)).rstrip()
    return "\n".join([line(headers), "  ".join("-" * w for w in widths).rstrip(), *map(line, rows)])


def tie_marked_values(means: dict[str, float], ties: dict[str, dict[str, float]],
                      tolerance: float = 0.005) -> dict[str, bool]:
    """Per measure, whether trec_eval's value (ties by doc id) lies more than ``tolerance`` from the
    tie-aware expectation."""
    return {m: m in ties and abs(v - ties[m]["expected"]) > tolerance for m, v in means.items()}


def tie_marked(outcome: Outcome, measure: str) -> bool:
    return tie_marked_values(outcome.means, outcome.ties).get(measure, False)


def leaderboard(outcomes: Sequence[Outcome], metrics: Sequence[str],
                marks: dict[tuple[str, str, str], str] | None = None) -> str:
    """Tables for every dataset, rows ranked by the first metric (failed rows last). ``marks``
    (dataset, retriever, measure) -> ▲ / ▼ shows significant differences from a baseline; † marks a
    value that its tie order moves by more than 0.005 from the tie-aware expectation."""
    marks = marks or {}
    parts = []
    for dataset in dict.fromkeys(o.dataset for o in outcomes):
        rows = [o for o in outcomes if o.dataset == dataset]
        rows.sort(key=lambda o: (o.error is None, o.means.get(metrics[0], 0.0) if metrics else 0.0), reverse=True)
        body, failures = [], []
        for o in rows:
            if o.error:
                failures.append(f"  {printable(o.system)}: {printable(o.error)}")
                body.append([o.system, *["-"] * len(metrics), "-", "-", f"FAILED ({len(failures)})"])
                continue
            body.append([o.system, *[f"{o.means.get(m, float('nan')):.4f}{marks.get((dataset, o.system, m), '')}"
                                        f"{'†' if tie_marked(o, m) else ''}" for m in metrics],
                         f"{o.timings.get('index_s', 0):.2f}", f"{o.timings.get('search_s', 0):.2f}",
                         "resumed" if o.resumed else ""])
        status = any(row[-1] for row in body)
        headers = ["retriever", *metrics, "index s", "search s", *(["status"] if status else [])]
        text = table(headers, [row if status else row[:-1] for row in body])
        notes = []
        if any(tie_marked(o, m) for o in rows for m in metrics):
            notes.append("† ties decide this value: it lies more than 0.005 from the expectation over tie orders "
                         "(metrics.json: ties)")
        if any(key[0] == dataset for key in marks):
            notes.append("▲ / ▼ significantly better / worse than the baseline (rageval compare for the table)")
        if notes:
            text += "\n" + "\n".join(notes)
        if failures:
            text += "\n\nfailed:\n" + "\n".join(f"  ({n}) {line.strip()}" for n, line in enumerate(failures, start=1))
        parts.append(f"{printable(dataset)}\n{text}")
    return "\n\n".join(parts)

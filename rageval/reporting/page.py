"""``rageval report``: one self-contained HTML page of an output folder.

Charts are Vega-Lite specifications rendered in the page by Vega (the Vega, Vega-Lite and
Vega-Embed scripts come inlined from ``vl_convert.javascript_bundle()``, so the page makes no
request); tables are HTML, sortable by a small script. Per dataset: the leaderboard (mean, 95%
interval, ▲ / ▼ against the baseline, tie mark, timings, index size), measure@k curves, the sorted
per-query differences against the baseline (query text on hover), span measures against chunk size
for chunked runs, embedding diagnostics, and the settings that reproduce each pair. Every text from
the data is escaped.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Sequence

from rageval import registry
from rageval.errors import RagevalError
from rageval.metrics import measure_class
from rageval.reporting.leaderboard import tie_marked_values
from rageval.scoring.compare import System, compare, lacking_baseline
from rageval.scoring.evaluation import CURVES
from rageval.scoring.significance import check_seed
from rageval.store.cache import cache_dir
from rageval.store.files import atomic_open
from rageval.store.run_records import OutputFolder, PairRecord, read_output

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{padding:.25em .6em;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap}th{cursor:pointer;background:#f6f6f6;user-select:none}
td:first-child,th:first-child{text-align:left;white-space:normal;max-width:28em}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.ci{color:#777;font-size:.85em}.up{color:#1a7f37}.down{color:#c62828}.note{color:#8a5a00;background:#fff8e1;
padding:.4em .8em;border-radius:4px}.chart{margin:.5em 0 1.5em}details{margin:.5em 0}pre{white-space:pre-wrap;
font-size:.85em;background:#f8f8f8;padding:.5em}.incomplete{color:#8a5a00}
"""
SCRIPT = """
const data = JSON.parse(document.getElementById('report-data').textContent);
function sortable(table) {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const down = th.getAttribute('aria-sort') !== 'descending';
    table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
    th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = r => { const c = r.cells[col]; const v = c.dataset.value;
      return v === undefined ? c.textContent : (v === '' ? -Infinity : Number(v)); };
    rows.sort((a, b) => { const x = key(a), y = key(b);
      const c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
      return down ? -c : c; });
    rows.forEach(r => body.appendChild(r));
  }));
}
document.querySelectorAll('table.sortable').forEach(sortable);
const views = window.ragevalViews = {};  // chart id -> its Vega view (what it plots: view.scenegraph())
const embed = (id, spec, renderer) => window.vegaEmbed('#' + id, spec, {renderer: renderer || 'svg', actions: false})
  .then(result => { views[id] = result.view; return result; })
  .catch(e => { console.error(e); });
for (const chart of data.charts) embed(chart.id, chart.spec, chart.renderer);
const unpack = b64 => { const raw = atob(b64), out = new Uint16Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = raw.charCodeAt(2 * i) | (raw.charCodeAt(2 * i + 1) << 8);
  return out; };
function differences(ds) {
  const select = document.getElementById(ds.id + '-system');
  const draw = () => {
    const name = select.value, base = unpack(ds.values[ds.baseline]), mine = unpack(ds.values[name]);
    const rows = [];
    for (let i = 0; i < ds.queries.length; i++) {
      if (mine[i] === ds.missing || base[i] === ds.missing) continue;
      rows.push({query: ds.queries[i], text: ds.texts[i], difference: (mine[i] - base[i]) / ds.scale});
    }
    rows.sort((a, b) => b.difference - a.difference);
    rows.forEach((r, i) => { r.rank = i + 1; });
    embed(ds.id, {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json', width: 900, height: 220,
      title: `${ds.measure}: ${name} minus ${ds.baseline}, per query (sorted)`,
      data: {values: rows}, mark: {type: 'bar'},
      encoding: {x: {field: 'rank', type: 'quantitative', title: 'query (sorted by difference)',
                     scale: {domain: [0, rows.length + 1], nice: false}},
                 y: {field: 'difference', type: 'quantitative', title: 'difference'},
                 color: {condition: {test: 'datum.difference < 0', value: '#c62828'}, value: '#1a7f37'},
                 tooltip: [{field: 'query', title: 'query'}, {field: 'text', title: 'text'},
                           {field: 'difference', format: '+.4f'}]}}, 'canvas');
  };
  select.addEventListener('change', draw);
  draw();
}
for (const ds of data.differences) differences(ds);
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json_for_script(data: Any) -> str:
    """JSON that cannot end (or change the parsing of) its <script> element: <, > and & as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


SCALE = 65534  # per-query values in the page: uint16, value x SCALE, MISSING where a system has none
MISSING = 65535


def _packed(values: Sequence[float | None]) -> str:
    """Values in [0, 1] as base64 of little-endian uint16 (2 bytes a value, about 1e-5 apart)."""
    import numpy as np

    array = np.array([MISSING if v is None else round(min(max(v, 0.0), 1.0) * SCALE) for v in values], dtype="<u2")
    return base64.b64encode(array.tobytes()).decode("ascii")


def _scores_spans(measure: str) -> bool:
    """Whether the measure of this name scores reference spans, as its class says (``Measure.family``);
    a measure no installed class has is shown as a ranking measure."""
    cls = measure_class(measure)
    return cls is not None and cls.family == "span"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class Page:
    """The HTML page being built: sections of markup, chart specs and per-query data."""

    def __init__(self, output: OutputFolder, baseline: str | None, seed: int):
        """``baseline`` must be a finished system of at least one dataset (the others are shown without
        differences and say so)."""
        self.output, self.baseline, self.seed = output, baseline, seed
        datasets = {d: output.systems(d) for d in dict.fromkeys(p.dataset for p in output.finished())}
        self.lacking = lacking_baseline(datasets, baseline) if baseline is not None else []
        self.parts: list[str] = []
        self.charts: list[dict[str, Any]] = []
        self.differences: list[dict[str, Any]] = []

    def chart(self, spec: dict[str, Any], renderer: str = "svg") -> str:
        chart_id = f"chart{len(self.charts)}"
        self.charts.append({"id": chart_id, "spec": {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                                                      **spec}, "renderer": renderer})
        return f'<div class="chart" id="{chart_id}"></div>'

    def dataset(self, name: str, pairs: list[PairRecord]) -> None:
        finished = [p for p in pairs if p.finished]
        self.parts.append(f"<h2>{_e(name)}</h2>")
        if finished:
            measures = list(finished[0].result.means)
            baseline = None if name in self.lacking else self.baseline or self.output.default_baseline(name)
            if baseline is None:
                self.parts.append(f'<p class="note">No differences: the baseline {_e(self.baseline)} is not a '
                                  "system of this dataset.</p>")
            marks = self._marks(name, finished, measures, baseline) if baseline is not None else {}
            self.parts.append(self._leaderboard(finished, measures, marks, baseline))
            self._curves(name, finished)
            if baseline is not None:
                self._differences(name, finished, measures, baseline)
            self._spans(finished, measures)
            self._embeddings(finished)
        incomplete = [p for p in pairs if not p.finished]
        if incomplete:
            self.parts.append('<p class="incomplete">Left out (not finished): ' + "; ".join(
                f"{_e(p.system)} ({_e(p.problem)})" for p in incomplete) + "</p>")
        self._settings(finished)

    def _marks(self, dataset: str, pairs: list[PairRecord], measures: list[str], baseline: str) -> dict:
        systems = [System(dataset, p.system, p.per_query) for p in pairs]
        usable = [m for m in measures if all(len(p.per_query.get(m, {})) >= 2 for p in pairs)]
        if len(systems) < 2 or not usable:
            return {}
        tables = compare(systems, usable, baseline, seed=self.seed, intervals=False)  # intervals: metrics.json
        return {(r.system, t.measure): r for t in tables for r in t.rows}

    def _leaderboard(self, pairs: list[PairRecord], measures: list[str], marks: dict, baseline: str | None) -> str:
        head = ["system", *measures, "index s", "search s", "index size"]
        rows = []
        for p in sorted(pairs, key=lambda p: -p.result.means.get(measures[0], 0.0) if measures else 0):
            m, cells = p.result, [f"<td>{_e(p.system)}{' (baseline)' if p.system == baseline else ''}</td>"]
            tie_flags = tie_marked_values(m.means, m.ties or {})
            for name in measures:
                value = m.means.get(name)
                low, high = (m.intervals or {}).get(name, (None, None))
                row = marks.get((p.system, name))
                mark = ""
                if row is not None and row.significant:
                    mark = '<span class="up">▲</span>' if row.difference > 0 else '<span class="down">▼</span>'
                tie = "†" if tie_flags.get(name) else ""
                interval = f'<br><span class="ci">[{low:.4f}, {high:.4f}]</span>' if low is not None else ""
                title = f' title="p = {row.p:.4g} against {_e(baseline)}"' if row is not None and row.p is not None else ""
                cells.append(f'<td data-value="{"" if value is None else value}"{title}>'
                             f'{"-" if value is None else f"{value:.4f}"}{mark}{tie}{interval}</td>')
            t = m.timings
            for key in ("index_s", "search_s"):
                cells.append(f'<td data-value="{t.get(key, "")}">{t.get(key, 0):.2f}</td>')
            size = t.get("index_bytes")
            cells.append(f'<td data-value="{"" if size is None else size}">{_bytes(size)}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        legend = ("<p class=ci>▲ / ▼: significantly better / worse than the baseline (paired randomization test, "
                  "Holm correction, alpha 0.05; hover a value for its p); † the value moves more than 0.005 from "
                  "its expectation over orders of tied documents; [low, high]: 95% bootstrap interval. Click a "
                  "column to sort.</p>")
        return ('<table class="sortable leaderboard"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head)
                + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + legend)

    def _curves(self, dataset: str, pairs: list[PairRecord]) -> None:
        values = [{"system": p.system, "measure": f"{family}@k", "k": k + 1, "value": v}
                  for p in pairs for family in CURVES for k, v in enumerate(p.result.curves.get(family, []))]
        if not values:
            return
        self.parts.append("<h3>Measures at every cutoff</h3>" + self.chart({
            "data": {"values": values}, "width": 300, "height": 200,
            "facet": {"column": {"field": "measure", "type": "nominal", "title": None}},
            "spec": {"mark": {"type": "line"}, "encoding": {
                "x": {"field": "k", "type": "quantitative", "title": "k"},
                "y": {"field": "value", "type": "quantitative", "title": None},
                "color": {"field": "system", "type": "nominal"},
                "tooltip": [{"field": "system"}, {"field": "k"}, {"field": "value", "format": ".4f"}]}},
            "resolve": {"scale": {"y": "independent"}}}))

    def _differences(self, dataset: str, pairs: list[PairRecord], measures: list[str], baseline: str) -> None:
        ranking = [m for m in measures if not _scores_spans(m)] or measures
        if len(pairs) < 2 or not ranking:
            return
        measure = ranking[0]
        queries = sorted({q for p in pairs for q in p.per_query.get(measure, {})})
        texts = self.output.queries.get(dataset, {})
        chart_id = f"diff{len(self.differences)}"
        self.differences.append({
            "id": chart_id, "measure": measure, "baseline": baseline, "scale": SCALE, "missing": MISSING,
            "queries": queries,
            "texts": [texts.get(q, "")[:200] for q in queries],
            "values": {p.system: _packed([p.per_query.get(measure, {}).get(q) for q in queries]) for p in pairs}})
        options = "".join(f'<option value="{_e(p.system)}">{_e(p.system)}</option>' for p in pairs
                          if p.system != baseline)
        self.parts.append(f"<h3>Per-query differences against {_e(baseline)} ({_e(measure)})</h3>"
                          f'<label>system <select id="{chart_id}-system">{options}</select></label>'
                          f'<div class="chart" id="{chart_id}"></div>')

    def _spans(self, pairs: list[PairRecord], measures: list[str]) -> None:
        spans = [m for m in measures if _scores_spans(m)]
        values = []
        for p in pairs:
            chunker = p.key.chunker
            if not chunker or not spans:
                continue
            name, _, options = registry.parse_spec(chunker)
            size = options.get("size") or options.get("n")
            if size is None:
                continue
            family = f"{name} ({options.get('unit', 'chars' if name != 'sentence' else 'sentences')}) + {p.key.retriever}"
            values += [{"family": family, "size": float(size), "measure": m, "value": p.result.means[m]}
                       for m in spans]
        if values:
            self.parts.append("<h3>Span measures against chunk size</h3>" + self.chart({
                "data": {"values": values}, "width": 220, "height": 180,
                "facet": {"column": {"field": "measure", "type": "nominal", "title": None}},
                "spec": {"mark": {"type": "line", "point": True}, "encoding": {
                    "x": {"field": "size", "type": "quantitative", "title": "chunk size"},
                    "y": {"field": "value", "type": "quantitative", "title": None},
                    "color": {"field": "family", "type": "nominal", "title": "chunker"},
                    "tooltip": [{"field": "family"}, {"field": "size"}, {"field": "value", "format": ".4f"}]}},
                "resolve": {"scale": {"y": "independent"}}}))

    def _embeddings(self, pairs: list[PairRecord]) -> None:
        rows = [(p.system, d) for p in pairs if (d := p.result.run_meta.get("embedding_diagnostics"))]
        if not rows:
            return
        keys = [k for k in rows[0][1] if k != "n_queries"]
        values = [{"system": s, "diagnostic": k, "value": d[k]} for s, d in rows for k in keys]
        self.parts.append("<h3>Embedding space</h3><p class=ci>alignment: mean squared distance of query and relevant "
                          "document (lower is closer); uniformity: log mean Gaussian potential of documents (lower "
                          "is more spread); angular margin: relevant against the closest other document.</p>"
                          + self.chart({"data": {"values": values}, "width": 200, "height": 120,
                                        "facet": {"column": {"field": "diagnostic", "type": "nominal", "title": None}},
                                        "spec": {"mark": "bar", "encoding": {
                                            "y": {"field": "system", "type": "nominal", "title": None},
                                            "x": {"field": "value", "type": "quantitative", "title": None},
                                            "tooltip": [{"field": "system"}, {"field": "value", "format": ".4f"}]}},
                                        "resolve": {"scale": {"x": "independent"}}}))

    def _settings(self, pairs: list[PairRecord]) -> None:
        blocks = []
        for p in pairs:
            shown = p.result.provenance()
            blocks.append(f"<details><summary>{_e(p.system)}</summary><pre>{_e(json.dumps(shown, indent=2))}</pre>"
                          "</details>")
        if blocks:
            self.parts.append("<h3>Settings that reproduce these runs</h3>" + "".join(blocks))

    def ifrag(self, path: Path) -> None:
        try:
            scores = json.loads(path.read_text(encoding="utf-8"))
            per_instruction = scores["per_instruction"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RagevalError(f"{path}: not a rageval ifrag score file ({type(e).__name__}: {e})") from None
        values = [{"instruction": iid, "mode": mode, "accuracy": row[mode], "n": row["n"]}
                  for iid, row in per_instruction.items() for mode in ("strict", "loose")]
        overall = [["prompt-level strict", scores["prompt_level"]["strict"]],
                   ["prompt-level loose", scores["prompt_level"]["loose"]],
                   ["instruction-level strict", scores["instruction_level"]["strict"]],
                   ["instruction-level loose", scores["instruction_level"]["loose"]],
                   *[[f"answer {k}", v] for k, v in scores.get("answer", {}).items()],
                   *[[k, v] for k, v in scores.get("faithfulness", {}).items()]]
        self.parts.append(f"<h2>Instruction following: {_e(path.name)}</h2>"
                          '<table class="sortable"><thead><tr><th>measure</th><th>value</th></tr></thead><tbody>'
                          + "".join(f'<tr><td>{_e(k)}</td><td data-value="{v}">{v:.4f}</td></tr>' for k, v in overall)
                          + "</tbody></table>" + self.chart({
                              "data": {"values": values}, "width": 700,
                              "mark": "bar", "encoding": {
                                  "y": {"field": "instruction", "type": "nominal", "title": None, "sort": "-x"},
                                  "x": {"field": "accuracy", "type": "quantitative", "scale": {"domain": [0, 1]}},
                                  "yOffset": {"field": "mode"}, "color": {"field": "mode", "type": "nominal"},
                                  "tooltip": [{"field": "instruction"}, {"field": "mode"}, {"field": "n"},
                                              {"field": "accuracy", "format": ".4f"}]}}))

    def render(self, title: str) -> str:
        versions = self.output.versions()
        notes = []
        if len(versions) > 1:
            notes.append(f'<p class="note">These runs were written by different rageval versions: '
                         f'{_e(", ".join(sorted(versions)))}. Numbers may not be comparable.</p>')
        if self.output.failed:
            notes.append("<h2>Failures</h2><ul>" + "".join(
                f"<li>{_e(f.dataset)}: {_e(f.system)}: {_e(f.error)}</li>"
                for f in self.output.failed) + "</ul>")
        data = {"charts": self.charts, "differences": self.differences}
        return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
                "style-src 'unsafe-inline'; img-src data:\">"
                f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
                f"<h1>{_e(title)}</h1>{''.join(notes)}{''.join(self.parts)}"
                f'<script type="application/json" id="report-data">{_json_for_script(data)}</script>'
                f'<script type="module">{vega_bundle()}</script>'
                f'<script type="module">{SCRIPT}</script></body></html>')


def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (``vl_convert.javascript_bundle``), cached on disk
    per vl-convert version: making it takes seconds."""
    import vl_convert

    path = cache_dir("report") / f"vega-bundle-{vl_convert.__version__}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle()
    with atomic_open(path) as f:
        f.write(bundle)
    return bundle


def write_report(out: str | Path, html_path: str | Path | None = None, baseline: str | None = None,
                 ifrag: Sequence[str | Path] = (), seed: int = 0) -> Path:
    """Write the page for the output folder ``out`` (default ``<out>/report.html``), atomically."""
    check_seed(seed)
    output = read_output(out)
    page = Page(output, baseline, seed)
    for dataset in dict.fromkeys(p.dataset for p in output.pairs):
        page.dataset(dataset, [p for p in output.pairs if p.dataset == dataset])
    for path in ifrag:
        page.ifrag(Path(path))
    target = Path(html_path) if html_path else Path(out) / "report.html"
    with atomic_open(target) as f:
        f.write(page.render(f"rageval report: {Path(out).resolve().name}"))
    return target

"""The HTML report in a real headless Chromium (Debian's, driven by playwright) with the network
blocked; the export and ``rageval.read_results``; the text leaderboard; the report's bad input."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rageval import RagevalError, read_results
from rageval.cli import main
from rageval.reporting.leaderboard import leaderboard
from rageval.store.run_store import Outcome

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\"> apples?"


def browser():
    """Debian's Chromium through playwright; required in CI (.ci/run installs it)."""
    if not CHROMIUM.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} missing (CI=true: .ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


@pytest.fixture(scope="module")
def out(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = root / "hostile"
    data.mkdir()
    docs = ["red apples and green apples", "a pear is not an apple", "fast red cars", "apple pie recipe",
            "green cars are rare", "pears and apples in a bowl"]
    (data / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": t}) + "\n"
                                               for i, t in enumerate(docs)))
    queries = [HOSTILE, "red car", "pear", "apple pie", "green things"]
    (data / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n"
                                                for i, t in enumerate(queries)))
    (data / "qrels").mkdir()
    (data / "qrels" / "test.tsv").write_text("q0\td0\t1\nq0\td5\t1\nq1\td2\t1\nq2\td1\t1\nq2\td5\t1\nq3\td3\t2\n"
                                             "q4\td0\t1\nq4\td4\t1\n")
    runs = root / "runs"
    assert main(["run", "--dataset", str(data), "--retriever", "bm25", "--retriever", "bm25:k1=0.5,b=0.3",
                 "--retriever", "rewrite:base=bm25,method=rm3", "--k", "5", "--out", str(runs)]) == 0
    assert main(["run", "--dataset", str(shared / "xquad_en"), "--retriever", "bm25", "--chunker",
                 "recursive:size=200,overlap=0", "--chunker", "recursive:size=400,overlap=0", "--chunker",
                 "fixed:size=50,overlap=0,unit=cl100k_base", "--chunker", "fixed:size=100,overlap=0,unit=cl100k_base",
                 "--sample", "40", "--out", str(runs)]) == 0
    incomplete = runs / next(runs.glob("hostile*")).name / "dense-deadbeef"
    incomplete.mkdir()
    (incomplete / "run.trec").write_text("q0 Q0 d0 1 1.0 x\n")  # interrupted: no metrics.json
    return runs


# every point of the Vega views' line marks, and the heading (dataset) its chart is under
PLOTTED_LINES = """ids => Object.fromEntries(ids.map(id => {
  let heading = document.getElementById(id);
  while (heading.tagName !== 'H2') heading = heading.previousElementSibling;
  const points = [];
  const walk = node => {
    if (node.marktype === 'line') node.items.forEach(p => points.push([p.datum.system, p.datum.measure, p.datum.k,
                                                                        p.datum.value, p.x]));
    for (const item of node.items || []) for (const child of item.items || []) walk(child);
  };
  walk(window.ragevalViews[id].scenegraph().root);
  return [id, [heading.textContent, points]];
}))"""


def _finished_pairs(out: Path) -> list[tuple[dict, list[dict]]]:
    return [(json.loads((f / "metrics.json").read_text()),
             [json.loads(line) for line in (f / "per_query.jsonl").read_text().splitlines()])
            for f in sorted(out.glob("*/*/")) if (f / "metrics.json").is_file()]


def assert_curves_plot_the_files(page, out: Path) -> None:
    """The measure@k lines drawn: per dataset, system and measure, the points (left to right) are
    k = 1..N with the values of ``curves`` in that pair's metrics.json."""
    charts = json.loads(page.evaluate("document.getElementById('report-data').textContent"))["charts"]
    ids = [c["id"] for c in charts if c["spec"].get("spec", {}).get("encoding", {}).get("x", {}).get("field") == "k"]
    plotted: dict[tuple[str, str, str], list] = {}
    for dataset, points in page.evaluate(PLOTTED_LINES, ids).values():
        for system, measure, k, value, x in points:
            plotted.setdefault((dataset, system, measure), []).append((x, k, value))
    expected = {(meta["dataset"], meta["retriever"], f"{family}@k"): values
                for meta, _ in _finished_pairs(out) for family, values in meta["curves"].items()}
    assert len(ids) == 2 and set(plotted) == set(expected)
    for key, values in expected.items():
        line = sorted(plotted[key])  # by x position on the chart
        assert [k for _, k, _ in line] == list(range(1, len(values) + 1)), key
        assert [v for _, _, v in line] == values, key
        assert len({x for x, _, _ in line}) == len(values)  # one x position per k


def assert_differences_plot_the_files(page, out: Path) -> None:
    """The per-query difference bars drawn: one per query both systems scored, the difference of the
    two per_query.jsonl values (to the page's 1/65534 resolution)."""
    data = json.loads(page.evaluate("document.getElementById('report-data').textContent"))
    pairs = _finished_pairs(out)
    assert len(data["differences"]) == 2
    for ds in data["differences"]:
        system = page.eval_on_selector(f"#{ds['id']}-system", "s => s.value")
        bars = page.evaluate("""id => { const bars = []; const walk = node => {
            if (node.marktype === 'rect') node.items.forEach(b => b.datum && bars.push([b.datum.query, b.datum.difference]));
            for (const item of node.items || []) for (const child of item.items || []) walk(child); };
          walk(window.ragevalViews[id].scenegraph().root); return bars; }""", ds["id"])
        values = {meta["retriever"]: {r["query_id"]: r[ds["measure"]] for r in rows if ds["measure"] in r}
                  for meta, rows in pairs if meta["retriever"] in (system, ds["baseline"])}
        mine, base = values[system], values[ds["baseline"]]
        expected = {q: mine[q] - base[q] for q in mine if q in base}
        assert len(bars) == len(expected) and {q for q, _ in bars} == set(expected)
        for query, difference in bars:
            assert difference == pytest.approx(expected[query], abs=2e-5), query


def test_page_in_a_real_browser(out, tmp_path):
    # no --baseline: each dataset's first system (xquad's systems are "<chunker> + bm25", none is bm25)
    assert main(["report", str(out), "--html", str(tmp_path / "page.html")]) == 0
    page_file = tmp_path / "page.html"
    finished = len(list(out.glob("*/*/metrics.json")))
    with browser() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        context = chromium.new_context(viewport={"width": 1300, "height": 900})
        requested, errors = [], []
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else (requested.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else requested.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_function("document.querySelectorAll('.chart').length > 0 && Array.from("
                               "document.querySelectorAll('.chart')).every(c => c.querySelector('svg, canvas'))",
                               timeout=30_000)
        page.wait_for_function("Object.keys(window.ragevalViews || {}).length === "
                               "document.querySelectorAll('.chart').length", timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert errors == [] and requested == []
        rows = page.eval_on_selector_all("table.leaderboard tbody tr", "rows => rows.length")
        assert rows == finished  # one row per finished pair; the interrupted one is listed apart
        assert page.locator("text=Left out (not finished): dense-deadbeef (no metrics.json (interrupted, or its "
                            "retriever failed))").count() == 1
        assert_curves_plot_the_files(page, out)
        assert_differences_plot_the_files(page, out)
        marks = page.eval_on_selector_all(".chart", "charts => charts.map(c => c.querySelector('canvas') ? "
                                          "c.querySelector('canvas').width : c.querySelectorAll('svg path, svg rect, svg "
                                          "line, svg symbol').length)")
        assert len(marks) >= 4 and all(m > 0 for m in marks)  # curves x2, differences x2, spans
        assert page.evaluate("window.pwned") is None  # the query's <script> and onerror never ran
        first = page.locator("table.leaderboard").first
        before = first.locator("tbody tr td:first-child").all_inner_texts()
        first.locator("th", has_text="search s").click()
        after = first.locator("tbody tr td:first-child").all_inner_texts()
        values = [float(v) for v in first.locator("tbody tr td:nth-child(7)").all_inner_texts()]
        assert values == sorted(values, reverse=True) and sorted(after) == sorted(before)
        first.locator("th", has_text="system").click()
        names = first.locator("tbody tr td:first-child").all_inner_texts()
        assert names == sorted(names, reverse=True)
        chromium.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_hostile_text_is_escaped_in_the_page(out, tmp_path):
    assert main(["report", str(out), "--html", str(tmp_path / "p.html")]) == 0
    page = (tmp_path / "p.html").read_text()
    data = page[page.index('id="report-data">'):]
    block = data.split("</script>")[0][len('id="report-data">'):]
    assert "<" not in block and ">" not in block  # < > & are \\u escapes inside the JSON block
    assert "\\u003cscript\\u003ewindow.pwned" in block


def test_report_bad_input(out, tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no finished run" in capsys.readouterr().err
    mixed = tmp_path / "mixed"
    shutil.copytree(out, mixed)
    meta = next(mixed.glob("*/*/metrics.json"))
    data = json.loads(meta.read_text())
    data["versions"]["rageval"] = "0.0.1"
    meta.write_text(json.dumps(data))
    assert main(["report", str(mixed)]) == 0
    assert "written by different rageval versions: 0.0.1, " in (mixed / "report.html").read_text()


def test_results_and_export(out, tmp_path):
    frame = read_results(out)
    finished = list(out.glob("*/*/metrics.json"))
    expected_rows = sum(len(json.loads(p.read_text())["metrics"]) for p in finished)
    assert len(frame) == expected_rows and set(frame.columns) >= {"dataset", "system", "measure", "value", "low"}
    row = frame[(frame.system == "bm25") & (frame.measure == "nDCG@10")].iloc[0]
    assert row.low <= row.value <= row.high
    per_query = read_results(out, per_query=True)
    assert set(per_query.columns) == {"dataset", "system", "query_id", "measure", "value"}
    for fmt in ("csv", "parquet", "jsonl"):
        assert main(["export", str(out), "--format", fmt, "--file", str(tmp_path / f"r.{fmt}")]) == 0
    import pandas as pd

    assert pd.read_csv(tmp_path / "r.csv").shape == frame.shape
    assert pd.read_parquet(tmp_path / "r.parquet").equals(frame)
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == len(frame)
    with pytest.raises(RagevalError, match="no finished run"):
        read_results(tmp_path / "nothing-here") if (tmp_path / "nothing-here").mkdir() is None else None


def test_report_baseline_must_be_a_system(out, tmp_path, capsys, caplog):
    assert main(["report", str(out), "--html", str(tmp_path / "p.html"), "--baseline", "nope"]) == 2
    err = capsys.readouterr().err
    assert "baseline 'nope' is not a system of any dataset; there are: hostile.test: bm25, " in err
    assert not (tmp_path / "p.html").exists()
    # a baseline of one dataset only: the other is shown without differences, with a note and a warning
    assert main(["report", str(out), "--html", str(tmp_path / "p.html"), "--baseline", "bm25:k1=0.5,b=0.3"]) == 0
    page = (tmp_path / "p.html").read_text()
    assert page.count("No differences: the baseline bm25:k1=0.5,b=0.3 is not a system of this dataset.") == 1
    assert "bm25:k1=0.5,b=0.3 (baseline)" in page
    assert "skipped: baseline 'bm25:k1=0.5,b=0.3' is not one of its systems" in caplog.text
    assert main(["report", str(out), "--html", str(tmp_path / "q.html"), "--seed", "-1"]) == 2
    assert "seed must be a whole number of at least 0, got -1" in capsys.readouterr().err


def test_report_and_export_name_a_corrupt_metrics_file(out, tmp_path, caplog):
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    first = sorted(broken.glob("hostile*/*/metrics.json"))[0]
    first.write_text("")
    assert main(["report", str(broken), "--html", str(tmp_path / "p.html")]) == 0
    assert f"{first.parent}: bm25 left out: metrics.json is empty" in caplog.text  # named from its run.json
    assert "the baseline is " in caplog.text and ", not bm25, which is left out" in caplog.text
    assert "bm25 (metrics.json is empty)" in (tmp_path / "p.html").read_text()
    caplog.clear()
    assert main(["export", str(broken), "--file", str(tmp_path / "r.csv")]) == 0
    assert f"{first.parent}: bm25 left out: metrics.json is empty" in caplog.text


def test_csv_export_neutralises_formula_cells_but_not_numbers(out, tmp_path):
    import csv

    hostile = tmp_path / "hostile"
    shutil.copytree(out, hostile)
    folder = sorted(hostile.glob("hostile*/*/metrics.json"))[0].parent
    meta = json.loads((folder / "metrics.json").read_text())
    meta["retriever"] = '=HYPERLINK("http://evil.example","x")'
    (folder / "metrics.json").write_text(json.dumps(meta))
    rows = [{"query_id": "@SUM(A1)", "nDCG@10": -0.25}, {"query_id": "-7", "nDCG@10": 0.5},
            {"query_id": "\tq", "nDCG@10": 1}, {"query_id": "+1+2", "nDCG@10": 0.0}]
    (folder / "per_query.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["export", str(hostile), "--per-query", "--file", str(tmp_path / "q.csv")]) == 0
    with open(tmp_path / "q.csv", newline="") as f:
        cells = [r for r in csv.DictReader(f) if r["system"].endswith('"x")')]
    assert {r["system"] for r in cells} == {"'=HYPERLINK(\"http://evil.example\",\"x\")"}
    assert [(r["query_id"], r["value"]) for r in cells] == [("'@SUM(A1)", "-0.25"), ("-7", "0.5"), ("'\tq", "1.0"),
                                                            ("'+1+2", "0.0")]
    assert main(["export", str(hostile), "--file", str(tmp_path / "r.csv")]) == 0
    text = (tmp_path / "r.csv").read_text()
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text and '"=' not in text
    assert main(["export", str(hostile), "--per-query", "--format", "jsonl", "--file", str(tmp_path / "q.jsonl")]) == 0
    assert '"system":"=HYPERLINK' in (tmp_path / "q.jsonl").read_text()  # jsonl keeps the text as it is


def test_export_file_named_for_another_format(out, tmp_path, capsys):
    assert main(["export", str(out), "--file", str(tmp_path / "r.parquet")]) == 2
    assert "r.parquet is named as a parquet file, but the format asked for is csv" in capsys.readouterr().err
    assert not (tmp_path / "r.parquet").exists()


def _evaluated(tmp_path: Path, names: list[str]) -> Path:
    """An output folder of `rageval evaluate --out` with one pair per name (a tiny run each)."""
    qrels, run = tmp_path / "q.qrels", tmp_path / "r.trec"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    run.write_text("q1 Q0 d1 1 2.0 r\nq2 Q0 d3 1 1.0 r\nq2 Q0 d2 2 0.5 r\n")
    out = tmp_path / "o"
    for name in names:
        assert main(["evaluate", "--run", str(run), "--qrels", str(qrels), "--out", str(out), "--name", name]) == 0
    return out


@pytest.mark.parametrize("where, bad", [("metrics.json", "NaN"), ("metrics.json", "Infinity"),
                                        ("metrics.json", "1e999"), ("per_query.jsonl", "NaN"),
                                        ("per_query.jsonl", "-Infinity"), ("per_query.jsonl", "1" + "0" * 400)])
def test_a_value_that_is_not_a_finite_number_leaves_the_pair_out_everywhere(tmp_path, capsys, caplog, where, bad):
    out = _evaluated(tmp_path, ["a", "b"])
    pair = next(out.glob("*/b-*"))
    path = pair / where
    if where == "metrics.json":
        path.write_text(path.read_text().replace('"nDCG@10": ', f'"nDCG@10": {bad}, "was": ', 1))
    else:
        lines = path.read_text().splitlines()
        row = json.loads(lines[0])
        lines[0] = json.dumps(row).replace(f'"nDCG@10": {json.dumps(row["nDCG@10"])}', f'"nDCG@10": {bad}')
        path.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    for argv in (["compare", str(out)], ["export", str(out), "--file", str(tmp_path / "r.csv")],
                 ["export", str(out), "--per-query", "--file", str(tmp_path / "p.csv")]):
        caplog.clear()
        assert main(argv) == 0
        assert f"{pair}: " in caplog.text and " left out: " in caplog.text and "not a finite number" in caplog.text
    assert "\nb," not in (tmp_path / "r.csv").read_text() and "\nb," not in (tmp_path / "p.csv").read_text()
    assert set(read_results(out)["system"]) == {"a"}


def test_text_tables_show_control_characters_escaped(tmp_path, capsys):
    from rageval.reporting.leaderboard import printable, table

    out = _evaluated(tmp_path, ["sys"])
    metrics = next(out.glob("*/*/metrics.json"))  # a folder written by hand or an older version
    meta = json.loads(metrics.read_text())
    meta["retriever"] = "\x1b[2J\x1b[31mRED\r\n\x9b"
    metrics.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["compare", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "\\x1b[2J\\x1b[31mRED\\x0d\\x0a\\x9b" in shown
    assert not any(ch in shown for ch in "\x1b\r\x9b")
    assert printable("tab\there\x7f") == "tab\\x09here\\x7f"
    assert table(["a\x1b"], [["b\x00"]]).splitlines() == ["a\\x1b", "-----", "b\\x00"]


def test_leaderboard_names_its_status_column_and_shows_failures_in_full():
    reason = "RuntimeError: " + "a long reason " * 10
    outcomes = [Outcome("d", "bm25", {"nDCG@10": 0.5}, {"index_s": 1, "search_s": 2}, resumed=True),
                Outcome("d", "broken", error=reason)]
    text = leaderboard(outcomes, ["nDCG@10"])
    header, dashes = text.splitlines()[1:3]
    assert header.split()[-1] == "status" and len(dashes.split()) == 5  # retriever, nDCG@10, index s, search s, status
    assert "FAILED (1)" in text and f"(1) broken: {reason.strip()}" in text
    clean = leaderboard([Outcome("d", "bm25", {"nDCG@10": 0.5}, {"index_s": 1, "search_s": 2})], ["nDCG@10"])
    assert "status" not in clean and len(clean.splitlines()[2].split()) == 4


def test_spreadsheet_safe_by_hand():
    from rageval.reporting.frame import spreadsheet_safe

    # OWASP: a cell beginning with = + - @, a tab or a carriage return is run as a formula
    for cell in ("=1+2", "+A1", "-A1", "@SUM(A1)", "\tq", "\r=cmd|' /C calc'!A0", "\r", "-1e", "+1+2", "-1e5x"):
        assert spreadsheet_safe(cell) == "'" + cell, cell
    # plain numbers written as text (with a sign, a decimal point, an exponent), other text, and non-text stay
    for cell in ("-1", "+0.5", "-.5", "-3.", "-1e-3", "+2E5", "-7.5e+10", "q1", "a=b", 0.5, -1, None):
        assert spreadsheet_safe(cell) == cell, cell


def test_csv_export_ends_every_line_with_crlf(tmp_path):
    out = _evaluated(tmp_path, ["a", "b"])
    for extra in ([], ["--per-query"]):
        target = tmp_path / f"r{len(extra)}.csv"
        assert main(["export", str(out), *extra, "--file", str(target)]) == 0
        lines = target.read_bytes().split(b"\r\n")  # RFC 4180
        assert lines[0].startswith(b"dataset,system,") and lines[-1] == b"" and len(lines) > 3
        assert not any(b"\n" in line or b"\r" in line for line in lines)

"""The HTML report in a real headless Chromium (Debian's, driven by playwright) with the network
blocked; the export and ``rageval.results``; the report's bad input."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rageval import RagevalError, results
from rageval.cli import main

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


def test_page_in_a_real_browser(out, tmp_path):
    assert main(["report", str(out), "--html", str(tmp_path / "page.html"), "--baseline", "bm25"]) == 0
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
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert errors == [] and requested == []
        rows = page.eval_on_selector_all("table.leaderboard tbody tr", "rows => rows.length")
        assert rows == finished  # one row per finished pair; the interrupted one is listed apart
        assert page.locator("text=Incomplete (interrupted, not scored)").count() == 1
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
    frame = results(out)
    finished = list(out.glob("*/*/metrics.json"))
    expected_rows = sum(len(json.loads(p.read_text())["metrics"]) for p in finished)
    assert len(frame) == expected_rows and set(frame.columns) >= {"dataset", "system", "measure", "value", "low"}
    row = frame[(frame.system == "bm25") & (frame.measure == "nDCG@10")].iloc[0]
    assert row.low <= row.value <= row.high
    per_query = results(out, per_query=True)
    assert set(per_query.columns) == {"dataset", "system", "query_id", "measure", "value"}
    for fmt in ("csv", "parquet", "jsonl"):
        assert main(["export", str(out), "--format", fmt, "--file", str(tmp_path / f"r.{fmt}")]) == 0
    import pandas as pd

    assert pd.read_csv(tmp_path / "r.csv").shape == frame.shape
    assert pd.read_parquet(tmp_path / "r.parquet").equals(frame)
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == len(frame)
    with pytest.raises(RagevalError, match="no finished run"):
        results(tmp_path / "nothing-here") if (tmp_path / "nothing-here").mkdir() is None else None

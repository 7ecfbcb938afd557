"""``rageval evaluate`` as trec_eval users expect: bad run and qrels files are errors naming the file,
line and value; several runs, one row each; trec_eval -q listings; every trec_eval measure by name;
and evaluate-then-compare beside ``rageval run``'s own runs, in one output format."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytrec_eval
from conftest import write_beir

from rageval.cli import main

QRELS = "q1 0 d1 2\nq1 0 d2 0\nq1 0 d3 1\nq2 0 d4 1\nq3 0 d5 0\n"
RUN_A = "q1 Q0 d2 1 3.0 a\nq1 Q0 d1 2 2.0 a\nq1 Q0 d3 3 1.0 a\nq2 Q0 d9 1 1.0 a\nq2 Q0 d4 2 0.5 a\n"
RUN_B = "q1 Q0 d1 1 9.0 b\nq2 Q0 d4 1 8.0 b\n"


def files(tmp_path: Path, **texts: str) -> dict[str, str]:
    """Write each text to tmp_path/<name with _ as .> and return the paths by name."""
    paths = {}
    for name, text in texts.items():
        path = tmp_path / name.replace("_", ".")
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    return paths


def evaluate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("line, message", [
    ("q1 Q0 d1 1 nan a", "run.trec:2: score 'nan' is not a number"),
    ("q1 Q0 d1 1 inf a", "run.trec:2: score 'inf' is not a number"),
    ("q1 Q0 d1 1 1e400 a", "run.trec:2: score '1e400' is too large for a float"),
    ("q1 Q0 d1 1 1_000 a", "run.trec:2: score '1_000' is not a number"),
    ("q1 Q0 d1 first 1.0 a", "run.trec:2: rank 'first' is not an integer"),
    ("q1 Q0 d\x00b 1 1.0 a", "run.trec:2: \"docid\" must be a non-empty id without whitespace, got 'd\\x00b', "
                             "which holds a NUL character"),
    ("q1 Q0 d1 1 1.0", "run.trec:2: expected 6 columns"),
])
def test_a_bad_run_line_is_an_error_naming_file_line_and_value(tmp_path, capsys, line, message):
    p = files(tmp_path, run_trec=f"q2 Q0 d4 1 2.0 a\n{line}\n", test_qrels=QRELS)
    code, out, err = evaluate(capsys, "--run", p["run_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and out == ""
    assert err.startswith("rageval: error: ") and message in err


@pytest.mark.parametrize("grade, message", [
    ("2147483647", "test.qrels:2: score '2147483647' is outside the grades rageval scores, -1000 to 1000"),
    ("1" + "0" * 30, "is outside the grades rageval scores"),
    ("4294967297", "score '4294967297' is outside"),
    ("1_0", "test.qrels:2: score '1_0' is not an integer"),
    ("\u0661", "test.qrels:2: score '\u0661' is not an integer"),
])
def test_grades_beyond_the_range_or_grammar_are_refused_at_once(tmp_path, capsys, grade, message):
    # 2147483647 used to take 10 GB and hang in trec_eval; 10^30 a SystemError; 1_0 and ١ were read as 10 and 1
    p = files(tmp_path, run_trec=RUN_A, test_qrels=f"q1 0 d1 1\nq1 0 d2 {grade}\n")
    start = time.perf_counter()
    code, _, err = evaluate(capsys, "--run", p["run_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and message in err and time.perf_counter() - start < 10


def test_ids_cut_at_nul_no_longer_match(tmp_path, capsys):
    # judged d\0a, retrieved d\0b: both reached trec_eval as "d", and nDCG@10 was 1.0
    p = files(tmp_path, run_trec="q1 Q0 d\x00b 1 1.0 a\n", test_qrels="q1 0 d\x00a 1\n")
    code, out, err = evaluate(capsys, "--run", p["run_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and out == ""
    assert "test.qrels:1: \"corpus-id\" must be a non-empty id without whitespace, got 'd\\x00a', which holds a NUL" in err


def test_an_empty_run_and_a_run_sharing_no_query_are_errors(tmp_path, capsys):
    p = files(tmp_path, empty_trec="", other_trec="x1 Q0 d1 1 1.0 a\n", test_qrels=QRELS)
    code, _, err = evaluate(capsys, "--run", p["empty_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and f"{p['empty_trec']}: no results: the run file is empty" in err
    code, _, err = evaluate(capsys, "--run", p["other_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and f"{p['other_trec']}: shares no query with {p['test_qrels']}" in err
    assert "'x1'" in err and "'q1'" in err


def test_qrels_that_judge_nothing_relevant_are_an_error(tmp_path, capsys):
    p = files(tmp_path, run_trec=RUN_A, test_qrels="q1 0 d1 0\n", empty_qrels="")
    code, _, err = evaluate(capsys, "--run", p["run_trec"], "--qrels", p["test_qrels"])
    assert code == 2 and "test.qrels: no relevant judgment: all 1 grades are 0 or less" in err
    code, _, err = evaluate(capsys, "--run", p["run_trec"], "--qrels", p["empty_qrels"])
    assert code == 2 and "empty.qrels: no judgments: the file is empty" in err


@pytest.mark.parametrize("option", ["--run", "--qrels"])
def test_unreadable_inputs_are_clear_errors(tmp_path, capsys, option):
    p = files(tmp_path, run_trec=RUN_A, test_qrels=QRELS)
    (tmp_path / "latin1").write_bytes(b"q1 Q0 caf\xe9 1 1.0 a\n")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "folder").mkdir()
    cases = {"missing": "file not found", "folder": "is a folder, not a regular file",
             "loop": "symbolic link loop", "latin1": ":1: not UTF-8: byte 0xe9 at column 10"}
    for name, message in cases.items():
        given = {"--run": p["run_trec"], "--qrels": p["test_qrels"], option: str(tmp_path / name)}
        code, _, err = evaluate(capsys, "--run", given["--run"], "--qrels", given["--qrels"])
        assert code == 2 and f"rageval: error: {tmp_path / name}" in err and message in err, (name, err)
        assert "Traceback" not in err


def test_every_input_file_is_checked_before_any_is_read(tmp_path, capsys):
    p = files(tmp_path, a_trec=RUN_A, test_qrels="q1 0 d1 x\n")  # a bad grade: reading it would fail first
    code, _, err = evaluate(capsys, "--run", p["a_trec"], "--run", str(tmp_path / "gone.trec"),
                            "--qrels", p["test_qrels"])
    assert code == 2 and f"{tmp_path / 'gone.trec'}: file not found" in err and "score 'x'" not in err


@pytest.mark.parametrize("option", ["--run", "--qrels"])
def test_a_fifo_is_refused_not_waited_on(tmp_path, option):
    p = files(tmp_path, run_trec=RUN_A, test_qrels=QRELS)
    os.mkfifo(tmp_path / "fifo")
    given = {"--run": p["run_trec"], "--qrels": p["test_qrels"], option: str(tmp_path / "fifo")}
    done = subprocess.run([sys.executable, "-m", "rageval.cli", "evaluate", "--run", given["--run"],
                           "--qrels", given["--qrels"]], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    assert f"rageval: error: {tmp_path / 'fifo'}: is a FIFO (named pipe), not a regular file" in done.stderr


def test_several_runs_give_one_row_each(tmp_path, capsys):
    p = files(tmp_path, a_trec=RUN_A, b_trec=RUN_B, test_qrels=QRELS)
    code, out, err = evaluate(capsys, "--run", p["a_trec"], "--run", p["b_trec"], "--qrels", p["test_qrels"],
                              "--metric", "P_1", "--metric", "recip_rank", "--metric", "Sufficiency@2")
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:4]}
    # a: q1 ranks d2 d1 d3 (first relevant 2nd), q2 ranks d9 d4 (2nd); b: both relevant documents 1st
    assert rows == {"a": ["0.0000", "0.5000", "0.5000"], "b": ["1.0000", "1.0000", "0.5000"]}
    assert "2 queries scored, 1 without a relevant judgment left out" in out


def test_names_are_given_once_per_run_and_differ(tmp_path, capsys):
    p = files(tmp_path, a_trec=RUN_A, b_trec=RUN_B, test_qrels=QRELS)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.trec").write_text(RUN_B)
    code, _, err = evaluate(capsys, "--run", p["a_trec"], "--run", p["b_trec"], "--qrels", p["test_qrels"],
                            "--name", "mine")
    assert code == 2 and "--name given 1 times for 2 --run files" in err
    code, _, err = evaluate(capsys, "--run", p["a_trec"], "--run", str(tmp_path / "x" / "a.trec"),
                            "--qrels", p["test_qrels"])
    assert code == 2 and "two runs are named 'a'" in err
    code, out, _ = evaluate(capsys, "--run", p["a_trec"], "--run", p["b_trec"], "--qrels", p["test_qrels"],
                            "--name", "first", "--name", "second")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[2:4]] == ["first", "second"]
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", "--run", p["a_trec"], "--qrels", p["test_qrels"], "--qrels", p["test_qrels"]])
    assert exited.value.code == 2 and "--qrels given twice" in capsys.readouterr().err


def test_per_query_values_as_trec_eval_prints_them(tmp_path, capsys):
    p = files(tmp_path, a_trec=RUN_A, test_qrels=QRELS)
    code, out, _ = evaluate(capsys, "-q", "--run", p["a_trec"], "--qrels", p["test_qrels"],
                            "--metric", "recip_rank", "--metric", "P_5")
    assert code == 0
    assert out.splitlines() == [
        "recip_rank            \tq1\t0.5000", "P_5                   \tq1\t0.4000",
        "recip_rank            \tq2\t0.5000", "P_5                   \tq2\t0.2000",
        "runid                 \tall\ta", "num_q                 \tall\t2",
        "recip_rank            \tall\t0.5000", "P_5                   \tall\t0.3000"]


def test_trec_eval_measures_on_the_command_line_equal_pytrec_eval(tmp_path, capsys):
    p = files(tmp_path, a_trec=RUN_A, test_qrels=QRELS)
    names = {"bpref": "bpref", "set_F": "set_F", "ndcg_cut_10": "ndcg_cut.10", "map": "map", "infAP": "infAP"}
    code, out, _ = evaluate(capsys, "-q", "--run", p["a_trec"], "--qrels", p["test_qrels"],
                            *(arg for name in names for arg in ("--metric", name)))
    assert code == 0
    printed = {(m.strip(), q): float(v) for m, q, v in (line.split("\t") for line in out.splitlines()) if q != "all"}
    qrels = {"q1": {"d1": 2, "d2": 0, "d3": 1}, "q2": {"d4": 1}}
    run = {"q1": {"d2": 3.0, "d1": 2.0, "d3": 1.0}, "q2": {"d9": 1.0, "d4": 0.5}}
    direct = pytrec_eval.RelevanceEvaluator(qrels, set(names.values())).evaluate(run)
    assert printed == {(m, q): round(direct[q][m], 4) for m, q in printed}
    assert set(printed) == {(m, q) for m in names for q in ("q1", "q2")}


def test_readme_evaluate_then_compare_beside_rageval_run(tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_beir(tmp_path / "path" / "to" / "cranfield")
    Path("mine.trec").write_text("q1 Q0 d2 1 3.0 mine\nq1 Q0 d1 2 2.0 mine\nq2 Q0 d3 1 1.0 mine\n")
    assert main(["run", "--dataset", "beir:path/to/cranfield", "--retriever", "bm25", "--out", "runs"]) == 0
    assert main(["evaluate", "--run", "mine.trec", "--qrels", "path/to/cranfield/qrels/test.tsv", "--out", "runs"]) == 0
    capsys.readouterr()
    assert main(["compare", "runs", "--baseline", "bm25"]) == 0
    out = capsys.readouterr().out
    assert "cranfield.test: nDCG@10" in out and "\nmine " in out and "\nbm25 " in out
    caplog.clear()
    assert main(["run", "--dataset", "beir:path/to/cranfield", "--retriever", "bm25", "--out", "runs"]) == 0
    assert "not a rageval metrics file" not in caplog.text
    results = json.loads(Path("runs/results.json").read_text())
    assert set(results["datasets"]) == {"cranfield.test"} and set(results["datasets"]["cranfield.test"]) == {"bm25", "mine"}
    # one metrics.json format: evaluate's record has every field rageval run's has
    (bm25,) = Path("runs").glob("cranfield.test-*/bm25-*/metrics.json")
    (mine,) = Path("runs").glob("cranfield.test-*/mine-*/metrics.json")
    ours, theirs = json.loads(mine.read_text()), json.loads(bm25.read_text())
    assert set(ours) == set(theirs) and ours["judgments_fingerprint"] == theirs["judgments_fingerprint"]
    # mine: q1 ranks d2 before d1 (grades 1 and 2), q2's d3 first: nDCG@10 of q1 by hand, q2 = 1
    q1 = (1 + 2 / 1.5849625007211563 + 0) / (2 + 1 / 1.5849625007211563)
    assert ours["metrics"]["nDCG@10"] == pytest.approx((q1 + 1) / 2)
    assert (mine.parent / "run.trec").is_file() and not (mine.parent / "run.json").exists()


def test_out_files_each_run_and_refuses_names_it_does_not_own(tmp_path, capsys):
    base = write_beir(tmp_path / "b")
    p = files(tmp_path, a_trec=RUN_A.replace("d", "x"), b_trec="q1 Q0 d1 1 1.0 b\n", other_tsv="q1\td3\t1\n")
    out = str(tmp_path / "runs")
    assert main(["run", "--dataset", str(base), "--retriever", "bm25", "--out", out]) == 0
    code, _, err = evaluate(capsys, "--run", p["b_trec"], "--qrels", str(base / "qrels" / "test.tsv"),
                            "--out", out, "--name", "bm25")
    assert code == 2 and "holds a run that rageval run made" in err
    code, _, err = evaluate(capsys, "--run", p["b_trec"], "--qrels", p["other_tsv"], "--out", out,
                            "--dataset-name", "b.test")
    assert code == 2 and "dataset 'b.test' under" in err and "was scored against other judgments" in err
    code, _, err = evaluate(capsys, "--run", p["b_trec"], "--run", p["a_trec"], "--qrels", p["other_tsv"],
                            "--out", out)
    assert code == 0, err
    results = json.loads((tmp_path / "runs" / "results.json").read_text())["datasets"]
    assert set(results) == {"b.test", "other"} and set(results["other"]) == {"a", "b"}
    assert results["other"]["b"]["metrics"]["nDCG@10"] == 0.0  # b retrieved d1, other.tsv judges only d3


@pytest.mark.parametrize("name", ["x\r=1+1", "\x1b[2J\x1b[31mRED", "a\x00b", "del\x7f", "c1\x85"])
def test_a_system_name_with_a_control_character_is_refused(tmp_path, capsys, name):
    paths = files(tmp_path, q_qrels=QRELS, a_trec=RUN_A)
    out = tmp_path / "o"
    assert main(["evaluate", "--run", paths["a_trec"], "--qrels", paths["q_qrels"], "--out", str(out),
                 "--name", name]) == 2
    captured = capsys.readouterr()
    assert f"rageval: error: --name {name!r} holds the control character" in captured.err
    assert captured.out == "" and not out.exists()


def test_a_run_file_stem_with_a_control_character_needs_a_name(tmp_path, capsys):
    paths = files(tmp_path, q_qrels=QRELS)
    run = tmp_path / "bad\x1bname.trec"
    run.write_text(RUN_A)
    assert main(["evaluate", "--run", str(run), "--qrels", paths["q_qrels"]]) == 2
    err = capsys.readouterr().err
    assert "its stem 'bad\\x1bname' holds the control character '\\x1b'" in err and "with --name" in err


def test_csv_export_quotes_a_cell_holding_a_carriage_return(tmp_path):
    import csv

    paths = files(tmp_path, q_qrels=QRELS, a_trec=RUN_A)
    out = tmp_path / "o"
    assert main(["evaluate", "--run", paths["a_trec"], "--qrels", paths["q_qrels"], "--out", str(out)]) == 0
    metrics = next(out.glob("*/*/metrics.json"))  # a folder written by an older version can hold such a name
    meta = json.loads(metrics.read_text())
    meta["retriever"] = "x\r=1+1"
    metrics.write_text(json.dumps(meta))
    assert main(["export", str(out), "--file", str(tmp_path / "r.csv")]) == 0
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["dataset", "system", "measure", "value", "low", "high", "n_queries"]
    assert len(rows) == 1 + 4 and all(row[1] == "x\r=1+1" and len(row) == 7 for row in rows[1:])


def test_the_python_api_warns_when_the_run_shares_no_judged_query(caplog):
    from rageval import evaluate
    from rageval.data.trec import Run

    for run, listed in ((Run.from_dict({}), "0 queries (0 results)"),
                        (Run.from_dict({"other": {"da": 1.0, "db": 0.5}}), "1 queries (2 results)")):
        caplog.clear()
        results = evaluate({"q1": {"da": 1}, "q2": {"db": 1, "dc": 0}}, run, ["nDCG@10"])
        assert results.means == {"nDCG@10": 0.0} and results.n_without_results == 2  # trec_eval's semantics
        assert f"the run lists {listed}, none of the 2 judged queries" in caplog.text
    caplog.clear()
    evaluate({"q1": {"da": 1}}, Run.from_dict({"q1": {"da": 1.0}}), ["nDCG@10"])
    assert "none of the" not in caplog.text

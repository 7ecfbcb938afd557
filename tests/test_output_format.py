"""The output folder's format (``rageval.store.run_store``): versions, the pair key and its display label.

A folder written before the format had a version (format 1, written here by hand as rageval 0.1's
main wrote it) reads as it always did; a file in a newer format than this code knows is refused by
every reader with a message naming its folder and the version, never misread or overwritten.
"""
from __future__ import annotations

import json

import pytest

from conftest import write_beir
from rageval import benchmark, read_results
from rageval.cli import main
from rageval.store.run_folder import RunFolder, pair_folder
from rageval.store.run_records import read_output
from rageval.store.run_store import FORMAT, PairKey, PairResult, read_json

CHUNKER = "regex:pattern=a + b"  # a chunker spec holding the label's own separator


def format1_pair(out, dataset, retriever, chunker, per_query, intervals):
    """A pair folder as rageval wrote it before metrics.json had a "format" field."""
    label = f"{chunker} + {retriever}" if chunker else retriever
    folder = pair_folder(out, dataset, retriever, chunker)
    folder.mkdir(parents=True)
    settings = {"dataset": dataset, "split": "test", "corpus_fingerprint": "c", "qrels_fingerprint": "q",
                "chunker": chunker, "retriever": retriever, "config": {}, "k": 10, "k_asked": 10}
    (folder / "run.trec").write_text("q1 Q0 d1 1 1.0 x\n")
    (folder / "run.json").write_text(json.dumps({"settings": settings, "run_sha256": "s", "timings": {"index_s": 1.0},
                                                 "meta": {}}))
    (folder / "per_query.jsonl").write_text("".join(json.dumps({"query_id": q, "nDCG@10": v}) + "\n"
                                                    for q, v in per_query.items()))
    mean = sum(per_query.values()) / len(per_query)
    (folder / "metrics.json").write_text(json.dumps({
        "dataset": dataset, "retriever": label, "metrics": {"nDCG@10": mean}, "intervals": {"nDCG@10": intervals},
        "ties": {}, "curves": {"nDCG": [0.5, mean]}, "n_queries": len(per_query), "n_queries_without_relevant": 1,
        "n_queries_without_results": 1, "n_documents_searched": 3, "run": settings, "judgments_fingerprint": "j",
        "run_sha256": "s", "request": {"metrics": ["nDCG@10"]}, "evaluation": {}, "timings": {"index_s": 1.0},
        "versions": {"rageval": "0.1.0"}, "run_meta": {}}, indent=2))
    return folder


@pytest.fixture
def format1(tmp_path):
    out = tmp_path / "runs"
    format1_pair(out, "d.test", "bm25", None, {"q1": 1.0, "q2": 0.5, "q3": 0.0}, [0.0, 1.0])
    format1_pair(out, "d.test", "bm25", CHUNKER, {"q1": 0.5, "q2": 0.5, "q3": 0.25}, [0.25, 0.5])
    (out / "results.json").write_text(json.dumps({"datasets": {}, "failed": [
        {"dataset": "d.test", "retriever": "dense", "error": "ImportError: no torch"}]}))
    return out


def test_a_format_1_folder_reads_as_written(format1):
    output = read_output(format1)
    [whole, chunked] = output.finished()  # folder order: bm25-<hash> before regex_pattern=a_+_b-<hash>+bm25-<hash>
    assert whole.key == PairKey("d.test", "bm25") and whole.system == "bm25"
    assert chunked.key == PairKey("d.test", "bm25", CHUNKER) and chunked.system == f"{CHUNKER} + bm25"
    assert whole.result.format == 1 and whole.result.means == {"nDCG@10": 0.5}
    assert whole.result.n_queries_without_results == 1 and whole.result.versions == {"rageval": "0.1.0"}
    assert whole.per_query == {"nDCG@10": {"q1": 1.0, "q2": 0.5, "q3": 0.0}}
    assert [(f.dataset, f.system, f.error) for f in output.failed] == [("d.test", "dense", "ImportError: no torch")]
    frame = read_results(format1)
    assert frame.to_dict("records") == [
        {"dataset": "d.test", "system": "bm25", "measure": "nDCG@10", "value": 0.5, "low": 0.0, "high": 1.0,
         "n_queries": 3},
        {"dataset": "d.test", "system": f"{CHUNKER} + bm25", "measure": "nDCG@10", "value": 1.25 / 3,
         "low": 0.25, "high": 0.5, "n_queries": 3}]


def test_a_format_1_folder_compares_and_reports(format1, tmp_path, capsys):
    assert main(["compare", str(format1), "--baseline", "bm25", "--test", "ttest", "--correction", "none"]) == 0
    text = capsys.readouterr().out
    assert f"\n{CHUNKER} + bm25   0.4167  [0.2500, 0.5000]     -0.0833" in text  # 1.25 / 3 - 0.5
    assert "2 without results scored 0" in text  # one judged query without results in each pair
    assert main(["report", str(format1), "--html", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "dense: ImportError: no torch" in page and f"{CHUNKER} + bm25" in page


@pytest.mark.parametrize("command", [["compare"], ["report"], ["export"]])
def test_a_newer_metrics_json_is_refused_by_every_reader(format1, command, capsys):
    folder = pair_folder(format1, "d.test", "bm25")
    record = read_json(folder / "metrics.json")
    (folder / "metrics.json").write_text(json.dumps({**record, "format": 99}))
    assert main([*command, str(format1)]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: metrics.json is in output format 99, newer than this rageval reads (formats 1 to {FORMAT})" in err
    assert not (format1 / "report.html").exists() and not (format1 / "results.csv").exists()


def test_a_newer_results_json_is_refused(format1, capsys):
    (format1 / "results.json").write_text(json.dumps({"format": 3, "datasets": {}, "failed": []}))
    assert main(["compare", str(format1)]) == 2
    assert f"{format1}: results.json is in output format 3, newer than this rageval reads" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["2", 0, 1.5, True])
def test_a_format_that_is_not_a_version_leaves_the_pair_out(format1, value, caplog):
    folder = pair_folder(format1, "d.test", "bm25")
    (folder / "metrics.json").write_text(json.dumps({**read_json(folder / "metrics.json"), "format": value}))
    assert [p.system for p in read_output(format1).finished()] == [f"{CHUNKER} + bm25"]
    assert f'"format" is not a format version (a whole number from 1): {value}' in caplog.text


def test_the_label_is_made_once_and_the_key_read_back_whole(tmp_path):
    out = tmp_path / "runs"
    for key in (PairKey("d", "bm25", CHUNKER), PairKey("d", "bm25 + x"), PairKey("d", "bm25")):
        settings = {"dataset": "d", "chunker": key.chunker, "retriever": key.retriever}
        folder = RunFolder(pair_folder(out, key.dataset, key.retriever, key.chunker))
        folder.write_scores([{"query_id": "q1", "nDCG@10": 1.0}, {"query_id": "q2", "nDCG@10": 0.0}],
                            PairResult(key, {"nDCG@10": 0.5}, settings=settings))
    read = {p.key: p for p in read_output(out).finished()}
    assert set(read) == {PairKey("d", "bm25", CHUNKER), PairKey("d", "bm25 + x"), PairKey("d", "bm25")}
    assert read[PairKey("d", "bm25", CHUNKER)].system == "regex:pattern=a + b + bm25"
    assert read[PairKey("d", "bm25 + x")].system == "bm25 + x"
    assert all(p.result.format == FORMAT for p in read.values())
    written = read_json(pair_folder(out, "d", "bm25", CHUNKER) / "metrics.json")
    assert (written["format"], written["retriever"], written["run"]["chunker"]) == (2, f"{CHUNKER} + bm25", CHUNKER)
    with pytest.raises(ValueError, match="not the pair's"):  # the key is read back from the settings: they must agree
        PairResult.of(PairKey("d", "bm25", CHUNKER), None, settings={"chunker": None, "retriever": "bm25"},
                      request={}, judgments="j", run_sha256=None, curves={}, timings={})


@pytest.fixture
def finished_run(tmp_path):
    data = write_beir(tmp_path / "tiny")
    out = tmp_path / "runs"
    assert main(["run", "--dataset", str(data), "--retriever", "bm25", "--metric", "nDCG@10", "--out", str(out)]) == 0
    [folder] = [p.parent for p in out.glob("*/*/metrics.json")]
    return data, out, folder


@pytest.mark.parametrize("newer", ["metrics.json", "run.json"])
def test_a_resumed_run_refuses_a_newer_format_before_any_work(finished_run, newer, capsys):
    data, out, folder = finished_run
    if newer == "run.json":
        (folder / "metrics.json").unlink()
    record = read_json(folder / newer)
    (folder / newer).write_text(json.dumps({**record, "format": 7}))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    results_json = (out / "results.json").read_bytes()
    capsys.readouterr()
    assert main(["run", "--dataset", str(data), "--retriever", "bm25", "--metric", "nDCG@10", "--out", str(out)]) == 2
    assert f"{folder}: {newer} is in output format 7, newer than this rageval reads" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing deleted or rewritten
    assert (out / "results.json").read_bytes() == results_json


def test_what_today_writes_is_format_2_and_resumes(finished_run):
    data, out, folder = finished_run
    assert read_json(folder / "metrics.json")["format"] == read_json(folder / "run.json")["format"] == FORMAT
    assert read_json(out / "results.json")["format"] == FORMAT
    assert main(["run", "--dataset", str(data), "--retriever", "bm25", "--metric", "nDCG@10", "--out", str(out)]) == 0
    [pair] = read_output(out).finished()
    assert pair.key.retriever == "bm25" and pair.key.chunker is None


def test_a_foreign_metrics_file_under_out_is_left_out(shared, tmp_path, caplog):
    (tmp_path / "other" / "thing").mkdir(parents=True)
    (tmp_path / "other" / "thing" / "metrics.json").write_text('{"accuracy": 0.9}')
    [outcome] = benchmark(str(shared / "adi"), ["bm25"], ["nDCG@10"], out=tmp_path)
    assert outcome.error is None
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["datasets"]) == ["adi.test"]
    assert "is not a rageval metrics file" in caplog.text


def test_a_users_folder_under_out_is_not_taken_for_a_pair(format1, caplog):
    """Only folders holding a pair's files are pairs: a user's own folder two levels down (a backup, notes)
    is neither read nor reported as an unfinished pair."""
    user = format1 / "mine" / ".backup.20240101.d"
    user.mkdir(parents=True)
    (user / "notes.txt").write_text("mine")
    interrupted = pair_folder(format1, "d.test", "dense")
    interrupted.mkdir()
    (interrupted / "run.trec").write_text("q1 Q0 d1 1 1.0 x\n")
    output = read_output(format1)
    assert sorted(p.folder.name for p in output.pairs) == sorted([pair_folder(format1, "d.test", "bm25").name,
                                                                 pair_folder(format1, "d.test", "bm25", CHUNKER).name,
                                                                 interrupted.name])
    assert ".backup" not in caplog.text and "mine" not in caplog.text
    assert interrupted.name in caplog.text  # the interrupted pair is still named as left out
    assert (user / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("dropped", ["ties", "run", "versions", "judgments_fingerprint"])
def test_a_format_2_metrics_json_lacking_a_field_leaves_the_pair_out(format1, dropped, caplog):
    """Format 1 may lack the fields after "metrics"; format 2 requires every one."""
    folder = pair_folder(format1, "d.test", "bm25")
    record = read_json(folder / "metrics.json")
    del record[dropped]
    (folder / "metrics.json").write_text(json.dumps(record))  # still format 1: read
    assert [p.system for p in read_output(format1).finished()] == ["bm25", f"{CHUNKER} + bm25"]
    (folder / "metrics.json").write_text(json.dumps({**record, "format": 2}))
    assert [p.system for p in read_output(format1).finished()] == [f"{CHUNKER} + bm25"]
    assert f'metrics.json lacks "{dropped}"' in caplog.text


@pytest.mark.parametrize("name, value, kind", [("n_queries", True, "a whole number"),
                                                ("n_queries_without_results", 1.0, "a whole number"),
                                                ("ties", [], "an object"), ("run_sha256", 5, "a string")])
def test_a_metrics_field_of_the_wrong_json_type_leaves_the_pair_out(format1, name, value, kind, caplog):
    folder = pair_folder(format1, "d.test", "bm25")
    (folder / "metrics.json").write_text(json.dumps({**read_json(folder / "metrics.json"), "format": 2, name: value}))
    assert [p.system for p in read_output(format1).finished()] == [f"{CHUNKER} + bm25"]
    assert f'"{name}" of metrics.json is not {kind}: {value}' in caplog.text


def test_a_minimal_format_1_metrics_json_reads_with_empty_defaults(format1, capsys):
    folder = pair_folder(format1, "d.test", "bm25")
    (folder / "metrics.json").write_text(json.dumps({"dataset": "d.test", "retriever": "bm25",
                                                     "metrics": {"nDCG@10": 0.5}}))
    pair = next(p for p in read_output(format1).finished() if p.system == "bm25")
    result = pair.result
    assert (result.format, result.key, result.means) == (1, PairKey("d.test", "bm25"), {"nDCG@10": 0.5})
    assert (result.intervals, result.ties, result.n_queries, result.judgments_fingerprint) == (None, None, None, None)
    assert (result.n_queries_without_results, result.curves, result.settings, result.request, result.timings,
            result.versions, result.run_meta) == (0, {}, {}, {}, {}, {}, {})
    assert not result.complete
    assert main(["compare", str(format1), "--baseline", "bm25", "--test", "ttest", "--correction", "none"]) == 0
    assert "1 without results scored 0" in capsys.readouterr().out  # the chunked pair's one; none recorded here

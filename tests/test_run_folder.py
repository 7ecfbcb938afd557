"""A pair's folder as the README describes it: names, what a rerun may reuse, and what it must redo."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from rageval import Run
from rageval.store.run_folder import RunFolder, pair_folder, slug
from rageval.store.run_store import FORMAT, PairKey, PairResult, read_json

SETTINGS = {"dataset": "d", "chunker": None, "retriever": "bm25", "config": {"k1": 1.5}, "k": 10}
REQUEST = {"metrics": ["nDCG@10"], "ignore_identical_ids": False, "span_unit": "regex", "chroma": False}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_folder_names_follow_the_readme_rule():
    # every character but letters, digits and .=+-_ becomes _, then - and 8 hex digits of the string's sha256
    assert slug("bm25:k1=0.9,b=0.4") == "bm25_k1=0.9_b=0.4-" + sha("bm25:k1=0.9,b=0.4")[:8]
    assert slug("..name/../x") == "name_.._x-" + sha("..name/../x")[:8]  # leading and trailing dots dropped
    assert slug("a" * 100) == "a" * 60 + "-" + sha("a" * 100)[:8]  # the readable part stops at 60
    assert slug("...") == "_-" + sha("...")[:8] and slug(":") == "_-" + sha(":")[:8]
    assert slug("q\udc80") == "q_-" + sha("q\udc80")[:8]  # a lone surrogate still names one folder
    assert slug("bm25:k1=0.9") != slug("bm25_k1=0.9")
    assert pair_folder("out", "adi.test", "bm25") == pair_folder("out", "adi.test", "bm25", None)
    assert str(pair_folder("out", "adi.test", "bm25")) == f"out/{slug('adi.test')}/{slug('bm25')}"
    assert str(pair_folder("o", "x", "bm25", "fixed:size=50")) == f"o/{slug('x')}/{slug('fixed:size=50')}+{slug('bm25')}"


def write_pair(folder, run=None, settings=SETTINGS, request=REQUEST):
    pair = RunFolder(folder)
    run = run or Run.from_dict({"q1": {"a": 2.0, "b": 1.0}})
    pair.write_run(run, "bm25", settings, {"index_s": 1.0})
    pair.write_scores([{"query_id": "q1", "nDCG@10": 1.0}],
                      PairResult(PairKey("d", "bm25"), {"nDCG@10": 1.0}, settings=settings, request=request,
                                 run_sha256=pair.run_sha256))
    return pair


def test_a_finished_pair_is_reused_only_for_the_same_settings_request_and_run_file(tmp_path):
    write_pair(tmp_path / "p")
    assert RunFolder(tmp_path / "p").finished(SETTINGS, REQUEST).means == {"nDCG@10": 1.0}
    assert RunFolder(tmp_path / "p", resume=False).finished(SETTINGS, REQUEST) is None
    assert RunFolder(tmp_path / "p").finished({**SETTINGS, "k": 100}, REQUEST) is None
    assert RunFolder(tmp_path / "p").finished(SETTINGS, {**REQUEST, "metrics": ["MRR@10"]}) is None
    (tmp_path / "p" / "run.trec").write_text("q1 Q0 a 1 2.0 bm25\n")  # the run file changed after scoring
    assert RunFolder(tmp_path / "p").finished(SETTINGS, REQUEST) is None


def test_a_run_file_is_rescored_only_with_its_manifest(tmp_path):
    run = Run.from_dict({"q1": {"a": 2.0, "b": 1.0}, "q2": {"c": 0.5}})
    write_pair(tmp_path / "p", run)
    reused = RunFolder(tmp_path / "p").reusable_run(SETTINGS)
    assert reused is not None and reused[1] == {"index_s": 1.0}
    assert reused[0].to_dict() == run.to_dict()
    # scores beside a run they may not describe are gone before anything is redone
    assert not (tmp_path / "p" / "metrics.json").exists() and not (tmp_path / "p" / "per_query.jsonl").exists()
    write_pair(tmp_path / "q", run)
    assert RunFolder(tmp_path / "q").reusable_run({**SETTINGS, "config": {"k1": 0.9}}) is None
    assert not (tmp_path / "q" / "run.json").exists()  # a manifest that does not match is dropped
    write_pair(tmp_path / "r", run)
    (tmp_path / "r" / "run.trec").write_text("q1 Q0 a 1 2.0 bm25\n")
    assert RunFolder(tmp_path / "r").reusable_run(SETTINGS) is None  # the file no longer has the recorded hash
    write_pair(tmp_path / "s", run)
    assert RunFolder(tmp_path / "s", resume=False).reusable_run(SETTINGS) is None
    write_pair(tmp_path / "t", run)
    (tmp_path / "t" / "run.json").unlink()
    assert RunFolder(tmp_path / "t").reusable_run(SETTINGS) is None  # a run file without its manifest


def test_what_is_written(tmp_path):
    run = Run.from_dict({"q1": {"a": 2.0, "b": 1.0}})
    run.meta["note"] = "x"
    pair = RunFolder(tmp_path / "p")
    assert pair.run_sha256 is None  # nothing there yet
    pair.write_run(run, "my tag", SETTINGS, {"index_s": 1.0})
    text = (tmp_path / "p" / "run.trec").read_text()
    assert text == "q1 Q0 a 1 2.0 my_tag\nq1 Q0 b 2 1.0 my_tag\n"
    assert pair.run_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert read_json(tmp_path / "p" / "run.json") == {"format": FORMAT, "settings": SETTINGS, "run_sha256": pair.run_sha256,
                                                      "timings": {"index_s": 1.0}, "meta": {"note": "x"}}
    assert RunFolder(tmp_path / "p").run_sha256 == pair.run_sha256
    result = PairResult(PairKey("d", "bm25"), {"nDCG@10": 0.25}, settings=SETTINGS)
    pair.write_scores(iter([{"query_id": "q1", "nDCG@10": 0.5}, {"query_id": "q2", "nDCG@10": 0.0}]), result)
    assert (tmp_path / "p" / "per_query.jsonl").read_text().splitlines() == [
        '{"query_id": "q1", "nDCG@10": 0.5}', '{"query_id": "q2", "nDCG@10": 0.0}']
    written = read_json(tmp_path / "p" / "metrics.json")
    assert list(written)[:4] == ["format", "dataset", "retriever", "metrics"] and written["format"] == 2
    assert (written["dataset"], written["retriever"], written["metrics"]) == ("d", "bm25", {"nDCG@10": 0.25})
    (tmp_path / "p" / "bad.json").write_text("{not json")
    assert read_json(tmp_path / "p" / "bad.json") is None and read_json(tmp_path / "p" / "none.json") is None
    (tmp_path / "p" / "ok.json").write_text(json.dumps({"name": "é"}), encoding="utf-8")
    assert read_json(tmp_path / "p" / "ok.json") == {"name": "é"}

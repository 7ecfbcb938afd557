"""Bad input to ``rageval run``: every case is exit 2 with a message that says what is wrong, before
any index is built or any output folder is made (or, for a retriever whose scores are not finite,
that pair fails and writes no run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_beir
from rageval.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """``rageval run ARGS``: (exit status, stderr)."""
    capsys.readouterr()
    code = main(["run", *args])
    return code, capsys.readouterr().err


def write_docs(root: Path, csv_text: str | None = None) -> Path:
    """A docs: folder with one document and, unless ``csv_text`` is given, a valid questions CSV."""
    root.mkdir(parents=True)
    (root / "essay.md").write_text("Alpha beta. Gamma delta epsilon.", encoding="utf-8")
    (root / "questions.csv").write_text(csv_text or QUESTIONS, encoding="utf-8")
    return root


QUESTIONS = ('question,references,corpus_id\n'
             '"What follows delta?","[{""content"": ""epsilon"", ""start_index"": 24, ""end_index"": 31}]",essay\n')


# 1. a loader spec without its argument, or with an odd one: a message, never a traceback

@pytest.mark.parametrize("spec, message", [
    ("beir:", "dataset loader 'beir' needs its path after the colon, e.g. beir:PATH"),
    ("beir:,fields=text", "dataset loader 'beir' needs its path"),
    ("beir", "dataset loader 'beir' needs its path"),
    ("docs:", "dataset loader 'docs' needs its path"),
    ("code:", "dataset loader 'code' needs its path"),
    ("code-spans:", "dataset loader 'code-spans' needs its path"),
    ("irds:", "dataset loader 'irds' needs its dataset_id after the colon"),
    ("irds:no/such/collection", "irds:no/such/collection: ir_datasets has no such dataset"),
    ("", "dataset '' is empty"),
    ("  ", "dataset '  ' is empty"),
])
def test_a_loader_spec_without_its_argument_is_named(tmp_path, capsys, spec, message):
    code, err = run_cli(capsys, "--dataset", spec, "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_odd_loader_paths_and_options_are_named(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", f"beir:{data / 'corpus.jsonl'}", "--retriever", "bm25",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "corpus.jsonl: not a folder" in err
    code, err = run_cli(capsys, "--dataset", f"code:{data / 'corpus.jsonl'}", "--retriever", "bm25",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "corpus.jsonl: not a folder" in err
    code, err = run_cli(capsys, "--dataset", f"code:{data},max_bytes=0", "--retriever", "bm25",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "max_bytes=0: a file size limit must be at least 1" in err
    assert not (tmp_path / "o").exists()


# 2. depth and cutoffs: bounded, checked first, and the search never deeper than the corpus

@pytest.mark.parametrize("args, message", [
    (["--k", "1000000000000"], "--k must be between 1 and 10000, got 1000000000000"),
    (["--k", "10001"], "--k must be between 1 and 10000, got 10001"),
    (["--k", "0"], "--k must be between 1 and 10000, got 0"),
    (["--metric", "nDCG@99999999999999999999"], "the cutoff must be between 1 and 10000, got 99999999999999999999"),
    (["--metric", "Recall@10001"], "metric 'Recall@10001': the cutoff must be between 1 and 10000"),
])
def test_depth_and_cutoffs_are_bounded_before_any_work(tmp_path, capsys, args, message):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", *args, "--out", str(tmp_path / "o"))
    assert code == 2 and message in err
    assert not (tmp_path / "o").exists()


def test_the_search_is_never_deeper_than_the_documents(tmp_path, capsys):
    data = write_beir(tmp_path / "b")  # 3 documents
    out = tmp_path / "o"
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--k", "10000",
                      "--metric", "nDCG@10", "--out", str(out))
    assert code == 0
    settings = json.loads(next(out.rglob("run.json")).read_text())["settings"]
    assert (settings["k"], settings["k_asked"]) == (3, 10000)
    metrics = json.loads(next(out.rglob("metrics.json")).read_text())
    assert metrics["run"]["k"] == 3 and metrics["metrics"]["nDCG@10"] == pytest.approx(1.0)


@pytest.mark.parametrize("chunker", [[], ["--chunker", "fixed:size=3"]])
def test_a_span_measure_without_reference_spans_is_refused_before_any_work(tmp_path, capsys, monkeypatch, chunker):
    import rageval.retrievers.bm25 as bm25

    def no_index(self, corpus):
        raise AssertionError("indexed")

    monkeypatch.setattr(bm25.BM25, "index", no_index)
    data = write_beir(tmp_path / "b")  # no spans.jsonl
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", *chunker, "--metric", "nDCG@10",
                        "--metric", "IoU@5", "--metric", "precision_omega", "--out", str(tmp_path / "o"))
    assert code == 2
    assert "IoU@5, precision_omega: span measures need reference spans, and dataset 'b.test' has none" in err
    assert not (tmp_path / "o").exists()


def test_span_measures_without_a_chunker_score_whole_documents(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    (data / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 0, "end": 10}\n'
                                      '{"query-id": "q2", "corpus-id": "d3", "start": 0, "end": 4}\n')
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--k", "1", "--metric", "span_recall@1",
                      "--out", str(tmp_path / "o"))
    assert code == 0  # each query's top document holds its reference span whole
    assert json.loads(next((tmp_path / "o").rglob("metrics.json")).read_text())["metrics"]["span_recall@1"] == 1.0


# 3. scores that are not finite

@pytest.mark.parametrize("spec, message", [
    ("bm25:k1=1e308", "got k1=1e+308"),
    ("bm25:k1=1001", "got k1=1001"),
    ("bm25:epsilon=-1e308", "epsilon=-1e+308"),
])
def test_bm25_options_that_overflow_are_refused_up_front(tmp_path, capsys, spec, message):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", spec, "--out", str(tmp_path / "o"))
    assert code == 2 and "bm25: need k1 <= 1000 and |epsilon| <= 1000" in err and message in err
    assert not (tmp_path / "o").exists()


def test_bm25_at_its_bounds_gives_finite_scores(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25:k1=1000,epsilon=-1000",
                      "--out", str(tmp_path / "o"))
    assert code == 0


def test_a_run_with_scores_that_are_not_finite_fails_and_is_not_written(tmp_path, capsys, monkeypatch):
    import rageval.retrievers.bm25 as bm25

    search = bm25.BM25.search

    def overflowing(self, queries, k):
        run = search(self, queries, k)
        run.scores[run.indices >= 0] = np.inf
        run.scores[0, 0] = np.nan
        return run

    monkeypatch.setattr(bm25.BM25, "search", overflowing)
    data = write_beir(tmp_path / "b")
    capsys.readouterr()
    assert main(["run", "--dataset", str(data), "--retriever", "bm25:b=0.5", "--out", str(tmp_path / "o")]) == 1
    failures = capsys.readouterr().out.split("failed:")[-1]  # the leaderboard's list of failed pairs
    # q1 matches d1 and d2 (apple), q2 d1 and d3 (red, car): 4 results, all made inf or nan
    assert "retriever 'bm25:b=0.5': 4 of 4 scores are not finite (inf or nan; the first for query 'q1')" in failures
    assert not list((tmp_path / "o").rglob("run.trec"))


# 4. options that were accepted without effect

def test_a_sample_larger_than_the_judged_queries_is_reported(tmp_path, capsys, caplog):
    data = write_beir(tmp_path / "b")  # 2 judged queries
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--sample", "1000000000",
                      "--out", str(tmp_path / "o"))
    assert code == 0
    assert "--sample 1000000000: b.test has only 2 judged queries; all of them are scored" in caplog.text
    caplog.clear()
    assert run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--sample", "2",
                   "--out", str(tmp_path / "o"))[0] == 0
    assert "--sample" not in caplog.text  # exactly as many as asked: nothing to say
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--sample", "0",
                        "--out", str(tmp_path / "p"))
    assert code == 2 and "--sample must be at least 1, got 0" in err and not (tmp_path / "p").exists()


def test_an_unknown_span_unit_is_refused_without_span_measures(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--span-unit", "nope",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "--span-unit: unknown token unit 'nope'" in err
    assert not (tmp_path / "o").exists()


# 5. docs: questions= stays in the dataset folder unless given as an absolute path

def test_a_relative_questions_file_is_read_inside_the_folder(tmp_path, capsys, monkeypatch):
    docs = write_docs(tmp_path / "d")
    monkeypatch.chdir(tmp_path)  # questions.csv is not in the working directory: found in the folder
    code, _ = run_cli(capsys, "--dataset", f"docs:{docs},questions=questions.csv", "--retriever", "bm25",
                      "--out", str(tmp_path / "o"))
    assert code == 0


@pytest.mark.parametrize("questions", ["../outside.csv", "sub/../../outside.csv", "link.csv"])
def test_a_relative_questions_file_may_not_leave_the_folder(tmp_path, capsys, questions):
    docs = write_docs(tmp_path / "d")
    (tmp_path / "outside.csv").write_text(QUESTIONS, encoding="utf-8")
    (docs / "sub").mkdir()
    (docs / "link.csv").symlink_to(tmp_path / "outside.csv")
    code, err = run_cli(capsys, "--dataset", f"docs:{docs},questions={questions}", "--retriever", "bm25",
                        "--out", str(tmp_path / "o"))
    assert code == 2
    assert f"questions={questions}: a relative path must stay inside the dataset folder" in err
    assert not (tmp_path / "o").exists()


def test_an_absolute_questions_file_is_read_where_it_points(tmp_path, capsys):
    docs = write_docs(tmp_path / "d")
    elsewhere = tmp_path / "elsewhere" / "q.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text(QUESTIONS, encoding="utf-8")
    code, _ = run_cli(capsys, "--dataset", f"docs:{docs},questions={elsewhere}", "--retriever", "bm25",
                      "--out", str(tmp_path / "o"))
    assert code == 0


def test_a_questions_file_that_is_not_csv_or_jsonl_is_not_read(tmp_path, capsys):
    docs = write_docs(tmp_path / "d")
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    code, err = run_cli(capsys, "--dataset", f"docs:{docs},questions={secret}", "--retriever", "bm25",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "expected a .csv file or a .jsonl spans file" in err and "root:x" not in err


def test_a_missing_column_is_named_without_echoing_the_header(tmp_path, capsys):
    docs = write_docs(tmp_path / "d", "question,secret_token_abc123\nq,1\n")
    code, err = run_cli(capsys, "--dataset", f"docs:{docs}", "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and "questions.csv:1: missing column(s) references in the header line" in err
    assert "secret_token_abc123" not in err


# 6. messages that say what is actually wrong, and fast

def test_a_beir_folder_without_qrels_says_so(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    for tsv in (data / "qrels").iterdir():
        tsv.unlink()
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and "qrels: no judgments: this folder has no <split>.tsv file" in err
    (data / "qrels").rmdir()
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and "qrels: no qrels folder: a BEIR folder keeps its judgments in qrels/<split>.tsv" in err
    assert "several splits" not in err


@pytest.mark.parametrize("kind, message", [
    ("folder", "corpus.jsonl: is a folder, not a regular file"),
    ("fifo", "corpus.jsonl: is a FIFO (named pipe), not a regular file"),
    ("loop", "corpus.jsonl: cannot be read: symbolic link loop"),
    ("broken", "corpus.jsonl: broken symbolic link"),
    ("missing", "corpus.jsonl: file not found"),
])
@pytest.mark.parametrize("prefix", ["", "beir:"])
def test_a_corpus_file_that_is_not_a_file_says_what_it_is(tmp_path, capsys, kind, message, prefix):
    data = write_beir(tmp_path / "b")
    corpus = data / "corpus.jsonl"
    corpus.unlink()
    if kind == "folder":
        corpus.mkdir()
    elif kind == "fifo":
        os.mkfifo(corpus)
    elif kind == "loop":
        corpus.symlink_to(corpus)
    elif kind == "broken":
        corpus.symlink_to(data / "nowhere.jsonl")
    if kind == "missing" and not prefix:
        message = "no loader recognises this path"  # a bare path without corpus.jsonl is no BEIR folder
    code, err = run_cli(capsys, "--dataset", prefix + str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and message in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("dataset", ["no/such/folder", "beir:no/such/folder"])
def test_a_misspelled_dataset_path_fails_before_any_retriever_is_imported(tmp_path, dataset):
    script = ("import sys\nfrom rageval.cli import main\n"
              f"code = main(['run', '--dataset', {dataset!r}, '--out', {str(tmp_path / 'o')!r}])\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers')\n"
              "               or m.startswith('rageval.retrievers'))\n"
              "print(code, heavy)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.stdout.strip() == "2 []", done.stderr
    assert "no such" in done.stderr


# 7. bm25 option errors come before any dataset is read

def test_a_bm25_option_error_comes_before_the_dataset_is_read(tmp_path, capsys):
    data = write_beir(tmp_path / "b", corpus=['{"_id": "d1", "text": broken'])
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25:k1=-1", "--out", str(tmp_path / "o"))
    assert code == 2 and "bm25: need k1 >= 0" in err and "corpus.jsonl" not in err


# 8. an unusable cache folder is named before any work

@pytest.mark.parametrize("kind", ["file", "fifo", "loop", "below a file"])
def test_an_unusable_cache_folder_is_named_before_any_work(tmp_path, capsys, monkeypatch, kind):
    data = write_beir(tmp_path / "b")
    cache = tmp_path / "cache"
    blocker = cache
    if kind == "fifo":
        os.mkfifo(cache)
    elif kind == "loop":
        cache.symlink_to(cache)
    else:
        cache.write_text("f\n")
        if kind == "below a file":
            cache = cache / "sub"
    monkeypatch.setenv("RAGEVAL_CACHE", str(cache))
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 2 and "Traceback" not in err
    why = "is a symbolic link loop" if kind == "loop" else "exists and is not a folder"
    assert f"cache folder {cache} ($RAGEVAL_CACHE={cache}) cannot be used: {blocker} {why}" in err
    assert not (tmp_path / "o").exists()


# 9. Ctrl-C (or SIGTERM) says what the interrupted command leaves behind

@pytest.mark.parametrize("command, target, message", [
    ("run", "rageval.cli.run.benchmark", "interrupted; finished results are kept, rerun to resume"),
    ("evaluate", "rageval.cli.evaluate.evaluate",
     "interrupted; the systems filed under {out} before the interruption are complete"),
    ("evaluate-stdout", "rageval.cli.evaluate.evaluate", "interrupted; nothing was written"),
    ("ifrag", "rageval.ifrag.cli.build", "interrupted; nothing was written"),
])
def test_an_interrupted_command_says_what_it_leaves(tmp_path, capsys, monkeypatch, command, target, message):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupt)
    data = write_beir(tmp_path / "b")
    (tmp_path / "r.trec").write_text("q1 Q0 d1 1 1.0 x\n")
    (tmp_path / "q.qrels").write_text("q1 0 d1 1\n")
    out = tmp_path / "o"
    argv = {"run": ["run", "--dataset", str(data), "--retriever", "bm25", "--out", str(out)],
            "evaluate": ["evaluate", "--run", str(tmp_path / "r.trec"), "--qrels", str(tmp_path / "q.qrels"),
                         "--out", str(out)],
            "evaluate-stdout": ["evaluate", "--run", str(tmp_path / "r.trec"), "--qrels", str(tmp_path / "q.qrels")],
            "ifrag": ["ifrag", "build", "--dataset", str(data), "--out", str(tmp_path / "t.jsonl")]}[command]
    capsys.readouterr()
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert message.format(out=out) in err
    if command != "run":
        assert "rerun to resume" not in err


# 10. every user error comes before the heavy imports of the default retrievers

def test_input_errors_without_retriever_come_before_any_heavy_import(tmp_path):
    data = write_beir(tmp_path / "b")
    dup = write_beir(tmp_path / "dup", corpus=['{"_id": "d1", "text": "a"}', '{"_id": "d1", "text": "b"}'])
    cases = [["--dataset", str(data), "--split", "nope"],
             ["--dataset", str(data), "--chunker", "fixd"],
             ["--dataset", str(data), "--chunker", "fixed:size=0"],
             ["--dataset", str(data), "--metric", "IoU@5"],
             ["--dataset", str(dup)]]
    script = ("import json, sys\nfrom rageval.cli import main\n"
              f"codes = [main(['run', *case, '--out', {str(tmp_path / 'o')!r}]) for case in {cases!r}]\n"
              "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sentence_transformers', "
              "'transformers', 'faiss'})\n"
              "print(json.dumps([codes, heavy]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[2] * len(cases), []], done.stderr
    for expected in ("no split 'nope'", "unknown chunker 'fixd'", "size must be positive, got 0",
                     "IoU@5: span measures need reference spans", "corpus.jsonl:2: duplicate _id 'd1'"):
        assert expected in done.stderr
    assert not (tmp_path / "o").exists()


# 11. an existing path is a path, whatever characters it holds

@pytest.mark.parametrize("name", ["data[1", "br]x", "a,b=c", "x:y", "[w]"])
@pytest.mark.parametrize("prefix", ["", "beir:"])
def test_an_existing_dataset_path_is_taken_whole(tmp_path, capsys, name, prefix):
    data = write_beir(tmp_path / name)
    code, err = run_cli(capsys, "--dataset", prefix + str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 0, err
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert list(results["datasets"]) == [f"{name}.test"]


# 12. the loader's warning about judgments it skips says only what is true

def test_judgments_of_unknown_documents_are_reported_alone(tmp_path, capsys, caplog):
    data = write_beir(tmp_path / "b", qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tzz\t1\nq2\td3\t1\n")
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--out", str(tmp_path / "o"))
    assert code == 0
    assert "test.tsv: skipped 1 judgments of documents not in corpus.jsonl (e.g. 'zz')\n" in caplog.text + "\n"
    assert "queries not in" not in caplog.text and "None" not in caplog.text


# 13. numbers are plain ASCII numbers, in every command and in spec options

@pytest.mark.parametrize("argv, message", [
    (["run", "--k", "1_0"], "argument --k: expected int: ASCII digits with an optional sign, got '1_0'"),
    (["run", "--k", "١٠"], "argument --k: expected int: ASCII digits with an optional sign, got '١٠'"),
    (["run", "--k", " 10"], "argument --k: expected int"),
    (["run", "--k", "10.0"], "argument --k: expected int"),
    (["run", "--sample", "1_0"], "argument --sample: expected int"),
    (["run", "--seed", "1_0"], "argument --seed: expected int"),
    (["compare", "o", "--alpha", "0.٥"], "argument --alpha: expected float: ASCII digits"),
    (["compare", "o", "--alpha", "0_5"], "argument --alpha: expected float: ASCII digits"),
    (["compare", "o", "--permutations", "1_0"], "argument --permutations: expected int"),
    (["compare", "o", "--seed", "1_0"], "argument --seed: expected int"),
    (["report", "o", "--seed", "١"], "argument --seed: expected int"),
    (["ifrag", "build", "--dataset", "d", "--out", "t", "--k", "1_0"], "argument --k: expected int"),
    (["ifrag", "build", "--dataset", "d", "--out", "t", "--n", "1_0"], "argument --n: expected int"),
    (["ifrag", "build", "--dataset", "d", "--out", "t", "--max-instructions", "٢"], "argument --max-instructions"),
    (["ifrag", "build", "--dataset", "d", "--out", "t", "--seed", "1_0"], "argument --seed: expected int"),
    (["ifrag", "score", "--testset", "t", "--responses", "r", "--sample", "1_0"], "argument --sample: expected int"),
    (["ifrag", "score", "--testset", "t", "--responses", "r", "--seed", "1_0"], "argument --seed: expected int"),
])
def test_numeric_options_take_plain_ascii_numbers_only(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("spec, option", [("bm25:k1=1_0", "k1='1_0'"), ("bm25:k1=١", "k1='١'"),
                                          ("bm25:b=0.٥", "b='0.٥'")])
def test_spec_option_values_take_plain_ascii_numbers_only(tmp_path, capsys, spec, option):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", spec, "--out", str(tmp_path / "o"))
    assert code == 2 and f"retriever 'bm25': option {option}: expected float: ASCII digits" in err
    assert not (tmp_path / "o").exists()


def test_a_measure_cutoff_is_written_in_ascii_digits(tmp_path, capsys):
    data = write_beir(tmp_path / "b")
    code, err = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--metric", "nDCG@١٠",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and "metric 'nDCG@١٠' is not of the form NAME, NAME@K" in err


# 14. seeds are at least 0 everywhere; span options without a span measure are said to do nothing

@pytest.mark.parametrize("argv", [
    ["run", "--dataset", "{data}", "--retriever", "bm25", "--sample", "1", "--seed", "-1", "--out", "{tmp}/o"],
    ["ifrag", "build", "--dataset", "{data}", "--seed", "-1", "--out", "{tmp}/t.jsonl"],
    ["ifrag", "score", "--testset", "{tmp}/t.jsonl", "--responses", "{tmp}/r.jsonl", "--seed", "-1"],
])
def test_a_negative_seed_is_refused_in_every_command(tmp_path, capsys, argv):
    data = write_beir(tmp_path / "b")
    capsys.readouterr()
    assert main([a.format(data=data, tmp=tmp_path) for a in argv]) == 2
    assert "seed must be a whole number of at least 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "t.jsonl").exists()


def test_span_options_without_a_span_measure_are_said_to_have_no_effect(tmp_path, capsys, caplog):
    data = write_beir(tmp_path / "b")
    code, _ = run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--chroma", "--span-unit", "chars",
                      "--out", str(tmp_path / "o"))
    assert code == 0
    assert "--chroma has no effect: no span measure is asked" in caplog.text
    assert "--span-unit chars has no effect: no span measure is asked" in caplog.text
    caplog.clear()
    assert run_cli(capsys, "--dataset", str(data), "--retriever", "bm25", "--out", str(tmp_path / "p"))[0] == 0
    assert "no effect" not in caplog.text


def test_out_that_is_a_file(shared, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a folder")
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25", "--out", str(out)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err

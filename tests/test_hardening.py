"""Bad input and hostile conditions: each case reproduces a defect a tester found (issue 15)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from rageval import DataError, load_dataset
from rageval import benchmark as run
from rageval.cli import main
from rageval.report import leaderboard
from rageval.benchmarking import Outcome

ROOT = Path(__file__).resolve().parent.parent


def test_docs_refuses_symbolic_links_and_counts_them(tmp_path, caplog):
    outside = tmp_path / "outside.md"
    outside.write_text("secret text outside the folder")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("Alpha beta gamma.")
    (folder / "link.md").symlink_to(outside)
    (folder / "sub").symlink_to(tmp_path)
    (folder / "questions.csv").write_text('question,references,corpus_id\nq,"[{""content"": ""beta"", '
                                          '""start_index"": 6, ""end_index"": 10}]",a\n')
    ds = load_dataset(f"docs:{folder}")
    assert ds.corpus.ids == ["a"]
    assert "skipped 2 symbolic links" in caplog.text


@pytest.mark.parametrize("row, message", [
    ('q,"[3]",a', r"questions.csv:2: question 'q': reference 0 is not an object: 3"),
    ('q,"{}",a', r"questions.csv:2: question 'q': references must be a JSON list"),
])
def test_docs_csv_bad_references(tmp_path, row, message):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("Alpha beta gamma.")
    (folder / "questions.csv").write_text("question,references,corpus_id\n" + row + "\n")
    with pytest.raises(DataError, match=message):
        load_dataset(f"docs:{folder}")


def test_docs_csv_not_utf8(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("Alpha.")
    (folder / "questions.csv").write_bytes(b"question,references,corpus_id\ncaf\xe9,[],a\n")
    with pytest.raises(DataError, match=r"questions.csv:2: not UTF-8: byte 0xe9"):
        load_dataset(f"docs:{folder}")


def test_code_tree_skips_fifos_and_unreadable_folders(tmp_path, monkeypatch):
    from rageval.corpora.source_tree import walk

    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "ok.py").write_text('def f():\n    """Do it."""\n')
    os.mkfifo(tree / "pipe.py")
    (tree / "locked" / "hidden.py").write_text("x = 1\n")
    exists = Path.exists

    def denied(path: Path) -> bool:  # as a folder without read permission answers (root may read anything)
        if "locked" in path.parts:
            raise PermissionError(13, "Permission denied", str(path))
        return exists(path)

    monkeypatch.setattr(Path, "exists", denied)
    counts: Counter = Counter()
    found = [f.path for f in walk(tree, 1_000_000, frozenset(), counts)]  # returns: no hang on the FIFO
    assert found == ["ok.py"]
    assert counts["not a regular file"] == 1 and counts["unreadable folder"] == 1


def test_endpoint_errors_never_show_the_key(chat_server, monkeypatch):
    from rageval import registry
    from rageval.errors import RagevalError

    monkeypatch.setenv("TEST_KEY", "sk-very-secret-123")
    chat_server.script = [(400, '{"error": "bad key sk-very-secret-123, header Authorization: Bearer sk-very-secret-123"}')]
    generator = registry.create("generators", chat_server.spec(api_key_env="TEST_KEY", retries=0))
    with pytest.raises(RagevalError) as error:
        generator.generate(["hello"])
    assert "sk-very-secret" not in str(error.value) and "[redacted]" in str(error.value)


def test_endpoint_retries_are_logged(chat_server, caplog):
    from rageval import registry

    chat_server.script = [(503, "busy"), (503, "busy")]
    generator = registry.create("generators", chat_server.spec(retries=3))
    assert generator.generate(["hi"]) == ["answer to: hi"]
    assert caplog.text.count("retry") == 2 and "retry 1 of 3 in" in caplog.text


def test_out_that_is_a_file(shared, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a folder")
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25", "--out", str(out)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_foreign_metrics_file_under_out_is_left_out(shared, tmp_path, caplog):
    (tmp_path / "other" / "thing").mkdir(parents=True)
    (tmp_path / "other" / "thing" / "metrics.json").write_text('{"accuracy": 0.9}')
    [outcome] = run(str(shared / "adi"), ["bm25"], ["nDCG@10"], out=tmp_path)
    assert outcome.error is None
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["datasets"]) == ["adi.test"]
    assert "is not a rageval metrics file" in caplog.text


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


def test_version_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("rageval ")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_sigterm_ends_a_run_like_ctrl_c(shared, tmp_path):
    code = ("import sys, time; import rageval.benchmarking as r; slow = r.retrieve\n"
            "def waiting(*a, **k):\n    time.sleep(30)\n    return slow(*a, **k)\n"
            "r.retrieve = waiting\nfrom rageval.cli import main\n"
            f"sys.exit(main(['run', '--dataset', {str(shared / 'adi')!r}, '--retriever', 'bm25', "
            f"'--out', {str(tmp_path)!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted; finished results are kept" in err
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("metrics.json"))


def test_a_corpus_of_empty_texts_is_an_error_before_work(tmp_path):
    from conftest import write_beir

    root = write_beir(tmp_path / "b", corpus=['{"_id": "d1", "text": ""}', '{"_id": "d2", "text": "  "}'],
                      qrels="q1\td1\t1\n")
    with pytest.raises(DataError, match=r"corpus.jsonl: every one of the 2 documents is empty"):
        load_dataset(str(root))


@pytest.mark.parametrize("spec", ["bm25", "bm25:backend=rank_bm25"])
def test_bm25_on_stop_words_only_fails_cleanly(tmp_path, spec):
    from conftest import write_beir

    root = write_beir(tmp_path / "b", corpus=['{"_id": "d1", "text": "the a"}', '{"_id": "d2", "text": "of"}'],
                      qrels="q1\td1\t1\n")
    [outcome] = run(str(root), [spec], ["nDCG@10"], out=tmp_path / "out")
    assert outcome.error == ("bm25: no document has a term once analysed (every text empty, or stop words only): "
                             "nothing to index")


def test_a_full_disk_names_the_file_and_the_other_pairs_go_on(shared, tmp_path, monkeypatch):
    import rageval.files

    real = rageval.files.os.fsync
    calls = {"n": 0}

    def full(fd):
        calls["n"] += 1
        if calls["n"] == 1:  # the first file written: bm25's run.trec
            raise OSError(28, "No space left on device")
        return real(fd)

    monkeypatch.setattr(rageval.files.os, "fsync", full)
    first, second = run(str(shared / "adi"), ["bm25", "bm25:k1=0.9"], ["nDCG@10"], out=tmp_path)
    assert first.error.startswith("cannot write ") and "run.trec: No space left on device" in first.error
    assert second.error is None
    assert not list(tmp_path.rglob("*.part"))

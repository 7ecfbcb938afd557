"""Progress of long steps: log lines off a terminal, a tqdm bar on one, nothing for quick steps."""
from __future__ import annotations

import fcntl
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest

from rageval import Corpus, progress as progress_module
from rageval.cli import main
from rageval.progress import duration, final_line, plural, progress, status_line
from rageval.retrievers import bm25_index
from rageval.retrievers.bm25 import BM25

from conftest import write_beir

STATUS = re.compile(r"encoding corpus: (\d+)/100 docs \((\d+\.\d)%\), ([\d.,]+) doc/s, ETA ([\dhms.]+|unknown)$")


@pytest.fixture
def not_a_terminal(monkeypatch, caplog):
    monkeypatch.setattr(progress_module, "_stderr_is_terminal", lambda: False)
    caplog.set_level(logging.INFO, logger="rageval")
    return caplog


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rageval"]


def test_lines_by_hand():
    # 12,800 of 50,000 at 210 doc/s: 37,200 left take 177.1 s
    assert status_line("encoding corpus", 12_800, 50_000, "doc", 12_800 / 210) == \
        "encoding corpus: 12,800/50,000 docs (25.6%), 210 doc/s, ETA 2m57s"
    assert status_line("parsing", 3, None, "file", 2.0) == "parsing: 3 files, 1.5 file/s"
    assert status_line("indexing", 0, None, "doc", 61.0) == "indexing: running for 1m01s"
    assert status_line("search", 0, 10, "query", 5.0) == "search: 0/10 queries (0.0%), 0 query/s, ETA unknown"
    assert final_line("encoding corpus", 50_000, "doc", 242.0) == "encoding corpus: 50,000 docs in 4m02s (207 doc/s)"
    assert final_line("indexing", 0, "doc", 3723.0) == "indexing: done in 1h02m03s"
    assert [duration(s) for s in (4.24, 59.9, 60.2, 3600)] == ["4.2s", "59.9s", "1m00s", "1h00m00s"]
    assert [plural(u) for u in ("doc", "query", "day", "pass", "vector")] == ["docs", "queries", "days", "passes",
                                                                             "vectors"]


def test_a_long_step_logs_count_rate_and_eta_then_its_total_time(not_a_terminal):
    with progress(100, "encoding corpus", unit="doc", interval=0.05) as step:
        for _ in range(10):
            time.sleep(0.04)
            step.update(10)
    lines = messages(not_a_terminal)
    running = [STATUS.match(line) for line in lines[:-1]]
    assert len(running) >= 2 and all(running), lines
    counts = [int(m.group(1)) for m in running]
    assert counts == sorted(counts) and counts[-1] > 0
    assert all(float(m.group(2)) == pytest.approx(int(m.group(1))) for m in running)  # percent of 100
    assert any(float(m.group(3).replace(",", "")) > 0 and m.group(4) != "unknown" for m in running)
    assert re.fullmatch(r"encoding corpus: 100 docs in 0\.\ds \([\d.,]+ doc/s\)", lines[-1]), lines


def test_a_step_with_slow_batches_or_no_count_still_logs(not_a_terminal):
    with progress(None, "indexing", interval=0.05):
        time.sleep(0.3)  # one long call that reports nothing (a FAISS build, a plugin's index)
    lines = messages(not_a_terminal)
    assert len(lines) >= 3 and all(re.fullmatch(r"indexing: running for 0\.\ds", x) for x in lines[:-1]), lines
    assert re.fullmatch(r"indexing: done in 0\.\ds", lines[-1])


def test_quick_and_failed_steps_log_nothing(not_a_terminal):
    with progress(10, "quick", interval=5) as step:
        step.update(10)
    with pytest.raises(RuntimeError):
        with progress(10, "failing", interval=0.05) as step:
            time.sleep(0.12)
            raise RuntimeError("boom")
    lines = messages(not_a_terminal)
    assert not any(x.startswith("quick") for x in lines)
    assert lines and all(x.startswith("failing: 0/10 docs") for x in lines), lines  # no line saying it finished


def test_the_interval_comes_from_the_environment(not_a_terminal, monkeypatch):
    monkeypatch.setenv("RAGEVAL_PROGRESS_INTERVAL", "0.1")
    with progress(2, "step") as step:
        time.sleep(0.35)
        step.update(2)
    lines = messages(not_a_terminal)
    assert lines[0] == "step: 0/2 docs (0.0%), 0 doc/s, ETA unknown" and lines[-1].startswith("step: 2 docs in 0.")
    monkeypatch.setenv("RAGEVAL_PROGRESS_INTERVAL", "3600")
    not_a_terminal.clear()
    with progress(2, "step") as step:
        time.sleep(0.2)
        step.update(2)
    assert messages(not_a_terminal) == []


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_bad_interval_is_an_error_before_any_work(value, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGEVAL_PROGRESS_INTERVAL", value)
    out = tmp_path / "runs"
    assert main(["run", "--dataset", str(write_beir(tmp_path / "beir")), "--retriever", "bm25",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"rageval: error: RAGEVAL_PROGRESS_INTERVAL={value!r}: need a number of seconds, 0 or more" in err
    assert not out.exists()


def _on_a_terminal(code: str, tmp_path) -> str:
    """What ``code`` writes to stderr when stderr is a 120-column pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave, cwd=tmp_path)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    assert child.wait(timeout=60) == 0, out
    return out.decode("utf-8", "replace")


def test_on_a_terminal_a_bar_shows_rate_and_eta_and_no_log_lines(tmp_path):
    shown = _on_a_terminal(
        "import logging, sys, time\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s: %(message)s')\n"
        "from rageval.progress import progress\n"
        "with progress(100, 'quick step') as step:\n"
        "    step.update(100)\n"
        "with progress(100, 'encoding corpus', interval=0.1) as step:\n"
        "    for _ in range(10):\n"
        "        time.sleep(0.1)\n"
        "        step.update(10)\n", tmp_path)
    assert "quick step" not in shown
    # tqdm's bar: percent, count of total, [elapsed<ETA, rate]
    assert re.search(r"encoding corpus: +\d+%\|.*\| [\d.]+/100 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+doc/s\]", shown), shown
    assert "ETA" not in shown  # no log line while the bar runs
    assert re.search(r"INFO: encoding corpus: 100 docs in 1\.\ds", shown), shown  # the total time stays


def test_bm25_search_reports_each_batch_of_queries(monkeypatch):
    corpus = Corpus(ids=[f"d{i}" for i in range(6)], texts=["apple pear", "pear", "car", "red car", "apple", "fig"])
    bm25 = BM25()
    bm25.index(corpus)
    monkeypatch.setattr(bm25_index, "POSTINGS_PER_BATCH", 1)  # a batch per query
    monkeypatch.setattr(bm25_index, "POSTINGS_PER_THREAD", 1)
    terms, lengths = bm25.vocab.lookup_many(["apple", "car", "pear fig", "red"])
    for threads in (1, 2):
        done: list[int] = []
        indices, _ = bm25._index.search_arrays(terms, lengths, 2, corpus.id_ranks(), threads=threads,
                                                done=done.append)
        assert done == [1, 1, 1, 1]
        assert indices[0, 0] in (0, 4) and indices[3, 0] == 3


def test_encoding_a_corpus_shows_progress_whoever_calls_it(not_a_terminal, monkeypatch, tmp_path, bundled_model):
    from rageval.retrieval.encoder import Encoder

    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RAGEVAL_PROGRESS_INTERVAL", "0")
    corpus = Corpus(ids=["a", "b", "c"], texts=["red apples", "a pear", "fast cars"])
    encoder = Encoder(str(bundled_model), batch_size=1)  # chunks of 4 texts
    first = np.asarray(encoder.corpus_embeddings(corpus, desc="astgnn: encoding training queries", unit="query"))
    lines = messages(not_a_terminal)
    assert re.fullmatch(r"astgnn: encoding training queries: 3 queries in [\d.]+s \([\d.,]+ query/s\)", lines[-1])
    not_a_terminal.clear()
    np.testing.assert_array_equal(np.asarray(encoder.corpus_embeddings(corpus)), first)  # from the cache
    assert not any("encoding" in x for x in messages(not_a_terminal))


def test_a_run_writes_progress_for_indexing_and_search_to_stderr(tmp_path):
    folder = write_beir(tmp_path / "beir")
    env = {**os.environ, "RAGEVAL_PROGRESS_INTERVAL": "0", "RAGEVAL_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "rageval.cli", "run", "--dataset", str(folder), "--retriever", "bm25",
                           "--metric", "nDCG@10", "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert re.search(r"INFO: bm25 \(sparse\): indexing: 3 docs in [\d.]+s \(", err), err
    assert re.search(r"INFO: bm25 on \S+: indexing 3 documents: done in [\d.]+s", err), err
    assert re.search(r"INFO: bm25 \(sparse\): searching: 2 queries in [\d.]+s \(", err), err
    assert re.search(r"INFO: bm25 on \S+: searching 2 queries: done in [\d.]+s", err), err
    assert "bm25" in done.stdout and "nDCG@10" in done.stdout  # the leaderboard stays on stdout


def test_evaluate_reports_progress_of_reading_scoring_and_curves(tmp_path, monkeypatch, caplog):
    from rageval.cli import main

    qrels, run = tmp_path / "q.qrels", tmp_path / "r.trec"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    run.write_text("q1 Q0 d1 1 2.0 r\nq1 Q0 d2 2 2.0 r\nq2 Q0 d3 1 1.0 r\nq2 Q0 d2 2 0.5 r\n")
    monkeypatch.setenv("RAGEVAL_PROGRESS_INTERVAL", "0")  # every step ends with its line
    caplog.set_level(logging.INFO, logger="rageval")
    assert main(["evaluate", "--run", str(run), "--qrels", str(qrels), "--out", str(tmp_path / "o")]) == 0
    assert f"reading {run}: done in" in caplog.text
    assert "scoring 2 queries: 8 steps in" in caplog.text  # 4 measures' families, then 4 tie-aware bounds
    assert "measure@k curves of 2 queries: 3 steps in" in caplog.text  # Recall, nDCG, Sufficiency


def test_rates_and_durations_at_their_boundaries_by_hand():
    # 12,340 of 50,000 in 10 s: 1,234 doc/s, 37,660 left take 30.5 s
    assert status_line("encoding corpus", 12_340, 50_000, "doc", 10.0) == \
        "encoding corpus: 12,340/50,000 docs (24.7%), 1,234 doc/s, ETA 30.5s"
    assert final_line("search", 2_000_000, "query", 100.0) == "search: 2,000,000 queries in 1m40s (20,000 query/s)"
    assert status_line("parsing", 3, None, "file", 6.0) == "parsing: 3 files, 0.5 file/s"
    # 59.96 s rounds to a minute, not to "60.0s"
    assert [duration(s) for s in (59.94, 59.96, 119.6, 3599.6)] == ["59.9s", "1m00s", "2m00s", "1h00m00s"]

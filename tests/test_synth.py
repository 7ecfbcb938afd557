"""`rageval synth` end to end, as a user runs it: a folder of documents, a real HTTP server speaking the
chat-completions protocol (scripted in the test: ``tests/conftest.py``'s ``ChatServer``), the command
line, and the written folder read back with the ``docs:`` loader. Every expectation is derived by hand
from the documents and from the window each prompt shows (the text between a ``<<<`` line and a
``>>>`` line), never from the code under test."""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

import rageval
from rageval.cli import main

ROOT = Path(__file__).resolve().parent.parent
NOUNS = ("lantern", "anchor", "compass", "kettle", "ledger", "barrel", "rudder", "bellows", "spindle", "crate")
PLACES = ("north quay", "old mill", "chapel yard", "salt store", "ferry ramp", "tide gauge", "rope walk")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test its own generation cache (RAGEVAL_CACHE) and no API key from the environment; the
    command line's log handler is made anew in each test (on the stderr that test captures)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RAGEVAL_CACHE", str(folder))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(logging.getLogger("rageval"), "handlers", [])
    return folder


# --- documents and answers ---------------------------------------------------------------------------

def lines_of(name: str, count: int = 60) -> list[str]:
    """``count`` distinct sentences, one a line, each naming its document and number (so every line is
    unique in the corpus and its place in the document is known by hand)."""
    return [f"{name.capitalize()} note {i:03d} says the {NOUNS[i % len(NOUNS)]} by the {PLACES[i % len(PLACES)]} "
            f"weighs {7 * i + 3} grams." for i in range(count)]


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """A ``docs:`` folder holding ``docs`` (file name -> text), written byte for byte."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    return folder


def corpus(tmp_path: Path, count: int = 60) -> tuple[Path, dict[str, str]]:
    """Two documents of several KB each (``alpha.md``, ``beta.txt``) and their texts by id."""
    texts = {"alpha": "\n".join(lines_of("alpha", count)) + "\n", "beta": "\n".join(lines_of("beta", count)) + "\n"}
    folder = write_docs(tmp_path / "docs", {"alpha.md": texts["alpha"], "beta.txt": texts["beta"]})
    return folder, texts


def window_of(prompt: str) -> str:
    """The window a prompt shows: the text between a line ``<<<`` and a line ``>>>``."""
    start = prompt.index("\n<<<\n") + len("\n<<<\n")
    return prompt[start:prompt.rindex("\n>>>")]


def whole_lines(window: str) -> list[str]:
    """The lines of a window that are whole (the first and last piece may be cut by the window's edges)."""
    return window.split("\n")[1:-1]


def where(texts: dict[str, str], line: str) -> tuple[str, int]:
    """The document holding ``line`` (once in the corpus) and its offset there."""
    found = [(doc, text.index(line)) for doc, text in texts.items() if line in text]
    assert len(found) == 1 and texts[found[0][0]].count(line) == 1, line
    return found[0]


def synth_args(docs: Path, server, out: Path, n: int, *extra: str, spec: str | None = None) -> list[str]:
    return ["synth", "--dataset", f"docs:{docs}", "--generator", spec or server.spec(), "--n", str(n),
            "--out", str(out), *extra]


def rows(out: Path) -> list[dict]:
    """questions.csv: question, references (parsed), corpus_id."""
    with open(out / "questions.csv", encoding="utf-8", newline="") as f:
        return [{**row, "references": json.loads(row["references"])} for row in csv.DictReader(f)]


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_spans_verbatim(out: Path) -> int:
    """Read the folder back with the docs: loader; every reference is the document's text at its offsets.
    Returns how many references were checked."""
    dataset = rageval.load_dataset(f"docs:{out}")
    checked = 0
    for row in rows(out):
        text = dataset.corpus.texts[dataset.corpus.position(row["corpus_id"])]
        for ref in row["references"]:
            assert text[ref["start_index"]:ref["end_index"]] == ref["content"]
            checked += 1
    assert len(dataset.queries) == len(rows(out))
    return checked


def expected_refs(texts: dict[str, str], lines: list[str]) -> tuple[str, list[dict]]:
    """The document and the stored references of answer lines found verbatim: in document order."""
    placed = sorted(where(texts, line) + (line,) for line in lines)
    assert len({doc for doc, _, _ in placed}) == 1
    return placed[0][0], [{"content": line, "start_index": at, "end_index": at + len(line)} for _, at, line in placed]


# --- 1. answer shapes --------------------------------------------------------------------------------

def shaped(shape: str, question: str, refs: list[str]) -> str:
    """An answer in one of the shapes real models write."""
    plain = {"question": question, "references": refs}
    if shape == "think":
        decoy = json.dumps({"question": "A decoy inside the reasoning?", "references": ["not in any document"]})
        return f"<think>\nThe excerpt is about weights. Draft: {decoy}\n</think>\n\n{json.dumps(plain)}"
    if shape == "fence":
        return f"```json\n{json.dumps(plain, indent=2)}\n```"
    if shape == "prose":
        return f"Sure! Here is a question with its excerpts:\n{json.dumps(plain)}\nI hope this helps."
    if shape == "python":
        listed = ", ".join(f"'{r}'" for r in refs)
        return f"{{'question': '{question}', 'references': [{listed}], 'oath': 'I copied every excerpt verbatim'}}"
    if shape == "list":
        return json.dumps([plain])
    if shape == "objects":
        return json.dumps({"question": question, "references": [{"content": r} for r in refs]})
    assert shape == "strings"
    return json.dumps(plain)


SHAPES = ("think", "fence", "prose", "python", "list", "objects", "strings")


def test_every_answer_shape_is_kept_and_every_span_is_verbatim(tmp_path, chat_server, capsys):
    docs, texts = corpus(tmp_path)
    asked: list[tuple[str, list[str]]] = []

    def reply(prompt: str) -> str:
        lines = whole_lines(window_of(prompt))
        shape = SHAPES[len(asked)]
        refs = [lines[0], lines[2]]  # two discontinuous excerpts
        question = f"Which weights does the {shape} answer report?"
        asked.append((question, refs))
        return shaped(shape, question, refs)

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, len(SHAPES), "--window", "500", "--filter", "none")) == 0
    assert len(chat_server.bodies) == len(SHAPES)
    kept = rows(out)
    assert [row["question"] for row in kept] == [q for q, _ in asked]
    for row, (_, refs) in zip(kept, asked):
        doc, stored = expected_refs(texts, refs)
        assert row["corpus_id"] == doc and row["references"] == stored
    assert check_spans_verbatim(out) == 2 * len(SHAPES)
    counts = manifest(out)["counts"]
    assert counts["kept"] == len(SHAPES) and counts["requests"] == len(SHAPES) and counts["dropped"] == {}
    assert counts["references_found"] == {"exact": 2 * len(SHAPES)}
    assert f"kept {len(SHAPES)} questions" in capsys.readouterr().out


# --- 2. whitespace -----------------------------------------------------------------------------------

def test_references_with_changed_whitespace_are_stored_as_the_documents_text(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    asked: list[list[str]] = []

    def reply(prompt: str) -> str:
        lines = whole_lines(window_of(prompt))
        # two lines joined by one space (the newline lost), and a line with its spaces doubled
        refs = [f"{lines[0]} {lines[1]}", lines[3].replace(" ", "  ")]
        asked.append([lines[0], lines[1], lines[3]])
        return json.dumps({"question": f"Question {len(asked)} about weights?", "references": refs})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 3, "--window", "600", "--filter", "none")) == 0
    kept = rows(out)
    assert len(kept) == 3
    for row, (first, second, other) in zip(kept, asked):
        doc, a = where(texts, first)
        _, b = where(texts, other)
        text = texts[doc]
        joined = text[a:text.index(second) + len(second)]
        assert joined == f"{first}\n{second}"  # the document's newline, not the model's space
        assert row["references"] == [{"content": joined, "start_index": a, "end_index": a + len(joined)},
                                     {"content": other, "start_index": b, "end_index": b + len(other)}]
    assert manifest(out)["counts"]["references_found"] == {"whitespace": 6}
    check_spans_verbatim(out)


# --- 3. a reference that occurs more than once ----------------------------------------------------------

def test_a_repeated_sentence_is_stored_where_the_window_holds_it(tmp_path, chat_server):
    repeated = "The harbour bell rings twice at every change of the tide."
    lines = lines_of("gamma", 45)
    lines[2:2] = [repeated]    # before the window's
    lines[24:24] = [repeated]  # the one a window will hold
    lines.append(repeated)     # after it
    text = "\n".join(lines) + "\n"
    docs = write_docs(tmp_path / "docs", {"gamma.md": text})
    first, middle, last = (i for i in range(len(text)) if text.startswith(repeated, i))
    answered: list[int] = []

    def reply(prompt: str) -> str:
        window = window_of(prompt)
        start = text.index(window)  # the window's place in the document (its text is unique there)
        if window.count(repeated) != 1 or not first < start + window.index(repeated) < last:
            return "I cannot find a good question in this excerpt."
        answered.append(start + window.index(repeated))
        return json.dumps({"question": "How often does the harbour bell ring?", "references": [repeated]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "400", "--max-requests", "60",
                           "--filter", "none")) == 0
    assert answered == [middle]
    assert rows(out)[0]["references"] == [{"content": repeated, "start_index": middle,
                                           "end_index": middle + len(repeated)}]
    assert manifest(out)["counts"]["dropped"] == {"unparsed:no_json": len(chat_server.bodies) - 1}
    check_spans_verbatim(out)


# --- 4. references outside the window -------------------------------------------------------------------

def outside_line(texts: dict[str, str], prompt: str) -> str:
    """A line of the window's document that the window does not show (verbatim in the document)."""
    window = window_of(prompt)
    doc = next(d for d, t in texts.items() if window in t)
    return next(line for line in texts[doc].split("\n") if line and line not in window)


def test_a_reference_verbatim_elsewhere_in_the_document_but_not_in_the_window_is_dropped(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    outside: list[str] = []

    def reply(prompt: str) -> str:
        lines = whole_lines(window_of(prompt))
        if not outside:  # the first answer: one good reference and one from outside the window
            outside.append(outside_line(texts, prompt))
            refs = [lines[0], outside[0]]
        else:
            refs = [lines[1]]
        return json.dumps({"question": f"Question {len(chat_server.bodies)} on weights?", "references": refs})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    m = manifest(out)
    assert len(chat_server.bodies) == 2 and m["counts"]["kept"] == 1
    assert m["counts"]["dropped"] == {"reference_not_in_window": 1}
    first, second = m["requests"]
    assert first["outcome"] == "reference_not_in_window" and first["missing_references"] == outside
    assert second["outcome"] == "kept" and rows(out)[0]["question"] == "Question 2 on weights?"


def test_partial_keeps_the_found_reference_and_the_manifest_names_the_missing_one(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    asked: list[tuple[str, str]] = []

    def reply(prompt: str) -> str:
        good, bad = whole_lines(window_of(prompt))[1], outside_line(texts, prompt)
        asked.append((good, bad))
        refs = [bad, good] if len(asked) == 1 else [bad]  # the second answer has nothing in the window
        return json.dumps({"question": f"Question {len(asked)} on weights?", "references": refs})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none", "--partial",
                           "--max-requests", "2")) == 0  # one of the two asked kept: written
    m = manifest(out)
    (good, bad), (_, bad2) = asked
    doc, at = where(texts, good)
    assert rows(out) == [{"question": "Question 1 on weights?", "corpus_id": doc,
                          "references": [{"content": good, "start_index": at, "end_index": at + len(good)}]}]
    first, second = m["requests"]
    assert first["outcome"] == "kept" and first["missing_references"] == [bad]
    assert second["outcome"] == "no_reference_in_window" and second["missing_references"] == [bad2]
    assert m["counts"]["references_dropped_partial"] == 1 and m["counts"]["references"] == 1
    assert m["counts"]["dropped"] == {"no_reference_in_window": 1}


def test_overlapping_references_are_merged_into_one_span_of_the_document(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    asked: list[list[str]] = []

    def reply(prompt: str) -> str:
        lines = whole_lines(window_of(prompt))
        asked.append(lines[:4])
        # line 0, then the end of line 0 with line 1 (overlapping it), line 1 again, and line 3 apart
        refs = [lines[0], f"{lines[0][-20:]}\n{lines[1]}", lines[1], lines[3]]
        return json.dumps({"question": "Which notes overlap?", "references": refs})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    first, second, _, fourth = asked[0]
    doc, a = where(texts, first)
    _, d = where(texts, fourth)
    joined = f"{first}\n{second}"
    assert rows(out)[0]["references"] == [{"content": joined, "start_index": a, "end_index": a + len(joined)},
                                          {"content": fourth, "start_index": d, "end_index": d + len(fourth)}]


def test_fuzzy_matching_stores_the_documents_text_not_the_models(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    asked: list[str] = []

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        asked.append(line)
        return json.dumps({"question": "What weighs that much?", "references": [line.replace("weighs", "weigh")]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none", "--max-requests", "1",
                           )) == 2  # a misspelt copy is not found without --fuzzy
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none", "--max-requests", "1",
                           "--fuzzy", "90")) == 0
    doc, at = where(texts, asked[0])
    assert rows(out)[0]["references"] == [{"content": asked[0], "start_index": at, "end_index": at + len(asked[0])}]
    assert manifest(out)["counts"]["references_found"] == {"fuzzy": 1}
    assert len(chat_server.bodies) == 1  # the second run's answer came from the cache


# --- 5. paraphrased and truncated answers -------------------------------------------------------------

def test_paraphrased_and_truncated_answers_are_dropped_and_the_run_goes_on(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    answers: list[str] = []

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        full = json.dumps({"question": f"Question {len(answers) + 1} on weights?", "references": [line]})
        if len(answers) in (0, 3):  # cut off mid-string, as a max_tokens limit does
            answer = full[:len(full) // 2]
        elif len(answers) == 1:  # the same facts in other words
            answer = json.dumps({"question": "What does the note say?",
                                 "references": [line.replace("says the", "tells that the").replace("weighs", "is")]})
        else:
            answer = full
        answers.append(answer)
        return answer

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none")) == 0
    assert len(chat_server.bodies) == 5  # truncated, paraphrased, kept, truncated, kept
    m = manifest(out)
    assert m["counts"]["dropped"] == {"reference_not_in_window": 1, "unparsed:truncated": 2}
    assert [r["outcome"] for r in m["requests"]] == ["unparsed:truncated", "reference_not_in_window", "kept",
                                                     "unparsed:truncated", "kept"]
    assert [row["question"] for row in rows(out)] == ["Question 3 on weights?", "Question 5 on weights?"]


def test_a_run_that_keeps_nothing_in_its_budget_writes_nothing(tmp_path, chat_server, capsys):
    docs, _ = corpus(tmp_path)
    chat_server.reply = lambda prompt: '{"question": "Cut off?", "references": ["Alpha note'
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none")) == 2
    assert len(chat_server.bodies) == 6  # the default budget: 3 x --n
    assert "no question was kept" in capsys.readouterr().err
    assert not out.exists()


# --- 6. an endpoint that fails, then recovers ---------------------------------------------------------

def test_an_endpoint_that_fails_then_recovers_completes_the_run(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    chat_server.script = [(500, '{"error": "overloaded"}'), (429, '{"error": "rate limited"}')]
    chat_server.reply = lambda prompt: json.dumps({"question": "What weighs what?",
                                                   "references": [whole_lines(window_of(prompt))[0]]})
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    assert len(chat_server.bodies) == 3  # 500, 429, then the answer: the same prompt each time
    assert chat_server.bodies[0] == chat_server.bodies[1] == chat_server.bodies[2]
    m = manifest(out)
    assert m["counts"]["requests"] == 1 and m["counts"]["kept"] == 1
    check_spans_verbatim(out)


# --- 7. the cache ------------------------------------------------------------------------------------

def first_line_answer(prompt: str) -> str:
    lines = whole_lines(window_of(prompt))
    return json.dumps({"question": f"What does {lines[0].split(' says')[0]} say?", "references": [lines[0]]})


def test_the_same_command_again_makes_no_request_and_writes_the_same_bytes(tmp_path, chat_server):
    docs, _ = corpus(tmp_path)
    chat_server.reply = first_line_answer
    out = tmp_path / "out"
    args = synth_args(docs, chat_server, out, 4, "--window", "500", "--filter", "none")
    assert main(args) == 0
    sent, written = len(chat_server.bodies), files(out)
    assert sent == 4 and set(written) == {"alpha.md", "beta.txt", "questions.csv", "manifest.json"}
    assert main(args) == 0
    assert len(chat_server.bodies) == sent
    assert files(out) == written  # manifest included
    # the Python API: the same benchmark, from the cache
    again = tmp_path / "again"
    result = rageval.synth(f"docs:{docs}", chat_server.spec(), 4, again, window=500, filters="none")
    assert len(chat_server.bodies) == sent
    assert {k: v for k, v in files(again).items() if k != "manifest.json"} == \
        {k: v for k, v in written.items() if k != "manifest.json"}
    first = json.loads(written["manifest.json"])
    assert {**result, "timing": None} == {**first, "timing": None} == {**manifest(again), "timing": None}
    assert result["timing"]["sent"] == 0 and first["timing"]["sent"] == 4


@pytest.mark.parametrize("planted", ["a link", "an empty folder", "a file in a sub-folder"])
def test_a_users_entry_planted_in_an_earlier_synth_folder_stops_the_rerun_and_stays(tmp_path, chat_server, capsys,
                                                                                    planted):
    docs, _ = corpus(tmp_path)
    chat_server.reply = first_line_answer
    out = tmp_path / "out"
    args = synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none")
    assert main(args) == 0
    target = tmp_path / "mine.txt"
    target.write_text("mine")
    entry = {"a link": out / "link", "an empty folder": out / "notes", "a file in a sub-folder": out / "notes" / "x"}[planted]
    if planted == "a link":
        entry.symlink_to(target)
    elif planted == "an empty folder":
        entry.mkdir()
    else:
        entry.parent.mkdir()
        entry.write_text("mine")
    capsys.readouterr()
    assert main(args) == 2
    assert "holds files its synth manifest does not list" in capsys.readouterr().err
    assert entry.is_symlink() or entry.exists()
    assert target.read_text() == "mine"


# --- 8. kill and resume -------------------------------------------------------------------------------

def cached_generations(cache: Path) -> int:
    """Generations the cache holds (the answers a run received and kept before it ended)."""
    path = cache / "generations" / "generations.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM generations").fetchone()[0]


def test_a_killed_run_leaves_nothing_as_complete_and_a_rerun_resumes_from_the_cache(tmp_path, chat_server, cache,
                                                                                    monkeypatch):
    docs, _ = corpus(tmp_path)
    chat_server.reply = first_line_answer
    chat_server.delay = 0.3
    out = tmp_path / "out"
    args = synth_args(docs, chat_server, out, 6, "--window", "500", "--filter", "none")
    env = {**os.environ, "RAGEVAL_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "rageval.cli", *args], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(chat_server.bodies) < 3 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err.decode()
    assert 3 <= len(chat_server.bodies) < 6
    answered = cached_generations(cache)
    assert 2 <= answered < 6  # with one request at a time, the third was sent after the second was cached
    # nothing is written as complete; what a killed writer leaves is not the output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    chat_server.delay = 0
    before = len(chat_server.bodies)
    assert main(args) == 0
    total = manifest(out)["counts"]["requests"]
    assert total == 6 and len(chat_server.bodies) - before == total - answered
    assert manifest(out)["timing"]["sent"] == total - answered
    # the same benchmark as a run that was never interrupted (another cache: every request made again)
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache-uninterrupted"))
    whole = tmp_path / "whole"
    assert main(synth_args(docs, chat_server, whole, 6, "--window", "500", "--filter", "none")) == 0
    assert len(chat_server.bodies) - before == 2 * total - answered
    resumed, uninterrupted = files(out), files(whole)
    assert resumed.pop("manifest.json") and uninterrupted.pop("manifest.json")
    assert resumed == uninterrupted
    assert {**manifest(out), "timing": None} == {**manifest(whole), "timing": None}


# --- 9. bad input --------------------------------------------------------------------------------------

def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["no_documents", "only_blank_documents", "n_zero", "not_utf8", "users_folder",
                                  "unknown_filter", "window_zero", "max_references_zero", "max_requests_zero",
                                  "concurrency_zero", "out_is_a_file"])
def test_bad_input_is_a_clear_error_before_any_request(tmp_path, chat_server, capsys, case):
    docs, _ = corpus(tmp_path)
    out = tmp_path / "out"
    extra: list[str] = []
    n = 2
    if case == "no_documents":
        docs = write_docs(tmp_path / "empty", {"slides.pdf": "%PDF-1.4", "notes.docx": "PK"})
        expected = [str(docs), "no document"]
    elif case == "only_blank_documents":
        docs = write_docs(tmp_path / "blank", {"a.md": "", "b.txt": " \n\n\t\n"})
        expected = [str(docs), "no document has any text"]
    elif case == "n_zero":
        n, expected = 0, ["--n must be at least 1, got 0"]
    elif case == "not_utf8":
        (docs / "legacy.txt").write_bytes("caf\u00e9 au lait".encode("latin-1"))
        expected = [str(docs / "legacy.txt"), "not UTF-8"]
    elif case == "users_folder":
        out.mkdir()
        (out / "thesis.md").write_text("my own words", encoding="utf-8")
        expected = [str(out), "thesis.md"]
    elif case == "unknown_filter":
        extra, expected = ["--filter", "leak,relevancy"], ["--filter 'leak,relevancy'"]
    elif case == "window_zero":
        extra, expected = ["--window", "0"], ["--window must be at least 1, got 0"]
    elif case == "max_references_zero":
        extra, expected = ["--max-references", "0"], ["--max-references must be at least 1, got 0"]
    elif case == "max_requests_zero":
        extra, expected = ["--max-requests", "0"], ["--max-requests must be at least 1, got 0"]
    elif case == "concurrency_zero":
        extra, expected = ["--concurrency", "0"], ["--concurrency must be at least 1, got 0"]
    else:
        out.write_text("a file", encoding="utf-8")
        expected = [str(out), "is a file"]
    assert main(synth_args(docs, chat_server, out, n, "--window", "500", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("rageval: error: ") and all(part in err for part in expected), err
    assert chat_server.bodies == []
    if case == "users_folder":
        assert files(out) == {"thesis.md": b"my own words"}
    elif case == "out_is_a_file":
        assert out.read_text(encoding="utf-8") == "a file"
    else:
        assert not out.exists()


@pytest.mark.parametrize("option", [["--window", "0"], ["--max-references", "0"], ["--filter", "nope"]])
def test_show_prompt_checks_its_values_too(tmp_path, chat_server, capsys, option):
    docs, _ = corpus(tmp_path)
    assert main(synth_args(docs, chat_server, tmp_path / "out", 1, *option, "--show-prompt")) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"rageval: error: {option[0]}")
    assert chat_server.bodies == []


def test_an_unreachable_endpoint_is_a_clear_error_and_nothing_is_written(tmp_path, capsys):
    docs, _ = corpus(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    out = tmp_path / "out"
    started = time.monotonic()
    code = main(["synth", "--dataset", f"docs:{docs}", "--generator",
                 f"openai:base_url={url},model=m,timeout=2,retries=0", "--n", "2", "--out", str(out),
                 "--filter", "none"])
    assert code == 2 and time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert f"rageval: error: {url}/chat/completions: unreachable" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_window_larger_than_every_document_shows_whole_documents_and_says_so(tmp_path, chat_server, caplog):
    texts = {"short": "The ferry leaves at nine.\nThe bakery opens at seven.\n",
             "other": "The museum closes on Mondays.\nEntry is free for children.\n"}
    docs = write_docs(tmp_path / "docs", {f"{k}.md": v for k, v in texts.items()})
    chat_server.reply = lambda prompt: json.dumps({"question": f"Question {len(chat_server.bodies)}?",
                                                   "references": [window_of(prompt).split("\n")[1]]})
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 3, "--filter", "none")) == 0  # the default window: 4000
    assert "--window 4000 is at least as long as every document (the longest has 58 characters)" in caplog.text
    shown = [window_of(body["messages"][-1]["content"]) for body in chat_server.bodies]
    assert len(shown) == 3 and all(window in texts.values() for window in shown)
    assert all((r["start"], r["end"]) == (0, len(texts[r["document"]])) for r in manifest(out)["requests"])
    check_spans_verbatim(out)


def test_an_out_folder_inside_the_dataset_folder_is_refused(tmp_path, chat_server, capsys):
    docs, _ = corpus(tmp_path)
    out = docs / "bench"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500")) == 2
    assert f"--out {out} is inside the dataset folder {docs}" in capsys.readouterr().err
    assert chat_server.bodies == [] and not out.exists()


def test_a_beir_corpus_without_questions_and_with_crlf_line_ends(tmp_path, chat_server):
    lines = lines_of("delta", 12)
    records = [{"_id": f"d{k}", "title": "", "text": "\r\n".join(lines[6 * k:6 * k + 6])} for k in range(2)]
    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    shown: list[str] = []

    def reply(prompt: str) -> str:
        shown.append(window_of(prompt))
        return json.dumps({"question": "Which two notes?", "references": shown[-1].split("\n")[2:4]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(["synth", "--dataset", f"beir:{folder}", "--generator", chat_server.spec(), "--n", "2",
                 "--out", str(out), "--filter", "none"]) == 0
    # the documents as the docs: folder reads them back: line feeds, every offset into that text
    texts = {f"d{k}": "\n".join(lines[6 * k:6 * k + 6]) for k in range(2)}
    assert len(shown) == 2 and all(window in texts.values() for window in shown)
    assert files(out)["d0.txt"] == texts["d0"].encode() and files(out)["d1.txt"] == texts["d1"].encode()
    for row in rows(out):
        text = texts[row["corpus_id"]]
        first, second = text.split("\n")[2:4]
        assert row["references"] == [{"content": line, "start_index": text.index(line),
                                      "end_index": text.index(line) + len(line)} for line in (first, second)]
    check_spans_verbatim(out)


# --- 10. the API key ------------------------------------------------------------------------------------

def test_the_api_key_is_sent_and_written_to_no_file(tmp_path, chat_server, cache, monkeypatch, capsys):
    secret = "sk-test-SECRET"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    docs, _ = corpus(tmp_path)
    chat_server.script = [(500, '{"error": "echoing your key sk-test-SECRET"}')]  # one failure, logged
    chat_server.reply = first_line_answer
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none")) == 0
    assert [h.get("Authorization") for h in chat_server.headers] == [f"Bearer {secret}"] * 3
    written = {**{f"out/{k}": v for k, v in files(out).items()}, **{f"cache/{k}": v for k, v in files(cache).items()}}
    assert any(k.startswith("cache/generations/") for k in written) and "out/manifest.json" in written
    assert [name for name, data in written.items() if secret.encode() in data] == []
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err


# --- 11. --show-prompt ----------------------------------------------------------------------------------

def test_show_prompt_prints_the_first_requests_prompt_and_sends_nothing(tmp_path, chat_server, capsys):
    docs, texts = corpus(tmp_path)
    args = synth_args(docs, chat_server, tmp_path / "out", 1, "--window", "500", "--filter", "none", "--seed", "7")
    assert main([*args, "--show-prompt"]) == 0
    shown = capsys.readouterr().out
    assert chat_server.bodies == [] and not (tmp_path / "out").exists()
    window = window_of(shown)
    assert len(window) == 500 and any(window in text for text in texts.values())
    assert "Answer with JSON only" in shown
    chat_server.reply = first_line_answer
    assert main(args) == 0
    assert shown == chat_server.bodies[0]["messages"][-1]["content"] + "\n"


def test_show_prompt_with_headings_is_an_error(tmp_path, capsys):
    docs, _ = corpus(tmp_path)
    assert main(["synth", "--dataset", f"docs:{docs}", "--generator", "headings", "--n", "1",
                 "--out", str(tmp_path / "out"), "--show-prompt"]) == 2
    assert "--generator headings sends no prompt" in capsys.readouterr().err


# --- 12. rageval report on a synth folder ----------------------------------------------------------------

def test_report_prints_kept_and_dropped_counts_and_reference_lengths(tmp_path, chat_server, capsys):
    ten, twenty, forty = "Bells ring", "Tides turn at noon!!", "Gulls gather on the pier before a storm."
    assert (len(ten), len(twenty), len(forty)) == (10, 20, 40)  # 2, 4 and 8 words
    core = f"{ten}.\nA line between.\n{twenty}\nAnother line.\n{forty}\n"
    edge = "Filler text that no answer quotes: 49 characters.\n"
    assert len(edge) == 50
    # every window of len(core) + 50 characters holds the whole core; windows differ, so prompts do
    docs = write_docs(tmp_path / "docs", {"tiny.md": edge + core + edge})
    answers = ['{"question": "Cut off?", "references": ["Bells',                           # unparsed:truncated
               json.dumps({"question": "Do bells chime?", "references": ["Bells chime"]}),    # not in the window
               json.dumps({"question": "What rings?", "references": [ten]}),
               json.dumps({"question": "What happens at noon and before storms?", "references": [twenty, forty]})]
    chat_server.reply = lambda prompt: answers[len(chat_server.bodies) - 1]
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--filter", "none", "--max-requests", "4",
                           "--window", str(len(core) + 50))) == 0
    assert len(chat_server.bodies) == 4
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    shown = capsys.readouterr().out
    lines = shown.splitlines()
    assert lines[0].startswith(f"synth folder {out}: 2 questions kept over 1 documents, 4 requests")
    assert "dropped: 2" in lines
    assert [line.split() for line in lines if line.startswith("  ")] == [["reference_not_in_window", "1"],
                                                                         ["unparsed:truncated", "1"]]
    assert "references found: exact 3" in lines and "references per question: 1: 1, 2: 1" in lines
    # lengths 10, 20, 40: quartiles by linear interpolation 15 and 30, mean 70 / 3
    assert "reference length, characters: min 10, 25% 15, median 20, 75% 30, max 40 (mean 23.3, 3 references)" in lines
    # words 2, 4, 8: quartiles 3 and 6, mean 14 / 3
    assert "reference length, words: min 2, 25% 3, median 4, 75% 6, max 8 (mean 4.7, 3 references)" in lines


# --- 13. the headings generator --------------------------------------------------------------------------

def test_headings_make_section_questions_that_rageval_run_reads_as_they_are(tmp_path, capsys):
    guide = ("# Lighthouse guide\n\nThe lighthouse stands on the northern cliff and was built in 1871.\n\n"
             "## Lamp\n\nThe lamp burns paraffin and turns once every twelve seconds.\n\n"
             "## Keepers\n\nThree keepers share the watch in shifts of eight hours.\n")
    tides = ("Tide tables\n===========\n\nHigh water comes twice a day, about fifty minutes later each day.\n\n"
             "Spring tides\n------------\n\nSpring tides follow the new and the full moon.\n")
    docs = write_docs(tmp_path / "docs", {"guide.md": guide, "tides.md": tides, "plain.txt": "No headings here.\n"})
    out = tmp_path / "out"
    assert main(["synth", "--dataset", f"docs:{docs}", "--generator", "headings", "--n", "10", "--out", str(out),
                 "--filter", "none"]) == 0
    expected = {("Lighthouse guide", "guide", "The lighthouse stands on the northern cliff and was built in 1871."),
                ("Lighthouse guide > Lamp", "guide", "The lamp burns paraffin and turns once every twelve seconds."),
                ("Lighthouse guide > Keepers", "guide", "Three keepers share the watch in shifts of eight hours."),
                ("Tide tables", "tides", "High water comes twice a day, about fifty minutes later each day."),
                ("Tide tables > Spring tides", "tides", "Spring tides follow the new and the full moon.")}
    texts = {"guide": guide, "tides": tides}
    kept = rows(out)
    assert {(r["question"], r["corpus_id"], r["references"][0]["content"]) for r in kept} == expected
    for row in kept:
        (ref,) = row["references"]
        at = texts[row["corpus_id"]].index(ref["content"])
        assert (ref["start_index"], ref["end_index"]) == (at, at + len(ref["content"]))
    m = manifest(out)
    assert m["generator"]["identity"] == {"kind": "headings"} and m["counts"]["kept"] == 5
    check_spans_verbatim(out)
    runs = tmp_path / "runs"
    assert main(["run", "--dataset", f"docs:{out}", "--retriever", "bm25", "--chunker", "recursive:size=200",
                 "--metric", "IoU@5", "--out", str(runs)]) == 0
    assert "IoU@5" in capsys.readouterr().out


# --- 14. filters --------------------------------------------------------------------------------------

def test_leak_filter_drops_a_question_copying_eight_words_of_its_reference(tmp_path, chat_server):
    docs, _ = corpus(tmp_path)
    questions: list[str] = []

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        words = line.split()  # "Alpha note 007 says the lantern by the ...": no punctuation in the first 8
        copied = 8 if len(questions) == 0 else 7
        questions.append(f"Is it true that {' '.join(words[:copied])} something?")
        return json.dumps({"question": questions[-1], "references": [line]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "leak")) == 0
    m = manifest(out)
    assert [r["outcome"] for r in m["requests"]] == ["leak", "kept"]
    assert m["counts"]["dropped"] == {"leak": 1} and [r["question"] for r in rows(out)] == [questions[1]]
    # a longer limit keeps the first one
    again = tmp_path / "again"
    assert main(synth_args(docs, chat_server, again, 1, "--window", "500", "--filter", "leak",
                           "--leak-words", "9")) == 0
    assert [r["question"] for r in rows(again)] == [questions[0]]


def sensible_question(line: str) -> str:
    """A question a reader would ask of one note, in other words than the note's."""
    words = line.split()  # "Alpha note 007 says the lantern by the north quay weighs 52 grams."
    return f"How heavy is the {words[5]} kept near the {words[8]} {words[9]}, according to note {words[2]}?"


def test_duplicate_and_relevance_filters_with_the_bundled_model(tmp_path, chat_server, monkeypatch, capsys,
                                                               bundled_model):
    docs, _ = corpus(tmp_path)
    questions: list[str] = []

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        # the second answer repeats the first question word for word: a duplicate (cosine 1 > 0.78)
        questions.append(questions[0] if len(questions) == 1 else sensible_question(line))
        return json.dumps({"question": questions[-1], "references": [line]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "relevance,duplicate")) == 0
    m = manifest(out)
    assert [r["outcome"] for r in m["requests"]] == ["kept", "duplicate", "kept"]  # relevance 0.36: kept
    assert m["counts"]["dropped"] == {"duplicate": 1}
    assert [row["question"] for row in rows(out)] == [questions[0], questions[2]]
    # such questions asked to reach a mean cosine of 0.99 to their references: dropped
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache-strict"))
    chat_server.reply = lambda prompt: json.dumps({"question": sensible_question(whole_lines(window_of(prompt))[0]),
                                                   "references": [whole_lines(window_of(prompt))[0]]})
    strict = tmp_path / "strict"
    capsys.readouterr()
    assert main(synth_args(docs, chat_server, strict, 1, "--window", "500", "--filter", "relevance",
                           "--relevance", "0.99", "--max-requests", "2")) == 2
    assert "no question was kept (requests 2, dropped {'relevance': 2})" in capsys.readouterr().err
    assert not strict.exists()


def test_roundtrip_filter_keeps_a_question_a_retriever_finds_again_and_drops_one_it_cannot(tmp_path, chat_server):
    asked = {  # each line and a question in its own words
        "Halley's comet returns to the inner solar system about every seventy six years.":
            "How often does Halley's comet return to the inner solar system?",
        "Its last perihelion passage was in February 1986.": "When was the last perihelion passage?",
        "The nucleus of the comet is dark and shaped like a peanut.": "What shape is the nucleus of the comet?",
        "Astronomers expect the next return in the summer of 2061.": "When do astronomers expect the next return?",
        "Sourdough dough should rise for about four hours in a warm kitchen.":
            "How long should sourdough dough rise in a warm kitchen?",
        "A hot oven with steam gives the loaf a crisp crust.": "What gives the loaf a crisp crust?",
        "The starter is fed with flour and water every morning.": "When is the starter fed with flour and water?",
        "Rye flour makes a denser and darker loaf.": "What makes a denser and darker loaf?",
    }
    lines = list(asked)
    stars, bread = "\n".join(lines[:4]) + "\n", "\n".join(lines[4:]) + "\n"
    docs = write_docs(tmp_path / "docs", {"stars.md": stars, "bread.md": bread})
    intents: list[str] = []

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        if len(intents) % 2 == 0:  # the words of the other document's first line: bm25 finds that one
            intents.append("roundtrip")
            question = asked[lines[4] if line in stars else lines[0]]
        else:
            intents.append("kept")
            question = asked[line]
        return json.dumps({"question": question, "references": [line]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--window", "200", "--filter", "roundtrip",
                           "--roundtrip-chunker", "recursive:size=100", "--roundtrip-k", "1")) == 0
    m = manifest(out)
    assert intents == ["roundtrip", "kept", "roundtrip", "kept"]
    assert [r["outcome"] for r in m["requests"]] == intents
    assert m["counts"]["dropped"] == {"roundtrip": 2}
    assert all(asked[row["references"][0]["content"]] == row["question"] for row in rows(out))
    assert m["settings"]["filters"] == ["roundtrip"] and m["settings"]["roundtrip_k"] == 1


def test_a_prompt_already_sent_is_not_sent_again_and_a_kept_question_makes_the_next_prompts_new(tmp_path,
                                                                                                 chat_server,
                                                                                                 monkeypatch):
    texts = {"ferry": "The ferry leaves at nine.\nThe bakery opens at seven.\n",
             "museum": "The museum closes on Mondays.\nEntry is free for children.\n"}
    docs = write_docs(tmp_path / "docs", {f"{k}.md": v for k, v in texts.items()})
    # every answer dropped: each whole-document window is asked once, then no new prompt is left
    chat_server.reply = lambda prompt: "no idea"
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--filter", "none")) == 2  # a budget of 6
    assert len(chat_server.bodies) == 2 and not out.exists()
    assert {window_of(b["messages"][-1]["content"]) for b in chat_server.bodies} == set(texts.values())
    # every answer kept: a document is asked again, its prompt listing the question kept from it
    chat_server.bodies.clear()
    chat_server.reply = lambda prompt: json.dumps({"question": f"Question {len(chat_server.bodies)}?",
                                                   "references": [window_of(prompt).split("\n")[0]]})
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache-2"))
    assert main(synth_args(docs, chat_server, out, 4, "--filter", "none")) == 0
    prompts = [b["messages"][-1]["content"] for b in chat_server.bodies]
    assert len(prompts) == 4 and manifest(out)["counts"]["requests"] == 4
    for k, prompt in enumerate(prompts):
        earlier = [f"- Question {j + 1}?" for j in range(k) if window_of(prompts[j]) == window_of(prompt)]
        assert all(line in prompt for line in earlier)
        assert ("already written from this document" in prompt) == bool(earlier)


# --- 15. concurrency -----------------------------------------------------------------------------------

def test_concurrent_requests_keep_the_same_questions_whatever_order_answers_arrive_in(tmp_path, chat_server,
                                                                                     monkeypatch):
    docs, _ = corpus(tmp_path)

    def reply(prompt: str) -> str:
        line = whole_lines(window_of(prompt))[0]
        time.sleep(0.05 * (sum(map(ord, line)) % 5))  # answers come back out of order
        # every third note gives an answer that cannot be used: which ones are kept depends on order
        if int(line.split()[2]) % 3 == 0:
            return "no idea"
        return json.dumps({"question": f"What does {line.split(' says')[0]} say?", "references": [line]})

    chat_server.reply = reply
    outs = []
    for run in range(2):
        monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / f"cache-{run}"))  # every request made again
        before = len(chat_server.bodies)
        chat_server.max_in_flight = 0
        outs.append(tmp_path / f"out-{run}")
        assert main(synth_args(docs, chat_server, outs[-1], 5, "--window", "500", "--filter", "none",
                               "--concurrency", "3")) == 0
        assert chat_server.max_in_flight == 3
        assert len(chat_server.bodies) - before == manifest(outs[-1])["counts"]["requests"]
    first, second = files(outs[0]), files(outs[1])
    assert first.pop("manifest.json") and second.pop("manifest.json")
    assert first == second
    assert {**manifest(outs[0]), "timing": None} == {**manifest(outs[1]), "timing": None}
    assert len(rows(outs[0])) == 5


# --- 16. a hostile model, endpoint, user ----------------------------------------------------------------
# Each: what a model or an endpoint may send, or a user may do, and what must come of it.

@pytest.mark.parametrize("source", ["an escape in the answer", "a lone surrogate in the endpoint's JSON"])
def test_lone_surrogates_and_control_characters_in_a_question_are_written_as_valid_text(tmp_path, chat_server,
                                                                                        source):
    docs, texts = corpus(tmp_path)
    asked: list[str] = []

    def reply(prompt: str) -> str:
        asked.append(whole_lines(window_of(prompt))[0])
        if source == "an escape in the answer":  # valid text whose JSON escapes decode to U+D800 and NUL
            return '{"question": "Wh\\ud800at\\u0000 weighs?", "references": [%s]}' % json.dumps(asked[-1])
        # the model's text itself holds U+D800 (the endpoint's JSON escapes it) and NUL
        return json.dumps({"question": "Wh\ud800at\x00 weighs?", "references": [asked[-1]]}, ensure_ascii=False)

    chat_server.reply = reply
    out = tmp_path / "out"
    args = synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")
    assert main(args) == 0
    # the surrogate is U+FFFD (no UTF-8 file can hold it), the NUL is left out (some CSV readers stop at it)
    assert [row["question"] for row in rows(out)] == ["Wh\ufffdat weighs?"]
    assert manifest(out)["requests"][0]["question"] == "Wh\ufffdat weighs?"
    _, at = where(texts, asked[0])
    assert rows(out)[0]["references"] == [{"content": asked[0], "start_index": at, "end_index": at + len(asked[0])}]
    written = files(out)
    assert main(args) == 0 and len(chat_server.bodies) == 1 and files(out) == written  # the cache held it


@pytest.mark.parametrize("content", ["5", '[{"type": "text", "text": "hi"}]', '{"text": "hi"}'])
def test_an_endpoint_answer_whose_content_is_not_text_is_a_clear_error(tmp_path, chat_server, capsys, content):
    docs, _ = corpus(tmp_path)
    chat_server.script = [(200, '{"choices": [{"message": {"content": %s}}]}' % content)]
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rageval: error: {chat_server.url}/chat/completions: malformed answer "
                          "(choices[0].message.content is not text)")
    assert not out.exists()


@pytest.mark.parametrize("target", ["an empty folder", "an earlier synth folder"])
def test_an_out_that_is_a_symbolic_link_is_refused_before_any_request(tmp_path, chat_server, capsys, target):
    docs, _ = corpus(tmp_path)
    chat_server.reply = first_line_answer
    real = tmp_path / "real"
    if target == "an empty folder":
        real.mkdir()
    else:
        assert main(synth_args(docs, chat_server, real, 1, "--window", "500", "--filter", "none")) == 0
    before, sent = files(real), len(chat_server.bodies)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    capsys.readouterr()
    assert main(synth_args(docs, chat_server, link, 1, "--window", "500", "--filter", "none", "--seed", "3")) == 2
    assert f"rageval: error: --out {link} is a symbolic link (to {real})" in capsys.readouterr().err
    assert len(chat_server.bodies) == sent and link.is_symlink() and files(real) == before


def test_documents_whose_file_names_would_collide_are_each_written_under_their_own_name(tmp_path, chat_server):
    # "doc:2" is no safe file name: its fallback "doc-1.txt" (from its position) is taken by the id "doc-1",
    # so it is "doc-2.txt"; "note" differs from "Note" only in case (one file on macOS and Windows)
    ids = ["doc-1", "doc:2", "Note", "note"]
    texts = {doc_id: "\n".join(lines_of(f"text{k}", 3)) for k, doc_id in enumerate(ids)}
    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in texts.items()), encoding="utf-8")
    chat_server.reply = lambda prompt: json.dumps({"question": f"Question {len(chat_server.bodies)}?",
                                                   "references": [window_of(prompt).split("\n")[0]]})
    out = tmp_path / "out"
    assert main(["synth", "--dataset", f"beir:{folder}", "--generator", chat_server.spec(), "--n", "2",
                 "--out", str(out), "--filter", "none"]) == 0
    names = {"doc-1": "doc-1.txt", "doc:2": "doc-2.txt", "Note": "Note.txt", "note": "doc-3.txt"}
    written = files(out)
    assert set(written) == {*names.values(), "questions.csv", "manifest.json"}
    assert all(written[names[i]] == texts[i].encode() for i in ids)
    assert manifest(out)["renamed"] == {"doc-2": "doc:2", "doc-3": "note"}
    check_spans_verbatim(out)


def test_unsafe_docs_names_get_fallback_names_no_other_document_holds(tmp_path, chat_server):
    docs = write_docs(tmp_path / "docs", {"doc-2.txt": "Two.\n", "what's new.md": "New.\n", "notes (old).md": "Old.\n"})
    # sorted: "doc-2", "notes (old)" (position 1: doc-1.txt), "what's new" (position 2: doc-2.txt is taken: doc-3.txt)
    chat_server.reply = lambda prompt: json.dumps({"question": f"Question {len(chat_server.bodies)}?",
                                                   "references": [window_of(prompt).strip()]})
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 2, "--filter", "none")) == 0
    written = files(out)
    assert {k: written[k] for k in ("doc-1.txt", "doc-2.txt", "doc-3.txt")} == \
        {"doc-1.txt": b"Old.\n", "doc-2.txt": b"Two.\n", "doc-3.txt": b"New.\n"}
    assert manifest(out)["renamed"] == {"doc-1": "notes (old)", "doc-3": "what's new"}
    check_spans_verbatim(out)


@pytest.mark.parametrize("same", [False, True])
def test_a_run_whose_out_another_run_wrote_meanwhile_keeps_that_folder(tmp_path, chat_server, monkeypatch, capsys,
                                                                       same):
    """Two synth runs writing one --out at once: the one that finishes second finds the first's folder and
    leaves it (the same benchmark: nothing to do; another one: a clear error), never replaces it unseen."""
    docs, _ = corpus(tmp_path)
    chat_server.reply = first_line_answer
    other = tmp_path / "other"
    assert main(synth_args(docs, chat_server, other, 2, "--window", "500", "--filter", "none",
                           "--seed", "0" if same else "1")) == 0
    out = tmp_path / "out"
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache-2"))  # every request made again

    def reply(prompt: str) -> str:
        if not out.exists():  # the other run puts its folder in place while this one asks
            shutil.copytree(other, out)
        return first_line_answer(prompt)

    chat_server.reply = reply
    capsys.readouterr()
    code = main(synth_args(docs, chat_server, out, 2, "--window", "500", "--filter", "none", "--seed", "0"))
    assert files(out) == files(other)
    if same:
        assert code == 0
    else:
        assert code == 2 and f"--out {out} was written by another rageval synth while this one ran" in \
            capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def synth_folder_for_report(tmp_path: Path, server) -> Path:
    """A synth folder of two questions over alpha.md and beta.txt."""
    docs, _ = corpus(tmp_path)
    server.reply = first_line_answer
    out = tmp_path / "out"
    assert main(synth_args(docs, server, out, 2, "--window", "500", "--filter", "none")) == 0
    return out


def edit_manifest(out: Path, change) -> None:
    data = manifest(out)
    change(data)
    (out / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


def edit_rows(out: Path, change) -> None:
    lines = (out / "questions.csv").read_text(encoding="utf-8").split("\n")
    (out / "questions.csv").write_text("\n".join(change(lines)), encoding="utf-8")


TAMPERED = {
    "counts removed": (lambda out: edit_manifest(out, lambda m: m.pop("counts")),
                       "manifest.json: field counts.kept is missing, expected a whole number"),
    "dropped not an object": (lambda out: edit_manifest(out, lambda m: m["counts"].update(dropped=[1])),
                              "manifest.json: field counts.dropped is [1], expected an object"),
    "a count not a number": (lambda out: edit_manifest(out, lambda m: m["counts"]["dropped"].update(leak="2")),
                             "manifest.json: field counts.dropped: 'leak' is \"2\", expected a count"),
    "manifest not JSON": (lambda out: (out / "manifest.json").write_text("{", encoding="utf-8"),
                          "manifest.json: not a rageval synth manifest"),
    "a question removed": (lambda out: edit_rows(out, lambda lines: lines[:2] + lines[3:]),
                           "questions.csv: holds 1 questions but manifest.json says 2 were kept"),
    "a short row": (lambda out: edit_rows(out, lambda lines: [lines[0], "What?", *lines[2:]]),
                    "questions.csv:2: the row has 1 of the header's 3 columns"),
    "a reference changed": (lambda out: edit_rows(out, lambda lines: [lines[0], lines[1].replace(
                                '""content"": ""', '""content"": ""X'), *lines[2:]]),
                     "does not match document"),
    "a document removed": (lambda out: next(out.glob(rows(out)[0]["corpus_id"] + ".*")).unlink(),
                           "is not a document of the folder"),
}


@pytest.mark.parametrize("case", TAMPERED)
def test_report_on_a_synth_folder_changed_after_it_was_written_is_a_clear_error(tmp_path, chat_server, capsys, case):
    out = synth_folder_for_report(tmp_path, chat_server)
    change, expected = TAMPERED[case]
    change(out)
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rageval: error: {out}") and expected in err, err


def test_more_references_than_max_references_are_cut_and_the_manifest_says_how_many(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    asked: list[list[str]] = []

    def reply(prompt: str) -> str:
        asked.append(whole_lines(window_of(prompt))[:3])
        return json.dumps([{"question": "Which three notes?", "references": asked[-1]}, {"question": "Another?"}])

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none",
                           "--max-references", "1")) == 0
    _, at = where(texts, asked[0][0])
    assert rows(out)[0]["references"] == [{"content": asked[0][0], "start_index": at,
                                           "end_index": at + len(asked[0][0])}]
    entry = manifest(out)["requests"][0]
    assert (entry["references_cut"], entry["extra_answers"]) == (2, 1)


def test_a_reference_in_another_unicode_normal_form_is_kept_with_the_documents_text(tmp_path, chat_server):
    nfd = unicodedata.normalize("NFD", "The café serves crème brûlée.\nThe ket\u200btle is on the stove.\n")
    docs = write_docs(tmp_path / "docs", {"menu.md": nfd})
    chat_server.reply = lambda prompt: json.dumps({"question": "What does the café serve?",
                                                   "references": ["The café serves crème brûlée.", "kettle is"]})
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--filter", "none")) == 0
    first = unicodedata.normalize("NFD", "The café serves crème brûlée.")   # 29 characters + 4 accents
    kettle = nfd.index("ket\u200btle is")
    assert rows(out)[0]["references"] == [
        {"content": first, "start_index": 0, "end_index": 33},
        {"content": "ket\u200btle is", "start_index": kettle, "end_index": kettle + 10}]
    assert manifest(out)["counts"]["references_found"] == {"unicode": 2}
    check_spans_verbatim(out)


def test_headings_takes_no_options_and_says_nothing_of_windows_or_requests(tmp_path, capsys, caplog):
    docs = write_docs(tmp_path / "docs", {"guide.md": "# Install\n\nRun the installer.\n"})
    out = tmp_path / "out"
    args = ["synth", "--dataset", f"docs:{docs}", "--generator", "headings", "--n", "3", "--out", str(out),
            "--filter", "none"]
    assert main([*args[:4], "headings:depth=2", *args[5:]]) == 2
    assert "--generator 'headings:depth=2': headings takes no options" in capsys.readouterr().err
    assert main(args) == 0
    assert "--window" not in caplog.text and "--max-requests" not in caplog.text
    assert "kept 1 of the 3 questions asked: the documents have 1 sections with a title and a body" in caplog.text


def test_an_endpoint_that_echoes_the_api_key_in_its_answers_gets_it_written_to_no_file(tmp_path, chat_server, cache,
                                                                                       monkeypatch, capsys):
    secret = "sk-test-ECHOED"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    docs, _ = corpus(tmp_path)
    answers = [f"I cannot. Your request had: Authorization: Bearer {secret}"]   # unparsed: its head is recorded

    def reply(prompt: str) -> str:
        if answers:
            return answers.pop()
        line = whole_lines(window_of(prompt))[0]
        return json.dumps({"question": f"Which key is {secret}?", "references": [line]})

    chat_server.reply = reply
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    assert [r["outcome"] for r in manifest(out)["requests"]] == ["unparsed:no_json", "kept"]
    assert rows(out)[0]["question"] == "Which key is [redacted]?"
    written = {**{f"out/{k}": v for k, v in files(out).items()}, **{f"cache/{k}": v for k, v in files(cache).items()}}
    assert [name for name, data in written.items() if secret.encode() in data] == []
    assert secret not in "".join(capsys.readouterr())


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "ftp://example.org/v1", "file:///tmp/v1",
                                      "http://me:sk-PASSWORD@localhost:11434/v1"])
def test_a_base_url_that_is_not_http_or_holds_credentials_is_a_clear_error_before_any_work(tmp_path, capsys,
                                                                                          base_url):
    docs, _ = corpus(tmp_path)
    out = tmp_path / "out"
    started = time.monotonic()
    assert main(["synth", "--dataset", f"docs:{docs}", "--generator", f"openai:base_url={base_url},model=m",
                 "--n", "1", "--out", str(out), "--filter", "none"]) == 2
    assert time.monotonic() - started < 5  # no retries with back-off
    err = capsys.readouterr().err
    if "@" in base_url:  # the password is shown nowhere
        assert err.startswith("rageval: error: openai generator: base_url holds credentials") and "sk-" not in err
    else:
        assert err == ("rageval: error: openai generator: base_url must be an http:// or https:// URL with a host, "
                       f"got {base_url!r}\n")
    assert not out.exists()


def test_a_question_with_commas_quotes_and_line_ends_reads_back_as_written(tmp_path, chat_server):
    docs, _ = corpus(tmp_path)
    asked = 'Which "note", of all,\nweighs most?\r\nSay \'which\'; "quote" it,'
    chat_server.reply = lambda prompt: json.dumps({"question": asked,
                                                   "references": [whole_lines(window_of(prompt))[0]]})
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    assert rageval.load_dataset(f"docs:{out}").queries.texts == [asked]   # what rageval run asks
    assert manifest(out)["requests"][0]["question"] == asked
    check_spans_verbatim(out)


@pytest.mark.parametrize("given", ["", ".", "./", "..", "../here/.."])
def test_an_out_that_names_no_folder_of_its_own_is_refused_before_any_request(tmp_path, chat_server, capsys,
                                                                              monkeypatch, given):
    docs, _ = corpus(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # empty, as is the folder above it but for docs/ and here/
    assert main(synth_args(docs, chat_server, given, 1, "--window", "500", "--filter", "none")) == 2
    err = capsys.readouterr().err
    expected = "--out is empty" if given == "" else f"--out {given} names the current folder, the root or a folder"
    assert err.startswith(f"rageval: error: {expected}"), err
    assert chat_server.bodies == [] and list(here.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} <= {"docs", "here", "cache"}


def test_a_huge_reference_not_found_is_recorded_by_its_head_only(tmp_path, chat_server):
    docs, texts = corpus(tmp_path)
    huge = "Z" * 3_000_000   # a hostile endpoint's answer: 3 MB
    answers = [json.dumps({"question": "What is Z?", "references": [huge]})]
    chat_server.reply = lambda prompt: answers.pop() if answers else first_line_answer(prompt)
    out = tmp_path / "out"
    assert main(synth_args(docs, chat_server, out, 1, "--window", "500", "--filter", "none")) == 0
    first = manifest(out)["requests"][0]
    assert first["outcome"] == "reference_not_in_window"
    assert first["missing_references"] == ["Z" * 1000 + "... (3000000 characters)"]
    assert (out / "manifest.json").stat().st_size < 20_000

"""The site-packages training-set recipe (rageval.data.code_pairs): docstring pairs from a source tree,
deduplicated, with copies and near copies of evaluation documents removed; and the runner's own
leakage filter when a retriever trains on another dataset than the one it is evaluated on."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import write_beir

from rageval import registry
from rageval.cli import main as rageval_main
from rageval.data.code_pairs import EvaluationSet, build, main, normalised_tokens
from rageval.data.training import TrainingData
from rageval.errors import RagevalError

# A function long enough for 5-token shingles to measure similarity (about 70 tokens).
PARSE = '''
def parse_header(line, strict=True):
    """{doc}"""
    name, sep, value = line.partition(":")
    if not sep:
        if strict:
            raise ValueError("no colon in header line: %r" % line)
        return None
    name = name.strip().lower()
    value = value.strip()
    if name in ("content-length", "content-type"):
        value = value.split(";")[0]
    return name, value
'''
# The same function with a comment and one more call: a near copy.
PARSE_NEAR = PARSE.replace("    value = value.strip()", "    # tidy the value\n    value = value.strip().rstrip(';')")
ROTATE = '''
def rotate_items(items, steps):
    """{doc}"""
    if not items:
        return []
    steps = steps % len(items)
    head = items[steps:]
    tail = items[:steps]
    result = list(head)
    result.extend(tail)
    return result
'''
MERGE = '''
def merge_intervals(pairs):
    """{doc}"""
    ordered = sorted(pairs)
    merged = [list(ordered[0])]
    for start, end in ordered[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [tuple(p) for p in merged]
'''


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _evaluation(root: Path, functions: list[str]) -> Path:
    corpus = [json.dumps({"_id": f"e{i}", "text": f.format(doc="evaluation copy")}) for i, f in enumerate(functions)]
    queries = [json.dumps({"_id": "q0", "text": "a question"})]
    return write_beir(root, corpus, queries, "query-id\tcorpus-id\tscore\nq0\te0\t1\n")


def test_leakage_filter_removes_planted_copies_and_duplicates(tmp_path):
    source = _tree(tmp_path / "src", {
        "pkg/headers.py": PARSE.format(doc="Split one raw header line into its name and value."),
        "pkg/near.py": PARSE_NEAR.format(doc="Break a header line into lower-case name and value."),
        "pkg/lists.py": ROTATE.format(doc="Rotate a list to the left by a number of steps."),
        "pkg/again.py": ROTATE.format(doc="Shift the elements of a sequence cyclically leftwards."),
        "pkg/ranges.py": MERGE.format(doc="Merge overlapping closed intervals into disjoint ones."),
    })
    evaluation = _evaluation(tmp_path / "eval", [PARSE])
    summary = build(tmp_path / "out", str(source), [str(evaluation)])
    # by hand: headers.py is the evaluation function with another docstring (same body); near.py differs
    # by a comment and one more call (Jaccard of 5-shingles far above 0.7); again.py repeats lists.py's body
    assert summary["dropped"] == {"same body as an evaluation document": 1,
                                  "near duplicate of an evaluation document": 1, "duplicate body": 1}
    corpus = [json.loads(line) for line in (tmp_path / "out" / "corpus.jsonl").read_text().splitlines()]
    assert sorted(d["path"] for d in corpus) == ["pkg/again.py", "pkg/ranges.py"]  # ids sorted: again < lists
    queries = [json.loads(line) for line in (tmp_path / "out" / "queries.jsonl").read_text().splitlines()]
    assert {q["text"] for q in queries} == {"Shift the elements of a sequence cyclically leftwards.",
                                            "Merge overlapping closed intervals into disjoint ones."}
    assert "evaluation copy" not in (tmp_path / "out" / "corpus.jsonl").read_text()  # docstrings are not in documents
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    build(tmp_path / "out", str(source), [str(evaluation)])  # a folder it wrote: rewritten, same bytes
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == first


def test_near_duplicates_are_judged_by_shingle_jaccard():
    evaluation = EvaluationSet(threshold=0.7)
    evaluation.add([PARSE.format(doc="x")])
    assert evaluation.leak(PARSE.format(doc="another docstring")) == "same body as an evaluation document"
    assert evaluation.leak(PARSE_NEAR.format(doc="y")) == "near duplicate of an evaluation document"
    assert evaluation.leak(MERGE.format(doc="z")) is None
    # half of the function: about half of the shingles are shared, below 0.7
    half = "\n".join(PARSE.format(doc="x").splitlines()[:8])
    assert evaluation.leak(half) is None
    assert normalised_tokens('x = "text"  # comment\n') == ["x", "="]


def test_a_tree_without_docstrings_is_an_error_naming_it(tmp_path, capsys):
    source = _tree(tmp_path / "bare", {"m.py": "def f(x):\n    return x + 1\n\ndef g():\n    pass\n"})
    evaluation = _evaluation(tmp_path / "e", [MERGE])
    assert main([str(tmp_path / "out"), "--source", str(source), "--exclude", str(evaluation)]) == 2
    err = capsys.readouterr().err
    assert f"rageval: error: {source}: no python function with a usable docstring summary" in err
    assert not (tmp_path / "out").exists()
    # the runner, training on it: the pair fails (exit 1, as any failed pair) with the code loader's
    # error naming the tree
    evaluation = _evaluation(tmp_path / "e2", [MERGE])
    assert rageval_main(["run", "--dataset", str(evaluation), "--retriever", f"astgnn:train=code:{source}",
                         "--out", str(tmp_path / "runs")]) == 1
    assert f"{source}: the train split has no query (the tree has 0 documented functions in all)" in \
        capsys.readouterr().out


def test_a_training_set_that_is_all_evaluation_data_is_refused(tmp_path, capsys):
    source = _tree(tmp_path / "src", {
        "a.py": PARSE.format(doc="Split one raw header line into its name and value."),
        "b.py": MERGE.format(doc="Merge overlapping closed intervals into disjoint ones.")})
    evaluation = _evaluation(tmp_path / "eval", [PARSE, MERGE])
    assert main([str(tmp_path / "out"), "--source", str(source), "--exclude", str(evaluation)]) == 2
    assert "every one of its 2 pairs is (a near copy of) a document of the evaluation set" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    other = tmp_path / "mine"
    other.mkdir()
    assert main([str(other), "--source", str(source), "--exclude", str(evaluation)]) == 2
    assert "exists and is not a training set this command wrote" in capsys.readouterr().err


def _code_beir(root: Path, functions: dict[str, str], split: str) -> Path:
    """A BEIR folder whose documents are ``functions`` (id -> code) and whose queries ask for each."""
    corpus = [json.dumps({"_id": d, "text": code}) for d, code in functions.items()]
    queries = [json.dumps({"_id": f"q-{d}", "text": f"find {d}"}) for d in functions]
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"q-{d}\t{d}\t1\n" for d in functions)
    return write_beir(root, corpus, queries, qrels, split=split)


def test_the_runner_leaves_out_training_queries_on_evaluated_documents(tmp_path, capsys):
    evaluation = _code_beir(tmp_path / "eval", {"p": PARSE.format(doc="a"), "m": MERGE.format(doc="b")}, "test")
    train = _code_beir(tmp_path / "train", {"near": PARSE_NEAR.format(doc="c"), "rot": ROTATE.format(doc="d")},
                       "train")
    retriever = registry.create("retrievers", f"astgnn:train={train}")
    fit_on, dev = TrainingData(str(evaluation)).splits(retriever)
    assert fit_on.queries.ids == ["q-rot"] and dev is None
    same = _code_beir(tmp_path / "same", {"copy": MERGE.format(doc="e")}, "train")
    with pytest.raises(RagevalError, match=r"cannot train on .*same: every one of its 1 train queries has a relevant "
                                           r"document that is \(a near copy of\) a document of the evaluated dataset"):
        TrainingData(str(evaluation)).splits(registry.create("retrievers", f"astgnn:train={same}"))
    assert rageval_main(["run", "--dataset", str(evaluation), "--retriever", f"astgnn:train={same}",
                         "--out", str(tmp_path / "runs")]) == 1  # a failed pair, named with the reason
    assert "of the evaluated dataset" in capsys.readouterr().out

"""Chunkers on real text: offsets round-trip, no text lost, overlap honoured, AST units kept whole."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from rageval import Corpus, load_dataset, registry
from rageval import benchmark as run
from rageval.errors import DataError, SpecError
from rageval.store.run_folder import pair_folder
from rageval.text.units import Unit

SPECS = ["fixed:size=60", "fixed:size=60,overlap=15", "fixed:size=40,unit=cl100k_base", "fixed:size=300,unit=chars",
         "recursive:size=400", "recursive:size=80,unit=regex,overlap=20", "sentence:n=3", "sentence:n=4,overlap=2",
         "ast:size=600"]


@pytest.fixture(scope="module")
def texts():
    """Real text every machine has: modules of the standard library, code and prose (docstrings)."""
    import argparse
    import json as json_module
    import textwrap as textwrap_module

    docs = [inspect.getsource(m) for m in (argparse, json_module, textwrap_module)]
    docs.append(inspect.getdoc(argparse.ArgumentParser.add_argument) or "Short text.")
    docs.append("")
    return Corpus(ids=["argparse.py", "json/__init__.py", "textwrap.py", "prose", "empty"], texts=docs)


@pytest.mark.parametrize("spec", SPECS)
def test_chunks_round_trip_in_order_and_lose_only_whitespace(texts, spec):
    chunks = registry.create("chunkers", spec).chunk(texts)
    by_parent: dict[str, list[tuple[int, int]]] = {}
    for text, meta in zip(chunks.texts, chunks.metas):
        parent = texts.get(meta["parent"]).text
        if spec.startswith("sentence"):  # split=punct: sentences joined by one space
            assert text.split() == parent[meta["start"]:meta["end"]].split() and text
        else:
            assert parent[meta["start"]:meta["end"]] == text and text
        by_parent.setdefault(meta["parent"], []).append((meta["start"], meta["end"]))
    assert set(by_parent) == {"argparse.py", "json/__init__.py", "textwrap.py", "prose"}  # no document dropped
    for doc_id, ranges in by_parent.items():
        text = texts.get(doc_id).text
        assert [s for s, _ in ranges] == sorted(s for s, _ in ranges)
        outside = np.ones(len(text), dtype=bool)
        for start, end in ranges:
            outside[start:end] = False
        assert all(text[i].isspace() for i in np.flatnonzero(outside)), spec


def test_ast_chunks_cover_every_document_whole(texts):
    chunks = registry.create("chunkers", "ast:size=600").chunk(texts)
    for doc_id in ("argparse.py", "prose"):
        reach = 0
        for meta in (m for m in chunks.metas if m["parent"] == doc_id):
            assert meta["start"] == reach < meta["end"]
            reach = meta["end"]
        assert reach == len(texts.get(doc_id).text)


def test_fixed_sizes_and_overlap(texts):
    unit = Unit("regex")
    chunks = registry.create("chunkers", "fixed:size=50,overlap=10").chunk(texts)
    mine = [(m["start"], m["end"]) for m in chunks.metas if m["parent"] == "argparse.py"]
    starts, ends = unit.offsets(texts.texts[0])
    for (s1, e1), (s2, _) in zip(mine, mine[1:]):
        inside = ((starts >= s1) & (starts < e1)).sum()
        assert inside == 50 and s1 in starts and e1 in ends  # from a token's start to a token's end
        assert ((starts >= s2) & (starts < e1)).sum() == 10  # the next chunk repeats the last 10 tokens


def test_sentence_chunks_hold_n_sentences():
    doc = Corpus(ids=["p"], texts=["One is here. Two is here! Three? Four is last. Five. Six."])
    chunks = registry.create("chunkers", "sentence:n=2,overlap=1").chunk(doc)
    assert chunks.texts[:3] == ["One is here. Two is here!", "Two is here! Three?", "Three? Four is last."]
    prose = registry.create("chunkers", "sentence:n=2,overlap=1,split=prose").chunk(doc)
    assert prose.texts[:3] == ["One is here. Two is here! ", "Two is here! Three? ", "Three? Four is last. "]


PUNCT_CASES = [
    # (text, sentences by the paper's rule: split only at whitespace that follows . ! or ?)
    ("See e.g. the table. Then stop.", ["See e.g.", "the table.", "Then stop."]),
    ("Dr. Smith came. He left!", ["Dr.", "Smith came.", "He left!"]),
    ("A title\n\nBody text here. More", ["A title\n\nBody text here.", "More"]),
    ('He asked "why?" Then left. Fine', ['He asked "why?" Then left.', "Fine"]),
    ("(Yes.) No.  \n\n  Maybe?\tSure.", ["(Yes.) No.", "Maybe?", "Sure."]),
    ("Trailing space. ", ["Trailing space."]),
    ("No end mark", ["No end mark"]),
]


@pytest.mark.parametrize("text, sentences", PUNCT_CASES)
def test_punct_sentence_split(text, sentences):
    one = registry.create("chunkers", "sentence:n=1,split=punct").chunk(Corpus(ids=["d"], texts=[text]))
    assert one.texts == sentences
    for chunk, meta in zip(one.texts, one.metas):  # one sentence: a substring, exact offsets
        assert text[meta["start"]:meta["end"]] == chunk


def test_punct_sentences_joined_by_one_space():
    text = "First one.  Second\none!\n\nThird?   Fourth. Fifth."
    chunks = registry.create("chunkers", "sentence:n=2").chunk(Corpus(ids=["d"], texts=[text]))
    assert chunks.texts == ["First one. Second\none!", "Third? Fourth.", "Fifth."]
    assert [(m["start"], m["end"]) for m in chunks.metas] == [(0, 23), (25, 41), (42, 48)]


def test_ast_chunks_never_cut_a_function_that_fits(texts):
    from rageval.text.treesitter import functions, parser

    size = 1200
    chunks = registry.create("chunkers", f"ast:size={size}").chunk(texts)
    source = texts.texts[0]
    ranges = [(m["start"], m["end"]) for m in chunks.metas if m["parent"] == "argparse.py"]
    tree = parser("python").parse(source.encode())
    checked = 0
    for fn in functions("python", tree.root_node):
        a, b = fn.start_byte, fn.end_byte  # argparse.py is ASCII: bytes are characters
        if b - a <= size:
            assert any(s <= a and b <= e for s, e in ranges), source[a:a + 60]
            checked += 1
    assert checked > 50
    assert all(e - s <= size for s, e in ranges)


@pytest.mark.parametrize("spec, message", [
    ("fixed:size=0", "size must be positive, got 0"),
    ("fixed:size=10,overlap=10", "overlap must be at least 0 and smaller than size"),
    ("sentence:n=2,overlap=3", "overlap must be at least 0 and smaller than n"),
    ("recursive:size=-5", "size must be positive"),
    ("ast:language=cobol", "unknown language 'cobol'"),
    ("fixed:unit=gpt9", "unknown token unit 'gpt9'"),
    ("recursive:unit=hf:/nonexistent/tokenizer", "tokenizer /nonexistent/tokenizer: no tokenizer.json there"),
    ("sentence:split=nltk", "split must be punct or prose, got 'nltk'"),
])
def test_bad_chunker_options_fail_before_any_work(spec, message, tmp_path, shared):
    with pytest.raises(SpecError, match=message):
        run(str(shared / "adi"), ["bm25"], out=tmp_path, chunkers=[spec])
    assert not list(tmp_path.iterdir())


def test_every_chunker_x_retriever_pair_is_a_row(shared, tmp_path):
    outcomes = run(f"beir:{shared / 'xquad_en'},group_by=title", ["bm25"], ["nDCG@10", "IoU@5", "precision_omega"],
                   out=tmp_path, chunkers=["fixed:size=100", "sentence:n=3"])
    assert [o.system for o in outcomes] == ["fixed:size=100 + bm25", "sentence:n=3 + bm25"]
    assert all(o.error is None and 0 < o.means["IoU@5"] < o.means["precision_omega"] for o in outcomes)
    folder = pair_folder(tmp_path, "xquad_en-by-title.test", "bm25", "fixed:size=100")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["run"]["chunker"] == "fixed:size=100" and metrics["evaluation"]["span_unit"] == "regex"


def test_code_spans_stdlib(tmp_path):
    ds = load_dataset("code-spans:stdlib")
    assert len(ds.queries) > 300
    for qid in ds.queries.ids[:200]:
        (doc, start, end), = ds.spans[qid]
        text = ds.corpus.get(doc).text
        assert text[start:end].lstrip().startswith(("def ", "async def "))
        assert ds.queries.texts[ds.queries.ids.index(qid)] not in text[start:end]  # its docstring is blanked


def test_xquad_by_article_shifts_offsets(shared):
    paragraphs = load_dataset(str(shared / "xquad_en"))
    articles = load_dataset(f"beir:{shared / 'xquad_en'},group_by=title")
    assert len(articles.corpus) < len(paragraphs.corpus)
    for qid in paragraphs.queries.ids[:300]:
        (d, s, e), = paragraphs.spans[qid]
        (a, s2, e2), = articles.spans[qid]
        assert paragraphs.corpus.get(d).text[s:e] == articles.corpus.get(a).text[s2:e2]


def write_docs(root, csv_rows):
    root.mkdir()
    (root / "notes.md").write_text("# Notes\nThe launch is on Tuesday at noon.\nBring snacks.\n")
    (root / "page.html").write_text("<html><head><style>p{}</style></head><body><p>Alpha &amp; beta.</p>"
                                    "<script>var x;</script><p>Gamma delta.</p></body></html>")
    lines = ["question,references,corpus_id"] + csv_rows
    (root / "questions.csv").write_text("\n".join(lines) + "\n")


def test_docs_loader_reads_the_chunking_evaluation_csv_and_html(tmp_path):
    ref = json.dumps([{"content": "on Tuesday at noon", "start_index": 22, "end_index": 40}]).replace('"', '""')
    html_ref = json.dumps([{"content": "Gamma delta.", "start_index": 14, "end_index": 26}]).replace('"', '""')
    write_docs(tmp_path / "d", [f'When is the launch?,"{ref}",notes', f'What follows alpha?,"{html_ref}",page'])
    ds = load_dataset(f"docs:{tmp_path / 'd'}")
    assert ds.corpus.get("page").text == "Alpha & beta.\nGamma delta."
    assert ds.spans == {"q0": [("notes", 22, 40)], "q1": [("page", 14, 26)]}
    assert ds.qrels == {"q0": {"notes": 1}, "q1": {"page": 1}}


def test_docs_loader_bad_references(tmp_path):
    bad = json.dumps([{"content": "on Monday", "start_index": 22, "end_index": 31}]).replace('"', '""')
    write_docs(tmp_path / "d", [f'When is the launch?,"{bad}",notes'])
    with pytest.raises(DataError, match=r"questions.csv:2: question 'When is the launch\?', reference 0: span text "
                                        r"'on Monday' does not match document 'notes' at \[22:31\]"):
        load_dataset(f"docs:{tmp_path / 'd'}")
    out = json.dumps([{"content": "x", "start_index": 500, "end_index": 501}]).replace('"', '""')
    write_docs(tmp_path / "e", [f'Where?,"{out}",notes', 'Who?,"[]",nowhere'])
    with pytest.raises(DataError, match=r"questions.csv:2: question 'Where\?', reference 0: offsets start=500, end=501 are not within document 'notes'"):
        load_dataset(f"docs:{tmp_path / 'e'}")
    good = json.dumps([{"content": "Bring snacks.", "start_index": 42, "end_index": 55}]).replace('"', '""')
    write_docs(tmp_path / "f", [f'When?,"{bad}",notes', f'Where?,"{out}",notes', f'What to bring?,"{good}",notes'])
    ds = load_dataset(f"docs:{tmp_path / 'f'},lenient=true")
    # lenient: a mismatched excerpt drops its question; offsets past the end are kept (chroma counts them)
    assert list(ds.spans.values()) == [[("notes", 500, 501)], [("notes", 42, 55)]]


def test_beir_spans_lenient(tmp_path):
    from conftest import write_beir

    root = write_beir(tmp_path / "b")
    (root / "spans.jsonl").write_text('{"query-id": "q1", "corpus-id": "d1", "start": 0, "end": 3, "text": "xyz"}\n'
                                      '{"query-id": "q2", "corpus-id": "d3", "start": 0, "end": 4, "text": "fast"}\n')
    ds = load_dataset(f"beir:{root},lenient=true")
    assert ds.spans == {"q2": [("d3", 0, 4)]}


def test_a_local_hugging_face_tokenizer_as_the_unit(texts, bundled_model):
    path = bundled_model
    plain = registry.create("chunkers", f"fixed:size=64,unit=hf:{path}").chunk(texts)
    special = registry.create("chunkers", f"fixed:size=64,unit=hf:{path}+special").chunk(texts)
    assert len(special) > len(plain)  # [CLS] and [SEP] take two of the 64 places
    starts, _ = Unit(f"hf:{path}").offsets(texts.texts[0])
    for meta in special.metas[:50]:
        if meta["parent"] == "argparse.py":
            assert ((starts >= meta["start"]) & (starts < meta["end"])).sum() + 2 <= 64


def test_cli_span_unit_and_chroma_flags(shared, tmp_path, capsys):
    from rageval.cli import main

    spec = f"beir:{shared / 'xquad_en'},group_by=title"
    base = ["run", "--dataset", spec, "--chunker", "fixed:size=100", "--retriever", "bm25"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "span_recall@5" in capsys.readouterr().out  # the span measures join the defaults with --chunker
    assert main([*base, "--metric", "IoU@5", "--chroma", "--out", str(tmp_path / "b")]) == 0
    assert main([*base, "--metric", "IoU@5", "--span-unit", "cl100k_base", "--out", str(tmp_path / "c")]) == 0
    a, b, c = (json.loads((pair_folder(tmp_path / x, "xquad_en-by-title.test", "bm25", "fixed:size=100")
                           / "metrics.json").read_text()) for x in "abc")
    assert (b["evaluation"]["span_unit"], c["evaluation"]["span_unit"]) == ("chars (chroma)", "cl100k_base")
    assert len({a["metrics"]["IoU@5"], b["metrics"]["IoU@5"], c["metrics"]["IoU@5"]}) == 3
    assert main([*base, "--span-unit", "bogus", "--out", str(tmp_path / "d")]) == 2
    assert "unknown token unit 'bogus'" in capsys.readouterr().err

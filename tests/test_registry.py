"""Spec strings, typed options, and the errors that list what is valid."""
from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest

from rageval import get_retriever, registry
from rageval.cli import main
from rageval.errors import SpecError
from rageval.registry import describe, parse_spec


def test_parse_spec():
    assert parse_spec("bm25") == ("bm25", None, {})
    assert parse_spec("bm25:k1=0.9,b=0.4") == ("bm25", None, {"k1": "0.9", "b": "0.4"})
    assert parse_spec("beir:/data/x,fields=title,text") == ("beir", "/data/x", {"fields": "title,text"})
    assert parse_spec("rewrite:base=bm25:k1=1,method=rm3") == ("rewrite", None, {"base": "bm25:k1=1", "method": "rm3"})
    with pytest.raises(SpecError, match="given twice"):
        parse_spec("bm25:k1=1,k1=2")


def test_typed_options_and_errors():
    r = get_retriever("bm25:k1=0.9,b=0.4,stopwords=none,lowercase=false")
    assert (r.k1, r.b, r.analyzer.stopwords, r.analyzer.lowercase) == (0.9, 0.4, frozenset(), False)
    assert r.spec == "bm25:k1=0.9,b=0.4,stopwords=none,lowercase=false"
    with pytest.raises(SpecError, match=r"unknown retriever 'bm52' \(did you mean 'bm25'\?\); available: .*bm25"):
        get_retriever("bm52")
    with pytest.raises(SpecError, match=r"retriever 'bm25' has no option 'k2'; its options: k1 \(float\), b \(float\)"):
        get_retriever("bm25:k2=1")
    with pytest.raises(SpecError, match=r"option k1='abc': expected float"):
        get_retriever("bm25:k1=abc")
    with pytest.raises(SpecError, match=r"option backend='lucene': expected one of sparse, rank_bm25"):
        get_retriever("bm25:backend=lucene")
    with pytest.raises(SpecError, match=r"unknown stemmer 'klingon'; available: none, .*english"):
        get_retriever("bm25:stemmer=klingon")


def test_rageval_list_names_every_plugin_kind():
    out = subprocess.run([sys.executable, "-m", "rageval.cli", "list"], capture_output=True, text=True, check=True).stdout
    for kind, name in [("corpora", "beir"), ("corpora", "irds"), ("retrievers", "bm25"), ("metrics", "ndcg"),
                       ("metrics", "sufficiency")]:
        assert any(line.split()[:2] == [kind, name] for line in out.splitlines()), (kind, name)
    assert "Okapi BM25" in out


def test_parse_spec_brackets_keep_a_nested_spec_whole():
    assert parse_spec("rewrite:base=[bm25:k1=0.9,b=0.4],method=rm3") == \
        ("rewrite", None, {"base": "bm25:k1=0.9,b=0.4", "method": "rm3"})
    assert parse_spec("rewrite:generator=[openai:base_url=http://h:1/v1,model=m],n=2")[2] == \
        {"generator": "openai:base_url=http://h:1/v1,model=m", "n": "2"}
    with pytest.raises(SpecError, match=r"unmatched '\['"):
        parse_spec("rewrite:base=[bm25:k1=1")
    with pytest.raises(SpecError, match=r"unmatched '\]'"):
        parse_spec("rewrite:base=bm25]")


def test_rageval_list_describes_each_plugin_by_its_whole_first_sentence(capsys):
    assert main(["list"]) == 0
    header, _, *rows = capsys.readouterr().out.splitlines()
    column = header.index("description")
    described = {}
    for row in rows:
        kind, name = row.split()[:2]
        description = re.sub(r" \[(not installed|unavailable).*\]$", "", row[column:])
        described[kind, name] = description
        assert description.endswith("."), (kind, name, description)
        try:
            doc = " ".join(inspect.getdoc(registry.plugin(kind, name)).split())
        except ImportError:  # an optional plugin that is not installed here
            continue
        assert doc.startswith(description) and doc[len(description):][:1] in ("", " "), (kind, name, description)
    assert len(described) == sum(len(registry.available(kind)) for kind in registry.GROUPS)
    # the two that used to be cut at the docstring's first line break
    assert described["chunkers", "fixed"] == ("Windows of ``size`` tokens, ``overlap`` tokens shared by neighbours "
                                              "(LangChain's ``TokenTextSplitter``: encode the whole text, window the "
                                              "tokens, decode each window).")
    assert described["chunkers", "ast"] == ("tree-sitter code chunking: syntax nodes (functions, classes, statements) "
                                            "as units, small neighbours merged up to ``size``, larger ones split at "
                                            "their children's boundaries.")


def test_describe_takes_the_first_sentence_whatever_its_line_breaks():
    def plugin(doc: str):
        return type("Plugin", (), {"__doc__": doc})

    assert describe(plugin("Ranks by BM25,\ne.g. over code. Second sentence.")) == "Ranks by BM25, e.g. over code."
    assert describe(plugin("Scores 0.5 or 1, i.e. Partial\nor full! Then more.")) == \
        "Scores 0.5 or 1, i.e. Partial or full!"
    assert describe(plugin("Words, chars etc. and more (see the paper.) Next.")) == \
        "Words, chars etc. and more (see the paper.)"
    assert describe(plugin("A summary without a full stop\nover two lines\n\nDetails.")) == \
        "A summary without a full stop over two lines"
    assert describe(plugin("Whole. Doc.\n\nMore."), full=True) == "Whole. Doc.\n\nMore."
    assert describe(plugin(None)) == ""


def test_option_help_says_what_a_none_default_stands_for():
    class Plugin:
        none_means = {"cap": "no cap"}

        def __init__(self, cap: float | None = None, path: str | None = None, size: int = 3):
            pass

    assert registry.option_help(Plugin) == ["cap: float = None (no cap)", "path: str = None", "size: int = 3"]


def test_option_help_marks_an_option_without_a_default_required():
    class Plugin:
        def __init__(self, factory: str, k: int = 10):
            pass

    assert registry.option_help(Plugin) == ["factory: str (required)", "k: int = 10"]


def test_every_builtin_retriever_option_lists_a_default_other_than_an_unexplained_none(capsys):
    """`rageval list -v`: each option of each retriever shows its default; a default of None says what it
    stands for (astgnn once declared 14 options as None and read their values from a dictionary)."""
    assert main(["list", "-v"]) == 0
    sections = capsys.readouterr().out.split("\n\n")
    listed = {s.split("\n", 1)[0].split()[1]: s for s in sections if s.startswith("retrievers ")}
    assert set(listed) == set(registry.available("retrievers"))
    for name, section in listed.items():
        options = section.split("  options:\n", 1)[1].splitlines()
        assert options, name
        for line in options:
            assert " = " in line or line.endswith(" (required)"), (name, line)
            assert not line.endswith("= None"), (name, line)
    astgnn = listed["astgnn"]
    for option in ("graph: bool = True", "hidden: int = 128", "layers: int = 2", "pool_ratio: float = 0.5",
                   "max_nodes: int = 256", "type_buckets: int = 4096", "token_buckets: int = 16384",
                   "max_subtokens: int = 4", "dropout: float = 0.3", "epochs: int = 10", "batch_size: int = 128",
                   "lr: float = 0.0001", "temperature: float = 0.05", "seed: int = 0"):
        assert f"    {option}\n" in astgnn + "\n", option


def test_parse_number_takes_only_plain_finite_numbers():
    import argparse

    from rageval.registry import number_option, parse_number

    assert (parse_number("-3"), parse_number("1e-3", float), parse_number(".5", float)) == (-3, 0.001, 0.5)
    for text, tp in [("1e400", float), ("-1e999", float), (" 0.5", float), ("0.5\n", float), ("\t1e-3", float),
                     (" 5", int), ("5 ", int), ("1e400", int)]:
        with pytest.raises(ValueError, match=f"expected (a finite )?{tp.__name__}"):
            parse_number(text, tp)
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected a finite float, got '1e400'"):
        number_option(float)("1e400")
    with pytest.raises(SpecError, match=r"option k1='1e400': expected a finite float"):
        get_retriever("bm25:k1=1e400")

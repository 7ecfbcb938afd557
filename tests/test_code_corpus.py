"""The code loader on real snippets in every supported language, bad files, determinism, code:stdlib."""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

import pytest

from rageval import load_dataset
from rageval.corpora.code import CodeLoader, split_of, summarize, usable
from rageval.corpora.source_tree import walk
from rageval.errors import DataError

SNIPPETS = {
    "pkg/geometry.py": '''"""Module doc."""
import math


class Circle:
    """A circle."""

    def area(self):
        """Return the area of the circle.

        Args:
            none
        """
        return math.pi * self.r ** 2

    @property
    def diameter(self):
        # no docstring here
        return 2 * self.r


def distance(a, b):
    """Compute the Euclidean distance between two points."""
    return math.dist(a, b)
''',
    "web/util.js": '''// Unrelated header comment.

/**
 * Parse the query string of a URL into an object.
 * @param {string} url
 */
export function parseQuery(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

class Cache {
  // Remove every entry older than the limit.
  prune(limit) { this.items = this.items.filter(i => i.age < limit); }
}

/** Add two numbers together quickly. */
const add = (a, b) => a + b;
''',
    "web/types.ts": '''/** Format a date as an ISO day string. */
function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
''',
    "src/Stack.java": '''package demo;

public class Stack {
    /**
     * Push an element onto the top of the stack.
     * @param x the element
     */
    public void push(int x) { items.add(x); }

    /** Default constructor. */
    public Stack() {}
}
''',
    "cmd/server.go": '''package main

// ListenAndServe starts the HTTP server on the given address.
// It blocks until the server stops.
func ListenAndServe(addr string) error {
\treturn nil
}

// Close shuts the server down gracefully now.
func (s *Server) Close() error { return nil }
''',
    "src/lib.rs": '''/// Reverse the words of a sentence in place.
#[inline]
pub fn reverse_words(s: &mut String) {
    s.clear();
}

impl Parser {
    /// Read the next token from the input stream.
    fn next_token(&mut self) -> Token { self.lexer.next() }
}
''',
    "native/buf.c": '''/* Append bytes to the end of the growable buffer. */
int buf_append(struct buf *b, const char *data, size_t n) {
    return 0;
}
''',
    "native/vec.cpp": '''namespace geo {
// Normalise the vector to unit length.
void Vec::normalize() { x /= len(); }
}
''',
    "lib/greeter.rb": '''class Greeter
  # Print a friendly greeting to the console.
  def greet(name)
    puts "Hello #{name}"
  end
end
''',
    "site/cart.php": '''<?php
class Cart {
    /**
     * Compute the total price of all items in the cart.
     */
    public function total() { return array_sum($this->prices); }
}
''',
}

EXPECTED = {  # qualified name -> query
    "pkg.geometry.Circle.area": "Return the area of the circle.",
    "pkg.geometry.distance": "Compute the Euclidean distance between two points.",
    "web.util.parseQuery": "Parse the query string of a URL into an object.",
    "web.util.Cache.prune": "Remove every entry older than the limit.",
    "web.util.add": "Add two numbers together quickly.",
    "web.types.isoDay": "Format a date as an ISO day string.",
    "src.Stack.Stack.push": "Push an element onto the top of the stack.",
    "cmd.server.ListenAndServe": "ListenAndServe starts the HTTP server on the given address. It blocks until the server stops.",
    "cmd.server.Server.Close": "Close shuts the server down gracefully now.",
    "src.lib.reverse_words": "Reverse the words of a sentence in place.",
    "src.lib.Parser.next_token": "Read the next token from the input stream.",
    "native.buf.buf_append": "Append bytes to the end of the growable buffer.",
    "native.vec.geo.Vec::normalize": "Normalise the vector to unit length.",
    "lib.greeter.Greeter.greet": "Print a friendly greeting to the console.",
    "site.cart.Cart.total": "Compute the total price of all items in the cart.",
}


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    for rel, text in SNIPPETS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def all_pairs(root):
    records, stats = CodeLoader(str(root)).records()
    return {r["name"]: r for r in records}, stats


def test_every_language_names_docstrings_and_offsets(tree):
    pairs, stats = all_pairs(tree)
    assert {name: r["summary"] for name, r in pairs.items()} == EXPECTED
    for r in pairs.values():
        text = (tree / r["path"]).read_text(encoding="utf-8")
        function = text[r["start"]:r["end"]]
        assert r["name"].split(".")[-1].split("::")[-1] in function.splitlines()[0]  # the span starts at the function
        assert text[r["end"]:r["end"] + 1] in ("", "\n", ";")  # ... and ends where a statement ends
        assert r["summary"].lower() not in " ".join(r["code"].lower().split())
        if r["language"] == "python":
            assert '"""' not in r["code"] and function.startswith("def ")
        else:
            assert r["code"] == function
    area = pairs["pkg.geometry.Circle.area"]
    assert area["code"] == "def area(self):\n        return math.pi * self.r ** 2"
    assert pairs["web.util.add"]["code"] == "add = (a, b) => a + b"
    assert stats["dropped"] == {"no docstring": 1, "short or boilerplate summary": 1}  # diameter; "Default constructor."


def test_dataset_splits_by_file_and_is_deterministic(tree, tmp_path, monkeypatch):
    datasets = {s: load_dataset(f"code:{tree}", s) for s in ("train", "dev", "test") if
                any(split_of(p) == s for p in SNIPPETS)}
    for split, ds in datasets.items():
        for qid, judged in ds.qrels.items():
            (doc,) = judged
            assert ds.corpus.metas[ds.corpus.position(doc)]["split"] == split
    first = json.dumps(CodeLoader(str(tree)).records()[0])
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "other-cache"))
    assert json.dumps(CodeLoader(str(tree)).records()[0]) == first


def test_non_ascii_offsets_are_characters(tree):
    (tree / "pkg" / "uni.py").write_text('# café ☕\n\ndef brew(x):\n    """Brew a strong café crème for ☕ lovers."""\n    return x\n',
                                          encoding="utf-8")
    pairs, _ = all_pairs(tree)
    r = pairs["pkg.uni.brew"]
    text = (tree / "pkg" / "uni.py").read_text(encoding="utf-8")
    assert text[r["start"]:r["end"]].startswith("def brew(x):") and text[r["start"]:r["end"]].endswith("return x")


def test_bad_files_are_skipped_and_counted(tree, caplog):
    (tree / "broken.py").write_text('def good():\n    """Return the good value here."""\n    return 1\n\n'
                                    'def bad(:\n    """Never parsed cleanly at all."""\n', encoding="utf-8")
    (tree / "blob.py").write_bytes(b"\x00\x01binary")
    (tree / "latin.py").write_bytes(b'def f():\n    """Caf\xe9 docstring in latin-1."""\n')
    (tree / "big.py").write_text("x = 1\n" * 200_000)
    (tree / "notes.txt").write_text("not code")
    (tree / ".hidden").mkdir()
    (tree / ".hidden" / "h.py").write_text('def h():\n    """Hidden folder function here."""\n')
    (tree / "node_modules").mkdir()
    (tree / "node_modules" / "m.js").write_text("/** Vendored code is skipped. */\nfunction m() {}\n")
    (tree / "gen_pb2.py").write_text('def g():\n    """Generated protobuf code here."""\n')
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    with caplog.at_level(logging.INFO, logger="rageval"):
        pairs, stats = all_pairs(tree)
    assert "broken.good" in pairs and "broken.bad" not in pairs
    assert stats["files"] == {"parsed": 11, "parse errors (clean functions kept)": 1, "binary": 1,
                              "undecodable": 1, "over size cap": 1, "unknown extension": 1, "generated": 1}
    assert "1 binary" in caplog.text and "1 undecodable" in caplog.text and "1 over size cap" in caplog.text


def test_missing_or_empty_trees_are_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="nowhere: no such folder"):
        load_dataset(f"code:{tmp_path / 'nowhere'}")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text")
    with pytest.raises(DataError, match=r"docs: no supported source file \(skipped: 1 unknown extension\)"):
        load_dataset(f"code:{tmp_path / 'docs'}")
    with pytest.raises(DataError, match="no split 'validation'; available: train, dev, test"):
        load_dataset(f"code:{tmp_path / 'docs'}", "validation")


def test_summaries():
    assert summarize("Return x.\n\nMore text.") == "Return x."
    assert summarize("Compute   the\n  thing well\n@param x foo") == "Compute the thing well"
    assert summarize("Do it now.\nArgs:\n  x: y") == "Do it now."
    assert not usable("Return x.") and not usable("TODO: write this docstring") and usable("Return the sum of both.")
    assert not usable("{@inheritDoc} plus more words")


def test_stdlib_gives_thousands_of_queries(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    loader = CodeLoader("stdlib")
    records, stats = loader.records()
    assert len(records) > 3000 and set(stats["queries"]) == {"train", "dev", "test"}
    assert not any("/test/" in r["path"] or r["path"].startswith("test/") for r in records)
    test = loader.load("test")
    assert len(test.queries) > 300 and len(test.corpus) == len(records)
    files_per_split = {}
    for r in records:
        files_per_split.setdefault(r["path"], set()).add(r["split"])
    assert all(len(s) == 1 for s in files_per_split.values())


def test_code_tree_skips_fifos_and_unreadable_folders(tmp_path, monkeypatch):
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


def test_the_code_corpus_cache_follows_file_content(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "tree"
    tree.mkdir()
    source = tree / "m.py"
    functions = "".join(f'def f{i}():\n    """Return the number {i} for tests here."""\n    return {i}\n\n'
                        for i in range(40))
    source.write_text(functions)
    stat = source.stat()
    before = CodeLoader(str(tree)).records()[0]
    source.write_text(functions.replace("number 7 for", "amount 7 for"))  # same length, same name
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same modification time
    after = CodeLoader(str(tree)).records()[0]
    assert any("amount 7" in r["summary"] for r in after) and not any("amount 7" in r["summary"] for r in before)

"""The docs loader (a folder of documents and a questions CSV of reference spans) on hostile and bad
input: symbolic links are skipped and counted, and every error names the file, the line and the value."""
from __future__ import annotations

import pytest

from rageval import load_dataset
from rageval.errors import DataError


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

"""Shared fixtures. Tests that read ../shared/datasets skip without it, except in CI (CI=true), where a
missing ../shared is a failure."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["RAGEVAL_CACHE"] = tempfile.mkdtemp(prefix="rageval-test-cache-")  # never the user's cache

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared evaluation collections (../shared/datasets beside the checkout)."""
    if not SHARED.is_dir():
        message = f"{SHARED} not found: the shared test collections lie beside the checkout in ../shared/datasets"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: this is a failure, not a skip)")
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def irds_home(shared: Path, tmp_path_factory) -> Path:
    """An IR_DATASETS_HOME holding cranfield's archive, so ir_datasets loads it offline."""
    home = tmp_path_factory.mktemp("irds")
    (home / "cranfield").mkdir()
    shutil.copy(shared / "cranfield" / "native" / "cran.tar.gz", home / "cranfield" / "cran.tar.gz")
    return home


def write_beir(root: Path, corpus: list[str] | None = None, queries: list[str] | None = None,
               qrels: str | None = None, split: str = "test") -> Path:
    """A small BEIR folder from raw lines (defaults give a valid 3-document dataset)."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = corpus if corpus is not None else [
        '{"_id": "d1", "title": "apples", "text": "red apples and green apples"}',
        '{"_id": "d2", "title": "pears", "text": "a pear is not an apple"}',
        '{"_id": "d3", "title": "cars", "text": "fast red cars"}',
    ]
    queries = queries if queries is not None else [
        '{"_id": "q1", "text": "green apple"}',
        '{"_id": "q2", "text": "red car"}',
    ]
    qrels = qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td3\t1\n"
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root

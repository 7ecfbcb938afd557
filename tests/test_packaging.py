"""How rageval installs: one top-level package, with corpora/ and retrievers/ inside it (PyPI has unrelated
packages named ``corpora`` and ``retrievers``; installing rageval must never shadow them)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path):
    (tmp_path / "source").mkdir()
    source = tmp_path / "source"  # a copy, so no build/ folder left in the checkout can leak into the wheel
    for name in ("pyproject.toml", "README.md", "rageval", "corpora", "retrievers"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("rageval-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"rageval"}
    assert "rageval/corpora/beir.py" in names and "rageval/retrievers/bm25.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "beir = rageval.corpora.beir:BeirLoader" in text and "bm25 = rageval.retrievers.bm25:BM25" in text
    assert "= corpora." not in text and "= retrievers." not in text


def test_corpora_and_retrievers_are_importable_only_inside_rageval(tmp_path):
    script = ("import importlib.util, rageval.corpora.beir, rageval.retrievers.bm25\n"
              "print(importlib.util.find_spec('corpora'), importlib.util.find_spec('retrievers'))\n"
              "print(rageval.retrievers.bm25.__name__, rageval.corpora.beir.BeirLoader.__module__)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=True)
    assert done.stdout.splitlines() == ["None None", "rageval.retrievers.bm25 rageval.corpora.beir"]


def test_the_registry_finds_the_built_ins_under_rageval():
    from rageval import registry

    assert registry.plugin("retrievers", "bm25").__module__ == "rageval.retrievers.bm25"
    assert registry.plugin("corpora", "docs").__module__ == "rageval.corpora.docs"
    assert registry.plugin("chunkers", "recursive").__module__ == "rageval.corpora.chunking"

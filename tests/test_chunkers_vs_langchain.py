"""``recursive`` and ``fixed`` against the reference implementation itself (langchain-text-splitters):
identical lists of chunks on real standard-library text, for several sizes, overlaps and length
functions; and token units that never truncate or pad."""
from __future__ import annotations

import inspect

import pytest

from rageval import Corpus, registry
from rageval.text.units import Unit

text_splitters = pytest.importorskip("langchain_text_splitters", reason="langchain-text-splitters is a test extra")
CHROMA_SEPARATORS = ["\n\n", "\n", ".", "?", "!", " ", ""]
SIZES = [(200, 0), (400, 0), (800, 400), (100, 30), (25, 5)]


@pytest.fixture(scope="module")
def documents() -> list[str]:
    """Code and prose every machine has: standard-library modules and long docstrings."""
    import argparse
    import difflib
    import json
    import textwrap

    return [inspect.getsource(m) for m in (argparse, textwrap, json, difflib)] + \
        [inspect.getdoc(difflib), inspect.getdoc(argparse.ArgumentParser.add_argument), "One. Two three.\n\n\n", ""]


def ours(spec: str, text: str) -> list[str]:
    return registry.create("chunkers", spec).chunk(Corpus(ids=["d"], texts=[text])).texts if text.strip() else []


def cl100k_length():
    import bpe_openai

    enc = bpe_openai.get_encoding("cl100k_base")
    return lambda text: len(enc.encode(text, allowed_special=set(), disallowed_special="all"))


def hf_length(path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)  # with [CLS] and [SEP], as the MiniLM table counts


@pytest.mark.parametrize("size, overlap", SIZES)
@pytest.mark.parametrize("unit", ["chars", "cl100k_base", "hf+special"])
def test_recursive_is_langchains_recursive_character_splitter(documents, bundled_model, unit, size, overlap):
    length = {"chars": len, "cl100k_base": cl100k_length(), "hf+special": hf_length(bundled_model)}[unit]
    spec_unit = f"hf:{bundled_model}+special" if unit == "hf+special" else unit
    reference = text_splitters.RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, length_function=length, separators=CHROMA_SEPARATORS)
    for text in documents:
        assert ours(f"recursive:size={size},overlap={overlap},unit={spec_unit}", text) == reference.split_text(text)


@pytest.mark.parametrize("size, overlap", SIZES)
def test_recursive_with_langchains_default_separators(documents, size, overlap):
    reference = text_splitters.RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    for text in documents:
        assert ours(f"recursive:size={size},overlap={overlap},separators=\\n\\n|\\n| |", text) == reference.split_text(text)


@pytest.mark.parametrize("size, overlap", [*SIZES, (7, 6)])
def test_fixed_is_langchains_token_splitter(documents, size, overlap):
    import bpe_openai

    enc = bpe_openai.get_encoding("cl100k_base")
    tokenizer = text_splitters.Tokenizer(chunk_overlap=overlap, tokens_per_chunk=size, decode=enc.decode,
                                         encode=lambda t: enc.encode(t, allowed_special=set(), disallowed_special="all"))
    for text in documents:
        reference = text_splitters.split_text_on_tokens(text=text, tokenizer=tokenizer)
        assert ours(f"fixed:size={size},overlap={overlap},unit=cl100k_base", text) == reference


def test_hf_units_never_truncate_or_pad(documents, bundled_model):
    """The bundled tokenizer.json truncates and pads to 128: counting must do neither."""
    plain, special = Unit(f"hf:{bundled_model}"), Unit(f"hf:{bundled_model}+special")
    assert special.count("Hello world.") == 5  # [CLS] hello world . [SEP]
    assert plain.count("Hello world.") == 3 and special.count("") == 2
    long_text = documents[0]
    starts, ends = plain.offsets(long_text)
    assert len(starts) > 10_000 and special.count(long_text) == len(starts) + 2
    assert ends[-1] == len(long_text.rstrip())  # the last token is the text's last word
    chunks = registry.create("chunkers", f"recursive:size=200,unit=hf:{bundled_model}+special").chunk(
        Corpus(ids=["d"], texts=[long_text]))
    assert len(chunks) > 100 and max(special.count(t) for t in chunks.texts) <= 200

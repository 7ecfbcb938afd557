"""Instruction-following RAG: atomic verifiable instructions, a test-set builder and a scorer.

``instructions`` holds the 22 instruction types (IFEval's, FollowRAG's names mapped to them) with
their two verifiers (``ifeval``: the reference checkers' verdicts, using ``reference_text``;
``rageval``: stricter) and conflict rules; ``items`` a test item; ``testset`` reads and writes
test sets (rageval's JSONL, or FollowRAG's published layout through ``followrag``); ``builder``
makes test sets from a dataset whose queries carry gold answers; ``scoring`` scores responses and
``followrag_table`` prints FollowRAG's own IF / RAG / Avg table.
"""
from rageval.ifrag.builder import build
from rageval.ifrag.instructions import CONFLICTS, REGISTRY, SEMANTICS, Instruction
from rageval.ifrag.items import TestItem, make_instruction
from rageval.ifrag.scoring import score
from rageval.ifrag.testset import read_testset, write_testset

__all__ = ["CONFLICTS", "REGISTRY", "SEMANTICS", "Instruction", "TestItem", "build", "make_instruction",
           "read_testset", "score", "write_testset"]

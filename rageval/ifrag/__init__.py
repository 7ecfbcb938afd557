"""Instruction-following RAG: atomic verifiable instructions, a test-set builder and a scorer.

``instructions`` holds the 22 instruction types (FollowRAG's, from IFEval) with their verifiers
and conflict rules, ``testset`` the FollowRAG JSONL schema, ``builder`` makes test sets from a
dataset whose queries carry gold answers, ``scoring`` scores responses.
"""
from .builder import build
from .instructions import CONFLICTS, REGISTRY, Instruction
from .scoring import score
from .items import TestItem, make_instruction
from .testset import read_testset, write_testset

__all__ = ["CONFLICTS", "REGISTRY", "Instruction", "TestItem", "build", "make_instruction", "read_testset",
           "score", "write_testset"]

"""Functions and their documentation, extracted from one parsed source file with tree-sitter."""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass

from tree_sitter import Node

from rageval.corpora.source_tree import SourceFile
from rageval.text.treesitter import LANGUAGES, functions, node_name, parser
from rageval.text.units import byte_to_char


@dataclass(frozen=True)
class Function:
    """A function with its documentation: ``start``/``end`` are character offsets of the whole
    function in its file; ``code`` is that text with the docstring (Python) taken out; the leading
    comment of other languages lies before ``start`` and is not part of ``code``."""

    path: str
    language: str
    name: str          # qualified: module.Class.method
    start: int
    end: int
    line: int          # 1-based line of the start
    code: str
    doc: str           # the cleaned docstring or leading comment ('' when none)
    doc_start: int     # character range of that docstring or comment in the file (equal when none)
    doc_end: int


def module_name(path: str) -> str:
    """``pkg/sub/mod.py`` -> ``pkg.sub.mod`` (``__init__`` dropped)."""
    parts = path.rsplit(".", 1)[0].split("/")
    if parts[-1] in ("__init__", "index", "mod") and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _qualified(node: Node, scopes: frozenset[str], module: str) -> str:
    names = [node_name(node) or "<anonymous>"]
    if node.type == "method_declaration" and node.child_by_field_name("receiver") is not None:  # Go
        receiver = node.child_by_field_name("receiver")
        types = [n for n in _walk(receiver) if n.type == "type_identifier"]
        if types:
            names.append(types[0].text.decode("utf-8", "replace"))
    parent = node.parent
    while parent is not None:
        if parent.type in scopes:
            names.append(node_name(parent) or "<anonymous>")
        parent = parent.parent
    return ".".join([module, *reversed(names)])


def _walk(node: Node):
    yield node
    for child in node.children:
        yield from _walk(child)


_COMMENT_MARKS = re.compile(r"^\s*(/\*\*?|\*/|\*(?!/)|///?!?|#+|--)\s?")


def clean_comment(texts: list[str]) -> str:
    """Comment text without its markers (``//``, ``///``, ``/** */``, leading ``*``, ``#``)."""
    lines = []
    for text in texts:
        text = re.sub(r"\*/\s*$", "", text.strip())
        for line in text.splitlines():
            lines.append(_COMMENT_MARKS.sub("", line, count=1).rstrip())
    return inspect.cleandoc("\n".join(lines))


def _leading_comment(node: Node, spec) -> tuple[str, int, int]:
    """The comment block right above a function: its cleaned text and byte range."""
    anchor = node
    while anchor.parent is not None and anchor.parent.type in spec.wrappers:
        anchor = anchor.parent
    comments: list[Node] = []
    sibling = anchor.prev_sibling
    if sibling is None and anchor.parent is not None:  # first in a body (Ruby): the comment precedes the body
        sibling = anchor.parent.prev_sibling
    line = anchor.start_point[0]
    while sibling is not None and (sibling.type in spec.comments or sibling.type in spec.skip_before):
        if sibling.end_point[0] < line - 1:  # a blank line separates it from the function
            break
        if sibling.type in spec.comments:
            comments.append(sibling)
        line = sibling.start_point[0]
        sibling = sibling.prev_sibling
    if not comments:
        return "", node.start_byte, node.start_byte
    text = clean_comment([c.text.decode("utf-8", "replace") for c in reversed(comments)])
    return text, comments[-1].start_byte, comments[0].end_byte


def _python_docstring(node: Node) -> Node | None:
    body = node.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is not None and first.type == "expression_statement" and first.named_children \
            and first.named_children[0].type == "string":
        return first
    return None


def _string_value(literal: str) -> str:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = literal.strip("\"'rRbBuUfF")
    return inspect.cleandoc(value) if isinstance(value, str) else ""


def extract(src: SourceFile) -> tuple[list[Function], bool]:
    """The functions of a file that parsed cleanly, and whether the file had parse errors."""
    spec = LANGUAGES[src.language]
    tree = parser(src.language).parse(src.data)
    to_char = byte_to_char(src.text)
    module = module_name(src.path)
    found = []
    for node in functions(src.language, tree.root_node):
        if node.has_error or (node.type != "variable_declarator" and node.child_by_field_name("body") is None
                              and src.language not in ("ruby",)):
            continue
        start, end = int(to_char[node.start_byte]), int(to_char[node.end_byte])
        code = src.text[start:end]
        if src.language == "python":
            doc_node = _python_docstring(node)
            doc, doc_start, doc_end = "", start, start
            if doc_node is not None:
                doc = _string_value(doc_node.text.decode("utf-8", "replace"))
                doc_start, doc_end = int(to_char[doc_node.start_byte]), int(to_char[doc_node.end_byte])
                code = _without(src.text, start, end, doc_start, doc_end)
        else:
            doc, first, last = _leading_comment(node, spec)
            doc_start, doc_end = int(to_char[first]), int(to_char[last])
        found.append(Function(src.path, src.language, _qualified(node, spec.scopes, module), start, end,
                              node.start_point[0] + 1, code, doc, doc_start, doc_end))
    return found, tree.root_node.has_error


def _without(text: str, start: int, end: int, cut_start: int, cut_end: int) -> str:
    """``text[start:end]`` without ``[cut_start:cut_end]``, and without the lines it leaves empty."""
    line_start = text.rfind("\n", start, cut_start) + 1
    if text[line_start:cut_start].strip():
        line_start = cut_start
    line_end = text.find("\n", cut_end, end)
    line_end = end if line_end == -1 else line_end + 1
    if text[cut_end:line_end].strip():
        line_end = cut_end
    return text[start:line_start] + text[line_end:end]

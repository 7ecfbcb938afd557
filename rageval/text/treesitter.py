"""The tree-sitter language table and parser cache, shared by the code loader, the AST chunker and
the AST-GNN retriever. Each language comes from its own grammar wheel (``tree-sitter-python``, ...),
which ships a compiled parser: nothing is downloaded at run time.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from tree_sitter import Language, Node, Parser, Query, QueryCursor


@dataclass(frozen=True)
class LanguageSpec:
    """How one language is parsed and where its functions, comments and enclosing scopes are."""

    name: str
    module: str                    # the grammar wheel's module
    entry: str                     # its function returning the language
    extensions: tuple[str, ...]
    functions: str                 # a tree-sitter query capturing every function/method as @f
    comments: frozenset[str]       # node types of comments
    scopes: frozenset[str]         # node types whose name qualifies the functions inside
    wrappers: frozenset[str] = frozenset()  # nodes around a function that its leading comment precedes
    skip_before: frozenset[str] = frozenset()  # nodes allowed between a comment and the function


_C_LIKE_COMMENTS = frozenset({"comment"})
_JS_FUNCTIONS = """
(function_declaration) @f
(generator_function_declaration) @f
(method_definition) @f
(variable_declarator value: [(arrow_function) (function_expression)]) @f
"""
_JS_WRAPPERS = frozenset({"export_statement", "lexical_declaration", "variable_declaration"})

LANGUAGES: dict[str, LanguageSpec] = {spec.name: spec for spec in [
    LanguageSpec("python", "tree_sitter_python", "language", (".py",), "(function_definition) @f",
                 frozenset({"comment"}), frozenset({"class_definition", "function_definition"}),
                 frozenset({"decorated_definition"})),
    LanguageSpec("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx"), _JS_FUNCTIONS,
                 _C_LIKE_COMMENTS, frozenset({"class_declaration", "class"}), _JS_WRAPPERS),
    LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts"),
                 _JS_FUNCTIONS, _C_LIKE_COMMENTS, frozenset({"class_declaration", "abstract_class_declaration"}),
                 _JS_WRAPPERS),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), _JS_FUNCTIONS, _C_LIKE_COMMENTS,
                 frozenset({"class_declaration", "abstract_class_declaration"}), _JS_WRAPPERS),
    LanguageSpec("java", "tree_sitter_java", "language", (".java",),
                 "(method_declaration) @f (constructor_declaration) @f",
                 frozenset({"block_comment", "line_comment"}),
                 frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"})),
    LanguageSpec("go", "tree_sitter_go", "language", (".go",),
                 "(function_declaration) @f (method_declaration) @f", _C_LIKE_COMMENTS, frozenset()),
    LanguageSpec("rust", "tree_sitter_rust", "language", (".rs",), "(function_item) @f",
                 frozenset({"line_comment", "block_comment"}), frozenset({"impl_item", "trait_item", "mod_item"}),
                 skip_before=frozenset({"attribute_item"})),
    LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h"), "(function_definition) @f", _C_LIKE_COMMENTS,
                 frozenset()),
    LanguageSpec("cpp", "tree_sitter_cpp", "language", (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx"),
                 "(function_definition) @f", _C_LIKE_COMMENTS,
                 frozenset({"class_specifier", "struct_specifier", "namespace_definition"}),
                 frozenset({"template_declaration"})),
    LanguageSpec("ruby", "tree_sitter_ruby", "language", (".rb",), "(method) @f (singleton_method) @f",
                 _C_LIKE_COMMENTS, frozenset({"class", "module"})),
    LanguageSpec("php", "tree_sitter_php", "language_php", (".php",),
                 "(function_definition) @f (method_declaration) @f", _C_LIKE_COMMENTS,
                 frozenset({"class_declaration", "interface_declaration", "trait_declaration"})),
]}

BY_EXTENSION: dict[str, str] = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}


@functools.cache
def grammar_versions() -> dict[str, str]:
    """The installed version of tree-sitter and of each grammar wheel (what a parse depends on)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(distribution: str) -> str:
        try:
            return version(distribution)
        except PackageNotFoundError:
            return "missing"

    return {"tree-sitter": installed("tree-sitter"),
            **{spec.module: installed(spec.module.replace("_", "-")) for spec in LANGUAGES.values()}}


@functools.cache
def language(name: str) -> Language:
    spec = LANGUAGES[name]
    return Language(getattr(importlib.import_module(spec.module), spec.entry)())


@functools.cache
def parser(name: str) -> Parser:
    """A cached parser for a language of ``LANGUAGES``."""
    return Parser(language(name))


@functools.cache
def function_query(name: str) -> Query:
    return Query(language(name), LANGUAGES[name].functions)


def functions(name: str, root: Node) -> list[Node]:
    """Every function and method node under ``root``, in source order."""
    found = QueryCursor(function_query(name)).captures(root).get("f", [])
    return sorted(found, key=lambda n: n.start_byte)


_NAME_TYPES = {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name",
               "property_identifier", "type_identifier", "name", "constant", "private_property_identifier"}


def node_name(node: Node) -> str:
    """The declared name of a function or scope node ('' when it has none)."""
    named = node.child_by_field_name("name")
    if named is not None:
        return named.text.decode("utf-8", "replace")
    declarator = node.child_by_field_name("declarator")  # C / C++: follow the declarator chain
    while declarator is not None:
        if declarator.type in _NAME_TYPES:
            return declarator.text.decode("utf-8", "replace")
        declarator = declarator.child_by_field_name("declarator")
    if node.type == "impl_item":  # Rust: impl Type / impl Trait for Type
        target = node.child_by_field_name("type")
        return target.text.decode("utf-8", "replace") if target is not None else ""
    return ""

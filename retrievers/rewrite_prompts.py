"""Every prompt the ``rewrite`` retriever sends to a generator, in one place.

Templates are ``str.format`` strings. Override any of them with ``rewrite:prompts=FILE``, a JSON
(or, on Python 3.11+, TOML) file mapping template names to new templates with the same
placeholders. ``*_code`` variants are used for code corpora (``domain=code``).
"""
from __future__ import annotations

import json
import string
from pathlib import Path

from rageval.errors import DataError

PROMPTS: dict[str, str] = {
    # gar: an exemplar answer for the query (Mao et al., generation-augmented retrieval)
    "gar": "Write a short passage that answers the question below.\n\nQuestion: {query}\n\nPassage:",
    "gar_code": "Write a short code snippet that does what is described below. Answer with code only.\n\n"
                "Description: {query}\n\nCode:",
    # reco: documents are summarised, then regenerated from the summary with the gar template
    # (query and document rewrites then share one style, as in the ReCo study)
    "reco_summary": "Summarise the following text in one or two sentences.\n\n{document}\n\nSummary:",
    "reco_summary_code": "Describe in one sentence what the following code does.\n\n{document}\n\nDescription:",
    # multi: m paraphrases, one per line
    "multi": "Write {m} different rephrasings of the search query below, one per line, without numbering.\n\n"
             "Query: {query}\n\nRephrasings:",
}

PLACEHOLDERS: dict[str, set[str]] = {
    "gar": {"query"}, "gar_code": {"query"}, "reco_summary": {"document"}, "reco_summary_code": {"document"},
    "multi": {"m", "query"},
}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def load_prompts(path: Path | None) -> dict[str, str]:
    """The built-in prompts, with those in ``path`` (JSON or TOML) replacing them."""
    prompts = dict(PROMPTS)
    if path is None:
        return prompts
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(path, f"cannot read prompts file ({e.strerror})") from None
    try:
        if path.suffix == ".toml":
            import tomllib

            given = tomllib.loads(text)
        else:
            given = json.loads(text)
    except ValueError as e:
        raise DataError(path, f"not valid {path.suffix.lstrip('.') or 'JSON'}: {e}") from None
    if not isinstance(given, dict):
        raise DataError(path, "expected a mapping of template names to templates")
    for name, template in given.items():
        if name not in PROMPTS:
            raise DataError(path, f"unknown prompt {name!r}; known: {', '.join(PROMPTS)}")
        if not isinstance(template, str):
            raise DataError(path, f"prompt {name!r} must be a string, got {type(template).__name__}")
        try:
            fields = _fields(template)
        except ValueError as e:
            raise DataError(path, f"prompt {name!r}: bad template ({e})") from None
        if fields != PLACEHOLDERS[name]:
            raise DataError(path, f"prompt {name!r} must use the placeholders {sorted(PLACEHOLDERS[name])}, "
                                  f"it uses {sorted(fields)}")
        prompts[name] = template
    return prompts

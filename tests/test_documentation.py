"""The README and the docstrings against the code: the public API the README lists is ``rageval.__all__``,
every public name has a docstring, the plugin examples import only public names, and no docstring
cites a file the repository does not have."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import rageval

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def listed_names() -> list[str]:
    """The names the bullets of "Public API" describe (each bullet: names, then ``: what they are``)."""
    names = []
    for line in section("Public API").splitlines():
        if line.startswith("- `"):
            head = line.split("`: ", 1)[0] + "`"
            names += re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)[(`]", head)
    return names


def public_modules() -> str:
    """The README's paragraph on the modules a plugin author imports from."""
    text = section("Public API")
    return text[text.index("A plugin author also imports"):text.index("Every other module")]


def test_the_readme_lists_exactly_the_public_names():
    listed = listed_names()
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(rageval.__all__)


@pytest.mark.parametrize("name", [n for n in rageval.__all__ if n != "__version__"])
def test_every_public_name_exists_and_says_what_it_is(name):
    assert inspect.getdoc(getattr(rageval, name)), f"rageval.{name} has no docstring"


def plugin_sources() -> list[tuple[str, str]]:
    """The example plugin's modules and the Python blocks of the README's "Writing a plugin"."""
    sources = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
               for p in sorted((ROOT / "examples" / "rageval-example-plugin").rglob("*.py")) if "build" not in p.parts]
    blocks = re.findall(r"```python\n(.*?)```", section("Writing a plugin"), re.S)
    assert sources and blocks
    return sources + [(f"README block {i}", block) for i, block in enumerate(blocks)]


PLUGIN_SOURCES = plugin_sources()


@pytest.mark.parametrize("where, source", PLUGIN_SOURCES, ids=[where for where, _ in PLUGIN_SOURCES])
def test_plugins_import_only_public_names(where, source):
    modules = public_modules()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("rageval"):
            continue
        for alias in node.names:
            if node.module == "rageval":
                assert alias.name in rageval.__all__, f"{where}: rageval.{alias.name} is not public"
            else:
                assert f"`{node.module}`" in modules and f"`{alias.name}`" in modules, \
                    f"{where}: {node.module}.{alias.name} is not a public name"


def test_no_docstring_cites_a_file_the_repository_lacks():
    cited = {}
    for folder in ("rageval", "corpora", "retrievers"):
        for path in (ROOT / folder).rglob("*.py"):
            # a project document such as README.md (not a path inside a dataset, such as corpora/NAME.md)
            for name in re.findall(r"(?<![\w/])([A-Z][A-Z_]*\.md)\b", path.read_text(encoding="utf-8")):
                cited.setdefault(name, []).append(str(path.relative_to(ROOT)))
    missing = {name: where for name, where in cited.items() if not (ROOT / name).exists()}
    assert not missing

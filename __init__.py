"""Not the rageval package: the folder of its source checkout (the package is the ``rageval`` folder in it).

Python looks in the current folder first, so from the folder holding a checkout named ``rageval``,
``import rageval`` finds the checkout (pytest, too, puts that folder first to import this file).
Without this file the checkout would be an empty namespace package that hides an editable install
(``module 'rageval' has no attribute 'load_dataset'``). Imported as ``rageval``, it puts the
installed package in its place, or says that there is none; under any other name it does nothing.
"""
import importlib.machinery
import importlib.util
import os
import sys


def _installed() -> "importlib.machinery.ModuleSpec | None":
    """The installed package's spec: found without the folder holding this checkout (a regular or an
    editable install), or None."""
    outside = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != outside]
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            spec = finder.find_spec(__name__, path)
        else:
            find = getattr(finder, "find_spec", None)
            spec = find(__name__, None) if find else None
        if spec is not None and spec.loader is not None and spec.origin not in (None, "namespace"):
            return spec
    return None


if __name__ == "rageval":
    _spec = _installed()
    if _spec is None:
        raise ImportError(f"'import rageval' found the folder of rageval's source checkout, "
                          f"{os.path.dirname(os.path.abspath(__file__))}, and no installed rageval: install it "
                          "(pip install -e <that folder>), or run Python inside the checkout")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[__name__] = _module  # what `import rageval` returns
    _spec.loader.exec_module(_module)

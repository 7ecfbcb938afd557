"""Plugin registry: entry points by group, and spec strings parsed into typed constructor options.

A spec names a plugin and its options: ``bm25``, ``bm25:k1=0.9,b=0.4``, ``beir:PATH,fields=title,text``.
After the colon, comma-separated ``key=value`` pairs set options; a first piece without ``=`` is
the plugin's positional argument (a path or an id); a piece without ``=`` after an option
continues that option's value (so ``fields=title,text`` is one value). A value in square
brackets is taken whole, commas included: ``rewrite:base=[bm25:k1=0.9,b=0.4],method=rm3``.
Option types come from the plugin's ``__init__`` annotations.
"""
from __future__ import annotations

import argparse
import difflib
import functools
import inspect
import math
import re
import types
import typing
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

from rageval.errors import SpecError

GROUPS = {
    "corpora": "rageval.corpora",
    "retrievers": "rageval.retrievers",
    "chunkers": "rageval.chunkers",
    "metrics": "rageval.metrics",
    "generators": "rageval.generators",
}
_KIND = {"corpora": "dataset loader", "retrievers": "retriever", "chunkers": "chunker",
         "metrics": "metric", "generators": "generator"}
_KEY = re.compile(r"[A-Za-z_][\w-]*")


@dataclass(frozen=True)
class RuntimePlugin:
    """A plugin registered by ``register`` (it stands where an entry point would: ``load()`` gives it)."""

    name: str
    obj: Any

    def load(self) -> Any:
        return self.obj


_RUNTIME: dict[str, dict[str, RuntimePlugin]] = {kind: {} for kind in GROUPS}


@functools.cache
def available(kind: str) -> dict[str, EntryPoint | RuntimePlugin]:
    """Registered plugins of one kind (``retrievers``, ``corpora``, ...), by name: the installed entry
    points and those ``register`` added in this process."""
    found: dict[str, EntryPoint | RuntimePlugin] = {}
    for ep in entry_points(group=GROUPS[kind]):
        found.setdefault(ep.name, ep)
    found.update(_RUNTIME[kind])
    return dict(sorted(found.items()))


def register(kind: str, name: str, obj: Any) -> None:
    """Register ``obj`` as the plugin ``name`` of ``kind`` in this process only (not an entry point:
    other processes do not see it). A name must be usable in a spec, and may not be an installed
    plugin's; registering a name again replaces what this process registered under it."""
    if not _KEY.fullmatch(name):
        raise SpecError(f"{_KIND[kind]} name {name!r}: use letters, digits, '_' and '-' (not first), as in a spec")
    if name in available(kind) and name not in _RUNTIME[kind]:
        raise SpecError(f"{_KIND[kind]} {name!r} is already installed; register this one under another name")
    _RUNTIME[kind][name] = RuntimePlugin(name, obj)
    available.cache_clear()


def plugin(kind: str, name: str) -> Any:
    """The class (or function) registered as ``name``; an unknown name lists the valid ones."""
    plugins = available(kind)
    if name not in plugins:
        close = difflib.get_close_matches(name.lower(), list(plugins), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"unknown {_KIND[kind]} {name!r}{hint}; available: {', '.join(plugins) or '(none installed)'}")
    return plugins[name].load()


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)[.!?][\"')\]]*(?=\s+[^a-z]|$)")


def describe(obj: Any, full: bool = False) -> str:
    """A plugin's docstring: its first sentence, whole, on one line (the first paragraph where no
    sentence ends in it), or all of it with ``full``. A sentence ends at ``.``, ``!`` or ``?`` before
    white space and a word that is not lower-case, so ``e.g. bm25`` or ``0.5`` do not end one."""
    doc = (inspect.getdoc(obj) or "").strip()
    if full:
        return doc
    paragraph = " ".join(doc.split("\n\n")[0].split())
    end = _SENTENCE_END.search(paragraph)
    return paragraph[:end.end()] if end else paragraph


def option_help(cls: Any) -> list[str]:
    """``name: type = default`` for every option of a plugin (``name: type (required)`` for one without a
    default); a default of None is followed by what it stands for where the plugin says so (its ``none_means``)."""
    target = cls.__init__ if inspect.isclass(cls) else cls
    params = inspect.signature(target).parameters
    means = getattr(cls, "none_means", {})
    out = []
    for name, tp in options_of(cls).items():
        default = params[name].default
        shown = " (required)" if default is inspect.Parameter.empty else f" = {default!r}"
        if default is None and name in means:
            shown += f" ({means[name]})"
        out.append(f"{name}: {type_name(tp)}{shown}")
    return out


def _pieces(rest: str, spec: str) -> list[str]:
    """``rest`` split at the commas outside square brackets."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(rest):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unmatched ']' in spec {spec!r}")
        elif ch == "," and depth == 0:
            pieces.append(rest[start:i])
            start = i + 1
    if depth:
        raise SpecError(f"unmatched '[' in spec {spec!r}")
    return [*pieces, rest[start:]]


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """Split ``name:positional,key=value,...`` into (name, positional or None, {key: raw value})."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise SpecError(f"empty plugin name in spec {spec!r}")
    positional: str | None = None
    options: dict[str, str] = {}
    last: str | None = None
    for piece in _pieces(rest, spec) if rest else []:
        if not piece.strip():
            continue
        key, eq, value = piece.partition("=")
        if eq and _KEY.fullmatch(key.strip()):
            last = key.strip().replace("-", "_")
            if last in options:
                raise SpecError(f"option {last!r} is given twice in spec {spec!r}")
            value = value.strip()
            options[last] = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        elif last is not None:
            options[last] += "," + piece
        elif positional is None:
            positional = piece
        else:
            positional += "," + piece
    return name, positional, options


@functools.cache
def options_of(cls: Any) -> dict[str, Any]:
    """Option name -> annotated type, read from ``cls.__init__`` (or the function's signature)."""
    target = cls.__init__ if inspect.isclass(cls) else cls
    hints = typing.get_type_hints(target)
    params = inspect.signature(target).parameters
    return {n: hints.get(n, str) for n, p in params.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "|".join(str(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return "|".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return getattr(tp, "__name__", str(tp))


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def parse_number(text: str, tp: type[int] | type[float] = int) -> int | float:
    """``text`` as an ``int`` or a finite ``float`` (``tp``) written plainly: an optional sign and ASCII
    digits, for a float also a decimal point and an exponent. Anything else is a ValueError saying what
    was expected: Python's own ``int()`` and ``float()`` also take ``1_0``, digits of other scripts
    (``١``), surrounding spaces, ``inf`` and ``nan``."""
    if tp is float and _NOT_FINITE.fullmatch(text):
        raise ValueError("expected a finite float")
    if not (_INTEGER if tp is int else _DECIMAL).fullmatch(text):
        raise ValueError(f"expected {tp.__name__}: ASCII digits with an optional sign"
                         + ("" if tp is int else ", decimal point and exponent (e.g. 0.5, 1e-3)"))
    number = tp(text)
    if not math.isfinite(number):  # 1e400
        raise ValueError(f"expected a finite {tp.__name__}")
    return number


def number_option(tp: type[int] | type[float] = int) -> Callable[[str], int | float]:
    """An argparse ``type=`` for a numeric command-line option: :func:`parse_number`. Its error names
    the value; argparse adds the option's name. (Ranges are the commands' own checks.)"""
    def parse(text: str) -> int | float:
        try:
            return parse_number(text, tp)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{e}, got {text!r}") from None

    parse.__name__ = tp.__name__
    return parse


def convert(value: str, tp: Any) -> Any:
    """Convert a raw option string to the annotated type; ValueError names what was expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and value.lower() in ("none", "null", ""):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg)
            except ValueError:
                continue
        raise ValueError(f"expected {type_name(tp)}")
    if origin is Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if str(choice) == value:
                return choice
        raise ValueError(f"expected one of {', '.join(map(str, choices))}")
    if tp is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if tp in (int, float):
        return parse_number(value, tp)
    if tp is Path:
        return Path(value)
    return value


def typed_options(what: str, raw: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, Any]:
    """Raw option strings converted to the types ``known`` gives them (name -> annotated type): the one
    conversion every spec goes through (plugins, executors, measures). An unknown option lists the
    valid ones; a bad value names the option and what was expected. ``what`` names the spec's owner in
    errors (``retriever 'bm25'``)."""
    typed: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            valid = ", ".join(f"{k} ({type_name(t)})" for k, t in known.items()) or "none"
            raise SpecError(f"{what} has no option {key!r}; its options: {valid}")
        try:
            typed[key] = convert(value, known[key])
        except ValueError as e:
            raise SpecError(f"{what}: option {key}={value!r}: {e}") from None
    return typed


@dataclass(frozen=True)
class Spec:
    """A plugin spec parsed once: the text as written, the plugin it names and its typed options.
    ``create`` builds an instance from it without reading the text again."""

    kind: str
    text: str
    plugin: Any
    options: Mapping[str, Any]  # the options the spec sets (not the defaults), typed

    def create(self, **fixed: Any) -> Any:
        """A new instance with these options (and ``fixed``, set by the caller); it gets ``spec``,
        the text it was made from."""
        instance = self.plugin(**{**self.options, **fixed})
        try:
            instance.spec = self.text
        except AttributeError:  # a plugin that keeps no attributes
            pass
        return instance


def resolve(kind: str, spec: str, fixed: Iterable[str] = ()) -> Spec:
    """The spec parsed: the plugin it names and its options converted to their annotated types
    (nothing is instantiated: this is how a command checks every spec before it starts work). An
    option without a default that neither the spec nor ``fixed`` (names the caller supplies) sets is
    an error."""
    name, positional, raw = parse_spec(spec)
    cls = plugin(kind, name)
    known = options_of(cls)
    if positional is not None:
        first = next(iter(known), None)
        if first is None:
            raise SpecError(f"{_KIND[kind]} {name!r} takes no argument, got {positional!r}")
        raw = {first: positional, **raw}
    kwargs = typed_options(f"{_KIND[kind]} {name!r}", raw, known)
    _check_required(kind, name, cls, {*kwargs, *fixed})
    return Spec(kind, spec, cls, kwargs)


def _check_required(kind: str, name: str, cls: Any, given: set[str]) -> None:
    """An option without a default must be set: the first one is written after the colon
    (``beir:PATH``), any other as ``key=value``."""
    target = cls.__init__ if inspect.isclass(cls) else cls
    params = inspect.signature(target).parameters
    first = next(iter(options_of(cls)), None)
    for key in options_of(cls):
        if key in given or params[key].default is not inspect.Parameter.empty:
            continue
        if key == first:
            raise SpecError(f"{_KIND[kind]} {name!r} needs its {key} after the colon, e.g. {name}:{key.upper()} "
                            "(nothing was given)")
        raise SpecError(f"{_KIND[kind]} {name!r} needs option {key}=..., e.g. {name}:{key}=VALUE")


def bound_options(cls: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options of a plugin constructed as ``cls(*args, **kwargs)``: (every parameter of its
    ``__init__`` with its value, defaults included, in signature order; the ones given). Empty when
    the arguments do not fit (``__init__`` then raises its own error)."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:
        return {}, {}
    given = dict(list(bound.arguments.items())[1:])
    bound.apply_defaults()
    every = dict(list(bound.arguments.items())[1:])
    return ({k: v for k, v in every.items() if k in options_of(cls)},
            {k: v for k, v in given.items() if k in options_of(cls)})


def create(kind: str, spec: str, **fixed: Any) -> Any:
    """Instantiate the plugin a spec names, with its options converted to their annotated types; the
    instance gets ``spec``, the string it was made from."""
    return resolve(kind, spec, fixed).create(**fixed)

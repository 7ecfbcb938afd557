"""Markdown titles (CommonMark block rules) and the text of their inline markup."""
from __future__ import annotations

import html
import re

from rageval.synthesis.headings.titles import Title, reduce_emphasis, restore

_ATX = re.compile(r"(#{1,6})(?:[ \t]+(.*))?$")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT = re.compile(r"(=+|-+)[ \t]*$")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)$")
_BREAK = re.compile(r"(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"(?:[-+*]|(\d{1,9})[.)])((?:[ \t].*)?)$")
_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|"
    "dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|"
    "iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|"
    "summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul")
_ATTRIBUTE = r"""(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?)"""
_BLANK = re.compile(r"^[ \t]*$")
# CommonMark's HTML blocks: (start, end condition, may interrupt a paragraph?); the end may lie on the start
# line, except a blank line (_BLANK's "^" never matches past the start of the line)
_HTML_BLOCKS = (
    (re.compile(r"<(?:script|pre|style|textarea)(?:[\s>]|$)", re.I),
     re.compile(r"</(?:script|pre|style|textarea)>", re.I), True),
    (re.compile(r"<!--"), re.compile(r"-->"), True),
    (re.compile(r"<\?"), re.compile(r"\?>"), True),
    (re.compile(r"<![A-Za-z]"), re.compile(r">"), True),
    (re.compile(r"<!\[CDATA\["), re.compile(r"\]\]>"), True),
    (re.compile(rf"</?(?:{_BLOCK_TAGS})(?:\s|/?>|$)", re.I), _BLANK, True),
    (re.compile(rf"(?:<[A-Za-z][A-Za-z0-9-]*{_ATTRIBUTE}*\s*/?>|</[A-Za-z][A-Za-z0-9-]*\s*>)[ \t]*$"), _BLANK, False),
)


def _indent(line: str) -> tuple[int, str]:
    """The columns of a line's leading spaces and tabs (tab stops of 4), and the rest of the line."""
    cols = 0
    for k, char in enumerate(line):
        if char == " ":
            cols += 1
        elif char == "\t":
            cols += 4 - cols % 4
        else:
            return cols, line[k:]
    return cols, ""


def _fence(rest: str) -> tuple[str, int] | None:
    """The character and length of the code fence that ``rest`` opens, if it opens one."""
    fence = _FENCE.match(rest)
    if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
        return fence.group(1)[0], len(fence.group(1))
    return None


def _unquote(rest: str) -> str:
    """A block quote line's content: after its ``>`` and one optional space."""
    return rest[2:] if rest[1:2] == " " else rest[1:]


class MarkdownScan:
    """One pass over a Markdown document's lines, tracking the block context a title depends on."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.fence: tuple[str, int, bool] | None = None  # the open code fence: character, length, in a quote?
        self.html_end: re.Pattern | None = None        # the end condition of the open HTML block
        self.para: tuple[int, bool] | None = None    # the open paragraph: first line, plain (not in a container)

    def titles(self, atx_only: bool = False) -> list[Title]:
        """The titles of the document (with ``atx_only``, only ATX headings with a text)."""
        found = []
        for i in range(self._front_matter(), len(self.lines)):
            title = self._line(i)
            if title is not None and not (atx_only and (title.body != title.first + 1 or not title.text)):
                found.append(title)
        return found

    def _front_matter(self) -> int:
        """The index of the first line after a YAML front matter block (0 without one)."""
        if self.lines and self.lines[0].rstrip() == "---":
            for i in range(1, len(self.lines)):
                if self.lines[i].rstrip() in ("---", "..."):
                    return i + 1
        return 0

    def _line(self, i: int) -> Title | None:
        """The title that line ``i`` ends, if any; the block context moves on past the line."""
        line = self.lines[i]
        cols, rest = _indent(line)
        if self.fence is not None:
            char, length, quoted = self.fence
            if not quoted or (cols < 4 and rest.startswith(">")):
                if quoted:
                    cols, rest = _indent(_unquote(rest))
                closing = rest.rstrip(" \t")
                if cols < 4 and len(closing) >= length and closing == char * len(closing):
                    self.fence = None
                return None
            self.fence = None  # the block quote ended, and its fence with it: read the line afresh
        if self.html_end is not None:
            if self.html_end.search(line):
                self.html_end = None
            return None
        if not rest:
            self.para = None
        elif cols >= 4:
            pass  # indented code, or a paragraph's continuation line
        else:
            return self._block(i, rest)
        return None

    def _block(self, i: int, rest: str) -> Title | None:
        """A line indented less than four columns, outside code and HTML blocks."""
        fence = _fence(rest)
        if fence:
            self.fence, self.para = (*fence, False), None
            return None
        atx = _ATX.match(rest)
        if atx:
            self.para = None
            return Title(len(atx.group(1)), _markdown_inline(_ATX_CLOSE.sub("", (atx.group(2) or "").strip(" \t"))),
                          i, i + 1)
        setext = _SETEXT.match(rest)
        if setext and self.para is not None and self.para[1]:
            first, self.para = self.para[0], None
            title = " ".join(line.strip(" \t") for line in self.lines[first:i])
            return Title(1 if setext.group(1)[0] == "=" else 2, _markdown_inline(title), first, i + 1)
        if _BREAK.match(rest):
            self.para = None
        elif not self._html_start(rest):
            self._text(i, rest)
        return None

    def _html_start(self, rest: str) -> bool:
        """Open an HTML block if ``rest`` starts one (one that may interrupt the open paragraph)."""
        for start, end, interrupts in _HTML_BLOCKS:
            found = start.match(rest)
            if found and (interrupts or self.para is None):
                self.html_end, self.para = (None if end.search(rest, found.end()) else end), None
                return True
        return False

    def _text(self, i: int, rest: str) -> None:
        """A block quote, a list item or a paragraph line: open (or continue) the paragraph."""
        plain = self.para is not None and self.para[1]
        content = self._container(rest, plain)
        if content is not None:
            self.para = (i, False) if self._opens_paragraph(content) else None
            cols, inner = _indent(content)
            fence = _fence(inner) if rest.startswith(">") and cols < 4 else None
            if fence:
                self.fence = (*fence, True)
        elif self.para is None:
            self.para = (i, True)

    @staticmethod
    def _container(rest: str, plain: bool) -> str | None:
        """The content after a block quote's or list item's marker (None: ``rest`` opens neither; an
        empty item, or an ordered one other than 1, cannot interrupt a plain paragraph)."""
        if rest.startswith(">"):
            return _unquote(rest)
        item = _LIST_ITEM.match(rest)
        if item is None or plain and (not item.group(2).strip() or item.group(1) not in (None, "1")):
            return None
        return item.group(2)[1:]

    def _opens_paragraph(self, content: str) -> bool:
        """Whether a container's first line starts a paragraph (which later lines may continue lazily)."""
        cols, rest = _indent(content)
        if not rest or cols >= 4:
            return False
        inner = self._container(rest, False)
        if inner is not None:
            return self._opens_paragraph(inner)
        return not (_fence(rest) or _ATX.match(rest) or _BREAK.match(rest)
                    or any(start.match(rest) for start, _, _ in _HTML_BLOCKS))


_MD_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MD_REDUCE = (
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"!?\[([^\]]*)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|ftp|mailto):[^\s<>]*)>", re.I), r"\1"),
    (re.compile(rf"</?[A-Za-z][A-Za-z0-9-]*{_ATTRIBUTE}*\s*/?>"), ""),
)
_MD_EMPHASIS = (
    re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"),
    re.compile(r"(?<![\w])__(?=\S)(.+?)(?<=\S)__(?!\w)"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
    re.compile(r"\*(?=[^\s*])([^*]*?)(?<=[^\s*])\*"),
    re.compile(r"(?<![\w])_(?=[^\s_])([^_]*?)(?<=[^\s_])_(?!\w)"),
)


def _markdown_inline(title: str) -> str:
    """A Markdown title's text: code spans, escapes, links, images, HTML tags and emphasis reduced."""
    kept: list[str] = []

    def hold(value: str) -> str:
        kept.append(value)
        return f"\ue000{len(kept) - 1}\ue001"

    def code(found: re.Match) -> str:
        body = found.group(2).replace("\n", " ")
        if len(body) > 2 and body[0] == body[-1] == " " and body.strip(" "):
            body = body[1:-1]
        return hold(body)

    title = _MD_CODE.sub(code, title)
    title = _MD_ESCAPE.sub(lambda found: hold(found.group(1)), title)
    for pattern, replacement in _MD_REDUCE:
        title = pattern.sub(replacement, title)
    title = reduce_emphasis(title, _MD_EMPHASIS)
    return restore(html.unescape(title), kept)

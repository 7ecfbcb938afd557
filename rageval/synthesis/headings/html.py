"""The h1..h6 headings of an HTML page."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class HtmlHeadings(HTMLParser):
    """The h1..h6 of a page: (level, visible text, permalink text) in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str, str]] = []
        self._skip = 0
        self._level = 0
        self._data: list[str] = []
        self._permalink: list[str] = []
        self._in_link = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._close()
            self._level = int(tag[1])
        elif tag == "a" and self._level and (self._in_link or "headerlink" in (dict(attrs).get("class") or "").split()):
            self._in_link += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._close()
        elif tag == "a" and self._in_link:
            self._in_link -= 1

    def handle_data(self, data):
        if self._level and not self._skip:
            self._data.append(data)
            if self._in_link:
                self._permalink.append(data)

    def close(self):
        super().close()
        self._close()

    def _close(self):
        if self._level:
            self.found.append((self._level, "".join(self._data), "".join(self._permalink)))
        self._level, self._data, self._permalink, self._in_link = 0, [], [], 0

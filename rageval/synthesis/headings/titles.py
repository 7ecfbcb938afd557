"""A section title as the markup readers find it, and the inline-markup helpers they share."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Title:
    level: int
    text: str
    first: int  # index of the title's first line (where the previous body ends)
    body: int   # index of the first line after the title (where its body starts)


def reduce_emphasis(title: str, patterns: tuple[re.Pattern, ...]) -> str:
    """Strip emphasis delimiters until none is left (nested emphasis takes several passes)."""
    while True:
        before = title
        for pattern in patterns:
            title = pattern.sub(r"\1", title)
        if title == before:
            return title


def restore(title: str, kept: list[str]) -> str:
    """Put held literal pieces back and collapse whitespace."""
    title = re.sub("\ue000(\\d+)\ue001", lambda found: kept[int(found.group(1))], title)
    return " ".join(title.split())

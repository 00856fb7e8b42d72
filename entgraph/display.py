"""Terminal text aligned by display width, so tables with Chinese names line up.

A Chinese character takes two columns, so padding by len() leaves every table with Chinese names
ragged."""

from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    """Terminal columns ``text`` takes: two for wide and full-width characters (CJK), else one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def short(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` display columns, ending in … when cut."""
    if width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        if used + width(ch) > columns - 1:
            break
        out.append(ch)
        used += width(ch)
    return "".join(out) + "…"


def pad(text: object, columns: int) -> str:
    """``text`` left-aligned in ``columns`` display columns (cut to fit first)."""
    shown = short(str(text), columns)
    return shown + " " * (columns - width(shown))

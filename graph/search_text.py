"""Search tokens for Chinese full-text indexes, identical on FalkorDB and Neo4j.

Chinese has no spaces, and the stores' own Chinese analyzers disagree (FalkorDB's word segmenter
misses trade names it has no dictionary entry for). So the writer stores a ``*_tokens`` property of
overlapping character bigrams plus latin/digit words, both stores index it with a plain whitespace
analyzer, and queries are tokenised the same way: a partial, abbreviated or reordered name still
shares most bigrams with the full one.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def search_tokens(text: str | None) -> str:
    """``"晋江市恒安纸业 Co."`` -> ``"晋江 江市 市恒 恒安 安纸 纸业 co"`` (unique tokens, in order)."""
    if not text:
        return ""
    normal = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for run in _WORD.findall(normal):
        if run.isascii() or len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(dict.fromkeys(tokens))

"""Search tokens for Chinese full-text indexes, identical on FalkorDB and Neo4j.

Chinese has no spaces, and the stores' own Chinese analyzers disagree (FalkorDB's word segmenter
misses trade names it has no dictionary entry for). So the writer stores a ``*_tokens`` property of
overlapping character bigrams plus latin/digit words, both stores index it with a plain whitespace
analyzer, and queries are tokenised the same way: a partial, abbreviated or reordered name still
shares most bigrams with the full one.

A query ORs its tokens, and the stores' full-text engines take time in the square of the number of
OR'd terms (FalkorDB: 10,000 terms 0.2 s, 40,000 terms 4 s, spent before its query TIMEOUT is looked
at). So a query uses at most ``MAX_QUERY_TOKENS`` of them (``query_tokens``): more than any real name
has, and a long pasted text costs what its first sentence does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# A 60-character name has 59 bigrams; name plus former names are indexed whole, only queries are capped.
MAX_QUERY_TOKENS = 128


def _tokens(text: str) -> Iterator[str]:
    normal = unicodedata.normalize("NFKC", text).lower()
    for match in _WORD.finditer(normal):
        run = match.group()
        if run.isascii() or len(run) == 1:
            yield run
        else:
            yield from (run[i : i + 2] for i in range(len(run) - 1))


def search_tokens(text: str | None) -> str:
    """``"晋江市恒安纸业 Co."`` -> ``"晋江 江市 市恒 恒安 安纸 纸业 co"`` (unique tokens, in order)."""
    if not text:
        return ""
    return " ".join(dict.fromkeys(_tokens(text)))


def query_tokens(text: str | None, limit: int = MAX_QUERY_TOKENS) -> list[str]:
    """The first ``limit`` unique tokens of ``search_tokens(text)``: what a full-text query ORs."""
    unique: dict[str, None] = {}
    for token in _tokens(text or ""):
        if len(unique) >= limit:
            break
        unique.setdefault(token)
    return list(unique)

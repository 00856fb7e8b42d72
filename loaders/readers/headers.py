"""Finding the header row of a department table, and naming near misses.

Department files rarely start with their header: a title ("2023年4月晋江市税务净入库信息表"), a unit
line ("单位：万元") or a blank row come first, and some tables use two header rows, a merged group
cell ("税款所属期") above its parts ("起", "止"). ``find_header`` scans the first rows and keeps the
row — or pair of consecutive rows — whose cells match the most expected headers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

from entgraph.loaders.readers.base import MergedRange, Sheet

NEAREST_MIN_RATIO = 0.6


@dataclass(frozen=True)
class HeaderMatch:
    row: int  # row number of the header row (the lower one when two rows were combined)
    headers: list[str]  # header text per column as found ("" for a blank), two-row headers combined
    mapping: dict[int, str]  # column index -> expected (canonical) header it matched
    missing: list[str]  # required headers not found
    score: float  # matched / (expected + unmatched non-blank headers): 1.0 = exactly the expected set


@dataclass
class _Candidate:
    row: int
    headers: list[str]
    mapping: dict[int, str]
    key: tuple[int, int]  # (required headers matched, headers matched)


def find_header(
    sheet: Sheet,
    expected: Mapping[str, Sequence[str]],
    required: Collection[str],
    normalise: Callable[[str], str],
    max_scan: int = 30,
) -> HeaderMatch | None:
    """The header row among the first ``max_scan`` non-empty rows of ``sheet``, or None.

    ``expected`` maps each canonical header to its aliases; a cell matches when ``normalise`` makes it
    equal to the normalised canonical header or an alias. Each canonical header maps to one column (the
    first). For two consecutive rows, each column may match on its lower cell, upper + lower text, or
    upper cell; a merged group cell in the upper row counts for every column it spans (from the
    workbook's merges, or, where the reader cannot tell merges, by taking the text to its left when the
    upper cell is blank and the lower is not). A pair is chosen only when it matches more than either
    row alone. Rows are ranked by required headers matched, then headers matched; None when the best
    row matches fewer than two expected headers (or not all of them when fewer than two are expected).
    """
    lookup: dict[str, str] = {}
    for canonical, aliases in expected.items():
        for text in (canonical, *aliases):
            key = normalise(text)
            if key:
                lookup.setdefault(key, canonical)
    wanted = set(required)
    rows = sheet.rows()
    try:
        head = [(number, [cell_text(v) for v in cells]) for number, cells in islice(rows, max_scan)]
    finally:
        with contextlib.suppress(AttributeError):
            rows.close()  # type: ignore[attr-defined]
    merges = sheet.merged_ranges()
    by_number = dict(head)

    def match(number: int, columns: list[list[str]], shown: list[str]) -> _Candidate:
        mapping: dict[int, str] = {}
        headers = list(shown)
        taken: set[str] = set()
        for index, options in enumerate(columns):
            for text in options:
                canonical = lookup.get(normalise(text))
                if canonical is not None and canonical not in taken:
                    mapping[index] = canonical
                    headers[index] = text
                    taken.add(canonical)
                    break
        return _Candidate(number, headers, mapping, (len(taken & wanted), len(taken)))

    best: _Candidate | None = None
    previous: tuple[int, list[str]] | None = None
    for number, texts in head:
        candidates = [match(number, [[t] if t else [] for t in texts], texts)]
        if previous is not None and previous[0] == number - 1:
            upper = _spread_upper(previous[0], previous[1], texts, merges, by_number)
            width = max(len(upper), len(texts))
            upper += [""] * (width - len(upper))
            lower = texts + [""] * (width - len(texts))
            columns = [
                [t for t in (lo, up + lo if up and lo else "", up) if t]
                for up, lo in zip(upper, lower, strict=True)
            ]
            shown = [up + lo if up and lo else lo or up for up, lo in zip(upper, lower, strict=True)]
            candidates.append(match(number, columns, shown))
        for candidate in candidates:
            if best is None or candidate.key > best.key:
                best = candidate
        previous = (number, texts)

    if best is None or best.key[1] < min(2, len(expected)):
        return None
    found = set(best.mapping.values())
    missing = [h for h in expected if h in wanted and h not in found]
    missing += [h for h in required if h not in expected and h not in missing]
    extra = sum(1 for i, text in enumerate(best.headers) if text.strip() and i not in best.mapping)
    score = len(found) / (len(expected) + extra) if expected else 0.0
    return HeaderMatch(best.row, best.headers, best.mapping, missing, score)


def _spread_upper(
    number: int,
    upper: list[str],
    lower: list[str],
    merges: list[MergedRange] | None,
    by_number: Mapping[int, list[str]],
) -> list[str]:
    """The upper header row with each group cell's text copied to every column it covers."""
    spread = list(upper)
    if merges is not None:
        for m in merges:
            if m.first_row <= number <= m.last_row and m.last_col > m.first_col:
                top = by_number.get(m.first_row, [])
                text = top[m.first_col] if m.first_col < len(top) else ""
                if len(spread) <= m.last_col:
                    spread += [""] * (m.last_col + 1 - len(spread))
                for col in range(m.first_col, m.last_col + 1):
                    spread[col] = spread[col] or text
        return spread
    spread += [""] * (len(lower) - len(spread))
    left = ""
    for col, text in enumerate(spread):
        if text:
            left = text
        elif col < len(lower) and lower[col]:
            spread[col] = left
    return spread


def cell_text(value: object) -> str:
    """A header cell as text: "" for empty, ISO for dates, no ".0" on whole numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def nearest_headers(found: Sequence[str], missing: Sequence[str]) -> dict[str, str | None]:
    """For each missing header, the most similar header in ``found`` (None when nothing is close).

    Similarity is difflib's ratio on loosely normalised text (NFKC — full-width brackets and letters
    become half-width — without whitespace, lower-cased); below 0.6 counts as nothing close.
    """
    candidates = [(text, _loose(text)) for text in found if text and _loose(text)]
    nearest: dict[str, str | None] = {}
    for header in missing:
        key = _loose(header)
        best: tuple[float, str] | None = None
        for text, loose in candidates:
            ratio = difflib.SequenceMatcher(None, key, loose).ratio()
            if ratio >= NEAREST_MIN_RATIO and (best is None or ratio > best[0]):
                best = (ratio, text)
        nearest[header] = best[1] if best else None
    return nearest


def _loose(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).lower()

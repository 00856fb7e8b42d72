"""Reading department files (CSV/TSV text, xlsx, xls, xlsb/ods, GeoJSON) into sheets of numbered rows.

    sheets = open_table(path)                      # format by content; FileRejected if unusable
    match = find_header(sheets[0], expected, required, normalise_header)
    for row, cells in sheets[0].rows(): ...        # streamed; row numbers as Excel shows them

Every sheet of a workbook is returned, hidden and empty ones included (``sheet.hidden`` tells): which
sheets hold the data is the engine's decision. Cells are values as the clerk sees them: a formula's
error is a ``FormulaError``, a percent-formatted number the text ``"50%"``, a date formatted as a month
the text ``"2023-04"`` (see ``base.Sheet`` and ``numfmt``).

Memory stays bounded however long the file: CSV is streamed line by line and large xlsx files row by
row (see ``excel`` for the calamine / streaming rule and docs/benchmarks.md for the measurements
behind it); a GeoJSON layer is read whole, up to ``geojson.MAX_BYTES``.
"""

from __future__ import annotations

from pathlib import Path

from entgraph.loaders.readers.base import (
    FileRejected,
    FormulaError,
    MergedRange,
    Row,
    Sheet,
    clean_cells,
)
from entgraph.loaders.readers.excel import open_workbook
from entgraph.loaders.readers.formats import sniff
from entgraph.loaders.readers.geojson import open_geojson
from entgraph.loaders.readers.headers import HeaderMatch, cell_text, find_header, nearest_headers
from entgraph.loaders.readers.text import SAMPLE_BYTES, TextTable

__all__ = [
    "FileRejected",
    "FormulaError",
    "HeaderMatch",
    "MergedRange",
    "Row",
    "Sheet",
    "cell_text",
    "clean_cells",
    "find_header",
    "nearest_headers",
    "open_table",
]


def open_table(path: Path) -> list[Sheet]:
    """The tables in the file at ``path``: one sheet for a CSV or a GeoJSON file (a row per feature,
    ``readers.geojson``), every worksheet of a workbook.

    The format comes from the file's first bytes, not its name. Raises FileRejected for an empty file
    (0 bytes, or no non-empty row in any sheet), a format that is not a table, a password-protected or
    damaged workbook, text that is neither UTF-8 nor GBK/GB18030 or mixes the two, and text saved as
    ``.txt`` (an unsupported format).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(SAMPLE_BYTES)
    except FileNotFoundError:
        raise FileRejected(f"{path}: no such file") from None
    except OSError as exc:
        raise FileRejected(
            f"{path}: cannot be read ({exc.strerror}); check the path and upload again"
        ) from None
    if not head:
        raise FileRejected(f"{path.name} is empty (0 bytes); export the data again and upload the new file")
    kind = sniff(path, head)
    if kind == "text":
        sheets = [TextTable(path, head).sheet()]
    elif kind == "geojson":
        sheets = [open_geojson(path)]
    else:
        sheets = open_workbook(path, kind)
    if not any(_has_rows(sheet) for sheet in sheets):
        what = "the file" if kind == "text" else f"none of its {len(sheets)} sheet(s)"
        raise FileRejected(
            f"{path.name} has no data: {what} contains a non-empty row; export the data again and upload it"
        )
    return sheets


def _has_rows(sheet: Sheet) -> bool:
    rows = sheet.rows()
    try:
        return next(rows, None) is not None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()

"""One sheet row -> one record: the pure, per-row part of a load (parse, id, properties, content hash).

It depends only on its arguments; the engine (``loaders/engine.py``) keeps the books around it
(duplicates, issues, counts, batches). Parsing rows in worker processes was measured and gained
nothing: the load's limit is the GIL shared by the parsing and the writer thread (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from entgraph.catalog.spec import DatasetSpec
from entgraph.loaders.records import (
    BoundColumn,
    Link,
    ParsedRow,
    RowIssue,
    content_hash,
    parse_row,
    record_props,
)


@dataclass(slots=True)
class BuiltRow:
    """What the engine needs of a parsed row; ``record_id`` is None when the row was refused."""

    issues: list[RowIssue]
    record_id: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    links: list[Link] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)


def build_row(
    spec: DatasetSpec,
    file_name: str,
    sheet: str,
    row: int,
    cells: Sequence[Any],
    columns: Sequence[BoundColumn],
) -> BuiltRow:
    parsed = parse_row(spec, columns, cells, sheet, row)
    if parsed.rejected:
        return BuiltRow(parsed.issues)
    props = record_props(spec, parsed)
    return BuiltRow(
        parsed.issues,
        record_id(spec, file_name, sheet, row, parsed),
        props,
        content_hash(props, parsed.links),
        parsed.links,
        parsed.periods,
    )


def record_id(spec: DatasetSpec, file_name: str, sheet: str, row: int, parsed: ParsedRow) -> str:
    """``dataset:`` + a digest of the row's natural key (``record_key``) when it has one, else of its
    place (file name, sheet, row)."""
    key_fields: Sequence[str] = spec.record_key
    values = [parsed.fields.get(f) for f in key_fields]
    if key_fields and all(v is not None for v in values):
        basis = "key|" + "|".join(str(v) for v in values)
    else:
        basis = f"pos|{file_name}|{sheet}|{row}"
    return f"{spec.key}:{hashlib.blake2b(basis.encode('utf-8'), digest_size=12).hexdigest()}"

"""``entgraph export links``: for every loaded source row, the enterprise it was resolved to.

Columns: ``file,sheet,row,dataset,enterprise_id,method,probability,party``. ``row`` is the row number a
spreadsheet program shows (header on row 1 -> first data row 2; for CSV the line number), so a clerk
can find the row. ``enterprise_id`` is empty while the record awaits a steward (method
``awaiting_steward``) or is not about an enterprise at all (region and meter feeds). Records with
several parties (a mortgage's mortgagor and mortgagee) give one line per party.

Every text cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return: a sheet named ``=1+2``, a file named ``-x.xlsx``) is written with a leading
single quote, so that opening the CSV in Excel or LibreOffice shows it and never runs it (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from entgraph.catalog.registry import Catalog
from entgraph.graph import mention_queries, task_queries
from entgraph.graph.port import GraphStore
from entgraph.resolution.mentions import enterprise_parties, split_mention

COLUMNS = ("file", "sheet", "row", "dataset", "enterprise_id", "method", "probability", "party")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text a spreadsheet would run as a formula, quoted so that it shows as text; others unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True, slots=True)
class LinkRow:
    file: str
    sheet: str
    row: int
    dataset: str
    enterprise_id: str
    method: str
    probability: float | None
    party: str
    record_id: str

    def as_csv(self) -> list[object]:
        probability = "" if self.probability is None else f"{self.probability:.6f}"
        cells = [
            self.file,
            self.sheet,
            self.row,
            self.dataset,
            self.enterprise_id,
            self.method,
            probability,
            self.party,
        ]
        return [csv_safe(cell) for cell in cells]


def link_rows(store: GraphStore, catalog: Catalog, page: int = 5_000) -> Iterator[LinkRow]:
    """Every active source record with its links, dataset by dataset, in record-id order."""
    # per record, the parties a steward task waits for (a record may have one party linked and
    # another awaiting a steward: both are exported)
    awaiting: dict[str, set[str]] = {}
    for status in ("open", "unsure"):
        for task in task_queries.tasks(store, status):
            for mention in task.get("mention_ids") or []:
                record_id, party = split_mention(mention)
                awaiting.setdefault(record_id, set()).add(party)
    for spec in catalog.specs:
        is_enterprise = bool(enterprise_parties(spec))
        after = ""
        while True:
            rows = mention_queries.links_page(store, spec.key, after, page)
            if not rows:
                break
            after = rows[-1]["id"]
            for row in rows:
                links = [link for link in row["links"] if link[0] is not None]
                base = (row["file"], row["sheet"], int(row["row"]), spec.key)
                waiting = awaiting.get(row["id"], set()) - {link[0] for link in links}
                for party, enterprise_id, method, probability in sorted(links, key=lambda x: x[0]):
                    yield LinkRow(*base, enterprise_id, method, probability, party, row["id"])
                for party in sorted(waiting):
                    yield LinkRow(*base, "", "awaiting_steward", None, party, row["id"])
                if links or waiting:
                    continue
                if not is_enterprise:
                    yield LinkRow(*base, "", "not_an_enterprise", None, "", row["id"])
                else:
                    yield LinkRow(*base, "", "unresolved", None, "subject", row["id"])


def export_links(store: GraphStore, catalog: Catalog, out: Path) -> int:
    """Write the links CSV (UTF-8 with BOM, so Excel opens the Chinese names); returns data lines."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for link in link_rows(store, catalog):
            writer.writerow(link.as_csv())
            count += 1
    tmp.replace(out)
    return count

"""Does the cost of writing a record grow with the graph? Write rate per slice as records accumulate.

    python -m bench.growth [--rows 300000] [--slice 20000] [--label-by-set]

Writes ``--rows`` tax-receipt records (ten properties and a town link each) through the graph writer
in the loader's batches, into one graph, and reports the rate of every ``--slice`` rows. The baseline
is the first slice of the same run: a load whose cost per row is constant keeps ``last / first`` near
1.0, whatever the machine's speed. ``--label-by-set`` replays the writer's former statement (MERGE on
``:SourceRecord`` then ``SET r:<Label>``), whose per-row cost grew with the graph on FalkorDB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from entgraph.graph import open_store, record_queries
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.loaders.records import Link, RecordRow
from entgraph.settings import Settings

TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "陈埭镇", "池店镇", "安海镇", "磁灶镇"]
LABEL_BY_SET = (
    "UNWIND $rows AS row MERGE (r:SourceRecord {id: row.id}) SET r += row.props, r:TaxReceipt, "
    "r.to_resolve = 1 REMOVE r.retired"
)


def record(i: int) -> RecordRow:
    props = {
        "dataset": "jj_tax_net_receipts",
        "file_name": "税务净入库.csv",
        "row": i,
        "name": f"晋江市第{i}号鞋服有限公司",
        "amount": i * 1.5,
        "credit_code": f"91350582{i:010d}",
        "item": "增值税",
        "industry": "制造业",
        "period": "2023-04",
        "paid_on": "2023-05-10",
    }
    return RecordRow(f"jj_tax_net_receipts:{i:09d}", f"h{i}", props, [Link("IN_TOWN", "Town", TOWNS[i % 8])])


def run(settings: Settings, rows: int, slice_rows: int, label_by_set: bool) -> list[float]:
    rates: list[float] = []
    with open_store(settings) as store:
        store.clear()
        store.ensure_schema(record_queries.source_schema(["Town"]))
        batch = store.batch_size
        started = time.perf_counter()
        for start in range(0, rows, batch):
            records = [record(i) for i in range(start, min(rows, start + batch))]
            if label_by_set:
                store.write(LABEL_BY_SET, {"rows": [{"id": r.id, "props": dict(r.props)} for r in records]})
            else:
                record_queries.write_records(
                    store, "TaxReceipt", [r.as_graph_row() for r in records], replaced=set(), to_resolve=True
                )
            done = start + len(records)
            if done % slice_rows == 0 or done == rows:
                now = time.perf_counter()
                rates.append((done - len(rates) * slice_rows) / (now - started))
                print(f"{done:>9,} records  {rates[-1]:>7,.0f} rows/s", flush=True)
                started = now
        store.clear()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--slice", type=int, default=20_000)
    parser.add_argument("--label-by-set", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "home", graph_name="bench_growth")
        try:
            rates = run(settings, args.rows, args.slice, args.label_by_set)
        finally:
            EmbeddedServer(settings.home).stop()
    first, last = rates[0], rates[-1]
    print(f"first slice {first:,.0f} rows/s, last {last:,.0f} rows/s: last/first {last / first:.2f}")


if __name__ == "__main__":
    main()

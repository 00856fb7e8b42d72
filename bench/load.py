"""End-to-end load rate per file format, against the store's raw write rate for the same records.

    python -m bench.load [--rows 50000] [--million]

For each format (xlsx, csv UTF-8, csv GBK) a file of the tax-receipt feed is generated, loaded with the
engine (read + validate + normalise + compare + write), and timed. The baseline writes the very same
records with the graph writer directly (no reading, no parsing), in the same run and store, so the
ratio "load rate / raw write rate" is meaningful on a noisy machine. Goal: >= 0.5. (Before
2026-11-30 the baseline wrote the records without their derived town edges, which flattered it.)

``--million`` also loads a 1,000,000-row CSV in a child process and reports its peak RSS, to show
memory stays bounded however long the file is.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xlsxwriter

from entgraph.catalog.registry import Catalog
from entgraph.graph import open_store, record_queries
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.loaders.engine import Loader
from entgraph.settings import Settings

DATASET = "jj_tax_net_receipts"
TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "陈埭镇", "池店镇", "安海镇", "磁灶镇"]


def headers(catalog: Catalog) -> list[str]:
    return [c.header for c in catalog.get(DATASET).spec.columns]


def make_rows(n: int, cols: list[str]) -> list[list]:
    from entgraph.identity.codes import make_credit_code

    out = []
    for i in range(n):
        code = make_credit_code("350582", f"{i % 99_999_999:08d}")
        values = {
            "纳税人识别号": code,
            "纳税人名称": f"晋江市第{i}号鞋服有限公司",
            "征收项目": "增值税",
            "征收品目": "制造业",
            "税款所属期起": "2023-04-01",
            "税款所属期止": "2023-04-30",
            "行业门类": "制造业",
            "行业大类": "皮革、毛皮、羽毛及其制品和制鞋业",
            "行业": "运动鞋制造",
            "计税依据": f"{100000 + i * 7 % 90000:.2f}",
            "预算科目": "国内增值税",
            "入库日期": "2023-05-10",
            "乡镇街道": TOWNS[i % len(TOWNS)],
            "收款国库": "晋江市金库",
            "总分机构类型": "非总分机构",
            "预算分配比例": "50%",
            "实缴金额": f"{1000 + i * 13 % 9000:.2f}",
            "税率": "13%",
            "税款所属税务机关": "国家税务总局晋江市税务局",
        }
        out.append([values.get(h, "") for h in cols])
    return out


def write_file(path: Path, cols: list[str], rows: list[list]) -> Path:
    if path.suffix == ".xlsx":
        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet("税务净入库")
        sheet.write_row(0, 0, cols)
        for i, row in enumerate(rows, start=1):
            sheet.write_row(i, 0, row)
        book.close()
    else:
        encoding = "gb18030" if "gbk" in path.stem else "utf-8"
        with path.open("w", newline="", encoding=encoding) as f:
            writer = csv.writer(f)
            writer.writerow(cols)
            writer.writerows(rows)
    return path


def measure(settings: Settings, n: int, tmp: Path) -> dict:
    catalog = Catalog.load(entry_points=False)
    cols = headers(catalog)
    rows = make_rows(n, cols)
    results: dict = {"rows": n, "formats": {}}
    with open_store(settings) as store:
        loader = Loader(store, catalog, tmp / "reports")
        for name in ("税务净入库_bench.xlsx", "税务净入库_bench_utf8.csv", "税务净入库_bench_gbk.csv"):
            path = write_file(tmp / name, cols, rows)
            store.clear()
            loader = Loader(store, catalog, tmp / "reports")
            started = time.perf_counter()
            result = loader.load(path, DATASET)
            load_s = time.perf_counter() - started
            assert result.new == n, (name, result.new, result.rejected)
            # Baseline: the same records with the same derived edges, already built, written straight
            # through the graph writer (no reading, parsing or comparing).
            records = store.read(
                "MATCH (r:SourceRecord) OPTIONAL MATCH (r)-[e]->(n) WHERE e.derived = true "
                "RETURN r.id AS id, r.content_hash AS h, properties(r) AS p, "
                "collect({rel: type(e), label: labels(n)[0], key: n.key, props: properties(n)}) AS links"
            )
            store.clear()
            loader = Loader(store, catalog, tmp / "reports")
            batch = loader.batch_size
            prepared = [
                {
                    "id": r["id"],
                    "hash": r["h"],
                    "props": r["p"],
                    "links": [
                        {"relation": x["rel"], "label": x["label"], "key": x["key"], "props": x["props"]}
                        for x in r["links"]
                        if x["rel"] is not None
                    ],
                }
                for r in records
            ]
            assert all(len(p["links"]) == 1 for p in prepared)  # each receipt names its town
            started = time.perf_counter()
            for i in range(0, len(prepared), batch):
                record_queries.write_records(store, "TaxReceipt", prepared[i : i + batch], replaced=set())
            raw_s = time.perf_counter() - started
            started = time.perf_counter()
            again = loader.load(path, DATASET)
            reload_s = time.perf_counter() - started
            assert again.unchanged == n  # same ids and content as the baseline wrote: nothing to write
            results["formats"][
                path.suffix + (" gbk" if "gbk" in name else " utf8" if "utf8" in name else "")
            ] = {
                "load_rows_per_s": n / load_s,
                "raw_write_rows_per_s": n / raw_s,
                "ratio": (n / load_s) / (n / raw_s),
                "reload_rows_per_s": n / reload_s,
            }
    return results


MILLION_CHILD = """
import json, sys, time
from pathlib import Path
from entgraph.graph import open_store
from entgraph.loaders.engine import Loader
from entgraph.catalog.registry import Catalog
from entgraph.settings import Settings
settings = Settings(home=Path(sys.argv[1]), graph_name="bench_million")
with open_store(settings) as store:
    store.clear()
    loader = Loader(store, Catalog.load(entry_points=False), Path(sys.argv[1]) / "reports")
    started = time.perf_counter()
    result = loader.load(Path(sys.argv[2]), "jj_tax_net_receipts")
    seconds = time.perf_counter() - started
    store.clear()
# VmHWM, not getrusage: ru_maxrss carries over the parent's peak from before the exec.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"rows": result.rows_read, "new": result.new, "seconds": seconds,
                  "peak_rss_mb": peak_kb / 1024}))
"""


def million(home: Path, tmp: Path) -> dict:
    catalog = Catalog.load(entry_points=False)
    cols = headers(catalog)
    path = tmp / "税务净入库_million.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(cols)
        for start in range(0, 1_000_000, 50_000):
            writer.writerows(make_rows(50_000, cols))
            del start
    out = subprocess.run(
        [sys.executable, "-c", MILLION_CHILD, str(home), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-") as tmp_name:
        tmp = Path(tmp_name)
        settings = Settings(home=tmp / "home", graph_name="bench_load")
        try:
            results = measure(settings, args.rows, tmp) if args.rows else {"rows": 0, "formats": {}}
            if args.million:
                results["million"] = million(settings.home, tmp)
        finally:
            EmbeddedServer(settings.home).stop()
    print(f"{args.rows:,} rows of {DATASET}")
    print(f"{'format':<12} {'load rows/s':>12} {'raw write rows/s':>17} {'ratio':>6} {'reload rows/s':>14}")
    for name, r in results["formats"].items():
        print(
            f"{name:<12} {r['load_rows_per_s']:>12,.0f} {r['raw_write_rows_per_s']:>17,.0f} "
            f"{r['ratio']:>6.2f} {r['reload_rows_per_s']:>14,.0f}"
        )
    if "million" in results:
        m = results["million"]
        print(f"1M-row CSV: {m['rows']:,} rows in {m['seconds']:.0f}s, peak RSS {m['peak_rss_mb']:.0f} MB")
    print(f"(this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

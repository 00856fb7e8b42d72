"""Excel and CSV reading rate and peak memory: python-calamine against openpyxl, and entgraph's readers.

    python -m bench.readers [--rows 50000 200000] [--million] [--json out.json]

For each size an xlsx of the tax-receipt feed (20 columns: credit codes, Chinese names, dates,
amounts; shared strings, as Excel and WPS write them) is generated with xlsxwriter, plus the same rows
as UTF-8 and GB18030 CSV. Every measurement runs in a fresh child process that reads every row and
reports its own peak RSS (``VmHWM``; see CHILD for why not ``ru_maxrss``), so peaks do not mix;
"growth" is the peak minus the child's RSS after importing both libraries. Readers:

* ``calamine``      python-calamine as is: ``get_sheet_by_index(0).iter_rows()``
* ``openpyxl``      openpyxl as is: ``load_workbook(read_only=True, data_only=True)``,
                    ``iter_rows(values_only=True)``
* ``eg-calamine``   entgraph ``open_table`` forced onto calamine (cleaned values, row numbers)
* ``eg-stream``     entgraph ``open_table`` forced onto its streaming xlsx reader
* ``eg-csv-utf8`` / ``eg-csv-gb18030``  entgraph ``open_table`` on the CSV copies

The headline ratio is calamine rows/s over openpyxl rows/s, measured on the same file in the same run.
``--million`` adds 1,000,000 rows (the xlsx takes ~2 minutes and ~2.5 GB to generate).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADERS = [
    "纳税人识别号",
    "纳税人名称",
    "征收项目",
    "征收品目",
    "税款所属期起",
    "税款所属期止",
    "行业门类",
    "行业大类",
    "行业",
    "计税依据",
    "预算科目",
    "入库日期",
    "乡镇街道",
    "收款国库",
    "总分机构类型",
    "预算分配比例",
    "实缴金额",
    "税率",
    "税款所属税务机关",
    "备注",
]
TOWNS = ["青阳街道", "梅岭街道", "西园街道", "罗山街道", "陈埭镇", "池店镇", "安海镇", "磁灶镇"]
ITEMS = [("增值税", "制造业"), ("企业所得税", "应纳税所得额"), ("城市维护建设税", "市区（增值税附征）")]
READERS = ["calamine", "openpyxl", "eg-calamine", "eg-stream"]
CSV_READERS = ["eg-csv-utf8", "eg-csv-gb18030"]


def make_row(i: int, rnd: random.Random) -> list[object]:
    item, subitem = ITEMS[i % len(ITEMS)]
    return [
        f"91350582MA{i:08d}",
        f"晋江市{TOWNS[i % len(TOWNS)][:2]}第{i}号鞋服有限公司",
        item,
        subitem,
        dt.date(2023, 4, 1),
        dt.date(2023, 4, 30),
        "制造业",
        "皮革、毛皮、羽毛及其制品和制鞋业",
        "运动鞋制造",
        round(rnd.uniform(1e4, 1e7), 2),
        "国内增值税",
        dt.date(2023, 5, 1 + i % 28),
        TOWNS[i % len(TOWNS)],
        "国家金库晋江市支库",
        "非总分机构",
        0.5,
        round(rnd.uniform(100, 1e6), 2),
        0.13,
        "国家税务总局晋江市税务局",
        f"第{i % 97}批" if i % 3 else None,
    ]


def write_files(n: int, tmp: Path) -> dict[str, Path]:
    import xlsxwriter

    xlsx, utf8, gb = tmp / f"tax_{n}.xlsx", tmp / f"tax_{n}_utf8.csv", tmp / f"tax_{n}_gb18030.csv"
    book = xlsxwriter.Workbook(str(xlsx))  # not constant_memory: that writes inline strings, Excel does not
    sheet = book.add_worksheet("税务净入库")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADERS)
    rnd = random.Random(20230430)
    with (
        utf8.open("w", newline="", encoding="utf-8") as f8,
        gb.open("w", newline="", encoding="gb18030") as fgb,
    ):
        w8, wgb = csv.writer(f8), csv.writer(fgb)
        w8.writerow(HEADERS)
        wgb.writerow(HEADERS)
        for i in range(1, n + 1):
            row = make_row(i, rnd)
            for col, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(i, col, value, date_format)
                elif value is not None:
                    sheet.write(i, col, value)
            text = ["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in row]
            w8.writerow(text)
            wgb.writerow(text)
    book.close()
    return {"xlsx": xlsx, "csv-utf8": utf8, "csv-gb18030": gb}


CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def peak_mb():
    # VmHWM: this process's own peak RSS. ru_maxrss would do, except that Linux carries it over exec
    # from the forking parent, so a child of a big parent starts with the parent's peak.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import openpyxl, python_calamine
import entgraph.loaders.readers.excel as excel
from entgraph.loaders.readers import open_table
kind, path = sys.argv[1], Path(sys.argv[2])
base = peak_mb()
started = time.perf_counter()
rows = 0
if kind == "calamine":
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for _ in book.get_sheet_by_index(0).iter_rows():
        rows += 1
elif kind == "openpyxl":
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    for _ in sheet.iter_rows(values_only=True):
        rows += 1
else:
    if kind == "eg-calamine":
        excel.CALAMINE_MAX_SHEET_XML = 1 << 62
    elif kind == "eg-stream":
        excel.CALAMINE_MAX_SHEET_XML = 0
    sheets = open_table(path)
    for sheet in sheets:
        for _ in sheet.rows():
            rows += 1
seconds = time.perf_counter() - started
print(json.dumps({"rows": rows, "seconds": seconds, "base_mb": base, "peak_mb": peak_mb()}))
"""


def measure(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    result["growth_mb"] = result["peak_mb"] - result["base_mb"]
    return result


def sheet_xml_mb(path: Path) -> float:
    from entgraph.loaders.readers.excel import largest_sheet_xml

    return largest_sheet_xml(path) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from entgraph.loaders.readers import excel

    sizes = [*args.rows, *([1_000_000] if args.million else [])]
    results: dict = {"calamine_max_sheet_xml_mb": excel.CALAMINE_MAX_SHEET_XML / 2**20, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="entgraph-bench-readers-") as tmp_name:
        for n in sizes:
            started = time.perf_counter()
            files = write_files(n, Path(tmp_name))
            made = time.perf_counter() - started
            entry: dict = {
                "xlsx_mb": files["xlsx"].stat().st_size / 2**20,
                "sheet_xml_mb": sheet_xml_mb(files["xlsx"]),
                "generated_s": made,
                "readers": {},
            }
            for kind in READERS:
                entry["readers"][kind] = measure(kind, files["xlsx"])
            for kind in CSV_READERS:
                entry["readers"][kind] = measure(kind, files[kind.removeprefix("eg-")])
            for path in files.values():
                path.unlink()
            results["sizes"][n] = entry
            report(n, entry)
    limit = results["calamine_max_sheet_xml_mb"]
    print(f"rule: calamine when the largest worksheet XML <= {limit:.0f} MiB, else eg-stream")
    print(f"(this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(n: int, entry: dict) -> None:
    readers = entry["readers"]
    print(
        f"\n{n:,} rows x {len(HEADERS)} columns: xlsx {entry['xlsx_mb']:.1f} MB "
        f"(worksheet XML {entry['sheet_xml_mb']:.0f} MB)"
    )
    print(f"{'reader':<16} {'rows/s':>9} {'seconds':>8} {'peak RSS MB':>12} {'growth MB':>10}")
    for kind, r in readers.items():
        print(
            f"{kind:<16} {r['rows_per_s']:>9,.0f} {r['seconds']:>8.1f} "
            f"{r['peak_mb']:>12.0f} {r['growth_mb']:>10.0f}"
        )
    cal, opx = readers["calamine"], readers["openpyxl"]
    print(
        f"calamine / openpyxl: {cal['rows_per_s'] / opx['rows_per_s']:.1f}x rows/s, "
        f"{cal['peak_mb'] / opx['peak_mb']:.1f}x peak RSS; "
        f"eg-stream / openpyxl: {readers['eg-stream']['rows_per_s'] / opx['rows_per_s']:.1f}x rows/s"
    )


if __name__ == "__main__":
    main()

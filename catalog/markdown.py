"""docs/catalog.md, generated from the built-in specs so that it cannot drift from them.

    python -m entgraph.catalog.markdown > docs/catalog.md

A test compares the committed document with ``catalog_markdown`` of the built-in catalog.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from entgraph.catalog.spec import DatasetSpec, load_spec

CATALOG = Path(__file__).resolve().parent / "specs"
PLATFORM = Path(__file__).resolve().parent / "platform"
CITY_ORDER = {"晋江": 0, "乌海": 1}

INTRO = """\
# Dataset catalog

`catalog/specs/` ships one spec per dataset of the seed documents: the Jinjiang platform's data
collection table (seed 002, 晋政办〔2023〕13号 附件2, with the delivery duties of 附件1) and Wuhai's data
collection division of labour (seed 000, 乌海政办字〔2020〕32号 附件, written in traditional characters;
headers here are simplified). Each spec says what a department sends, how often and by when, what
each column means and who may see it, and what its rows become in the graph (see
[graph-model.md](graph-model.md) and [adding-a-loader.md](adding-a-loader.md)). `catalog/platform/` holds
the datasets the platform itself asks for beyond the seeds (listed at the end).

This page is generated from the specs (`python -m entgraph.catalog.markdown > docs/catalog.md`);
`tests/loaders/test_catalog.py` fails when it is out of date, and checks every spec against
`shared/catalog/seed_datasets.csv`.
"""

SHARING = """\
## Sharing attributes

Every spec has dataset-level `[sharing]` and may override it per column. The attributes are those of
a city's data-sharing catalogue (seed 003, 芜湖市统计局政务数据共享目录: 部门间数据使用属性,
面向社会开放属性, 是否可作为信用数据):

| attribute | values | meaning here |
|---|---|---|
| `usage` (部门间数据使用属性) | `无条件使用` | any government role may use it |
| | `有条件使用` | roles cleared for the dataset's purpose only (the default) |
| | `不予共享` | kept by the loader, never shown through the API |
| `open_to_public` (面向社会开放) | true / false | may appear in public-facing outputs |
| `credit` (可作为信用数据) | true / false | credit information: only roles cleared for credit data |
| `personal` | true / false | personal data: masked for roles that may not see it |

Rules applied throughout:

- Registration basics (name, credit code, legal representative's name as publicly registered,
  address, industry, capital, established date, status, business scope) are `无条件使用` and open.
  Registers that contain nothing else (企业登记信息, 个体工商户基本信息, 企业基本信息（系统对接）...) are
  open as a whole; mixed datasets (税务登记信息, Wuhai 企业基本信息 ...) open those columns only.
- Phones, contact persons, persons in charge and owners that may be natural persons (不动产权利人,
  义务人, 建设单位(个人)) are `personal`, `有条件使用`; bank account numbers likewise, and a payee's
  account is `不予共享`. No spec designs an identity-card column; one would be `不予共享`. A
  personal column is never open to the public (tested).
- Tax, revenue, subsidy, electricity, water, social-insurance and other operating figures are
  `有条件使用`, not open.
- Credit lists are `credit`: open when the list is publicly announced (信用乌海: 失信被执行人,
  红名单, 行政处罚公示), not open otherwise (纳税信用等级, 严重失信/较重失信, 安全生产 records).
  Where a dataset mixes honours and penalties the penalty-only columns carry `credit`.
- Published statistics (主要经济指标, 行业产值, 人口, 就业) are open; working figures are
  `无条件使用` between departments but not open.
"""

PLATFORM_INTRO = """\
## The platform's own datasets

Not in the seeds: datasets the platform asks departments for so that a feature works on the city's own
data (`catalog/platform/`, built in like the seed specs and loaded the same way).
"""

DECISIONS = """\
## Design decisions

- **Headers** are the seed's field names, simplified, exactly as the seed writes them, including
  odd ones (`名称工程`, `业单位名称`, `本高产值(万元)`, `建设规模(m ²)`); `aliases` catch the likely real
  headers and the variants other clerks use. A field the seed lists twice (入库日期, 统一社会信用代码,
  指标摘要) is one column; `seed_fields` keeps the seed's list exactly, duplicates included.
- **Deadlines** (ISO 8601, after the period ends): Wuhai daily `PT9H30M` (09:30 next day), monthly
  `P5D`, quarterly and annual `P15D`; Jinjiang monthly `P15D`, yearly `P31D` (附件1: by the end of
  January), 统计局 quarterly `P30D` (within 30 days), 人口指标 and 高新技术企业 `P90D` (by the end of
  March; 91 days in a leap year). Where 附件2 says yearly or quarterly but 附件1 asks for the data by
  the 15th of each month (商品房资金监管, 就业指标, 补充建设项目) the frequency follows 附件2 and the deadline
  is `P15D`. Real-time meter feeds are due `PT1H` after the day ends; on-change and full-snapshot
  feeds have no deadline.
- **Designed columns** (`designed = true`) are not in the seed. They are added where a row would
  otherwise be useless or unlinkable: identity and period columns of Wuhai's indicator reports, and
  the whole template of datasets the seed names only by category (信用乌海, 安全生产信息化监管平台,
  科技认定信息, 社保缴纳信息 ...). For those, a designed category column 数据类别 carries the seed's
  category names as its closed `values`, and kind-specific columns decide which nodes a row makes
  (a Honor only from rows with 认定年度, a CreditEvent only from rows with a decision number).
  Jinjiang's designed columns are optional (the bureaus' exports must still load); Wuhai's Excel
  uploads follow templates the platform issues, so their designed columns may be required.
- **Subjects**: `enterprise` rows name the enterprise they are about; the other enterprise of a
  two-party row is a declared party (TRANSFERRED_FROM, MORTGAGEE, COMMISSIONED_BY, BUILT_BY,
  DESIGNED_BY, SUPERVISED_BY, COLLECTED_BY, PAID_TO, ACCOUNT_AT, INVESTED_BY). Government bodies
  (出让单位, 预算单位, 主管单位, 发证机关) stay text, except the fee's 执收单位. `region` datasets are
  indicator series: a region (or park) column, a period, and either one `indicator_name` column with
  its `indicator_value` columns (long tables) or several `indicator_value` columns named by their
  headers (wide tables). `meter` datasets are device readings keyed by meter and time.
- **Places**: in Jinjiang, a county-level city, 所属地区/所属区域 is the town (镇/街道); in Wuhai the
  district (区) has the region role.
- **Nodes** are keyed so that different feeds meet: Project by name, Permit by kind and number (the
  presale permit is shared by 预售许可证发放信息 and 楼盘信息), RealEstateUnit by 不动产单元号 (登记 and
  抵押) or 房屋唯一号, RealEstateTitle by certificate number (登记 and 转让), LandParcel by parcel code
  or land certificate, Honor by kind and year or certificate, CreditEvent by kind and document number.
  Chain membership uses the `industry_chain` role, which links the IndustryChain by itself.
- **Units**: amounts, areas and quantities always declare a default unit (a unit in the header wins);
  amounts are stored in yuan and areas in square metres, so amount metrics are in 元.
- **record_key** is declared only where the key is certainly unique (credit code of a register,
  UUIDs, certificate, contract and case numbers, enterprise + month of a report); other rows are
  identified by their place in the file.
"""


def iso_duration(delta: dt.timedelta | None) -> str:
    """ISO 8601 form of a deadline ('P15D', 'PT9H30M'); '—' for none."""
    if delta is None:
        return "—"
    hours, rest = divmod(delta.seconds, 3600)
    minutes = rest // 60
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "P" + (f"{delta.days}D" if delta.days else "") + (f"T{time}" if time else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _order(spec: DatasetSpec) -> tuple[int, str, str]:
    return (CITY_ORDER.get(spec.city, 9), spec.department, spec.key)


def catalog_markdown(specs: Iterable[DatasetSpec], platform: Iterable[DatasetSpec] | None = None) -> str:
    """The catalog page for these specs, and the platform's own datasets (``platform``: by default those
    of ``catalog/platform/``)."""
    specs = sorted(specs, key=_order)
    own = sorted(platform_specs() if platform is None else platform, key=_order)
    cities = Counter(s.city for s in specs)
    subjects = Counter(s.subject.value for s in specs)
    designed = sum(any(c.designed for c in s.columns) for s in specs)
    lines = [INTRO]
    lines.append(
        f"{len(specs)} datasets: "
        + ", ".join(
            f"{city} {n}" for city, n in sorted(cities.items(), key=lambda i: CITY_ORDER.get(i[0], 9))
        )
        + "; subjects: "
        + ", ".join(f"{subject} {n}" for subject, n in sorted(subjects.items()))
        + f"; {designed} with designed columns.\n"
    )
    lines.append("## Datasets\n")
    header = ("key", "city", "department", "title", "frequency", "deadline", "subject", "record label")
    lines.append("| " + " | ".join((*header, "designed columns")) + " |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for s in specs:
        has_designed = "yes" if any(c.designed for c in s.columns) else "no"
        lines.append(
            f"| `{s.key}` | {s.city} | {_cell(s.department)} | {_cell(s.title)} | {s.frequency.value} "
            f"| {iso_duration(s.deadline)} | {s.subject.value} | {s.record_label} | {has_designed} |"
        )
    lines.append("")
    lines.append(SHARING)
    lines.append(DECISIONS)
    lines.append("## Notes per dataset\n")
    for s in specs:
        lines.append(f"- **`{s.key}`** ({_cell(s.department)} / {_cell(s.title)}): {_cell(s.notes)}")
    if own:
        lines.append("")
        lines.append(PLATFORM_INTRO)
        for s in own:
            columns = ", ".join(f"{_cell(c.header)} (`{c.field}`, {c.type.value})" for c in s.columns)
            lines.append(
                f"- **`{s.key}`** ({s.city} {_cell(s.department)} / {_cell(s.title)}, {s.frequency.value}, "
                f"subject {s.subject.value}, record label {s.record_label}): columns {columns}. "
                + _cell(s.notes)
            )
    return "\n".join(lines) + "\n"


def builtin_specs() -> list[DatasetSpec]:
    return [load_spec(path) for path in sorted(CATALOG.glob("*.toml"))]


def platform_specs() -> list[DatasetSpec]:
    return [load_spec(path) for path in sorted(PLATFORM.glob("*.toml"))]


def main() -> None:
    print(catalog_markdown(builtin_specs()), end="")


if __name__ == "__main__":
    main()

"""One dataset spec -> a plan (periods, layout, style, noise) and its rows with their ground truth.

Everything is driven by the spec: which columns identify which party (roles), what type each cell
is, which values a category may take. A few title keywords only decide *who* appears in a dataset and
how many rows it has (a register lists every firm, a 龙头企业 list a few big ones, a construction
permit names a construction firm), so a spec written later by an integrator generates as well.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import random
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType, Frequency, Role, Subject
from entgraph.synthetic import name_parts as nm
from entgraph.synthetic import noise as nz
from entgraph.synthetic.population import Enterprise, NameParts, Population, weighted
from entgraph.synthetic.profiles import JINJIANG, CityProfile, FeedHabits
from entgraph.synthetic.values import (
    AMOUNT_UNITS,
    ColumnPlan,
    Party,
    Period,
    RowCtx,
    Style,
    compile_columns,
    effective_unit,
    meter_id,
)

MIN_ROWS = 6
SNAPSHOT_DAY = dt.date(2023, 4, 30)
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(slots=True)
class GenRow:
    cells: list[Any]
    truth: list[tuple[str, str, str, str]]  # (party, enterprise id, true credit code, noise kinds)
    sheet: int = 0
    bad: tuple[int, str, str] | None = None  # (column index, planted text, kind)


@dataclass
class Layout:
    fmt: str  # xlsx | csv
    encoding: str  # utf-8 | utf-8-sig | gbk (csv only)
    title: str | None  # a title row above the header
    unit_line: str | None  # "单位：万元" under the title
    cover: bool  # a 说明 sheet before the data
    split: bool  # data over two (or more) sheets
    sheet_names: list[str] = field(default_factory=list)
    file_name: str = ""

    @property
    def header_row(self) -> int:
        return 1 + (self.title is not None) + (self.unit_line is not None)


@dataclass
class DatasetPlan:
    spec: DatasetSpec
    rng: random.Random
    style: Style
    profile: nz.NoiseProfile
    layout: Layout
    columns: list[ColumnPlan]
    periods: list[Period]
    headers: list[str]
    city: CityProfile = JINJIANG
    habits: FeedHabits | None = None  # the department's keep rates (None: built-in name noise kinds)
    legacy: float = 0.0  # of rows without a credit code: share with an org code / 15-char taxpayer id


# -- who appears, and how often -------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    group: str  # population group the subject is drawn from
    each: bool  # every member once per period (a register) instead of a sample
    rate: float  # rows per period per population member (sample mode)
    power: float  # selection weight = revenue ** power (big firms in lists)
    include_closed: bool = False


REGISTER = Sizing("registered", True, 0, 0, include_closed=True)
# (title words, sizing): the first rule with a word in the dataset's title decides who appears
SIZING_RULES: tuple[tuple[tuple[str, ...], Sizing], ...] = (
    (("个体",), Sizing("individual", True, 0, 0, include_closed=True)),
    (("系统对接",), REGISTER),
    (("税务登记",), Sizing("all", True, 0, 0, include_closed=True)),
    (("小额贷款", "融资担保"), Sizing("lender", True, 0, 0)),
    (("银行", "保险", "金融"), Sizing("finance", True, 0, 0)),
    (("房地产", "商品房", "预售", "楼盘", "网签", "公积金"), Sizing("real_estate", False, 0.02, 0.5)),
    (("商砼",), Sizing("concrete", True, 0, 0)),
    (("建筑业", "施工", "建设工程", "招标", "竣工"), Sizing("construction", False, 0.015, 0.3)),
    (("产业链",), Sizing("chain", False, 0.08, 0.5)),
    (("园区企业",), Sizing("park", True, 0, 0)),
    (("龙头", "上市"), Sizing("company", False, 0.004, 2.0)),
    (
        ("瞪羚", "专精特新", "高新", "认定", "重点", "规上", "限上", "一般纳税人", "名单"),
        Sizing("company", False, 0.02, 1.2),
    ),
    (("失信", "处罚", "事故", "整改", "专利", "排放"), Sizing("company", False, 0.01, 0.5)),
    (("土地", "不动产", "许可证", "出让", "划拨", "抵押"), Sizing("firms", False, 0.02, 0.6)),
)
DEFAULT_RATES = {
    Frequency.MONTHLY: 0.05,
    Frequency.QUARTERLY: 0.05,
    Frequency.ANNUAL: 0.04,
    Frequency.DAILY: 0.01,
}


def sizing(spec: DatasetSpec) -> Sizing:
    """Who appears in a dataset and how many rows it has, from its title (and department)."""
    t, d = spec.title, spec.department
    if "市场监" in d and "登记" in t:  # the market regulator's register lists every firm
        return REGISTER
    for words, size in SIZING_RULES:
        if any(w in t for w in words):
            return size
    return Sizing("all" if "税" in d else "firms", False, DEFAULT_RATES.get(spec.frequency, 0.12), 0.4)


def subject_sizing(spec: DatasetSpec, parties: list[str]) -> Sizing:
    """The dataset's sizing, with the group corrected by what its subject's name columns call it.

    A construction permit's subject is the 建设单位 (any firm; the contractor is another party), a
    tender's is the 中标单位 (a construction firm), a presale permit's the 开发企业 (a developer).
    """
    size = sizing(spec)
    if size.each or not parties:
        return size
    primary = parties[0]
    headers = "".join(c.header for c in spec.columns if c.party == primary and c.role in _PARTY_ROLES)
    group = size.group
    if has_any(headers, "施工", "中标", "监理", "设计"):
        group = "construction"
    elif has_any(headers, "开发"):
        group = "real_estate"
    elif has_any(headers, "建设单位", "业主", "用地单位", "项目单位") and group in (
        "construction",
        "real_estate",
    ):
        group = "firms"
    return (
        size if group == size.group else Sizing(group, size.each, size.rate, size.power, size.include_closed)
    )


def has_any(text: str, *words: str) -> bool:
    return any(w in text for w in words)


def party_group(spec: DatasetSpec, party: str) -> str:
    words = party + spec.parties[party].description if party in spec.parties else party
    words += "".join(c.header for c in spec.columns if c.party == party)
    if any(w in words for w in ("银行", "抵押权", "bank", "mortgagee")):
        return "bank"
    if any(w in words for w in ("施工", "监理", "设计", "contractor", "construct", "supervis", "design")):
        return "construction"
    if any(w in words for w in ("开发", "developer")):
        return "real_estate"
    return "counterparty"


def is_boundary_layer(spec: DatasetSpec) -> bool:
    """A region dataset of town boundaries (a town column and a required geometry): generated as one
    row per town, written as a GIS layer (GeoJSON) unless the city is asked for one format."""
    return (
        spec.subject is Subject.REGION
        and any(c.role is Role.TOWN for c in spec.columns)
        and any(c.type is FieldType.GEOMETRY and c.required for c in spec.columns)
    )


def is_snapshot(spec: DatasetSpec) -> bool:
    return spec.frequency in (Frequency.FULL_SNAPSHOT, Frequency.ON_CHANGE) or "全量" in spec.first_collection


# -- periods --------------------------------------------------------------------------------------------


def month(y: int, m: int) -> Period:
    start = dt.date(y, m, 1)
    end = (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)
    return Period("M", y, m, start, end)


def quarter(y: int, q: int) -> Period:
    return Period("Q", y, q, month(y, 3 * q - 2).start, month(y, 3 * q).end)


def year(y: int) -> Period:
    return Period("Y", y, 0, dt.date(y, 1, 1), min(dt.date(y, 12, 31), SNAPSHOT_DAY))


def day(d: dt.date) -> Period:
    return Period("D", d.year, 0, d, d)


def periods_for(spec: DatasetSpec, rng: random.Random) -> list[Period]:
    f = spec.frequency
    if spec.subject is Subject.METER or f in (Frequency.FIVE_MINUTES, Frequency.HOURLY):
        first = dt.date(2023, 4, rng.randint(1, 25))
        return [day(first + dt.timedelta(days=i)) for i in range(1 if f is Frequency.FIVE_MINUTES else 2)]
    if f is Frequency.DAILY:
        first = dt.date(2023, 4, rng.randint(1, 25))
        return [day(first + dt.timedelta(days=i)) for i in range(3)]
    if is_snapshot(spec) and spec.subject is not Subject.REGION:
        return [Period("S", 2023, 0, dt.date(2020, 1, 1), SNAPSHOT_DAY)]
    if f is Frequency.QUARTERLY:
        end = (2023, 1) if rng.random() < 0.7 else (rng.randint(2020, 2022), rng.randint(1, 4))
        k = 4 if spec.subject is Subject.REGION else 2
        out, (y, q) = [], end
        for _ in range(k):
            out.append(quarter(y, q))
            y, q = (y, q - 1) if q > 1 else (y - 1, 4)
        return out[::-1]
    if f is Frequency.ANNUAL:
        last = 2022 if rng.random() < 0.8 else 2023
        k = 3 if spec.subject is Subject.REGION else rng.choice((1, 2, 2))
        return [year(y) for y in range(last - k + 1, last + 1)]
    # monthly (and anything else): a few months, mostly the latest ones, sometimes an older window
    if rng.random() < 0.7:
        end = nm.PERIOD_LAST
    else:
        y = rng.randint(2020, 2022)
        end = (y, rng.randint(3 if y == 2020 else 1, 12))
    k = 4 if spec.subject is Subject.REGION else rng.choice((1, 2, 3))
    out, (y, m) = [], end
    for _ in range(k):
        out.append(month(y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def periods_label(periods: list[Period]) -> str:
    first, last = periods[0], periods[-1]
    if first.kind == "S":
        return "截至2023-04"
    if first.kind == "Y":
        return f"{first.year}年" if first == last else f"{first.year}-{last.year}年"
    if first.kind == "Q":
        a, b = f"{first.year}Q{first.number}", f"{last.year}Q{last.number}"
        return a if a == b else f"{a}至{b}"
    return first.label if first == last else f"{first.label}至{last.label}"


def period_title(p: list[Period]) -> str:
    first, last = p[0], p[-1]
    if first.kind == "S":
        return "截至2023年4月"
    if first.kind == "M":
        a = f"{first.year}年{first.number}月"
        return a if first == last else f"{a}至{last.year}年{last.number}月"
    if first.kind == "Q":
        return f"{first.year}年第{first.number}季度" + (
            "" if first == last else f"至{last.year}年第{last.number}季度"
        )
    if first.kind == "Y":
        return f"{first.year}年" if first == last else f"{first.year}-{last.year}年"
    return f"{first.start:%Y年%m月%d日}"


# -- planning --------------------------------------------------------------------------------------------


def choose_style(rng: random.Random, department: str) -> Style:
    return Style(
        native_dates=rng.random() < 0.5,
        date_style=rng.choice(("iso", "iso", "slash", "cn", "compact")),
        period_style=rng.choice(("dash", "compact", "cn", "slash")),
        percent_sign=rng.random() < 0.4,
        amount_text=0.0 if rng.random() < 0.8 else 0.1,
        region_as_town=rng.random() < 0.5,
        industry_code_style=rng.choice(("division", "subclass", "bare")),
        old_tin_share=0.3 if "税" in department else 0.1,
        phone_style=rng.choice(("plain", "plain", "dashless", "paren")),
        address_province=rng.random() < 0.5,
    )


def choose_layout(spec: DatasetSpec, rng: random.Random, formats: str, periods: list[Period]) -> Layout:
    if is_boundary_layer(spec):  # a GIS export: no title rows, covers or split sheets
        fmt = "geojson" if formats == "mixed" else formats
        return Layout(fmt, "utf-8" if fmt == "csv" else "", None, None, False, False)
    fmt = formats if formats in ("xlsx", "csv") else ("csv" if rng.random() < 0.3 else "xlsx")
    x = rng.random()
    encoding = "utf-8" if x < 0.4 else ("utf-8-sig" if x < 0.7 else "gbk")
    titled = rng.random() < (0.35 if fmt == "xlsx" else 0.15)
    title = f"{period_title(periods)}{nm.CITY_FULL}{spec.title}" if titled else None
    unit_line = None
    if titled:
        units = {
            effective_unit(c, "元")
            for c in spec.columns
            if c.type is FieldType.AMOUNT or c.role is Role.AMOUNT
        }
        if len(units) == 1 and units <= set(AMOUNT_UNITS) and rng.random() < 0.6:
            unit_line = f"单位：{units.pop()}"
    cover = fmt == "xlsx" and rng.random() < 0.15
    split = fmt == "xlsx" and rng.random() < 0.2
    return Layout(fmt, encoding if fmt == "csv" else "", title, unit_line, cover, split)


NameCheck = Callable[[str, DatasetSpec], bool]


def file_name_for(
    spec: DatasetSpec, periods: list[Period], layout: Layout, taken: set[str], check: NameCheck | None = None
) -> str:
    """A file name that names the dataset (matching its ``file_patterns`` when it has them)."""
    ext = {"xlsx": ".xlsx", "geojson": ".geojson"}.get(layout.fmt, ".csv")
    title = _UNSAFE.sub("", spec.title)
    stem = f"{title}_{periods_label(periods)}"
    candidates = [stem + ext, f"{spec.key}_{stem}{ext}"]
    if spec.file_patterns:
        for pattern in spec.file_patterns:  # a name built from the spec's own pattern
            core = pattern.replace("*", "").replace("?", "")
            core = core.rsplit(".", 1)[0] if "." in core else core
            if core:
                candidates.append(f"{_UNSAFE.sub('', core)}_{stem}{ext}")
        matching = [c for c in candidates if any(fnmatch.fnmatch(c, p) for p in spec.file_patterns)]
        candidates = matching + [c for c in candidates if c not in matching]
    free = [c for c in candidates if c not in taken]
    name = next((c for c in free if check is None or check(c, spec)), None)
    if name is None:
        name = free[0] if free else f"{spec.key}_{len(taken)}_{stem}{ext}"
    taken.add(name)
    return name


def plan_dataset(
    spec: DatasetSpec,
    seed: int,
    formats: str,
    noise_scale: float,
    taken: set[str],
    check: NameCheck | None = None,
    profiles: nz.Profiles | None = None,
    city: CityProfile = JINJIANG,
) -> DatasetPlan:
    rng = random.Random(f"entgraph-synthetic:{seed}:{spec.key}")
    style = choose_style(rng, spec.department)
    periods = periods_for(spec, rng)
    if is_boundary_layer(spec):  # the towns as they are now, once
        periods = [Period("S", 2023, 0, dt.date(2020, 1, 1), SNAPSHOT_DAY)]
    layout = choose_layout(spec, rng, formats, periods)
    layout.file_name = file_name_for(spec, periods, layout, taken, check)
    columns = compile_columns(spec, style, layout.fmt == "csv")
    dept = spec.department
    profile = city.noise_for(dept, nz.profile_for(dept, spec.notes, noise_scale, profiles))
    return DatasetPlan(
        spec, rng, style, profile, layout, columns, periods, [c.header for c in spec.columns],
        city, city.habits_for(dept), city.legacy_share(dept),
    )  # fmt: skip


# -- rows ---------------------------------------------------------------------------------------------------


class Picker:
    """Weighted sampling of population groups (cumulative weights cached per group and power)."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        self._cum: dict[tuple[str, float], tuple[list[Enterprise], list[float]]] = {}

    def group(self, name: str) -> list[Enterprise]:
        fallback = "finance" if name in ("bank", "lender") else "firms"
        for candidate in (name, fallback, "firms", "all"):
            members = self.pop.groups.get(candidate)
            if members:
                return members
        return []

    def pick(self, rng: random.Random, name: str, power: float, k: int, on: Period,
             distinct: bool = False) -> list[Enterprise]:  # fmt: skip
        key = (name, power)
        if key not in self._cum:
            members = self.group(name)
            weights = [max(e.revenue, 1.0) ** power for e in members]
            self._cum[key] = (members, list(accumulate(weights)))
        members, cum = self._cum[key]
        if not members:
            return []
        total = cum[-1]
        out: list[Enterprise] = []
        seen: set[int] = set()
        tries = 0
        while len(out) < k and tries < k * 4 + 20:
            tries += 1
            e = members[min(len(members) - 1, bisect_left(cum, rng.random() * total))]
            if distinct and e.index in seen:
                continue
            if e.active_on(on.end) or (on.kind != "S" and e.active_on(on.start)):
                out.append(e)
                seen.add(e.index)
        return out


_PARTY_ROLES = (Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID, Role.ENTERPRISE_NAME, Role.ACCOUNT_NUMBER)


def identity_parties(spec: DatasetSpec) -> list[str]:
    """The parties the spec's identity columns name, in column order."""
    return list(dict.fromkeys(c.party for c in spec.columns if c.role in _PARTY_ROLES))


class RowBuilder:
    def __init__(self, plan: DatasetPlan, pop: Population, picker: Picker, row_scale: float) -> None:
        self.plan, self.pop, self.picker, self.row_scale = plan, pop, picker, row_scale
        spec = plan.spec
        self.parties = identity_parties(spec)
        self.code_cols = {p: [c for c in plan.columns if c.identity and c.party == p] for p in self.parties}
        self.code_required = {p: any(c.column.required for c in cols) for p, cols in self.code_cols.items()}
        # several rows per firm and month (one per tax item, insurance kind ...) in monthly feeds
        self.repeats = (
            spec.frequency is Frequency.MONTHLY
            and any(c.role is Role.CATEGORY for c in spec.columns)
            and not sizing(spec).each
        )
        # parties with an org-code / taxpayer-id column (where a row without the credit code may write one)
        self.old_id_cols = {
            p: any(_old_id_column(c.column) for c in cols) for p, cols in self.code_cols.items()
        }
        # a profile's uncoded rows of a feed whose spec requires its taxpayer-id column write the old
        # 15-char id (the column cannot be left empty; a firm registered since 2015 has only its code)
        self.legacy_required = {
            p: plan.legacy > 0 and self.code_required[p] and all(_old_id_column(c.column) for c in cols)
            for p, cols in self.code_cols.items()
        }
        # a profile whose register leaves the former-name (曾用名) column empty
        self.former_cols = (
            [] if plan.city.register_former_names
            else [i for i, c in enumerate(plan.columns) if c.column.role is Role.FORMER_NAME]
        )  # fmt: skip
        self.count = 0
        self.optional = [  # cells "missing_field" noise may blank: optional, not identifying anyone
            i
            for i, c in enumerate(plan.columns)
            if not c.column.required and not c.identity and c.column.role not in _PARTY_ROLES
        ]

    def rows(self) -> list[GenRow]:
        spec = self.plan.spec
        if is_boundary_layer(spec):
            return [self.row(self.plan.periods[0], {}, 0, region=town.name) for town in nm.TOWNS]
        if spec.subject is Subject.REGION:
            return self.region_rows()
        if spec.subject is Subject.METER:
            return self.meter_rows()
        return self.enterprise_rows()

    # enterprise datasets: a subject (or first party) drawn by the dataset's sizing, others by keyword
    def enterprise_rows(self) -> list[GenRow]:
        plan, rng = self.plan, self.plan.rng
        spec = plan.spec
        size = subject_sizing(spec, self.parties)
        n = len(self.pop.enterprises)
        out: list[GenRow] = []
        primary = self.parties[0] if self.parties else "subject"
        for sheet, period in enumerate(plan.periods):
            if size.each:
                members = self.picker.group(size.group)
                chosen = [
                    e
                    for e in members
                    if (size.include_closed and e.established <= period.end) or e.active_on(period.end)
                ]
                if len(chosen) < MIN_ROWS:
                    chosen += self.picker.pick(rng, "firms", 0.3, MIN_ROWS - len(chosen), period)
            else:
                k = max(MIN_ROWS, round(n * size.rate * self.row_scale))
                chosen = self.picker.pick(rng, size.group, size.power, k, period, distinct=True)
                if self.repeats:  # several rows per firm and period (one per tax item, insurance ...)
                    chosen = [e for e in chosen for _ in range(1 + (rng.random() < 0.3))]
            for ent in chosen:
                out.append(self.row(period, self.with_others(period, {primary: ent}), sheet))
        return out

    def with_others(self, period: Period, ents: dict[str, Enterprise]) -> dict[str, Enterprise]:
        """Fill the parties not given yet (a bank for a mortgage, a contractor for a permit ...)."""
        spec, rng = self.plan.spec, self.plan.rng
        for party in self.parties:
            if party in ents or (party == "subject" and spec.subject is Subject.REGION):
                continue
            others = self.picker.pick(rng, party_group(spec, party), 0.3, 2, period)
            other = next((o for o in others if o not in ents.values()), None)
            if other is not None:
                ents[party] = other
        return ents

    def region_rows(self) -> list[GenRow]:
        plan = self.plan
        spec = plan.spec
        has_region = any(c.role in (Role.REGION, Role.TOWN) for c in spec.columns)
        if any(c.role is Role.PARK for c in spec.columns):  # indicators per park
            regions = [park for park, _ in nm.PARKS]
        else:
            regions = [nm.CITY_FULL] + ([t.name for t in nm.TOWNS] if has_region else [])
        indicator_col = next((c for c in spec.columns if c.role is Role.INDICATOR_NAME), None)
        indicators = indicator_names(indicator_col) if indicator_col else [""]
        if not indicator_col and any(c.role in (Role.CATEGORY, Role.NAME) for c in spec.columns):
            indicators = ["", "", "", "", ""]
        out: list[GenRow] = []
        for sheet, period in enumerate(plan.periods):
            for region in regions:
                for indicator in indicators:
                    ents = self.with_others(period, {})
                    out.append(self.row(period, ents, sheet, region=region, indicator=indicator))
        return out

    def meter_rows(self) -> list[GenRow]:
        plan, rng = self.plan, self.plan.rng
        spec = plan.spec
        # about one firm in forty carries a device-read meter (the key energy users), at most 300
        n_firms = max(3, min(300, len(self.pop.enterprises) // 40))
        firms = self.picker.pick(rng, "company", 1.0, n_firms, plan.periods[-1], distinct=True)
        step = {Frequency.FIVE_MINUTES: 5, Frequency.HOURLY: 60}.get(spec.frequency, 1440)
        meters = [(e, meter_id(spec.key, e, k)) for e in firms for k in range(1 + (rng.random() < 0.3))]
        out: list[GenRow] = []
        for sheet, period in enumerate(plan.periods):
            start = dt.datetime.combine(period.start, dt.time())
            for minute in range(0, 1440 if period.kind == "D" else 1, step):
                at = start + dt.timedelta(minutes=minute)
                for ent, meter in meters:
                    ents = self.with_others(period, {self.parties[0]: ent} if self.parties else {})
                    out.append(self.row(period, ents, sheet, meter=meter, at=at, owner=ent))
        return out

    def party(self, ent: Enterprise, name_day: dt.date, party: str) -> Party:
        rng, profile = self.plan.rng, self.plan.profile
        noise: list[str] = []
        parts = ent.parts
        renamed = ent.former_parts is not None and ent.renamed_on is not None
        if renamed and (name_day < ent.renamed_on or rng.random() < profile.stale):  # type: ignore[operator]
            parts = ent.former_parts  # type: ignore[assignment]
            noise.append("former_name")
        code, legacy = self.code(ent, party, noise) if self.code_cols.get(party) else (ent.credit_code, False)
        coded = bool(code)
        share = profile.name_noise_coded if coded else profile.name_noise_uncoded
        habits = self.plan.habits
        if habits is None:
            if rng.random() < share:
                name, kinds = nz.noisy_name(rng, parts, 2 if rng.random() < 0.25 else 1)
                noise += kinds
            else:
                name = parts.full
        else:  # a profile's keep rates decide region and legal form; the other kinds at their usual rate
            parts = self.kept(parts, habits, noise)
            if rng.random() < share * nz.OTHER_WEIGHT:
                name, kinds = nz.noisy_name(rng, parts, 2 if rng.random() < 0.25 else 1, nz.OTHER_KINDS)
                noise += kinds
            else:
                name = parts.full
        if "traditional" not in noise and rng.random() < profile.traditional:
            name = nz.traditional(name)
            noise.append("traditional")
        old_tin = (
            coded
            and "invalid_code" not in noise
            and ent.established < dt.date(2015, 10, 1)
            and ent.credit_code[8:16].isdigit()
            and rng.random() < self.plan.style.old_tin_share
        )
        return Party(ent, name, code, noise, old_tin, legacy)

    def code(self, ent: Enterprise, party: str, noise: list[str]) -> tuple[str, bool]:
        """The credit code as this row writes it ("" when omitted) and whether it writes an older id."""
        rng, profile, legacy = self.plan.rng, self.plan.profile, self.plan.legacy
        code = ent.credit_code
        if not self.code_required[party] and rng.random() < profile.no_code:
            noise.append("no_code")
            if legacy and self.old_id_cols[party] and has_old_ids(ent) and rng.random() < legacy:
                noise[-1] = "legacy_code"
                return "", True
            return "", False
        if self.legacy_required[party] and has_old_ids(ent) and rng.random() < profile.no_code:
            noise.append("legacy_code")
            return "", True
        if rng.random() < profile.invalid_code:
            noise.append("invalid_code")
            return nz.corrupt_code(rng, code), False
        if rng.random() < 0.01:
            noise.append("code_format")
            return nz.format_code(rng, code), False
        return code, False

    def kept(self, parts: NameParts, habits: FeedHabits, noise: list[str]) -> NameParts:
        """The name as a feed with these keep rates writes it (region prefix, then legal form)."""
        rng, city = self.plan.rng, self.plan.city
        if rng.random() >= habits.keep_region:
            style = weighted(rng, city.region_styles)
            new = nz.styled_region(rng, parts, style, rng.random() < city.halfwidth_brackets)
            if new is not None and new.full != parts.full:
                parts = new
                noise.append("region_prefix")
        if rng.random() >= habits.keep_form:
            new = nz.styled_form(rng, parts, rng.random() < city.form_drop)
            if new is not None and new.full != parts.full:
                parts = new
                noise.append("legal_form")
        return parts

    def row(
        self,
        period: Period,
        ents: dict[str, Enterprise],
        sheet: int,
        *,
        meter: str = "",
        at: dt.datetime | None = None,
        owner: Enterprise | None = None,
        region: str | None = None,
        indicator: str = "",
    ) -> GenRow:
        """One row: its parties (with their noise), its cells, and its ground truth lines."""
        plan, rng = self.plan, self.plan.rng
        name_day = period.end if period.kind != "S" else SNAPSHOT_DAY
        parties = {p: self.party(e, name_day, p) for p, e in ents.items()}
        self.count += 1
        ctx = RowCtx(
            rng,
            period,
            parties,
            meter=meter,
            at=at,
            region=region or "",
            indicator=indicator,
            number=self.count,
        )
        cells = [c.gen(ctx) for c in plan.columns]
        for i in self.former_cols:
            cells[i] = ""
        noise = {p: list(v.noise) for p, v in parties.items()}
        if self.optional and rng.random() < plan.profile.missing_field:
            i = rng.choice(self.optional)
            if cells[i] not in ("", None):
                cells[i] = ""
                first = next(iter(noise), None)
                if first is not None:
                    noise[first].append("missing_field")
        truth = [(p, v.ent.id, v.ent.credit_code, ";".join(noise[p])) for p, v in parties.items()]
        if "subject" not in parties:
            if region is not None:  # a region row: the subject is no enterprise
                truth.insert(0, ("subject", "", "", ""))
            elif owner is not None:  # a meter row: the subject is the meter's owner
                truth.insert(0, ("subject", owner.id, owner.credit_code, ""))
        if not truth:  # an enterprise dataset whose parties could not be drawn (tiny populations)
            truth = [("subject", "", "", "")]
        return GenRow(cells, truth, sheet)


def _old_id_column(c: ColumnSpec) -> bool:
    """An org-code or taxpayer-id column (where a firm without its credit code writes an older id)."""
    if c.role is not None:
        return c.role in (Role.ORG_CODE, Role.TAXPAYER_ID)
    return c.type in (FieldType.ORG_CODE, FieldType.TAXPAYER_ID)


def has_old_ids(ent: Enterprise) -> bool:
    """Whether the firm had an org code / 15-char taxpayer id before credit codes (registered before
    October 2015, its code built on a numeric org code)."""
    return ent.established < dt.date(2015, 10, 1) and ent.credit_code[8:16].isdigit()


def indicator_names(column: ColumnSpec) -> list[str]:
    """What a region dataset's indicator column lists: its values, else what its header names."""
    if column.values:
        return list(column.values)
    if "行业" in column.header:
        return [i.name for i in nm.INDUSTRIES[:8]]
    pool = next((p for word, p in nm.CATEGORY_POOLS if word in column.header and len(p) >= 4), None)
    return list(pool or nm.INDICATORS[:6])


def plant_malformed(plan: DatasetPlan, rows: list[GenRow]) -> None:
    """A few malformed cells per file (recorded on the rows; bad_rows.csv lists them).

    Kinds rotate so each file gets different ones: bad dates/periods, text in number columns, invalid
    codes in required code columns, empty required cells.
    """
    rng = plan.rng
    if is_boundary_layer(plan.spec):  # a town without its boundary would leave a hole in the demo's map
        return
    by_kind: dict[str, list[int]] = {}
    for i, c in enumerate(plan.columns):
        if c.kind in ("date", "period", "number") or (c.kind == "code" and c.column.required):
            by_kind.setdefault(c.kind, []).append(i)
        if c.column.required and c.kind in ("name", "text"):
            by_kind.setdefault("required", []).append(i)
    if not by_kind or len(rows) < 3:
        return
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    count = min(max(1, len(rows) // 10), rng.randint(2, 5))
    for k, index in enumerate(rng.sample(range(len(rows)), count)):
        row = rows[index]
        kind = kinds[k % len(kinds)]
        col = rng.choice(by_kind[kind])
        original = row.cells[col]
        value, bad_kind = nz.malformed(rng, kind, original)
        if value == original or (kind == "required" and original in ("", None)):
            continue
        row.cells[col] = value
        row.bad = (col, value, bad_kind)
        row.truth = [
            (p, e, code, ";".join(filter(None, (n, f"malformed:{bad_kind}")))) for p, e, code, n in row.truth
        ]


def sheet_label(p: Period) -> str:
    if p.kind == "M":
        return f"{p.year}年{p.number}月"
    if p.kind == "Q":
        return f"{p.year}年第{p.number}季度"
    if p.kind == "D":
        return f"{p.start:%Y-%m-%d}"
    return f"{p.year}年"


def assign_sheets(plan: DatasetPlan, rows: list[GenRow]) -> None:
    """Sheet names; a split layout spreads the rows over two sheets (by period when there are several)."""
    layout = plan.layout
    base = _UNSAFE.sub("", plan.spec.title)[:31] or "Sheet1"
    if layout.fmt in ("csv", "geojson"):
        layout.sheet_names = [layout.file_name]  # the readers name its one sheet after its file
    elif layout.split and len(plan.periods) > 1:
        layout.sheet_names = [sheet_label(p) for p in plan.periods]
        return
    elif layout.split and len(rows) >= 4:
        layout.sheet_names = ["Sheet1", "Sheet2"]
        half = len(rows) // 2
        for i, row in enumerate(rows):
            row.sheet = int(i >= half)
        return
    else:
        layout.sheet_names = [base if plan.rng.random() < 0.5 else "Sheet1"]
    for row in rows:
        row.sheet = 0

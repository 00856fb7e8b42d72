"""Closed-loop warnings (预警闭环) over enterprises' monthly electricity and tax, and silent meters.

Rules are data (:class:`WarningRules`, read from TOML by :func:`load_rules`); :func:`evaluate` is a pure
function of :class:`Facts` (what :func:`collect_facts` reads from the graph) and the rules, so the same
facts always give the same findings, with the same ids. Storing them and their lifecycle (open →
acknowledged → resolved) is ``warning_lifecycle.py``. See ``docs/warnings.md``.

Months are calendar months in China Standard Time; only complete months are judged (the month ``as_of``
falls in is still being reported), and only the last ``lookback_months`` of them, so a first run does
not raise years of history.

Each finding says which departments' figures it states and where they came from (the metric sources of
the months it judged, its peers' too when it compares with them), with its messages rendered a second
time without those figures: a caller who may not see every such source gets that version
(``warning_queries``), so a warning never shows a figure a dataset hidden from the caller stated.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from entgraph.catalog.registry import Catalog
from entgraph.errors import ConfigurationError
from entgraph.graph import metric_queries, warning_queries
from entgraph.graph.metric_queries import MetricSource, source_label
from entgraph.graph.port import GraphStore
from entgraph.localtime import CST
from entgraph.telemetry.meter_registry import exclusive_owners
from entgraph.telemetry.rollup import metric_sources
from entgraph.telemetry.series_store import SeriesReader
from entgraph.telemetry.warning_lifecycle import Finding, store_findings

__all__ = [
    "ELECTRICITY",
    "TAX",
    "EnterpriseFacts",
    "Facts",
    "Finding",
    "WarningRules",
    "collect_facts",
    "evaluate",
    "load_rules",
    "month_label",
    "month_number",
    "monthly_figures",
]

ELECTRICITY = "electricity_kwh"
TAX = "tax"
Severity = Literal["low", "medium", "high"]
HIDDEN = "***"  # a figure in a message rendered for callers who may not see where it came from
# How a message shows a figure: the figure itself (format spec) or, without figures, HIDDEN.
Figure = Callable[[float, str], str]

# The evidence keys of each rule that hold departments' figures or what is computed from them.
TAX_PER_KWH_FIGURES = (
    "ratio", "kwh", "tax", "tax_months_reported", "peers", "median", "percentile_value",
)  # fmt: skip
ZERO_FIGURES = ("months", "last_consumption_kwh")
DROP_FIGURES = ("kwh", "baseline_mean", "ratio")


def _shown(value: float, spec: str) -> str:
    return format(value, spec)


def _hidden(value: float, spec: str) -> str:
    return HIDDEN


def _messages(render: Callable[[Figure], tuple[str, str]]) -> dict[str, str]:
    """A finding's messages (zh, en) with its figures, and again without them (``***``)."""
    zh, en = render(_shown)
    masked_zh, masked_en = render(_hidden)
    return {"message_zh": zh, "message_en": en, "masked_zh": masked_zh, "masked_en": masked_en}


# --- rules as data ----------------------------------------------------------------------------------


class _Rule(BaseModel):
    # extra="forbid": a misspelt threshold must fail loudly, not leave the default silently in force
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class TaxPerKwhLow(_Rule):
    """单位电耗税收 far below the industry's: electricity used without matching taxes."""

    severity: Severity = "high"
    window_months: int = Field(12, ge=1, le=60)
    percentile: float = Field(10, gt=0, lt=100)
    fraction_of_median: float = Field(0.3, gt=0, le=1)
    min_kwh: float = Field(100_000, ge=0)  # over the window; smaller users' ratios are noise
    min_peers: int = Field(5, ge=1)


class ZeroConsumption(_Rule):
    """零度户: consecutive zero months after the enterprise used electricity (suspected shutdown)."""

    severity: Severity = "high"
    months: int = Field(3, ge=1)


class SuddenDrop(_Rule):
    """A month far below the mean of the months before it."""

    severity: Severity = "medium"
    fraction: float = Field(0.5, gt=0, lt=1)
    baseline_months: int = Field(3, ge=1)
    min_kwh: float = Field(10_000, ge=0)  # the baseline's monthly mean


class MeterSilent(_Rule):
    """A meter whose last reading is too old."""

    severity: Severity = "medium"
    hours: float = Field(24, gt=0)


class WarningRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_months: int = Field(3, ge=1, le=120)
    tax_per_kwh_low: TaxPerKwhLow = TaxPerKwhLow()
    zero_consumption: ZeroConsumption = ZeroConsumption()
    sudden_drop: SuddenDrop = SuddenDrop()
    meter_silent: MeterSilent = MeterSilent()


def load_rules(path: Path | str | None = None) -> WarningRules:
    """The rules in the TOML file at ``path`` (keys left out keep their defaults); the defaults when
    ``path`` is None. A missing or bad file raises :class:`ConfigurationError` naming the key."""
    if path is None:
        return WarningRules()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"warning rules file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"warning rules file {path} is not valid TOML: {exc}") from None
    try:
        return WarningRules.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        key = ".".join(str(part) for part in problem["loc"])
        raise ConfigurationError(f"warning rules file {path}: {key}: {problem['msg']}") from None


# --- facts ------------------------------------------------------------------------------------------


@dataclass
class EnterpriseFacts:
    id: str
    name: str | None = None
    town: str | None = None
    industry: str | None = None  # GB/T 4754 code: C, C19, C1951 or 1951
    electricity: dict[str, float] = field(default_factory=dict)  # '2026-04' -> kWh
    tax: dict[str, float] = field(default_factory=dict)  # '2026-04' -> yuan
    # metric -> month -> the source (``<dataset>:<metric>``) whose figure that month's is
    sources: dict[str, dict[str, str]] = field(default_factory=dict)

    def sources_of(self, months: Iterable[str], metrics: Sequence[str] = (ELECTRICITY,)) -> set[str]:
        """The sources of this enterprise's figures of ``metrics`` for ``months`` (those it has)."""
        wanted = list(months)
        return {s for m in metrics for month in wanted if (s := self.sources.get(m, {}).get(month))}


@dataclass
class Facts:
    enterprises: dict[str, EnterpriseFacts] = field(default_factory=dict)
    meter_last_seen: dict[str, int] = field(default_factory=dict)  # meter id -> epoch ms
    meter_owners: dict[str, str] = field(default_factory=dict)  # meter id -> enterprise id


@functools.lru_cache(maxsize=4096)  # a city's figures share a few dozen labels: parse each once
def month_number(label: str) -> int | None:
    """'2026-04' -> a month number that consecutive months differ by one; None for other periods."""
    if len(label) != 7 or label[4] != "-" or not (label[:4].isdigit() and label[5:].isdigit()):
        return None
    month = int(label[5:])
    return int(label[:4]) * 12 + month - 1 if 1 <= month <= 12 else None


def month_label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _quarter(label: str) -> tuple[int, ...]:
    """'2026-Q2' -> the three month numbers of that quarter; () for other periods."""
    if len(label) != 7 or label[4:6] != "-Q" or not label[:4].isdigit() or label[6] not in "1234":
        return ()
    first = int(label[:4]) * 12 + (int(label[6]) - 1) * 3
    return (first, first + 1, first + 2)


_Figures = dict[tuple[str, str], dict[str, tuple[float, str]]]


def monthly_figures(rows: Iterable[Mapping[str, Any]]) -> _Figures:
    """``{(id, metric): {month: (value, source)}}`` from per-dataset rows ``{id, dataset, metric, period,
    value}``, ``source`` naming whose figure it is (``<dataset>:<metric>``).

    Per enterprise, metric and month the dataset reporting the most wins (two departments' reports of
    the same kWh are one figure, not a doubled one, as the chain aggregates do; of equal ones, the
    first source by name). A quarter's figure is spread evenly over its months when no dataset reports
    those months for the enterprise (small taxpayers file quarterly); yearly figures are not used."""
    months: dict[tuple[str, str], dict[int, tuple[float, str]]] = {}
    quarters: dict[tuple[str, str], dict[tuple[int, ...], tuple[float, str]]] = {}
    for row in rows:
        if row["value"] is None:
            continue
        key, period = (row["id"], row["metric"]), str(row["period"])
        # the largest value wins, then the first source: -value sorts it first
        figure = (float(row["value"]), source_label(row["dataset"], row["metric"]))
        if (m := month_number(period)) is not None:
            best = months.setdefault(key, {})
            best[m] = min(best.get(m, figure), figure, key=_rank)
        elif q := _quarter(period):
            best_q = quarters.setdefault(key, {})
            best_q[q] = min(best_q.get(q, figure), figure, key=_rank)
    for key, by_quarter in quarters.items():
        target = months.setdefault(key, {})
        for q, (value, source) in by_quarter.items():
            if not any(m in target for m in q):
                target.update(dict.fromkeys(q, (value / 3, source)))
    return {key: {month_label(m): v for m, v in sorted(by.items())} for key, by in months.items()}


def _rank(figure: tuple[float, str]) -> tuple[float, str]:
    return -figure[0], figure[1]


def collect_facts(
    store: GraphStore,
    sources: Sequence[MetricSource],
    meter_last_seen: Mapping[str, int],
    meter_owners: Mapping[str, str],
) -> Facts:
    """Every live enterprise's monthly electricity and tax (from every dataset declaring those metrics,
    meter telemetry's ``electricity_kwh`` included), its town and industry, and the meters' last
    readings. ``sources`` is ``rollup.metric_sources(catalog)``; other metrics are ignored."""
    wanted = [s for s in sources if s.metric in (ELECTRICITY, TAX)]
    figures = monthly_figures(metric_queries.city_series(store, wanted))
    ids = sorted({i for i, _ in figures} | set(meter_owners.values()))
    facts = Facts(meter_last_seen=dict(meter_last_seen), meter_owners=dict(meter_owners))
    for row in warning_queries.enterprise_profiles(store, ids):
        facts.enterprises[row["id"]] = EnterpriseFacts(
            row["id"], row["name"], row["town"], _text(row["industry"])
        )
    # golden gaps: the town or industry code most of the enterprise's own records state
    gaps = [e.id for e in facts.enterprises.values() if e.town is None or e.industry is None]
    stated: dict[tuple[str, str], Counter[str]] = {}
    for row in warning_queries.record_classifications(store, gaps):
        stated.setdefault((row["id"], row["relation"]), Counter())[str(row["value"])] += row["records"]
    for i in gaps:
        e = facts.enterprises[i]
        e.town = e.town or _most(stated.get((i, "IN_TOWN")))
        e.industry = e.industry or _most(stated.get((i, "IN_INDUSTRY")))
    for (i, metric), by_month in figures.items():
        if (e := facts.enterprises.get(i)) is not None:
            setattr(
                e, "electricity" if metric == ELECTRICITY else "tax", {m: v for m, (v, _) in by_month.items()}
            )
            e.sources[metric] = {m: source for m, (_, source) in by_month.items()}
    return facts


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _most(counts: Counter[str] | None) -> str | None:
    # ties go to the smaller value, so the choice does not depend on row order
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else None


# --- evaluation -------------------------------------------------------------------------------------


def _as_of_month(as_of_ms: int) -> int:
    moment = dt.datetime.fromtimestamp(as_of_ms / 1000, CST)
    return moment.year * 12 + moment.month - 1


def evaluate_city(
    store: GraphStore, reader: SeriesReader, catalog: Catalog, rules: WarningRules, as_of_ms: int
) -> dict[str, int]:
    """Judge the whole city as of ``as_of_ms`` and store the findings (``warning_queries``): the
    number of findings and how many warnings were opened, refreshed or kept resolved. Rerunnable:
    findings have stable ids, so a rerun refreshes rather than doubles."""
    store.ensure_schema(warning_queries.WARNING_SCHEMA)
    meter_owners = exclusive_owners(store)
    last_seen = reader.last_seen(sorted(meter_owners))
    facts = collect_facts(store, metric_sources(catalog), last_seen, meter_owners)
    findings = evaluate(facts, rules, as_of_ms)
    return {"findings": len(findings), **store_findings(store, findings, as_of_ms)}


def evaluate(facts: Facts, rules: WarningRules, as_of_ms: int) -> list[Finding]:
    """The findings of every enabled rule, as of ``as_of_ms``, sorted by id."""
    last = _as_of_month(as_of_ms) - 1  # the last complete month
    first = last - rules.lookback_months + 1
    found: list[Finding] = []
    enterprises = [facts.enterprises[i] for i in sorted(facts.enterprises)]
    if rules.tax_per_kwh_low.enabled:
        found += _tax_per_kwh_low(enterprises, rules.tax_per_kwh_low, last)
    for e in enterprises:
        months = {m: v for label, v in e.electricity.items() if (m := month_number(label)) is not None}
        if rules.zero_consumption.enabled:
            found += _zero_consumption(e, months, rules.zero_consumption, first, last)
        if rules.sudden_drop.enabled:
            found += _sudden_drop(e, months, rules.sudden_drop, first, last)
    if rules.meter_silent.enabled:
        found += _meter_silent(facts, rules.meter_silent, as_of_ms)
    return sorted(found, key=lambda f: f.id)


def _percentile(ordered: Sequence[float], p: float, without: int) -> float:
    """Linear interpolation between closest ranks (numpy's default) over an ascending list, as if the
    item at index ``without`` (the enterprise itself) were not in it: no copy per enterprise."""
    n = len(ordered) - 1

    def at(k: int) -> float:
        return ordered[k if k < without else k + 1]

    pos = (n - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return at(lo) + (at(hi) - at(lo)) * (pos - lo)


def _industry_keys(code: str | None) -> tuple[str | None, str | None]:
    """(class, division) of a GB/T 4754 code, the section letter dropped so 'C1951' and '1951' agree
    (division numbers are unique across sections); a bare section has neither."""
    digits = (code or "").strip().lstrip("ABCDEFGHIJKLMNOPQRST").strip()
    if len(digits) < 2 or not digits.isdigit():
        return None, None
    return digits, digits[:2]


def _peer_groups(code: str | None) -> list[str]:
    """The groups an enterprise is compared within, narrowest first."""
    cls, division = _industry_keys(code)
    return ([f"industry:{cls}", f"division:{division}"] if cls and division else []) + ["city"]


def _tax_per_kwh_low(enterprises: Sequence[EnterpriseFacts], rule: TaxPerKwhLow, last: int) -> list[Finding]:
    window = [month_label(m) for m in range(last - rule.window_months + 1, last + 1)]
    usage: dict[str, tuple[float, float, float]] = {}  # id -> (kWh, tax, tax per kWh)
    for e in enterprises:
        kwh = sum(e.electricity.get(m, 0.0) for m in window)
        if kwh > rule.min_kwh:
            tax = sum(e.tax.get(m, 0.0) for m in window)
            usage[e.id] = (kwh, tax, tax / kwh)
    by_id = {e.id: e for e in enterprises}
    groups: dict[str, list[float]] = {}  # 'industry:1951' / 'division:19' / 'city' -> ratios
    # where each group's figures came from: its members' kWh and tax over the window
    sources: dict[str, set[str]] = {}
    for i, (_, _, ratio) in usage.items():
        own = by_id[i].sources_of(window, (ELECTRICITY, TAX))
        for key in _peer_groups(by_id[i].industry):
            groups.setdefault(key, []).append(ratio)
            sources.setdefault(key, set()).update(own)
    for ratios in groups.values():
        ratios.sort()
    found = []
    for i, (kwh, tax, ratio) in usage.items():
        for key in _peer_groups(by_id[i].industry):
            if len(groups[key]) - 1 >= rule.min_peers:  # peers exclude the enterprise itself
                break
        else:
            continue  # too few comparable enterprises in the whole city to judge
        ordered = groups[key]
        me = bisect.bisect_left(ordered, ratio)  # any copy of an equal ratio stands for it
        peers = len(ordered) - 1
        median, low = _percentile(ordered, 50, me), _percentile(ordered, rule.percentile, me)
        if not (ratio < low and ratio < rule.fraction_of_median * median):
            continue
        e = by_id[i]
        period = f"{window[-1][:4]}-Q{(int(window[-1][5:]) - 1) // 3 + 1}"
        figures = {"ratio": ratio, "peers": peers, "low": low, "median": median}
        render = functools.partial(_tax_per_kwh_text, name=e.name or i, key=key, rule=rule, **figures)
        found.append(
            Finding(
                id=f"tax_per_kwh_low:{i}:{period}",
                rule="tax_per_kwh_low",
                severity=rule.severity,
                period=period,
                enterprise_id=i,
                town=e.town,
                # its own figures and its peers', every one of which moves the percentile and median
                figure_sources=tuple(sorted(sources[key])),
                figures=TAX_PER_KWH_FIGURES,
                **_messages(render),
                evidence={
                    "ratio": ratio,
                    "kwh": kwh,
                    "tax": tax,
                    "window": [window[0], window[-1]],
                    "tax_months_reported": sum(m in e.tax for m in window),
                    "peer_group": key,
                    "peers": peers,
                    "median": median,
                    "percentile": rule.percentile,
                    "percentile_value": low,
                },
            )
        )
    return found


def _tax_per_kwh_text(
    fig: Figure, name: str, key: str, rule: TaxPerKwhLow, ratio: float, peers: int, low: float, median: float
) -> tuple[str, str]:
    return (
        f"{name}近{rule.window_months}个月单位电耗税收{fig(ratio, '.4g')}元/千瓦时，"
        f"低于同行业（{key}，{fig(peers, 'd')}家）第{rule.percentile:g}百分位{fig(low, '.4g')}"
        f"且不足中位数{fig(median, '.4g')}的{rule.fraction_of_median:.0%}：用电量与纳税不匹配",
        f"{name}: tax per kWh over the last {rule.window_months} months is {fig(ratio, '.4g')} "
        f"yuan, below its peers' ({key}, {fig(peers, 'd')} enterprises) {rule.percentile:g}th "
        f"percentile {fig(low, '.4g')} and under {rule.fraction_of_median:.0%} of their median "
        f"{fig(median, '.4g')}: electricity without matching taxes",
    )


def _zero_consumption(
    e: EnterpriseFacts, months: Mapping[int, float], rule: ZeroConsumption, first: int, last: int
) -> list[Finding]:
    found = []
    ordered = sorted(m for m in months if m <= last)
    run: list[int] = []
    for index, m in enumerate([*ordered, None]):  # a None sentinel closes the last run
        if m is not None and months[m] == 0 and (not run or run[-1] == m - 1):
            run.append(m)
            continue
        # a run ends: a month without a report breaks it too (unknown is not zero)
        if len(run) >= rule.months and run[-1] >= first:
            before = [p for p in ordered[: index - len(run)] if months[p] > 0]
            if before:
                found.append(_zero_finding(e, rule, run, before[-1], months[before[-1]]))
        run = [m] if m is not None and months[m] == 0 else []
    return found


def _zero_finding(
    e: EnterpriseFacts, rule: ZeroConsumption, run: list[int], used: int, kwh: float
) -> Finding:
    # the period is the run's first month: one warning per shutdown, however long it lasts
    start, end = month_label(run[0]), month_label(run[-1])

    def render(fig: Figure) -> tuple[str, str]:
        name, months = e.name or e.id, fig(len(run), "d")
        return (
            f"{name}自{start}起连续{months}个月用电量为零（零度户），疑似停产",
            f"{name}: zero electricity for {months} months since {start}, suspected shutdown",
        )

    return Finding(
        id=f"zero_consumption:{e.id}:{start}",
        rule="zero_consumption",
        severity=rule.severity,
        period=start,
        enterprise_id=e.id,
        town=e.town,
        figure_sources=tuple(sorted(e.sources_of([*map(month_label, run), month_label(used)]))),
        figures=ZERO_FIGURES,
        **_messages(render),
        evidence={
            "start": start,
            "end": end,
            "months": len(run),
            "last_consumption_month": month_label(used),
            "last_consumption_kwh": kwh,
        },
    )


def _drop(months: Mapping[int, float], m: int, rule: SuddenDrop) -> float | None:
    """The baseline mean when month ``m`` is a drop against it, else None."""
    base = [months.get(b) for b in range(m - rule.baseline_months, m)]
    if m not in months or any(v is None for v in base):
        return None  # a gap in the baseline or the month: nothing to compare
    mean = sum(v for v in base if v is not None) / len(base)
    return mean if mean > rule.min_kwh and months[m] < rule.fraction * mean else None


def _sudden_drop(
    e: EnterpriseFacts, months: Mapping[int, float], rule: SuddenDrop, first: int, last: int
) -> list[Finding]:
    found = []
    for m in range(first, last + 1):
        mean = _drop(months, m, rule)
        # only the first month of a drop: a low month after a drop still sits under a baseline that
        # includes the months before it, and one episode is one warning (zero_consumption takes a
        # lasting stop)
        if mean is None or _drop(months, m - 1, rule) is not None:
            continue
        value = months[m]
        label = month_label(m)
        render = functools.partial(
            _drop_text, name=e.name or e.id, label=label, months=rule.baseline_months, value=value, mean=mean
        )
        judged = [
            month_label(b) for b in range(m - rule.baseline_months, m + 1)
        ]  # the baseline and the month
        found.append(
            Finding(
                id=f"sudden_drop:{e.id}:{label}",
                rule="sudden_drop",
                severity=rule.severity,
                period=label,
                enterprise_id=e.id,
                town=e.town,
                figure_sources=tuple(sorted(e.sources_of(judged))),
                figures=DROP_FIGURES,
                **_messages(render),
                evidence={
                    "kwh": value,
                    "baseline_mean": mean,
                    "baseline": [month_label(b) for b in range(m - rule.baseline_months, m)],
                    "ratio": value / mean,
                },
            )
        )
    return found


def _drop_text(fig: Figure, name: str, label: str, months: int, value: float, mean: float) -> tuple[str, str]:
    kwh, base, share = fig(value, ",.0f"), fig(mean, ",.0f"), fig(value / mean, ".0%")
    return (
        f"{name}{label}用电量{kwh}千瓦时，仅为前{months}个月平均{base}千瓦时的{share}，用电骤降",
        f"{name}: {kwh} kWh in {label}, {share} of the {base} kWh monthly mean of the previous "
        f"{months} months",
    )


def _meter_silent(facts: Facts, rule: MeterSilent, as_of_ms: int) -> list[Finding]:
    found = []
    for meter in sorted(facts.meter_last_seen):
        seen = facts.meter_last_seen[meter]
        hours = (as_of_ms - seen) / 3_600_000
        if hours <= rule.hours:
            continue
        # the period is the day of the last reading: the same silence stays one warning; a meter that
        # came back and fell silent again is a new one
        day = dt.datetime.fromtimestamp(seen / 1000, CST)
        owner = facts.meter_owners.get(meter)
        e = facts.enterprises.get(owner) if owner else None
        who = f"（{e.name or owner}）" if e else (f"（{owner}）" if owner else "")
        found.append(
            Finding(
                id=f"meter_silent:{meter}:{day:%Y-%m-%d}",
                rule="meter_silent",
                severity=rule.severity,
                period=f"{day:%Y-%m-%d}",
                enterprise_id=owner,
                meter_id=meter,
                town=e.town if e else None,
                message_zh=f"电表{meter}{who}已{hours:.0f}小时未上报读数（最后一次{day:%Y-%m-%d %H:%M}）",
                message_en=(
                    f"meter {meter}{' of ' + owner if owner else ''} has not reported for {hours:.0f} hours "
                    f"(last reading {day:%Y-%m-%d %H:%M} CST)"
                ),
                evidence={
                    "last_seen_ms": seen,
                    "last_seen": day.isoformat(),
                    "hours_silent": round(hours, 1),
                },
            )
        )
    return found

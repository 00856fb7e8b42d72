"""The towns' cross-checks (核实比对, seed 001): which enterprises and meters a town must verify, and why.

Each month a town verifies what the departments' data cannot settle by itself:

* ``unmatched``: taxpayers and industrial power users no credit code placed — a provisional enterprise
  (known by name only) with tax or power records, or a steward task over such records;
* ``tax_without_registration``: an enterprise known to tax and not to business registration (工商);
* ``power_without_registration``: a power user (an electricity record or meter) with no registration;
* ``power_without_tax``: a power user with no tax record;
* ``meter_many`` (一户多表): an enterprise with several electricity meters;
* ``meter_shared`` (多户一表): a meter several enterprises share;
* ``meter_name_differs`` (户表不符, the seed's 不同表): a meter whose feed rows name another enterprise
  than the one it measures.

Which feeds count as registration, tax or power is the catalog's record label (``EVIDENCE_LABELS``), so
a new city's feed joins by declaring one. :func:`compute` is a pure function of what the graph read
gives it (``graph/town_check_queries.py``); ``verification.py`` stores the items and the verdicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.identity.chinese_names import parse_name

CHECKS: tuple[str, ...] = (
    "unmatched",
    "tax_without_registration",
    "power_without_registration",
    "power_without_tax",
    "meter_many",
    "meter_shared",
    "meter_name_differs",
)
EVIDENCE_LABELS: dict[str, frozenset[str]] = {
    "registration": frozenset({"EnterpriseRegistration", "IndividualBusinessRegistration"}),
    "tax": frozenset(
        {
            "TaxRegistration",
            "GeneralTaxpayerRegistration",
            "TaxDeclaration",
            "TaxReceipt",
            "TaxRevenueReport",
            "TaxAdjustment",
            "CrossRegionTaxReport",
        }
    ),
    "power": frozenset({"ElectricityUsage"}),
}


@dataclass(frozen=True)
class CheckItem:
    """One thing a town must verify: ``key`` (``check:<check>:<subject>``) is stable across months, so
    a verdict on it stands until undone."""

    check: str
    subject: str  # an enterprise id, a meter key or a steward task id
    town: str | None
    name: str
    enterprise: str | None = None
    credit_code: str | None = None
    evidence: tuple[str, ...] = ()  # datasets, meters or enterprises that raise it
    since: str | None = None  # the earliest period of its evidence
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"check:{self.check}:{self.subject}"


def evidence_datasets(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """For registration, tax and power: the catalog's datasets that are such evidence."""
    return {
        kind: tuple(sorted(f.spec.key for f in catalog if f.spec.record_label in labels))
        for kind, labels in EVIDENCE_LABELS.items()
    }


def enterprise_checks(
    rows: Iterable[Mapping[str, Any]], kinds: Mapping[str, Sequence[str]], metered: set[str]
) -> list[CheckItem]:
    """Items from each enterprise's evidence (``town_check_queries.enterprise_evidence`` rows);
    ``metered``: enterprises an electricity meter measures (power users without a power feed)."""
    kind_of = {dataset: kind for kind, datasets in kinds.items() for dataset in datasets}
    items = []
    for row in rows:
        seen = defaultdict(list)
        for dataset in row["datasets"]:
            seen[kind_of.get(dataset, "")].append(dataset)
        power = bool(seen["power"]) or row["id"] in metered
        base = {
            "subject": row["id"],
            "town": row.get("town"),
            "name": row.get("name") or row["id"],
            "enterprise": row["id"],
            "credit_code": row.get("credit_code"),
            "since": row.get("since"),
        }
        evidence = tuple(sorted(row["datasets"])) + (("meter",) if row["id"] in metered else ())
        if row.get("provisional") and (seen["tax"] or power):
            items.append(CheckItem("unmatched", evidence=evidence, **base))
            continue  # a name-only enterprise has no registration by definition: one item says it
        if seen["tax"] and not seen["registration"]:
            items.append(CheckItem("tax_without_registration", evidence=evidence, **base))
        if power and not seen["registration"]:
            items.append(CheckItem("power_without_registration", evidence=evidence, **base))
        if power and not seen["tax"]:
            items.append(CheckItem("power_without_tax", evidence=evidence, **base))
    return items


def task_checks(tasks: Iterable[Mapping[str, Any]], kinds: Mapping[str, Sequence[str]]) -> list[CheckItem]:
    """Open steward tasks over tax or power records: records no code placed, awaiting a decision."""
    wanted = set(kinds.get("tax", ())) | set(kinds.get("power", ()))
    return [
        CheckItem(
            "unmatched",
            subject=task["id"],
            town=task.get("town"),
            name=task.get("name") or task["id"],
            evidence=tuple(sorted(set(task.get("datasets") or ()) & wanted)),
            extra={"task": task["id"], "records": int(task.get("impact") or 0)},
        )
        for task in tasks
        if wanted & set(task.get("datasets") or ())
    ]


def meter_checks(links: Iterable[Mapping[str, Any]], feed_names: Mapping[str, set[str]]) -> list[CheckItem]:
    """Items from the electricity meters' links (``town_check_queries.electricity_meters`` rows) and
    the names their feed rows gave them (meter key -> names)."""
    by_meter: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_enterprise: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for link in links:
        by_meter[link["key"]].append(link)
        by_enterprise[link["enterprise"]].append(link)
    items = []
    for enterprise, meters in sorted(by_enterprise.items()):
        if len({m["key"] for m in meters}) > 1:
            first = meters[0]
            items.append(
                CheckItem(
                    "meter_many",
                    subject=enterprise,
                    town=first.get("town"),
                    name=first.get("name") or "",
                    enterprise=enterprise,
                    evidence=tuple(sorted(str(m["meter"]) for m in meters)),
                )
            )
    for key, owners in sorted(by_meter.items()):
        meter = str(owners[0]["meter"])
        names = tuple(sorted(o.get("name") or o["enterprise"] for o in owners))
        if len(owners) > 1:
            for owner in owners:  # every town involved verifies it
                items.append(
                    CheckItem(
                        "meter_shared",
                        subject=f"{key}@{owner['enterprise']}",
                        town=owner.get("town"),
                        name=meter,
                        enterprise=owner["enterprise"],
                        evidence=names,
                        extra={"meter": key},
                    )
                )
        elif _named_otherwise(owners[0], feed_names.get(key, set())):
            owner = owners[0]
            items.append(
                CheckItem(
                    "meter_name_differs",
                    subject=key,
                    town=owner.get("town"),
                    name=meter,
                    enterprise=owner["enterprise"],
                    evidence=tuple(sorted(feed_names[key])),
                    extra={"meter": key, "measures": owner.get("name")},
                )
            )
    return items


def _named_otherwise(owner: Mapping[str, Any], fed: set[str]) -> bool:
    """Whether the feed rows name the meter's holder otherwise than every name the enterprise has."""
    if not fed:
        return False
    known = {*(owner.get("names") or ()), _normalised(owner.get("name"))}
    return all(_normalised(name) not in known for name in fed)


def _normalised(name: str | None) -> str:
    parts = parse_name(name)
    return parts.normalised if parts else ""

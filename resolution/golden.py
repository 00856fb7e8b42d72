"""Golden records: which value of each field an enterprise shows, and the record it came from.

Survivorship per field: the source with the best priority wins (market regulation over tax over
every other department, configurable), and among equals the most recent record (its reporting period,
then its load time). One rule, ``better``, serves both the incremental update of a resolution run and
the full recompute after a steward changes an enterprise's records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from entgraph.resolution.mentions import Mention

# Fields an enterprise's golden record shows, in display order.
GOLDEN_FIELDS = (
    "name",
    "legal_rep",
    "phone",
    "address",
    "town",
    "industry_code",
    "industry_name",
    "entity_type",
    "registered_capital",
    "established",
    "status",
    "business_scope",
    "park",
)

# Market regulation registers enterprises; tax knows them next best; every other feed copies.
DEFAULT_SOURCE_PRIORITY: tuple[str, ...] = ("市场监", "税务")


@dataclass(frozen=True, slots=True)
class Source:
    record_id: str
    dataset: str
    priority: int  # lower is better
    recency: str  # period, then load time: compared as text (ISO forms sort)

    def as_list(self) -> list[Any]:
        return [self.record_id, self.dataset, self.priority, self.recency]


def priority_of(department: str, order: Sequence[str] = DEFAULT_SOURCE_PRIORITY) -> int:
    for rank, marker in enumerate(order):
        if marker in department:
            return rank
    return len(order)


def source_of(mention: Mention, period: str | None, order: Sequence[str] = DEFAULT_SOURCE_PRIORITY) -> Source:
    return Source(
        mention.record_id,
        mention.dataset,
        priority_of(mention.department, order),
        f"{period or ''}|{mention.loaded_at}",
    )


def better(candidate: Source, current: Source | None) -> bool:
    """Does ``candidate`` beat ``current`` for a field? Priority first, then recency; ties keep current."""
    if current is None:
        return True
    if candidate.priority != current.priority:
        return candidate.priority < current.priority
    return candidate.recency > current.recency


class GoldenRecord:
    """An enterprise's chosen field values with their sources, updated one mention at a time."""

    def __init__(self, values: Mapping[str, Any] | None = None, sources: Mapping[str, Source] | None = None):
        self.values: dict[str, Any] = dict(values or {})
        self.sources: dict[str, Source] = dict(sources or {})
        self.former_names: set[str] = set()

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> GoldenRecord:
        raw = json.loads(props.get("golden_sources") or "{}")
        sources = {name: Source(*value) for name, value in raw.items()}
        golden = cls({name: props[name] for name in sources if name in props}, sources)
        golden.former_names = set(props.get("former_names") or [])
        return golden

    def offer(self, mention: Mention, source: Source) -> bool:
        """Consider a mention's values; True when some field changed."""
        changed = False
        for name in GOLDEN_FIELDS:
            value = mention.attributes.get(name)
            if value in (None, ""):
                continue
            if better(source, self.sources.get(name)):
                changed |= self.values.get(name) != value
                self.values[name] = value
                self.sources[name] = source
        former = mention.attributes.get("former_name")
        if former and former not in self.former_names:
            self.former_names.add(str(former))
            changed = True
        return changed

    def props(self) -> dict[str, Any]:
        """Enterprise node properties: the values, former names, and the sources as JSON."""
        current = self.values.get("name")
        former = sorted(n for n in self.former_names if n != current)
        return {
            **{name: self.values.get(name) for name in GOLDEN_FIELDS},
            "former_names": former,
            "golden_sources": json.dumps(
                {name: src.as_list() for name, src in sorted(self.sources.items())}, ensure_ascii=False
            ),
        }


def recompute(mentions: Iterable[tuple[Mention, str | None]], order: Sequence[str] = DEFAULT_SOURCE_PRIORITY):
    """A golden record from scratch, from (mention, period) pairs."""
    golden = GoldenRecord()
    for mention, period in mentions:
        golden.offer(mention, source_of(mention, period, order))
    return golden

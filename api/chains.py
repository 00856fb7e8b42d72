"""Industry chains (产业链) over GraphQL: ``industryChains`` and ``industryChain(name)``.

``Enterprise.chainNeighbours`` is ``api/enterprise.py``'s.

A chain has three segments in supply order, 上游 → 中游 → 下游; the chain feed states, per year, which
enterprise sits in which segment. From that the API answers who is in each segment in a year, how the
segments connect, which enterprises are an enterprise's likely suppliers (the segment upstream of its
own), customers (downstream) and peers (its own segment), and chain aggregates — enterprises, tax,
electricity and output value by segment and town — from the figures departments report
(``api/metrics.py``). Cypher is in ``graph/chain_queries.py``; segment pages go through one DataLoader,
so the neighbours of a page of enterprises cost one read.

Memberships count as records of datasets the caller may see state them, and aggregates group by the
golden town as the caller may see it (``api/visibility.py``): a town stated by a column hidden from the
caller is an unknown town (null), never a group of its own.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from enum import StrEnum
from typing import Any

import strawberry
from strawberry.types import Info

from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.api.context import Context
from entgraph.api.dataloaders import node_loader, segment_loader
from entgraph.api.enterprise import POSITIONS, Enterprise, position_order
from entgraph.api.enterprise_listing import EnterpriseEdge, decode_cursor, encode_cursor
from entgraph.api.limits import DEFAULT_LIST_SIZE
from entgraph.api.metrics import visible_sources
from entgraph.api.pagination import PageInfo, check_first
from entgraph.api.visibility import may_see_fact, visibility
from entgraph.catalog.spec import Role as ColumnRole
from entgraph.graph import chain_queries, metric_queries
from entgraph.graph.enterprise_queries import FACT_RELATIONS

# The figures chain aggregates add up, by GraphQL field.
AGGREGATE_METRICS = {"tax": "tax", "electricity_kwh": "electricity_kwh", "output_value": "output_value"}


@strawberry.enum(description="How chain aggregates are grouped.")
class ChainGrouping(StrEnum):
    SEGMENT = "segment"
    TOWN = "town"
    SEGMENT_AND_TOWN = "segment_and_town"


def _counts_loader(info: Info[Context, None]) -> Any:
    """Chain key -> ``{(year, position): enterprises}``; position ``None``: the year's distinct total."""
    context = info.context

    async def load(chains: list[str]) -> list[dict[tuple[int, str | None], int]]:
        rows = await context.in_thread(
            chain_queries.segment_counts, context.store, chains, visibility(context)
        )
        found: dict[str, dict[tuple[int, str | None], int]] = defaultdict(dict)
        for row in rows:
            if row["year"] is not None:
                found[row["chain"]][(int(row["year"]), row["position"])] = row["enterprises"]
        return [found.get(c, {}) for c in chains]

    return context.loader("chain.counts", load)


@strawberry.type(description="A page of a segment's enterprises in id order (relay-style).")
class ChainEnterpriseConnection:
    edges: list[EnterpriseEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One segment of a chain in one year.")
class ChainSegment:
    chain: strawberry.Private[str]
    position: str = strawberry.field(description="上游 / 中游 / 下游")
    year: int
    enterprise_count: int

    @strawberry.field(description="The segment's enterprises, in id order.")
    async def enterprises(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ChainEnterpriseConnection:
        first = check_first(first)
        after_id = decode_cursor(after) if after else ""
        ids = await segment_loader(info).load((self.chain, self.year, self.position, after_id, first + 1))
        nodes = await node_loader(info).load_many(ids[:first])
        edges = [EnterpriseEdge(cursor=encode_cursor(n["id"]), node=Enterprise(props=n)) for n in nodes if n]
        return ChainEnterpriseConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(ids) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=self.enterprise_count,
        )


@strawberry.type(description="Supply runs from one segment to the next: 上游 → 中游 → 下游.")
class SegmentLink:
    source: str = strawberry.field(name="from", description="The supplying segment.")
    target: str = strawberry.field(name="to", description="The segment it supplies.")
    year: int
    from_enterprises: int
    to_enterprises: int


@strawberry.type(description="Enterprises and their figures in one group of a chain in one year.")
class ChainAggregate:
    position: str | None = strawberry.field(description="The segment, when grouped by segment.")
    town: str | None = strawberry.field(description="The town, when grouped by town.")
    enterprises: int
    tax: float | None = strawberry.field(description="元; null when the caller may not see tax figures.")
    electricity_kwh: float | None
    output_value: float | None = strawberry.field(description="元")


@strawberry.type(description="An industry chain (产业链) and its segments.")
class IndustryChain:
    key: strawberry.Private[str]
    name: str

    async def _counts(self, info: Info[Context, None]) -> dict[tuple[int, str | None], int]:
        return await _counts_loader(info).load(self.key)

    @strawberry.field(description="Years the chain feed has rows for, oldest first.")
    async def years(self, info: Info[Context, None]) -> list[int]:
        return sorted({year for year, _ in await self._counts(info)})

    async def _year(self, info: Info[Context, None], year: int | None) -> int | None:
        years = await self.years(info)
        if year is None:
            return years[-1] if years else None
        return year

    @strawberry.field(description="Distinct enterprises in the chain in a year (default: the latest).")
    async def enterprise_count(self, info: Info[Context, None], year: int | None = None) -> int:
        chosen = await self._year(info, year)
        return (await self._counts(info)).get((chosen, None), 0) if chosen is not None else 0

    @strawberry.field(description="Segments in supply order, in a year (default: the latest).")
    async def segments(self, info: Info[Context, None], year: int | None = None) -> list[ChainSegment]:
        chosen = await self._year(info, year)
        counts = await self._counts(info)
        return sorted(
            (
                ChainSegment(chain=self.key, position=position, year=y, enterprise_count=n)
                for (y, position), n in counts.items()
                if y == chosen and position is not None
            ),
            key=lambda s: position_order(s.position),
        )

    @strawberry.field(
        description="One segment by position (上游 / 中游 / 下游) in a year (default: the latest); null when "
        "the chain has no such segment that year. For paging one segment's enterprises."
    )
    async def segment(
        self, info: Info[Context, None], position: str, year: int | None = None
    ) -> ChainSegment | None:
        found = [s for s in await self.segments(info, year) if s.position == position]
        return found[0] if found else None

    @strawberry.field(description="Every year's segments, oldest year first: how the chain changed.")
    async def history(self, info: Info[Context, None]) -> list[ChainSegment]:
        counts = await self._counts(info)
        return sorted(
            (
                ChainSegment(chain=self.key, position=p, year=y, enterprise_count=n)
                for (y, p), n in counts.items()
                if p is not None
            ),
            key=lambda s: (s.year, position_order(s.position)),
        )

    @strawberry.field(description="Links between consecutive segments present in a year (default: latest).")
    async def links(self, info: Info[Context, None], year: int | None = None) -> list[SegmentLink]:
        present = await self.segments(info, year)
        known = [s for s in present if s.position in POSITIONS]
        return [
            SegmentLink(
                source=a.position,
                target=b.position,
                year=a.year,
                from_enterprises=a.enterprise_count,
                to_enterprises=b.enterprise_count,
            )
            for a, b in itertools.pairwise(known)
        ]

    @strawberry.field(
        description="Enterprises, tax, electricity and output value of the chain's enterprises in a year "
        "(default: the latest), grouped by segment, town or both. Each enterprise's figure is the "
        "year's total from the dataset reporting the most for it, so two departments' reports of the "
        "same tax are not added twice. An enterprise in two segments counts in both."
    )
    async def aggregates(
        self, info: Info[Context, None], year: int | None = None, by: ChainGrouping = ChainGrouping.SEGMENT
    ) -> list[ChainAggregate]:
        chosen = await self._year(info, year)
        if chosen is None:
            return []
        context = info.context
        # Members the caller may see, each with the golden town it may see (else an unknown town).
        members = await context.in_thread(
            chain_queries.members, context.store, self.key, chosen, visibility(context)
        )
        visible = [s for s in visible_sources(context) if s.metric in AGGREGATE_METRICS.values()]
        ids = sorted({m["id"] for m in members})
        totals = await context.in_thread(metric_queries.yearly_totals, context.store, ids, visible, chosen)
        per_enterprise: dict[tuple[str, str], float] = {}
        for row in totals:
            key = (row["id"], row["metric"])
            per_enterprise[key] = max(per_enterprise.get(key, float("-inf")), float(row["value"]))
        shown = {s.metric for s in visible}
        groups: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        for m in members:
            position = m["position"] if by is not ChainGrouping.TOWN else None
            town = m["town"] if by is not ChainGrouping.SEGMENT else None
            group = groups.setdefault((position, town), {"ids": set(), **dict.fromkeys(AGGREGATE_METRICS)})
            if m["id"] in group["ids"]:
                continue
            group["ids"].add(m["id"])
            for field, metric in AGGREGATE_METRICS.items():
                value = per_enterprise.get((m["id"], metric))
                if metric in shown:
                    group[field] = (group[field] or 0.0) + (value or 0.0)
        return [
            ChainAggregate(
                position=position,
                town=town,
                enterprises=len(g["ids"]),
                tax=g["tax"],
                electricity_kwh=g["electricity_kwh"],
                output_value=g["output_value"],
            )
            for (position, town), g in sorted(
                groups.items(), key=lambda item: (position_order(item[0][0] or ""), item[0][1] or "")
            )
        ]


def _chain_cleared(info: Info[Context, None]) -> None:
    """Chain membership is what the chain feeds state: a role that may see none of them is refused
    (the city's chain register is 有条件使用, so the public is), as credit events are for credit data."""
    context = info.context
    feeds = [
        f.spec.key
        for f in context.catalog
        if any(c.role is ColumnRole.INDUSTRY_CHAIN for c in f.spec.columns)
    ]
    if not any(may_see_fact(context, key, FACT_RELATIONS["chains"]) for key in feeds):
        raise Forbidden(
            "industry chain data is not available to this role", role=context.principal.role.value
        )


def _chains(context: Context) -> list[dict[str, Any]]:
    """The chains the caller may know of: those a record it may see states (``chain_queries``)."""
    return chain_queries.chains(context.store, visibility(context))


@strawberry.type
class ChainQuery:
    @strawberry.field(
        description="The first industry chains by name (at most 100). FORBIDDEN for roles that may see no "
        "chain feed (public)."
    )
    async def industry_chains(self, info: Info[Context, None], first: int = 20) -> list[IndustryChain]:
        _chain_cleared(info)
        if not 1 <= first <= DEFAULT_LIST_SIZE:
            raise BadInput(f"first must be between 1 and {DEFAULT_LIST_SIZE}", argument="first")
        rows = await info.context.in_thread(_chains, info.context)
        return [IndustryChain(key=r["key"], name=r["name"]) for r in rows[:first]]

    @strawberry.field(
        description="One industry chain by name (产业链名称). FORBIDDEN for roles that may see no chain feed."
    )
    async def industry_chain(self, info: Info[Context, None], name: str) -> IndustryChain:
        _chain_cleared(info)
        if not name.strip():
            raise BadInput("name must not be empty", argument="name")
        rows = await info.context.in_thread(_chains, info.context)
        for row in rows:
            if row["key"] == name.strip() or row["name"] == name.strip():
                return IndustryChain(key=row["key"], name=row["name"])
        raise NotFound(f"no industry chain named {name}")

"""The enterprise panorama: the ``Enterprise`` type and everything an enterprise links to.

The root fields that find and list enterprises are ``api/enterprise_listing.py``; the chains' own
fields (``industryChain``) are ``api/chains.py``; both build on this module, which imports neither.
Every list or neighbour of an enterprise is read through a per-request DataLoader keyed by enterprise id
(``api/dataloaders.py``, one ``UNWIND $ids`` statement per loader), so a panorama costs the same
few store round trips whether the enterprise has two records or two thousand, and a page of 20
enterprises costs the same as one.

What a caller sees follows the sharing of the datasets that state it, as facts do (a fact shows when a
record of a dataset the caller may see states it, in columns it may see in full; a property of a shared
fact node, an honour's date or a mortgage's amount, where such a record states that value:
``api/visibility.py`` ``may_see_fact``, ``graph/fact_queries.py``):

- an enterprise only records of datasets hidden from the caller are about does not exist for it: it is
  not found by id or credit code, listed, searched, counted in a facet, nor shown as anyone's relation,
  parent or branch (:func:`~entgraph.api.visibility.visibility`, tested in the statements of
  ``graph/enterprise_queries.py``);
- each golden value is seen as the catalog column that stated it (``golden_sources`` names the dataset;
  of that dataset's columns that could have, the strictest for the caller's role decides): shown,
  masked (personal data) or null. A value hidden from the caller neither matches its filter, counts in
  its facet, orders a listing nor shares a relation. When the stating dataset is unknown the value is
  for staff only, and personal fields are treated as personal, 有条件使用 data. The golden record keeps
  one source per field, so there is no visible second-best to show instead;
- an enterprise's name, former names and credit code are its identity, public by law (企业信息公示暂行条例),
  and are shown to whoever may see the enterprise, whichever record supplied them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from entgraph.api.cache_reads import note_enterprise
from entgraph.api.context import Context
from entgraph.api.dataloaders import (
    event_loader,
    fact_props_loader,
    facts_loader,
    family_loader,
    node_loader,
    parcel_props_loader,
    records_loader,
    related_loader,
    segment_loader,
)
from entgraph.api.field_checks import FieldCheck, enterprise_field_checks
from entgraph.api.masking import Decision, policy
from entgraph.api.metrics import MetricSeries, enterprise_metrics
from entgraph.api.pagination import check_first
from entgraph.api.telemetry import (
    Meter,
    MeterSeries,
    SeriesInterval,
    Warning,
    enterprise_consumption,
    enterprise_meters,
    enterprise_warnings,
)
from entgraph.api.visibility import (
    golden_sources,
    golden_value,
    may_see_fact,
    visibility,
)
from entgraph.catalog.spec import Sharing
from entgraph.graph import enterprise_queries, honour_queries
from entgraph.graph.enterprise_queries import FACT_RELATIONS
from entgraph.resolution.enterprises import kind_of
from entgraph.resolution.golden import GOLDEN_FIELDS

POSITIONS = ("上游", "中游", "下游")  # a chain's segments in supply order


def position_order(position: str) -> int:
    """A segment's place in supply order (an unknown one last)."""
    return POSITIONS.index(position) if position in POSITIONS else len(POSITIONS)


@strawberry.enum(description="Where another enterprise sits along a chain relative to this one.")
class ChainRelation(StrEnum):
    UPSTREAM = "upstream"  # the segment before this one's: likely suppliers
    DOWNSTREAM = "downstream"  # the segment after: likely customers
    PEER = "peer"  # the same segment


async def enterprises_by_id(info: Info[Context, None], ids: Sequence[str]) -> list[Enterprise]:
    """The enterprises of ``ids`` the caller may see, in order (one batched read)."""
    nodes = await node_loader(info).load_many(list(ids))
    return [Enterprise(props=node) for node in nodes if node is not None]


# --- types -----------------------------------------------------------------------------------------


@strawberry.type(description="One golden-record value and the source record it was taken from.")
class GoldenField:
    field: str = strawberry.field(description="The golden field (snake_case, e.g. legal_rep).")
    value: str | None = strawberry.field(description="As the caller may see it (masked or null).")
    source_record_id: str | None = strawberry.field(
        description="The record it was taken from; this, dataset and department are null for callers "
        "who may not see that record's dataset."
    )
    dataset: str | None
    department: str | None


@strawberry.type(description="A department row linked to an enterprise, with its provenance.")
class SourceRecord:
    id: str
    dataset: str
    department: str | None
    file_name: str | None
    sheet: str | None
    row: int | None
    loaded_at: str | None
    party: str | None = strawberry.field(description="The enterprise's party on the row (subject, ...).")
    method: str | None = strawberry.field(description="How resolution linked it (credit_code, splink, ...).")
    probability: float | None


@strawberry.type
class Town:
    name: str


@strawberry.type
class Park:
    name: str


@strawberry.type
class Industry:
    code: str | None
    name: str | None


@strawberry.type(description="Membership of an industry chain, as one year's row states it.")
class ChainMembership:
    name: str
    position: str | None = strawberry.field(description="上游 / 中游 / 下游")
    year: str | None


@strawberry.type(
    description="An honour published on the enterprise's application (POST /honours/applications)."
)
class PublishedHonour:
    title: str
    awarded_by: str = strawberry.field(description="The awarding department (city:department).")
    recognised_on: str | None
    published_at: str | None


@strawberry.type(description="An honour or recognition (高新技术企业, 专精特新, ...).")
class Honour:
    key: str
    kind: str | None
    recognised_on: str | None


@strawberry.type(description="A credit event (红名单, 失信被执行人, 行政处罚, ...). Credit data.")
class CreditEvent:
    key: str
    kind: str | None
    document_no: str | None
    authority: str | None
    decided_on: str | None
    valid_until: str | None
    reason: str | None


@strawberry.type(description="A land parcel a record of the enterprise concerns.")
class Parcel:
    key: str
    parcel_no: str | None
    location: str | None
    area: float | None = strawberry.field(description="Square metres.")
    party: str | None = strawberry.field(description="The enterprise's party on the record.")


@strawberry.enum(description="What the enterprise is to a mortgage.")
class MortgageRole(StrEnum):
    MORTGAGOR = "mortgagor"
    MORTGAGEE = "mortgagee"


@strawberry.type
class Mortgage:
    key: str
    role: MortgageRole
    amount: float | None = strawberry.field(description="Yuan.")
    registered_on: str | None
    registration_type: str | None


@strawberry.enum(description="Why two enterprises are related.")
class RelationReason(StrEnum):
    LEGAL_REP_AND_PHONE = "LEGAL_REP_AND_PHONE"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"
    PARCEL = "PARCEL"
    MORTGAGE = "MORTGAGE"


@strawberry.type
class Relation:
    enterprise: Enterprise
    reason: RelationReason


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _facts(
    context: Context, rows: list[dict[str, Any]], relation: str, subject_only: bool = True
) -> list[dict[str, Any]]:
    """The rows of ``relation`` stated by records this caller may see, in columns it may see: an
    honour from a list open to the public shows to everyone, one only a conditionally shared dataset
    states shows to staff, a park only a closed park column states to none but the admin."""
    wanted = enterprise_queries.FACT_RELATIONS[relation]
    return [
        r
        for r in rows
        if r["relation"] == wanted
        and (r["party"] == "subject" or not subject_only)
        and may_see_fact(context, r["record"].get("dataset"), wanted)
    ]


async def _as_seen(
    info: Info[Context, None], relation: str, nodes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Shared fact nodes (``relation`` honours or mortgages) with the properties the caller may see:
    as they are for a caller from whom nothing is sifted, else as records it may see state them."""
    if not visibility(info.context).sifts_facts:
        return nodes
    seen = await fact_props_loader(info, relation).load_many([n["key"] for n in nodes])
    return [props or {"key": n["key"]} for n, props in zip(nodes, seen, strict=True)]


def _distinct(items: list[Any]) -> list[Any]:
    # dataclass-like strawberry types are not hashable; their repr is a stable identity here.
    seen: dict[str, Any] = {}
    for item in items:
        seen.setdefault(repr(item), item)
    return list(seen.values())


@strawberry.type(description="A canonical enterprise: its golden record, sources and everything linked.")
class Enterprise:
    props: strawberry.Private[dict[str, Any]]
    redirected_from: str | None = strawberry.field(
        default=None, description="The merged-away id that was asked for, when it redirected here."
    )

    def __post_init__(self) -> None:
        # every enterprise an answer shows is an object made here: the response cache depends on it
        note_enterprise(self.props.get("id"))

    @strawberry.field
    def id(self) -> str:
        return self.props["id"]

    @strawberry.field
    def credit_code(self) -> str | None:
        return self.props.get("credit_code")

    @strawberry.field
    def name(self) -> str | None:
        return self.props.get("name")

    @strawberry.field(description="enterprise / individual_business / branch")
    def kind(self, info: Info[Context, None]) -> str | None:
        kind = self.props.get("kind")
        if kind == "individual_business" and golden_value(info.context, self.props, "entity_type") is None:
            # Told by an entity type the caller may not see (个体工商户)? Then as if it were not stated.
            return kind_of({**self.props, "entity_type": None})
        return kind

    @strawberry.field(description="True while the id is a provisional P-<digest> (no valid code seen).")
    def provisional(self) -> bool:
        return bool(self.props.get("provisional"))

    @strawberry.field
    def former_names(self) -> list[str]:
        return list(self.props.get("former_names") or [])

    @strawberry.field(description="The golden legal representative's name (personal data: masked by role).")
    def legal_rep(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "legal_rep")

    @strawberry.field(description="Personal data: masked by role.")
    def phone(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "phone")

    @strawberry.field
    def address(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "address")

    @strawberry.field
    def town(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "town")

    @strawberry.field
    def industry_code(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "industry_code")

    @strawberry.field
    def entity_type(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "entity_type")

    @strawberry.field
    def registered_capital(self, info: Info[Context, None]) -> float | None:
        value = golden_value(info.context, self.props, "registered_capital")
        return float(value) if isinstance(value, int | float) else None

    @strawberry.field
    def established(self, info: Info[Context, None]) -> str | None:
        return _text(golden_value(info.context, self.props, "established"))

    @strawberry.field
    def status(self, info: Info[Context, None]) -> str | None:
        return golden_value(info.context, self.props, "status")

    @strawberry.field(description="Each golden field with the record, dataset and department it came from.")
    def golden_record(self, info: Info[Context, None]) -> list[GoldenField]:
        sources = golden_sources(self.props)
        fields = []
        for field in GOLDEN_FIELDS:
            source = sources.get(field)
            if self.props.get(field) is None or not source:
                continue
            spec = info.context.spec(source[1])
            # Which record supplied it is provenance of that dataset: null where the caller may not see it.
            traced = info.context.may_see(source[1])
            fields.append(
                GoldenField(
                    field=field,
                    value=_text(golden_value(info.context, self.props, field)),
                    source_record_id=source[0] if traced else None,
                    dataset=source[1] if traced else None,
                    department=spec.department if spec and traced else None,
                )
            )
        return fields

    @strawberry.field(
        description="Linked records (any party) of datasets the caller may see, newest load first."
    )
    async def source_records(self, info: Info[Context, None], first: int = 50) -> list[SourceRecord]:
        rows = await records_loader(info).load((self.props["id"], check_first(first)))
        return [SourceRecord(**row) for row in rows]

    @strawberry.field(description="The enterprise this one is a branch (分公司) of.")
    async def parent(self, info: Info[Context, None]) -> Enterprise | None:
        family = await family_loader(info).load(self.props["id"])
        if not family or not family["parent"]:
            return None
        node = await node_loader(info).load(family["parent"])
        return Enterprise(props=node) if node else None

    @strawberry.field
    async def branches(self, info: Info[Context, None]) -> list[Enterprise]:
        family = await family_loader(info).load(self.props["id"])
        return await enterprises_by_id(info, sorted(family["branches"]) if family else [])

    async def _fact_rows(self, info: Info[Context, None]) -> list[dict[str, Any]]:
        return await facts_loader(info).load(self.props["id"])

    @strawberry.field(description="Towns its records place it in (derived from the rows).")
    async def towns(self, info: Info[Context, None]) -> list[Town]:
        rows = _facts(info.context, await self._fact_rows(info), "towns")
        return _distinct([Town(name=r["node"].get("name") or r["node"]["key"]) for r in rows])

    @strawberry.field
    async def parks(self, info: Info[Context, None]) -> list[Park]:
        rows = _facts(info.context, await self._fact_rows(info), "parks")
        return _distinct([Park(name=r["node"].get("name") or r["node"]["key"]) for r in rows])

    @strawberry.field
    async def industries(self, info: Info[Context, None]) -> list[Industry]:
        rows = _facts(info.context, await self._fact_rows(info), "industries")
        return _distinct([Industry(code=r["node"].get("code"), name=r["node"].get("name")) for r in rows])

    @strawberry.field
    async def chains(self, info: Info[Context, None]) -> list[ChainMembership]:
        rows = _facts(info.context, await self._fact_rows(info), "chains")
        items = [
            ChainMembership(
                name=r["node"].get("name") or r["node"]["key"],
                position=r["record"]["position"],
                year=_text(r["record"]["year"]),
            )
            for r in rows
        ]
        return sorted(_distinct(items), key=lambda c: (c.name, c.year or ""))

    @strawberry.field
    async def honours(self, info: Info[Context, None]) -> list[Honour]:
        rows = _facts(info.context, await self._fact_rows(info), "honours")
        nodes = await _as_seen(info, "AWARDS", [r["node"] for r in rows])
        items = [
            Honour(key=n["key"], kind=n.get("kind"), recognised_on=_text(n.get("recognised_on")))
            for n in nodes
        ]
        return sorted(_distinct(items), key=lambda h: h.key)

    @strawberry.field(
        description="Honours the enterprise applied to publish and its awarding department approved "
        "(seed 004): shown to everyone until a 失信 record withdraws them."
    )
    async def published_honours(self, info: Info[Context, None]) -> list[PublishedHonour]:
        code = self.props.get("credit_code")
        if not code:
            return []
        store = info.context.store
        rows = await info.context.in_thread(
            lambda: honour_queries.applications(store, credit_code=code, statuses=["published"])
        )
        return [
            PublishedHonour(
                title=r["title"],
                awarded_by=r["awarded_by"],
                recognised_on=r.get("recognised_on") or None,
                published_at=r.get("published_at"),
            )
            for r in rows
        ]

    @strawberry.field(description="Credit data: empty for roles not cleared for it (public).")
    async def credit_events(self, info: Info[Context, None]) -> list[CreditEvent]:
        if policy(Sharing(credit=True), info.context.principal.role) is Decision.NULL:
            return []
        rows = _facts(info.context, await self._fact_rows(info), "credit_events")
        nodes = [r["node"] for r in rows]
        if visibility(info.context).sifts_facts:
            # the node's properties as records the caller may see state them
            seen = await event_loader(info).load_many([n["key"] for n in nodes])
            nodes = [n for n in seen if n is not None]
        items = [
            CreditEvent(
                key=n["key"],
                kind=n.get("kind"),
                document_no=_text(n.get("document_no")),
                authority=n.get("authority"),
                decided_on=_text(n.get("decided_on")),
                valid_until=_text(n.get("valid_until")),
                reason=n.get("reason"),
            )
            for n in nodes
        ]
        return sorted(_distinct(items), key=lambda e: e.key)

    @strawberry.field(description="Land parcels its records concern, whatever its party on them.")
    async def parcels(self, info: Info[Context, None]) -> list[Parcel]:
        rows = _facts(info.context, await self._fact_rows(info), "parcels", subject_only=False)
        nodes = {r["node"]["key"]: r["node"] for r in rows}
        if visibility(info.context).sifts_facts:
            # the node's properties as records the caller may see state them
            seen = await parcel_props_loader(info).load_many(list(nodes))
            nodes = {key: props or {"key": key} for key, props in zip(nodes, seen, strict=True)}
        items = [
            Parcel(
                key=r["node"]["key"],
                parcel_no=_text(nodes[r["node"]["key"]].get("parcel_no")),
                location=nodes[r["node"]["key"]].get("location"),
                area=nodes[r["node"]["key"]].get("area"),
                party=r["party"],
            )
            for r in rows
        ]
        return sorted(_distinct(items), key=lambda p: (p.key, p.party or ""))

    @strawberry.field(description="Mortgages it gave (mortgagor, the record's subject) or holds (mortgagee).")
    async def mortgages(self, info: Info[Context, None]) -> list[Mortgage]:
        roles = {"subject": MortgageRole.MORTGAGOR, "mortgagee": MortgageRole.MORTGAGEE}
        rows = _facts(info.context, await self._fact_rows(info), "mortgages", subject_only=False)
        rows = [r for r in rows if r["party"] in roles]
        nodes = await _as_seen(info, "SECURED_BY", [r["node"] for r in rows])
        items = [
            Mortgage(
                key=n["key"],
                role=roles[r["party"]],
                amount=n.get("mortgage_amount"),
                registered_on=_text(n.get("registered_on")),
                registration_type=n.get("registration_type"),
            )
            for r, n in zip(rows, nodes, strict=True)
        ]
        return sorted(_distinct(items), key=lambda m: (m.key, m.role.value))

    @strawberry.field(
        description="Figures departments report about it (tax, revenue, electricity, insured employees "
        "...), one series per metric and dataset, oldest period first. ``names`` picks metrics; "
        "``from`` / ``to`` bound the periods (2023, 2023-Q2 or 2023-04). Series whose dataset the "
        "caller's role may not see are left out."
    )
    async def metrics(
        self,
        info: Info[Context, None],
        names: list[str] | None = None,
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        end: Annotated[str | None, strawberry.argument(name="to")] = None,
    ) -> list[MetricSeries]:
        return await enterprise_metrics(info, self.props["id"], names, start, end)

    @strawberry.field(
        description="Meters measuring it (一户多表: several), each with why the registry attached it, its "
        "series and its completeness."
    )
    async def meters(self, info: Info[Context, None], first: int = 20) -> list[Meter]:

        return await enterprise_meters(info, self.props["id"], first)

    @strawberry.field(
        description="Its metered consumption of a utility (electricity or water) per HOUR, DAY (default) or "
        "MONTH, China time: the sum of its own meters (shared ones, 多户一表, wait for a steward)."
    )
    async def consumption(
        self,
        info: Info[Context, None],
        utility: str = "electricity",
        interval: SeriesInterval | None = None,
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        end: Annotated[str | None, strawberry.argument(name="to")] = None,
    ) -> MeterSeries | None:

        return await enterprise_consumption(
            info, self.props["id"], utility, interval or SeriesInterval.DAY, start, end
        )

    @strawberry.field(
        description="Its warnings (default: open and acknowledged), newest first, at most ``first`` "
        "(1-100); null for the public."
    )
    async def warnings(
        self, info: Info[Context, None], statuses: list[str] | None = None, first: int = 20
    ) -> list[Warning] | None:

        return await enterprise_warnings(info, self.props["id"], statuses, first)

    @strawberry.field(
        description="On-site checks by town staff (recordFieldCheck), latest first, at most ``first`` "
        "(1-50), those recorded on enterprises merged into it included; null below the analyst role."
    )
    async def field_checks(self, info: Info[Context, None], first: int = 10) -> list[FieldCheck] | None:
        return await enterprise_field_checks(info, self.props["id"], first)

    @strawberry.field(
        description="Enterprises along its industry chains: the segment upstream of its own (likely "
        "suppliers), downstream (likely customers) and its own (peers), in a year (default: the "
        "latest year it is in each chain)."
    )
    async def chain_neighbours(
        self,
        info: Info[Context, None],
        chain: str | None = None,
        year: int | None = None,
        relations: list[ChainRelation] | None = None,
        first: int = 20,
    ) -> list[ChainNeighbour]:
        return await chain_neighbours(info, self.props["id"], chain, year, relations, first)

    @strawberry.field(
        description="Enterprises sharing a legal representative and phone, a phone, an address, a land "
        "parcel or a mortgage with this one."
    )
    async def related(self, info: Info[Context, None], first: int = 20) -> list[Relation]:
        rows = await related_loader(info).load((self.props["id"], check_first(first)))
        order = list(RelationReason)
        rows = sorted(rows, key=lambda r: (order.index(RelationReason(r["reason"])), r["other"]))[:first]
        nodes = await node_loader(info).load_many([r["other"] for r in rows])
        return [
            Relation(enterprise=Enterprise(props=node), reason=RelationReason(row["reason"]))
            for row, node in zip(rows, nodes, strict=True)
            if node is not None
        ]


@strawberry.type(description="Another enterprise along a chain, and why it is listed.")
class ChainNeighbour:
    enterprise: Enterprise
    chain: str
    year: int
    relation: ChainRelation
    position: str = strawberry.field(description="The other enterprise's segment.")
    reason: str = strawberry.field(description="Why it is a neighbour, in words.")


def _wanted(own: str, relation: ChainRelation) -> str | None:
    if own not in POSITIONS:
        return own if relation is ChainRelation.PEER else None
    step = {ChainRelation.UPSTREAM: -1, ChainRelation.DOWNSTREAM: 1, ChainRelation.PEER: 0}[relation]
    index = POSITIONS.index(own) + step
    return POSITIONS[index] if 0 <= index < len(POSITIONS) else None


async def chain_neighbours(
    info: Info[Context, None],
    enterprise_id: str,
    chain: str | None,
    year: int | None,
    relations: list[ChainRelation] | None,
    first: int,
) -> list[ChainNeighbour]:
    first = check_first(first)
    rows = await facts_loader(info).load(enterprise_id)
    memberships: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        if row["relation"] != FACT_RELATIONS["chains"] or row["party"] != "subject":
            continue
        if not may_see_fact(info.context, row["record"].get("dataset"), FACT_RELATIONS["chains"]):
            continue  # as Enterprise.chains shows them
        if row["record"]["year"] is None or row["record"]["position"] is None:
            continue
        memberships[row["node"]["key"]][int(row["record"]["year"])].add(row["record"]["position"])
    if chain is not None:
        memberships = defaultdict(lambda: defaultdict(set), {chain: memberships.get(chain, {})})
    wants: list[tuple[str, int, str, ChainRelation, str]] = []
    for key, by_year in sorted(memberships.items()):
        chosen = year if year is not None else max(by_year, default=None)
        if chosen is None:
            continue
        for own in sorted(by_year.get(chosen, ()), key=position_order):
            for relation in relations or list(ChainRelation):
                target = _wanted(own, relation)
                if target is not None:
                    wants.append((key, chosen, target, relation, own))
    # first + 1: the enterprise itself may be among its peers.
    pages = await segment_loader(info).load_many([(c, y, p, "", first + 1) for c, y, p, _, _ in wants])
    found: list[tuple[str, str, int, str, ChainRelation, str]] = []
    for (key, chosen, target, relation, own), ids in zip(wants, pages, strict=True):
        found += [(other, key, chosen, target, relation, own) for other in ids if other != enterprise_id]
    found = found[:first]
    nodes = await node_loader(info).load_many([f[0] for f in found])
    words = {ChainRelation.UPSTREAM: "upstream of", ChainRelation.DOWNSTREAM: "downstream of"}
    return [
        ChainNeighbour(
            enterprise=Enterprise(props=node),
            chain=key,
            year=chosen,
            relation=relation,
            position=target,
            reason=(
                f"in {target} of {key} in {chosen}, "
                + (
                    f"the segment {words[relation]} this one's {own}"
                    if relation in words
                    else "as this one is"
                )
            ),
        )
        for (_, key, chosen, target, relation, own), node in zip(found, nodes, strict=True)
        if node is not None
    ]


__all__ = ["Enterprise", "enterprises_by_id"]

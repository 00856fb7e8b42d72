"""The enterprise panorama: ``enterprise``, ``enterprises`` and the ``Enterprise`` type.

:class:`EnterpriseQuery` holds the root fields; api/schema.py merges it into ``Query``. Every list or
neighbour of an enterprise is read through a per-request DataLoader keyed by enterprise id (Cypher in
``graph/enterprise_queries.py``, one ``UNWIND $ids`` statement per loader), so a panorama costs the same few
store round trips whether the enterprise has two records or two thousand, and a page of 20 enterprises
costs the same as one.

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

import re
from collections.abc import Callable, Hashable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from entgraph.api import pagination
from entgraph.api.context import Context
from entgraph.api.errors import BadInput, Forbidden, NotFound
from entgraph.api.masking import Decision, column_sharing, policy
from entgraph.api.metrics import MetricSeries, enterprise_metrics
from entgraph.api.pagination import PageInfo, check_first
from entgraph.api.visibility import (
    UNKNOWN_PERSONAL,
    fact_datasets,
    golden_sources,
    golden_value,
    may_see_fact,
    visibility,
)
from entgraph.catalog.spec import Sharing
from entgraph.graph import enterprise_queries, fact_queries, land_credit_queries
from entgraph.resolution.enterprises import kind_of
from entgraph.resolution.golden import GOLDEN_FIELDS

if TYPE_CHECKING:
    from entgraph.api.chains import ChainNeighbour, ChainRelation
    from entgraph.api.telemetry import Meter, MeterSeries, SeriesInterval, Warning

_SEARCH_CANDIDATES = 1000  # full-text hits considered before paging by id

K = TypeVar("K", bound=Hashable)

_PHONE_REASONS = {"PHONE", "LEGAL_REP_AND_PHONE"}


# --- loaders ---------------------------------------------------------------------------------------


def batched_loader(
    info: Info[Context, None], name: str, fetch: Callable[[list[K]], dict[K, Any]], default: Any = None
) -> Any:
    """This request's loader ``name``: keys batched into one ``fetch`` call, run off the event loop."""
    context = info.context

    async def load(keys: list[K]) -> Sequence[Any]:
        found = await context.in_thread(fetch, keys)
        return [found.get(key, default) for key in keys]

    return context.loader(name, load)


def _by_id(rows: list[dict[str, Any]], column: str) -> dict[str, Any]:
    return {row["id"]: row[column] for row in rows}


def _grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["id"], []).append(row)
    return out


def _limited(
    fetch: Callable[[list[str], int], dict[str, list[Any]]],
) -> Callable[[list[tuple[str, int]]], dict[tuple[str, int], list[Any]]]:
    """Turn a fetch by (ids, limit) into one keyed by (id, first): one read with the largest limit."""

    def run(keys: list[tuple[str, int]]) -> dict[tuple[str, int], list[Any]]:
        found = fetch(sorted({k[0] for k in keys}), max(k[1] for k in keys))
        return {(eid, first): found.get(eid, [])[:first] for eid, first in keys}

    return run


def node_loader(info: Info[Context, None]) -> Any:
    """Enterprise nodes by id; None for an id unknown, or unknown to the caller (only datasets hidden
    from it know of the enterprise). Every Enterprise the API returns is loaded here."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info, "enterprise.node", lambda ids: _by_id(enterprise_queries.enterprises(store, ids, sight), "e")
    )


def survivor_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.survivor", lambda ids: _by_id(enterprise_queries.lookup_ids(store, ids), "survivor")
    )


def code_loader(info: Info[Context, None]) -> Any:
    store = info.context.store

    def fetch(codes: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in enterprise_queries.ids_by_credit_code(store, codes):
            found.setdefault(row["code"], row["id"])  # ordered by id: a stable pick among duplicates
        return found

    return batched_loader(info, "enterprise.by_code", fetch)


def records_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def fetch(ids: list[str], n: int) -> dict[str, list[Any]]:
        # Records of datasets the caller may see: that a 失信 list names it is credit data itself.
        rows = enterprise_queries.source_records(context.store, ids, n, context.visible_datasets())
        return _by_id(rows, "records")

    return batched_loader(info, "enterprise.records", _limited(fetch), [])


def family_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.family", lambda ids: {r["id"]: r for r in enterprise_queries.family(store, ids)}
    )


def facts_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.facts", lambda ids: _grouped(enterprise_queries.facts(store, ids)), []
    )


def event_loader(info: Info[Context, None]) -> Any:
    """Credit events by key, with their properties as the caller may see them: a property some record
    of a dataset hidden from it wrote onto the shared node is left out (``land_credit_queries``)."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info,
        "enterprise.credit_events",
        lambda keys: _by_key(land_credit_queries.credit_events(store, keys, sight)),
    )


def fact_props_loader(info: Info[Context, None], relation: str) -> Any:
    """Fact nodes of ``relation`` (honours, mortgages) by key, with their properties as the caller may
    see them: what records of datasets hidden from it, or columns it may not see, wrote onto the
    shared node is left out (``fact_queries.fact_props``)."""
    store, sight = info.context.store, visibility(info.context)
    label = _FACT_LABELS[relation]
    identity = fact_queries.KIND_IN_KEY if label == "Honor" else ""
    return batched_loader(
        info,
        f"enterprise.{relation}",
        lambda keys: _by_key(fact_queries.fact_props(store, label, relation, keys, sight, identity)),
    )


# The node label of each fact relation whose properties the panorama shows beyond the node's key.
_FACT_LABELS = {"AWARDS": "Honor", "SECURED_BY": "Mortgage"}


def parcel_props_loader(info: Info[Context, None]) -> Any:
    """Land parcels by key, with their properties as the caller may see them: a number, location or
    area only a record of a dataset hidden from it wrote onto the shared node is left out
    (``land_credit_queries.parcels``)."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info,
        "enterprise.parcels",
        lambda keys: {row["key"]: row["p"] for row in land_credit_queries.parcels(store, keys, sight)},
    )


def _by_key(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {row["key"]: row["props"] for row in rows}


def related_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def fetch(ids: list[str], n: int) -> dict[str, list[dict[str, Any]]]:
        # Relations come from what the caller may see: a parcel or mortgage shared in records of
        # datasets open to its role (in columns it may see), and a shared phone (personal data) only
        # for roles that see phones.
        phones = policy(UNKNOWN_PERSONAL, context.principal.role) is not Decision.NULL
        datasets = {rel: fact_datasets(context, rel) for rel in ("CONCERNS_PARCEL", "SECURED_BY")}
        rows = enterprise_queries.related(context.store, ids, n, datasets, visibility(context))
        return _grouped([r for r in rows if phones or r["reason"] not in _PHONE_REASONS])

    return batched_loader(info, "enterprise.related", _limited(fetch), [])


async def _enterprises(info: Info[Context, None], ids: Sequence[str]) -> list[Enterprise]:
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
        return await _enterprises(info, sorted(family["branches"]) if family else [])

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
    async def meters(
        self, info: Info[Context, None], first: int = 20
    ) -> list[Annotated[Meter, strawberry.lazy("entgraph.api.telemetry")]]:
        from entgraph.api.telemetry import enterprise_meters

        return await enterprise_meters(info, self.props["id"], first)

    @strawberry.field(
        description="Its metered consumption of a utility (electricity or water) per HOUR, DAY (default) or "
        "MONTH, China time: the sum of its own meters (shared ones, 多户一表, wait for a steward)."
    )
    async def consumption(
        self,
        info: Info[Context, None],
        utility: str = "electricity",
        interval: Annotated[SeriesInterval, strawberry.lazy("entgraph.api.telemetry")] | None = None,
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        end: Annotated[str | None, strawberry.argument(name="to")] = None,
    ) -> Annotated[MeterSeries, strawberry.lazy("entgraph.api.telemetry")] | None:
        from entgraph.api.telemetry import SeriesInterval as Step
        from entgraph.api.telemetry import enterprise_consumption

        return await enterprise_consumption(info, self.props["id"], utility, interval or Step.DAY, start, end)

    @strawberry.field(
        description="Its warnings (default: open and acknowledged), newest first, at most ``first`` "
        "(1-100); null for the public."
    )
    async def warnings(
        self, info: Info[Context, None], statuses: list[str] | None = None, first: int = 20
    ) -> list[Annotated[Warning, strawberry.lazy("entgraph.api.telemetry")]] | None:
        from entgraph.api.telemetry import enterprise_warnings

        return await enterprise_warnings(info, self.props["id"], statuses, first)

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
        relations: list[Annotated[ChainRelation, strawberry.lazy("entgraph.api.chains")]] | None = None,
        first: int = 20,
    ) -> list[Annotated[ChainNeighbour, strawberry.lazy("entgraph.api.chains")]]:
        from entgraph.api.chains import chain_neighbours  # chains imports this module

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


# --- connection ------------------------------------------------------------------------------------


@strawberry.type
class EnterpriseEdge:
    cursor: str
    node: Enterprise


@strawberry.type(description="A page of enterprises in id order (relay-style).")
class EnterpriseConnection:
    edges: list[EnterpriseEdge]
    page_info: PageInfo
    only_ids: strawberry.Private[list[str] | None]
    town_filter: strawberry.Private[str | None]

    @strawberry.field(description="How many enterprises match, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        store = info.context.store
        return await info.context.in_thread(
            enterprise_queries.enterprise_count,
            store,
            self.only_ids,
            self.town_filter,
            visibility(info.context),
        )


def encode_cursor(enterprise_id: str) -> str:
    return pagination.encode_cursor("enterprise", enterprise_id)


def decode_cursor(cursor: str) -> str:
    return pagination.decode_cursor("enterprise", cursor)


def encode_sorted_cursor(sort: str, key: Any, enterprise_id: str) -> str:
    """A position in a listing sorted by ``sort``: the row's sort key and id (keyset paging)."""
    return pagination.encode_cursor("enterprises", [sort, key, enterprise_id])


def decode_sorted_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """(key, id) of a cursor from a listing with the same ``sort``; id cursors serve the id order."""
    if sort == "id" and pagination.cursor_text(cursor).startswith("enterprise:"):
        enterprise_id = decode_cursor(cursor)
        return enterprise_id, enterprise_id
    position = pagination.decode_cursor("enterprises", cursor, json_position=True)
    if not (isinstance(position, list) and len(position) == 3 and position[0] == sort):
        raise BadInput("after is not a cursor this API returned for this sort order", argument="after")
    return position[1], position[2]


# --- root fields -----------------------------------------------------------------------------------


async def _find(info: Info[Context, None], enterprise_id: str | None, credit_code: str | None) -> Enterprise:
    if (enterprise_id is None) == (credit_code is None):
        raise BadInput("give exactly one of id and creditCode")
    wanted = enterprise_id
    if credit_code is not None:
        wanted = await code_loader(info).load(credit_code.strip().upper())
    survivor = await survivor_loader(info).load(wanted) if wanted else None
    node = await node_loader(info).load(survivor) if survivor else None
    if node is None:
        asked = f"id {enterprise_id}" if enterprise_id is not None else f"credit code {credit_code}"
        raise NotFound(f"no enterprise with {asked}")
    return Enterprise(props=node, redirected_from=wanted if wanted != survivor else None)


@strawberry.enum(description="Orders of the enterprise listing; ties are broken by id.")
class EnterpriseSortField(StrEnum):
    ID = "id"
    NAME = "name"
    REGISTERED_CAPITAL = "registered_capital"
    ESTABLISHED = "established"


@strawberry.enum
class SortDirection(StrEnum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="Sort order of a listing (default: by id, ascending).")
class EnterpriseSort:
    field: EnterpriseSortField = EnterpriseSortField.ID
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Filters of the enterprise listing; all given filters must hold.")
class EnterpriseFilter:
    town: str | None = strawberry.field(default=None, description="The golden town (镇/街道).")
    industry: str | None = strawberry.field(
        default=None,
        description="An industry code prefix (GB/T 4754: C, C19, C195 ...) or an industry name.",
    )
    chain: str | None = strawberry.field(default=None, description="An industry chain name (产业链).")
    honour: str | None = strawberry.field(
        default=None, description="An honour kind (高新技术企业, 专精特新 ...)."
    )
    credit_event: str | None = strawberry.field(
        default=None,
        description="A credit event kind (法院失信被执行人信息, 法人红名单信息 ...). "
        "Credit data: not for public callers.",
    )
    size: str | None = strawberry.field(
        default=None, description="A stated enterprise size: 大型/中型/小型/微型."
    )


def _size_datasets(context: Context) -> list[str]:
    """The datasets whose stated sizes the caller may see: it may see the dataset and, in full, its
    ``enterprise_size`` column (a size column stricter than its dataset states nothing to it)."""
    return [
        feed.spec.key
        for feed in context.catalog
        if any(c.field == "enterprise_size" for c in feed.spec.columns)
        and context.may_see(feed.spec.key)
        and policy(column_sharing(feed.spec, "enterprise_size"), context.principal.role) is Decision.SHOW
    ]


def _matching_ids(context: Context, search: str | None, wanted: EnterpriseFilter) -> list[str] | None:
    """Ids matching the search and the fact filters (intersected), or None when neither narrows."""
    store = context.store
    sets: list[set[str]] = []
    if search is not None and search.strip():
        sets.append(set(enterprise_queries.search_ids(store, search.strip(), _SEARCH_CANDIDATES)))
    # Facts count as records of datasets the caller may see state them (in columns it may see), as in
    # the panorama.
    if wanted.industry:
        sight, datasets = visibility(context), fact_datasets(context, "IN_INDUSTRY")
        sets.append(set(enterprise_queries.ids_in_industry(store, wanted.industry, datasets, sight)))
    for name, (relation, _, _) in enterprise_queries.FACT_FILTERS.items():
        value = getattr(wanted, name)
        if value:
            datasets = fact_datasets(context, relation)
            sets.append(set(enterprise_queries.ids_with_fact(store, name, value, datasets)))
    if wanted.size:
        sets.append(set(enterprise_queries.ids_with_size(store, _size_datasets(context), wanted.size)))
    if not sets:
        return None
    return sorted(set.intersection(*sets))


# --- facets of the listing's filters ----------------------------------------------------------------


@strawberry.type(description="One value of an enterprise-listing filter and how many enterprises it finds.")
class FacetValue:
    value: str = strawberry.field(description="Exactly what the filter key of this facet takes.")
    label: str | None = strawberry.field(
        description="A display name when the data gives one (an industry's or chain's name), else null."
    )
    count: int = strawberry.field(
        description="Live enterprises that enterprises(filter: {<key>: value}) finds (its totalCount)."
    )


def _facet(rows: list[dict[str, Any]]) -> list[FacetValue]:
    values = [FacetValue(value=str(r["value"]), label=r.get("label"), count=int(r["count"])) for r in rows]
    return sorted(values, key=lambda v: (-v.count, v.value))


# The division a GB/T 4754 code is in, as written: C1951 -> C19, 1951 -> 19, C19 -> C19; a bare
# section letter stays itself. A prefix of the code, so ``filter: {industry: <it>}`` matches the code.
_DIVISION = re.compile(r"[A-Z]?\d{2}|[A-Z]")


async def _fact_facet(info: Info[Context, None], name: str) -> list[FacetValue]:
    context = info.context
    datasets = fact_datasets(context, enterprise_queries.FACT_FILTERS[name][0])  # as the filter counts them
    rows = await context.in_thread(enterprise_queries.fact_facet, context.store, name, datasets)
    return _facet(rows)


def industry_facet(rows: list[dict[str, Any]]) -> list[FacetValue]:
    """Count live enterprises per industry division from ``(id, code, name)`` rows
    (:func:`enterprise_queries.industry_codes`): an enterprise counts once for each division any of its codes
    starts with, exactly as ``filter: {industry}`` matches prefixes."""
    codes: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for row in rows:
        code = str(row["code"])
        codes.setdefault(row["id"], set()).add(code)
        if row.get("name"):
            names.setdefault(code, row["name"])
    divisions = {m.group(0) for c in set().union(*codes.values()) if (m := _DIVISION.match(c))}
    counts = {d: sum(any(c.startswith(d) for c in cs) for cs in codes.values()) for d in divisions}
    return _facet([{"value": d, "label": names.get(d), "count": n} for d, n in counts.items()])


@strawberry.type(
    description="The values the enterprise listing's filters take, each with how many live enterprises "
    "it finds: one aggregate statement per facet asked for. Credit events are left out (credit data)."
)
class EnterpriseFacets:
    @strawberry.field(
        description="filter.town: the golden towns. Aggregates over every live enterprise (a scan of "
        "the Enterprise label)."
    )
    async def towns(self, info: Info[Context, None]) -> list[FacetValue]:
        context = info.context
        return _facet(
            await context.in_thread(enterprise_queries.town_facet, context.store, visibility(context))
        )

    @strawberry.field(
        description="filter.industry: the GB/T 4754 divisions (C19, or 19 for codes written without "
        "their section letter) of golden codes and of the industries subject records state, named when "
        "an industry node of that code has a name. The most expensive facet: one row per (enterprise, "
        "code) is read and grouped in the API."
    )
    async def industries(self, info: Info[Context, None]) -> list[FacetValue]:
        context = info.context
        datasets = fact_datasets(context, "IN_INDUSTRY")  # as filter.industry counts them
        rows = await context.in_thread(
            enterprise_queries.industry_codes, context.store, datasets, visibility(context)
        )
        return industry_facet(rows)

    @strawberry.field(description="filter.chain: industry chain names (产业链).")
    async def chains(self, info: Info[Context, None]) -> list[FacetValue]:
        return await _fact_facet(info, "chain")

    @strawberry.field(description="filter.honour: honour kinds (高新技术企业, 专精特新 ...).")
    async def honours(self, info: Info[Context, None]) -> list[FacetValue]:
        return await _fact_facet(info, "honour")

    @strawberry.field(
        description="filter.size: the sizes (大型/中型/小型/微型) stated by records with an "
        "enterprise_size column."
    )
    async def sizes(self, info: Info[Context, None]) -> list[FacetValue]:
        datasets = _size_datasets(info.context)
        return _facet(
            await info.context.in_thread(enterprise_queries.size_facet, info.context.store, datasets)
        )


@strawberry.type
class EnterpriseQuery:
    @strawberry.field(
        description="One enterprise by id or by credit code (exactly one). A merged-away id returns "
        "its survivor, with redirectedFrom set."
    )
    async def enterprise(
        self,
        info: Info[Context, None],
        id: str | None = None,
        credit_code: str | None = None,
    ) -> Enterprise:
        return await _find(info, id, credit_code)

    @strawberry.field(
        description="Facets for the enterprises filters: for town, industry, chain, honour and size, the "
        "values present with how many live enterprises each finds, most first (then by value)."
    )
    def enterprise_facets(self) -> EnterpriseFacets:
        return EnterpriseFacets()

    @strawberry.field(
        description="Live enterprises (merged-away ids are never listed), optionally by name search "
        "(full-text over name bigrams, then a substring scan) and filters, in ``sort`` order; "
        "relay-style pages of at most 100."
    )
    async def enterprises(
        self,
        info: Info[Context, None],
        search: str | None = None,
        town: Annotated[
            str | None, strawberry.argument(deprecation_reason="Use filter: {town: ...}.")
        ] = None,
        filter: EnterpriseFilter | None = None,
        sort: EnterpriseSort | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> EnterpriseConnection:
        first = check_first(first)
        wanted = filter or EnterpriseFilter()
        order = sort or EnterpriseSort()
        if wanted.credit_event and policy(Sharing(credit=True), info.context.principal.role) is Decision.NULL:
            raise Forbidden("filtering by credit events needs a role cleared for credit data")
        town = wanted.town or town
        position = decode_sorted_cursor(after, order.field.value) if after else None
        context = info.context

        def run() -> tuple[list[str] | None, list[dict[str, Any]]]:
            only = _matching_ids(context, search, wanted)
            # One more than asked for tells whether there is a next page without a count.
            rows = enterprise_queries.enterprise_page(
                context.store,
                only,
                town,
                first + 1,
                sort=order.field.value,
                descending=order.direction is SortDirection.DESC,
                after=position,
                sight=visibility(context),
            )
            return only, rows

        only, rows = await context.in_thread(run)
        keys = {row["id"]: row["key"] for row in rows[:first]}
        page = await _enterprises(info, [row["id"] for row in rows[:first]])

        def cursor(enterprise_id: str) -> str:
            if order.field is EnterpriseSortField.ID:
                return encode_cursor(enterprise_id)
            return encode_sorted_cursor(order.field.value, keys[enterprise_id], enterprise_id)

        edges = [EnterpriseEdge(cursor=cursor(e.props["id"]), node=e) for e in page]
        return EnterpriseConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            only_ids=only,
            town_filter=town,
        )


__all__ = ["Enterprise", "EnterpriseConnection", "EnterpriseQuery", "encode_cursor"]

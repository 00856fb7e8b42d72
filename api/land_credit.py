"""Land and credit over GraphQL: parcels, credit events and mortgage networks.

Land parcels with their holders and transfer history, credit events by kind and
period, and mortgage networks (who is mortgaged to whom).

:class:`LandCreditQuery` holds the root fields; api/schema.py merges it into ``Query``. The Cypher lives in
``graph/land_credit_queries.py``. Every list is read in batches: a page of parcels or events costs a
fixed number of store round trips (the page, then one ``UNWIND`` per DataLoader), and the enterprises
on them are loaded through the panorama's :func:`~entgraph.api.dataloaders.node_loader`, so each
enterprise is read once per request however many records name it.

Access:
- credit events are credit data (信用信息): ``creditEvents`` and ``creditEventKinds`` answer
  ``FORBIDDEN`` to roles :func:`~entgraph.api.masking.policy` hides credit data from (``public``),
  as ``Enterprise.creditEvents`` is empty for them;
- a parcel, and each of its records, is there for a caller only when a dataset the caller may see
  states it (land grants are open to the public; transfers, allocations and certificates are not): a
  parcel only hidden datasets know is ``NOT_FOUND`` and left out of pages, its history and holders
  come from the records the caller may see, and of its attributes only those a column the caller may
  see in full provides are shown;
- the values a parcel record states (date, price, area, use, transfer method) follow the sharing of
  the catalog column they came from: a value the caller's role may not see in full is null (a date
  from a dataset not open to the public is null for ``public``);
- a mortgage network follows only links stated by datasets the caller may see (none, for the public,
  while the mortgage register is shared conditionally);
- a credit event, and the datasets and enterprises it names, is what records of datasets the caller may
  see report; ``town`` finds parcels through those records only, and events through enterprises whose
  golden town the caller may see (``api/visibility.py``): a town stated by a column hidden from the
  caller places nothing in it;
- every enterprise on a parcel, event or mortgage is loaded through ``node_loader``: one only datasets
  hidden from the caller know is left out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.api.context import Context
from entgraph.api.dataloaders import batched_loader, node_loader, survivor_loader
from entgraph.api.enterprise import Enterprise
from entgraph.api.limits import DEFAULT_LIST_SIZE
from entgraph.api.masking import Decision, column_sharing, policy
from entgraph.api.pagination import MAX_PAGE, PageInfo, check_first, decode_cursor, encode_cursor
from entgraph.api.visibility import may_see_fact, visibility
from entgraph.catalog.spec import Role as ColumnRole
from entgraph.catalog.spec import Sharing
from entgraph.graph import land_credit_queries as queries
from entgraph.identity.geometry import GeometryError, parse_geometry

MAX_DEPTH = 3  # mortgageNetwork: hops followed at most
# Lists without a ``first`` (a parcel's history, a record's parties ...) stop at the size the cost limit
# assumes for them (api/limits.py), so a query's estimated cost bounds its real one.
_LIST_CAP = DEFAULT_LIST_SIZE
_HOLDER_CANDIDATES = 1000  # parcels(holder:): parcels an enterprise is the subject of, considered at most
_LINK_ROWS = 2000  # mortgageNetwork: links read per hop at most (the answer is capped by ``first`` anyway)
_CREDIT = Sharing(credit=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- cursors and arguments ------------------------------------------------------------------------


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def _period_bound(value: str | None, argument: str, end: bool) -> str | None:
    """An ISO date from ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a partial date is the first day of its
    year or month for ``from`` and the last day for ``to`` (so ``from: "2021", to: "2021"`` is 2021)."""
    if value is None:
        return None
    match = _PARTIAL_DATE.match(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = match.group(1), match.group(2), match.group(3)
        if day is not None:
            return dt.date(int(year), int(month), int(day)).isoformat()
        if month is not None:
            first = dt.date(int(year), int(month), 1)
            if not end:
                return first.isoformat()
            following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return (following - dt.timedelta(days=1)).isoformat()
        return dt.date(int(year), 12 if end else 1, 31 if end else 1).isoformat()
    except ValueError:
        raise BadInput(f"{argument} must be a date: YYYY-MM-DD, YYYY-MM or YYYY", argument=argument) from None


def _period(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    low = _period_bound(date_from, "from", end=False)
    high = _period_bound(date_to, "to", end=True)
    if low is not None and high is not None and low > high:
        raise BadInput("from is after to", argument="from")
    return low, high


def _credit_cleared(info: Info[Context, None]) -> None:
    if policy(_CREDIT, info.context.principal.role) is Decision.NULL:
        raise Forbidden("credit data is not available to this role", role=info.context.principal.role.value)


async def _survivor(info: Info[Context, None], enterprise_id: str) -> str | None:
    return await survivor_loader(info).load(enterprise_id)


# --- catalog: which record field is the date, the price ... ---------------------------------------

_USE_FIELDS = ("land_use_after", "land_use", "parcel_type", "usage")
_GEOMETRY_FIELD = "parcel_geo"  # 宗地空间地理信息, as every land spec names it


def _role_field(spec: Any, role: ColumnRole) -> str | None:
    for column in spec.columns if spec else ():
        if column.role is role and column.party == "subject":
            return column.field
    return None


def _record_date(context: Context, dataset: str | None, props: dict[str, Any]) -> str | None:
    """The record's own date (its spec's ``date`` column), unmasked: for ordering only."""
    field = _role_field(context.spec(dataset), ColumnRole.DATE)
    return _text(props.get(field)) if field else None


def _shows(context: Context, spec: Any, field: str) -> bool:
    """Whether ``spec`` has a column ``field`` the caller's role may see in full."""
    try:
        sharing = column_sharing(spec, field)
    except KeyError:
        return False
    return policy(sharing, context.principal.role) is Decision.SHOW


def _visible(context: Context, spec: Any, field: str | None, props: dict[str, Any]) -> Any:
    """``props[field]`` when the caller's role may see that column in full, else None."""
    if field is None or spec is None or props.get(field) is None:
        return None
    return props[field] if _shows(context, spec, field) else None


def _seen(context: Context, rows: list[dict[str, Any]], relation: str | None = None) -> list[dict[str, Any]]:
    """The records of datasets this caller may see (a land certificate is not open to the public) whose
    link to the fact (``relation``, else each row's own) it may see: a link made by a column it may not
    see in full is none of its facts (``api/visibility.py``: ``may_see_fact``)."""
    return [r for r in rows if may_see_fact(context, r["dataset"], relation or r["relation"])]


def _shown_props(context: Context, props: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A parcel's node properties this caller may see: each one a column of a dataset whose record about
    the parcel the caller may see, and whose sharing shows it in full (a 宗地代码 known only from land
    certificates is null for the public). ``rows``: the parcel's records the caller may see."""
    specs = [spec for spec in map(context.spec, {r["dataset"] for r in rows}) if spec is not None]
    return {k: v for k, v in props.items() if k == "key" or any(_shows(context, s, k) for s in specs)}


async def _parcels_as_seen(
    info: Info[Context, None], found: Sequence[dict[str, Any] | None]
) -> list[LandParcel]:
    """The parcels among ``found`` (node properties) that a record the caller may see concerns, each
    with only the properties and records the caller may see."""
    parcels = [props for props in found if props is not None]
    rows = await parcel_records_loader(info).load_many([props["key"] for props in parcels])
    out = []
    for props, records in zip(parcels, rows, strict=True):
        visible = _seen(info.context, records)
        if visible:
            out.append(LandParcel(props=_shown_props(info.context, props, visible), records=visible))
    return out


def _located(props: dict[str, Any], axis: int) -> float | None:
    """A coordinate of a parcel's point, from the geometry it shows (a record's 宗地空间地理信息, kept as
    GeoJSON), so that a hidden geometry hides the point too."""
    text = props.get(_GEOMETRY_FIELD)
    if not isinstance(text, str):
        return None
    try:
        return parse_geometry(text).point()[axis]
    except GeometryError:
        return None


def _parties(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(party, enterprise id) pairs of a record, without the null entries of an unlinked record."""
    return sorted({(p["party"] or "subject", p["id"]) for p in rows if p.get("id")})[:_LIST_CAP]


def _history_order(context: Context, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records oldest first: by their date (undated ones count as oldest), then by id."""
    return sorted(rows, key=lambda r: (_record_date(context, r["dataset"], r["props"]) or "", r["id"]))


def _holders(context: Context, rows: list[dict[str, Any]]) -> list[str]:
    """Ids of the subjects of the latest record(s): the latest date's records, or all when undated."""
    ordered = _history_order(context, rows)
    if not ordered:
        return []
    latest = _record_date(context, ordered[-1]["dataset"], ordered[-1]["props"]) or ""
    last = [r for r in ordered if (_record_date(context, r["dataset"], r["props"]) or "") == latest]
    return sorted({eid for r in last for party, eid in _parties(r["parties"]) if party == "subject"})[
        :_LIST_CAP
    ]


# --- loaders --------------------------------------------------------------------------------------


def _grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["key"], []).append(row)
    return out


def parcel_loader(info: Info[Context, None]) -> Any:
    """Parcels' node properties as records the caller may see state them (``queries.parcels``)."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info, "land.parcel", lambda keys: {r["key"]: r["p"] for r in queries.parcels(store, keys, sight)}
    )


def parcel_records_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "land.records", lambda keys: _grouped(queries.parcel_records(store, keys)), []
    )


def event_records_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "credit.records", lambda keys: _grouped(queries.credit_event_records(store, keys)), []
    )


async def _party_list(info: Info[Context, None], pairs: Sequence[tuple[str, str]]) -> list[RecordParty]:
    nodes = await node_loader(info).load_many([eid for _, eid in pairs])
    return [
        RecordParty(party=party, enterprise=Enterprise(props=node))
        for (party, _), node in zip(pairs, nodes, strict=True)
        if node is not None
    ]


# --- types ----------------------------------------------------------------------------------------


@strawberry.type(
    description="An enterprise on a record, with its party (subject, transferor, mortgagee ...)."
)
class RecordParty:
    party: str = strawberry.field(
        description="subject (the grantee, transferee, land user, holder, listed enterprise ...) or the "
        "spec's party name (transferor, mortgagee ...)."
    )
    enterprise: Enterprise


@strawberry.type(description="One record concerning a parcel: a grant, transfer, allocation, certificate ...")
class ParcelRecord:
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The source record's id.")
    def record_id(self) -> str:
        return self.row["id"]

    @strawberry.field
    def dataset(self) -> str:
        return self.row["dataset"]

    @strawberry.field(description="The dataset's title (国有土地出让信息, 土地转让信息, 土地划拨信息 ...).")
    def dataset_title(self, info: Info[Context, None]) -> str | None:
        spec = info.context.spec(self.row["dataset"])
        return spec.title if spec else None

    @strawberry.field
    def department(self) -> str | None:
        return self.row.get("department")

    @strawberry.field(
        description="How the record points at the parcel: CONCERNS_PARCEL; SUPERSEDES_TITLE (a transfer "
        "that replaced this title); REGISTERS_TITLE (a certificate naming this title)."
    )
    def relation(self) -> str:
        return self.row["relation"]

    @strawberry.field(description="The record's date (granted, transferred, allocated, issued on).")
    def date(self, info: Info[Context, None]) -> str | None:
        spec = info.context.spec(self.row["dataset"])
        return _text(_visible(info.context, spec, _role_field(spec, ColumnRole.DATE), self.row["props"]))

    @strawberry.field(description="The price the record states (yuan), when it states one.")
    def price(self, info: Info[Context, None]) -> float | None:
        spec = info.context.spec(self.row["dataset"])
        return _number(_visible(info.context, spec, _role_field(spec, ColumnRole.AMOUNT), self.row["props"]))

    @strawberry.field(description="The area the record states (square metres).")
    def area(self, info: Info[Context, None]) -> float | None:
        spec = info.context.spec(self.row["dataset"])
        return _number(_visible(info.context, spec, _role_field(spec, ColumnRole.AREA), self.row["props"]))

    @strawberry.field(description="The land use the record states (after the transfer, for transfers).")
    def land_use(self, info: Info[Context, None]) -> str | None:
        spec = info.context.spec(self.row["dataset"])
        for field in _USE_FIELDS:
            value = _visible(info.context, spec, field, self.row["props"])
            if value is not None:
                return _text(value)
        return None

    @strawberry.field(description="买卖, 作价出资 ... (transfers only).")
    def transfer_method(self, info: Info[Context, None]) -> str | None:
        spec = info.context.spec(self.row["dataset"])
        return _text(_visible(info.context, spec, "transfer_method", self.row["props"]))

    @strawberry.field(description="The enterprises on the record, with their party, by party then id.")
    async def parties(self, info: Info[Context, None]) -> list[RecordParty]:
        return await _party_list(info, _parties(self.row["parties"]))


@strawberry.type(description="A land parcel (宗地 / land title), keyed by its parcel or certificate number.")
class LandParcel:
    props: strawberry.Private[dict[str, Any]]  # only what the caller may see (``_parcels_as_seen``)
    records: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field
    def key(self) -> str:
        return self.props["key"]

    @strawberry.field(description="宗地编号 (land grants).")
    def parcel_no(self) -> str | None:
        return _text(self.props.get("parcel_no"))

    @strawberry.field(description="宗地代码 (land certificates).")
    def parcel_code(self) -> str | None:
        return _text(self.props.get("parcel_code"))

    @strawberry.field(description="土地证号 / 不动产权证号, when the parcel is keyed by a title.")
    def certificate_no(self) -> str | None:
        for field in ("certificate_no", "new_certificate_no", "original_certificate_no"):
            if self.props.get(field) is not None:
                return _text(self.props[field])
        return None

    @strawberry.field
    def location(self) -> str | None:
        return _text(self.props.get("location"))

    @strawberry.field(description="Square metres.")
    def area(self) -> float | None:
        return _number(self.props.get("area")) or _number(self.props.get("parcel_area"))

    @strawberry.field(description="土地用途 / 地块类型.")
    def land_use(self) -> str | None:
        for field in ("land_use_after", "land_use", "parcel_type"):
            if self.props.get(field) is not None:
                return _text(self.props[field])
        return None

    @strawberry.field(description="容积率 (land certificates).")
    def plot_ratio(self) -> float | None:
        return _number(self.props.get("plot_ratio"))

    @strawberry.field(
        description="Longitude of the point standing for it (from its 宗地空间地理信息), where a record the "
        "caller may see states that in a column it may see; see townMap."
    )
    def lng(self) -> float | None:
        return _located(self.props, 0)

    @strawberry.field(description="Latitude of that point.")
    def lat(self) -> float | None:
        return _located(self.props, 1)

    @strawberry.field(description="Towns (镇/街道) its records place it in.")
    async def towns(self, info: Info[Context, None]) -> list[str]:
        context = info.context
        towns = {_visible(context, context.spec(r["dataset"]), "town", r["props"]) for r in self.records}
        return sorted(str(town) for town in towns if town is not None)[:_LIST_CAP]

    @strawberry.field(
        description="Who holds it now: the subject(s) of its latest record by date (the grantee, "
        "transferee, land user or certificate holder); undated records count as oldest."
    )
    async def holders(self, info: Info[Context, None]) -> list[Enterprise]:
        ids = _holders(info.context, self.records)
        nodes = await node_loader(info).load_many(ids)
        return [Enterprise(props=node) for node in nodes if node is not None]

    @strawberry.field(
        description="Every live record concerning it (出让, 转让, 划拨, 发证 ...), oldest first by the "
        "record's date (undated first), then by record id."
    )
    async def history(self, info: Info[Context, None]) -> list[ParcelRecord]:
        rows = _history_order(info.context, self.records)
        return [ParcelRecord(row=row) for row in rows[:_LIST_CAP]]


@strawberry.type
class LandParcelEdge:
    cursor: str
    node: LandParcel


@strawberry.type(description="A page of land parcels in key order (relay-style).")
class LandParcelConnection:
    edges: list[LandParcelEdge]
    page_info: PageInfo


@strawberry.type(
    description="A credit event (失信被执行人, 红名单, 行政处罚, 严重失信 ...) with the enterprises it is "
    "about. Credit data."
)
class CreditEventEntry:
    props: strawberry.Private[dict[str, Any]]
    on: strawberry.Private[str | None]

    @strawberry.field
    def key(self) -> str:
        return self.props["key"]

    @strawberry.field
    def kind(self) -> str | None:
        return _text(self.props.get("kind"))

    @strawberry.field(description="文书号 / 决定书文号.")
    def document_no(self) -> str | None:
        for field in ("document_no", "credit_doc_no", "penalty_doc_no"):
            if self.props.get(field) is not None:
                return _text(self.props[field])
        return None

    @strawberry.field
    def authority(self) -> str | None:
        return _text(self.props.get("authority"))

    @strawberry.field(
        description="The date it was decided on (or occurred on): the event's own, else the earliest "
        "its records state. What the from/to filter compares."
    )
    def decided_on(self) -> str | None:
        return self.on

    @strawberry.field
    def valid_until(self) -> str | None:
        return _text(self.props.get("valid_until"))

    @strawberry.field(description="When it was lifted (移出日期), if it was.")
    def removed_on(self) -> str | None:
        return _text(self.props.get("removed_on"))

    @strawberry.field(description="事由 / 列入原因 / 处罚内容.")
    def reason(self) -> str | None:
        for field in ("reason", "credit_reason", "penalty_detail", "detail"):
            if self.props.get(field) is not None:
                return _text(self.props[field])
        return None

    async def _rows(self, info: Info[Context, None]) -> list[dict[str, Any]]:
        # The records of datasets the caller may see: as Enterprise.creditEvents shows events.
        rows = await event_records_loader(info).load(self.props["key"])
        return _seen(info.context, rows, "RECORDS_EVENT")

    @strawberry.field(description="The datasets whose live records report it.")
    async def datasets(self, info: Info[Context, None]) -> list[str]:
        return sorted({r["dataset"] for r in await self._rows(info)})[:_LIST_CAP]

    @strawberry.field(
        description="The enterprises its records are about, with their party, by party then id."
    )
    async def enterprises(self, info: Info[Context, None]) -> list[RecordParty]:
        pairs = sorted({pair for r in await self._rows(info) for pair in _parties(r["parties"])})[:_LIST_CAP]
        return await _party_list(info, pairs)


@strawberry.type
class CreditEventEdge:
    cursor: str
    node: CreditEventEntry


@strawberry.type(description="A page of credit events in key order (relay-style).")
class CreditEventConnection:
    edges: list[CreditEventEdge]
    page_info: PageInfo
    filters: strawberry.Private[tuple[str | None, str | None, str | None, str | None]]

    @strawberry.field(description="How many events match, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        context = info.context
        return await context.in_thread(
            queries.credit_event_count, context.store, *self.filters, visibility(context)
        )


@strawberry.type
class CreditEventKindCount:
    kind: str | None
    count: int


@strawberry.type(description="A mortgage between two enterprises: the mortgagor secured it to the mortgagee.")
class MortgageLink:
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The mortgage's key (业务宗号).")
    def mortgage_key(self) -> str:
        return self.row["key"]

    @strawberry.field(description="Hops from the enterprise asked about (1 = one of its own mortgages).")
    def hop(self) -> int:
        return self.row["hop"]

    @strawberry.field(description="Yuan.")
    def amount(self) -> float | None:
        return _number(self.row.get("amount"))

    @strawberry.field
    def registered_on(self) -> str | None:
        return _text(self.row.get("registered_on"))

    @strawberry.field(description="首次登记, 变更登记, 注销登记 ...")
    def registration_type(self) -> str | None:
        return _text(self.row.get("registration_type"))

    @strawberry.field(description="Who gave the mortgage (义务人, the record's subject).")
    async def mortgagor(self, info: Info[Context, None]) -> Enterprise | None:
        node = await node_loader(info).load(self.row["mortgagor"])
        return Enterprise(props=node) if node else None

    @strawberry.field(description="Who holds it (抵押权人, usually a bank).")
    async def mortgagee(self, info: Info[Context, None]) -> Enterprise | None:
        node = await node_loader(info).load(self.row["mortgagee"])
        return Enterprise(props=node) if node else None


@strawberry.type(description="Mortgages around an enterprise: its own, then its counterparties', ...")
class MortgageNetwork:
    center: Enterprise = strawberry.field(description="The enterprise asked about (its survivor if merged).")
    edges: list[MortgageLink] = strawberry.field(
        description="Links found within depth hops, nearest first, then by mortgage key, mortgagor and "
        "mortgagee."
    )
    truncated: bool = strawberry.field(description="True when more links existed than first allowed.")
    node_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The center and every enterprise on an edge, in order of discovery.")
    async def nodes(self, info: Info[Context, None]) -> list[Enterprise]:
        found = await node_loader(info).load_many(self.node_ids[: _LIST_CAP + 1])
        return [Enterprise(props=node) for node in found if node is not None]


def _network(
    store: Any, center: str, depth: int, first: int, context: Context
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Breadth-first over mortgage links (either direction): one statement per hop. Links only datasets
    hidden from the caller state (有条件 mortgage registers, for the public) are not followed, and of a
    link's amount, date and type only what columns the caller may see state shows."""
    sight = visibility(context)
    seen_nodes = [center]
    known = {center}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    frontier = [center]
    truncated = False
    for hop in range(1, depth + 1):
        if not frontier:
            break
        rows = queries.mortgage_links(store, frontier, _LINK_ROWS, sight)
        truncated = truncated or len(rows) >= _LINK_ROWS
        rows = [row for row in rows if may_see_fact(context, row["dataset"], "SECURED_BY")]
        following: list[str] = []
        for row in rows:
            ident = (row["key"], row["mortgagor"], row["mortgagee"])
            if ident in edges:
                continue
            if len(edges) >= first:
                truncated = True
                break
            edges[ident] = {**row, "hop": hop}
            for eid in (row["mortgagor"], row["mortgagee"]):
                if eid not in known:
                    known.add(eid)
                    seen_nodes.append(eid)
                    following.append(eid)
        if truncated:
            break
        frontier = following
    return list(edges.values()), seen_nodes, truncated


# --- root fields -----------------------------------------------------------------------------------


@strawberry.type
class LandCreditQuery:
    @strawberry.field(description="One land parcel by key (its parcel or certificate number).")
    async def parcel(self, info: Info[Context, None], key: str) -> LandParcel:
        seen = await _parcels_as_seen(info, [await parcel_loader(info).load(key)])
        if not seen:  # unknown, or known only to datasets this caller may not see: alike
            raise NotFound(f"no land parcel with key {key}")
        return seen[0]

    @strawberry.field(
        description="Land parcels in key order; holder: only those the enterprise holds now (see "
        "LandParcel.holders; a merged-away id means its survivor; an unknown id matches none); town: "
        f"only those a record places in that 镇/街道. first: at most {MAX_PAGE}."
    )
    async def parcels(
        self,
        info: Info[Context, None],
        holder: strawberry.ID | None = None,
        town: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> LandParcelConnection:
        first = check_first(first)
        after_key = decode_cursor("parcel", after) if after else ""
        context = info.context
        store = context.store
        among: list[str] | None = None
        if holder is not None:
            survivor = await _survivor(info, str(holder))
            if survivor is None:
                return LandParcelConnection(
                    edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None)
                )

            def held() -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
                candidates = queries.parcel_keys_of(store, survivor, _HOLDER_CANDIDATES)
                rows = _grouped(queries.parcel_records(store, candidates)) if candidates else {}
                seen = {k: _seen(context, rows.get(k, [])) for k in candidates}
                return [k for k in candidates if survivor in _holders(context, seen[k])], rows

            among, rows = await context.in_thread(held)
            parcel_records_loader(info).prime_many({k: rows.get(k, []) for k in among})
        keys = await context.in_thread(
            queries.parcel_page, store, among, town, after_key, first + 1, visibility(context)
        )
        found = await parcel_loader(info).load_many(keys[:first])
        # A page leaves out parcels only datasets hidden from the caller know; the cursor still moves on.
        edges = [
            LandParcelEdge(cursor=encode_cursor("parcel", parcel.props["key"]), node=parcel)
            for parcel in await _parcels_as_seen(info, found)
        ]
        return LandParcelConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(keys) > first, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(
        description="Credit events in key order, by kind (exact, e.g. 法院失信被执行人信息) and by period: "
        "from/to (YYYY-MM-DD, YYYY-MM or YYYY, inclusive) bound decidedOn, and events without a date "
        "match no period; town: events about an enterprise whose golden town it is. Credit data: "
        f"FORBIDDEN for roles not cleared for it (public). first: at most {MAX_PAGE}."
    )
    async def credit_events(
        self,
        info: Info[Context, None],
        kind: str | None = None,
        date_from: Annotated[str | None, strawberry.argument(name="from")] = None,
        date_to: Annotated[str | None, strawberry.argument(name="to")] = None,
        town: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> CreditEventConnection:
        _credit_cleared(info)
        first = check_first(first)
        after_key = decode_cursor("credit-event", after) if after else ""
        low, high = _period(date_from, date_to)
        context = info.context
        rows = await context.in_thread(
            queries.credit_event_page,
            context.store,
            kind,
            low,
            high,
            town,
            after_key,
            first + 1,
            visibility(context),
        )
        edges = [
            CreditEventEdge(
                cursor=encode_cursor("credit-event", row["key"]),
                node=CreditEventEntry(props=row["props"], on=_text(row["decided"])),
            )
            for row in rows[:first]
        ]
        return CreditEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            filters=(kind, low, high, town),
        )

    @strawberry.field(
        description="How many credit events there are of each kind, optionally within a period and town "
        "(as creditEvents filters them). Credit data: FORBIDDEN for roles not cleared for it (public)."
    )
    async def credit_event_kinds(
        self,
        info: Info[Context, None],
        date_from: Annotated[str | None, strawberry.argument(name="from")] = None,
        date_to: Annotated[str | None, strawberry.argument(name="to")] = None,
        town: str | None = None,
    ) -> list[CreditEventKindCount]:
        _credit_cleared(info)
        low, high = _period(date_from, date_to)
        context = info.context
        rows = await context.in_thread(
            queries.credit_event_kinds, context.store, low, high, town, visibility(context)
        )
        return [CreditEventKindCount(kind=_text(r["kind"]), count=r["events"]) for r in rows[:_LIST_CAP]]

    @strawberry.field(
        description=f"Who is mortgaged to whom around an enterprise: mortgage links followed up to depth "
        f"hops (1..{MAX_DEPTH}) in both directions (as mortgagor and as mortgagee), at most first links "
        f"(at most {MAX_PAGE}); truncated says when there were more. A merged-away id means its survivor."
    )
    async def mortgage_network(
        self, info: Info[Context, None], enterprise: strawberry.ID, depth: int = 1, first: int = 50
    ) -> MortgageNetwork:
        first = check_first(first)
        if depth < 1 or depth > MAX_DEPTH:
            raise BadInput(f"depth must be between 1 and {MAX_DEPTH}", argument="depth", max=MAX_DEPTH)
        survivor = await _survivor(info, str(enterprise))
        center = await node_loader(info).load(survivor) if survivor else None
        if center is None:
            raise NotFound(f"no enterprise with id {enterprise}")
        edges, node_ids, truncated = await info.context.in_thread(
            _network, info.context.store, survivor, depth, first, info.context
        )
        return MortgageNetwork(
            center=Enterprise(props=center),
            edges=[MortgageLink(row=row) for row in edges],
            truncated=truncated,
            node_ids=node_ids,
        )


__all__ = ["LandCreditQuery", "LandParcel", "MortgageNetwork"]

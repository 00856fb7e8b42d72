"""Finding and listing enterprises: the ``enterprise``, ``enterprises`` and ``enterpriseFacets`` fields.

:class:`EnterpriseQuery` holds the root fields; api/schema.py merges it into ``Query``. A listing pages
by keyset (the sort key and id in the cursor), so a deep page costs what the first does; what a caller
may see of each enterprise is ``api/enterprise.py``'s.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from entgraph.api import pagination
from entgraph.api.cache_reads import note_enterprise
from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.api.context import Context
from entgraph.api.dataloaders import code_loader, node_loader, survivor_loader
from entgraph.api.enterprise import Enterprise, enterprises_by_id
from entgraph.api.masking import Decision, column_sharing, policy
from entgraph.api.pagination import PageInfo, check_first
from entgraph.api.visibility import fact_datasets, visibility
from entgraph.catalog.spec import Sharing
from entgraph.graph import enterprise_queries

_SEARCH_CANDIDATES = 1000  # full-text hits considered before paging by id


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
    note_enterprise(wanted)  # a merge of a redirected id changes what it answers
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
        page = await enterprises_by_id(info, [row["id"] for row in rows[:first]])

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


__all__ = ["EnterpriseConnection", "EnterpriseEdge", "EnterpriseQuery", "encode_cursor"]

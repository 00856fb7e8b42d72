"""Which columns of a dataset link its records to shared fact nodes, and what those nodes carry.

Fact nodes are towns, parks, industries, chains, parcels, honours ...; the loaders make the links
from this, and the API asks from it what a caller may see of a fact, column by column."""

from __future__ import annotations

from collections.abc import Sequence

from entgraph.catalog.per_spec import planned
from entgraph.catalog.spec import DatasetSpec, Role, Subject

# Role -> (relation, node label, key prefix, node property naming the value) of a subject column's link.
_ROLE_LINKS: dict[Role, tuple[str, str, str, str]] = {
    Role.TOWN: ("IN_TOWN", "Town", "", "name"),
    Role.PARK: ("IN_PARK", "Park", "", "name"),
    Role.INDUSTRY_CODE: ("IN_INDUSTRY", "Industry", "code:", "code"),
    Role.INDUSTRY_CHAIN: ("IN_CHAIN", "IndustryChain", "", "name"),
}


def link_plan(spec: DatasetSpec) -> tuple[tuple[str, str, str, str, str], ...]:
    """``(field, relation, node label, key prefix, node property)`` of each subject column that links."""

    def build() -> tuple[tuple[str, str, str, str, str], ...]:
        plan = []
        for column in spec.columns:
            if column.party != "subject":
                continue
            if column.role is Role.REGION and spec.subject is Subject.REGION:
                plan.append((column.field, "INDICATOR_OF", "Region", "", "name"))
            elif column.role in _ROLE_LINKS:
                plan.append((column.field, *_ROLE_LINKS[column.role]))
        return tuple(plan)

    return planned(spec, "links", build)


def fact_columns(spec: DatasetSpec) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per record -> fact node relation a row of ``spec`` may make (as ``loaders/records.py`` makes them):
    the fields that make the link (a subject's town, park ... column; a node's key fields) and the
    fields whose values it writes onto the node (its properties). What the API asks a caller may see
    of a fact, column by column (``api/visibility.py``)."""
    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def add(relation: str, keys: Sequence[str], props: Sequence[str]) -> None:
        old_keys, old_props = out.get(relation, ((), ()))
        out[relation] = (
            tuple(dict.fromkeys((*old_keys, *keys))),
            tuple(dict.fromkeys((*old_props, *props))),
        )

    for name, relation, *_ in link_plan(spec):
        add(relation, (name,), ())
    for node in spec.nodes:
        add(node.relation, node.key, node.properties)
    return out

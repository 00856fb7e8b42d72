"""What a caller may see of the enterprises and their golden records, from the catalog and its role.

Facts follow the sharing of the datasets that state them, and so do enterprises and golden values (see
docs/api.md, Masking):

- an enterprise only records of datasets hidden from the caller are about does not exist for it;
- each golden value is seen as the catalog column that stated it (``golden_sources`` names the dataset;
  of that dataset's columns that could have, the strictest for the caller's role decides): shown,
  masked (personal data) or null. When the stating dataset is unknown the value is for staff only, and
  personal fields are treated as personal, 有条件使用 data;
- an enterprise's name is its identity, public by law, shown to whoever may see the enterprise.

:func:`visibility` gives that as a :class:`~entgraph.graph.visibility.Visibility` for the statements of
``graph/`` (which enterprises are known, which golden values may be filtered, counted, grouped or
sorted by); :func:`golden_value` gives one golden value of a loaded enterprise as the caller may see it.
Both are worked out from the catalog and the role alone, so once per (catalog, role).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from entgraph.api.auth import Role
from entgraph.api.context import Context
from entgraph.api.masking import Decision, MaskKind, column_sharing, mask_kind, policy, strictest
from entgraph.api.metrics import sources_visible_to
from entgraph.catalog.fact_links import fact_columns
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec, Sharing
from entgraph.errors import ConfigurationError
from entgraph.graph.land_credit_queries import EVENT_DATE_FIELDS
from entgraph.graph.visibility import Visibility
from entgraph.resolution.golden import GOLDEN_FIELDS
from entgraph.resolution.mentions import ATTRIBUTE_ROLES
from entgraph.telemetry.rollup import metric_sources

# Golden fields that are personal whatever dataset they came from when the catalog cannot say.
_PERSONAL: dict[str, MaskKind] = {"legal_rep": MaskKind.PERSON_NAME, "phone": MaskKind.PHONE}
UNKNOWN_PERSONAL = Sharing(personal=True)
_UNKNOWN = Sharing()  # 有条件使用, not open to the public: staff only
# Golden fields everyone who may see the enterprise sees: its identity (see the module docstring).
_IDENTITY = frozenset({"name"})
_FIELD_ROLES = {field: role for role, field in ATTRIBUTE_ROLES.items()}


def golden_sources(props: dict[str, Any]) -> dict[str, list[Any]]:
    """An enterprise's ``golden_sources``: field -> [record id, dataset, priority, recency]."""
    return _parsed_sources(props.get("golden_sources") or "{}")


@functools.lru_cache(maxsize=8192)
def _parsed_sources(text: str) -> dict[str, list[Any]]:
    """``golden_sources`` read once per distinct text (a listing reads each field of each node); the
    dict returned is shared: read it, never change it."""
    try:
        sources = json.loads(text)
    except ValueError:
        return {}
    return sources if isinstance(sources, dict) else {}


def _spec_of(catalog: Catalog, dataset: str | None) -> DatasetSpec | None:
    if not dataset:
        return None
    try:
        return catalog.get(dataset).spec
    except ConfigurationError:
        return None


@functools.lru_cache(maxsize=4096)
def _golden_rule(catalog: Catalog, role: Role, field: str, dataset: str | None) -> tuple[Sharing, MaskKind]:
    """Sharing and mask kind that decide what ``role`` sees of a golden ``field`` stated by a record of
    ``dataset``: those of the dataset's column stating the field (the strictest for ``role`` when
    several parties' columns could have); when the catalog cannot say, the dataset's own sharing, or for
    an unknown dataset staff-only data (personal for the personal fields)."""
    spec = _spec_of(catalog, dataset)
    wanted = _FIELD_ROLES.get(field)
    column = strictest(spec, [c for c in spec.columns if c.role is wanted], role) if spec else None
    if spec is not None and column is not None:
        return column_sharing(spec, column.field), mask_kind(column)
    if field in _PERSONAL:
        return UNKNOWN_PERSONAL, _PERSONAL[field]
    return (spec.sharing if spec is not None else _UNKNOWN), MaskKind.TEXT


@functools.lru_cache(maxsize=64)
def _visibility(catalog: Catalog, role: Role) -> Visibility:
    keys = [feed.spec.key for feed in catalog]

    def shows(sharing: Sharing) -> bool:
        return policy(sharing, role) is not Decision.NULL

    # As Context.may_see: a dataset the catalog does not know is for staff only.
    staff = role.covers(Role.ANALYST)
    seen = tuple(key for key in keys if shows(catalog.get(key).spec.sharing))
    golden: dict[str, tuple[str, ...]] = {}
    for field in GOLDEN_FIELDS:
        if field in _IDENTITY:
            continue
        stated = tuple(key for key in keys if shows(_golden_rule(catalog, role, field, key)[0]))
        if len(stated) < len(keys) or not shows(_golden_rule(catalog, role, field, None)[0]):
            golden[field] = stated
    # Figures as Enterprise.metrics shows them: a source whose value column the role may see.
    figures: tuple[str, ...] | None = tuple(s.label for s in sources_visible_to(catalog, role))
    if len(figures or ()) == len(metric_sources(catalog)):
        figures = None
    facts, columns = _fact_rules(catalog, role, seen)
    return Visibility(None if staff and len(seen) == len(keys) else seen, golden, figures, facts, columns)


def _fact_rules(
    catalog: Catalog, role: Role, seen: tuple[str, ...]
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """What ``role`` may see of facts column by column, for datasets ``seen`` (those it may see): per
    relation, the datasets whose columns making the link it may see in full (listed only for relations
    some dataset of ``seen`` makes with a column it may not), and the ``<dataset>:<field>`` columns
    writing fact nodes' properties it may not see in full. A fact shows its key as it is, so a masked
    column hides it as a null one does."""

    def full(spec: DatasetSpec, field: str) -> bool:
        return policy(column_sharing(spec, field), role) is Decision.SHOW

    stating: dict[str, list[str]] = {}
    narrowed: set[str] = set()
    columns: list[str] = []
    for key in seen:
        spec = catalog.get(key).spec
        for relation, (link_fields, prop_fields) in fact_columns(spec).items():
            if all(full(spec, f) for f in link_fields):
                stating.setdefault(relation, []).append(key)
            else:
                narrowed.add(relation)
            # a credit event's date is also read off its records (its own, where the node has none)
            dates = [c.field for c in spec.columns if c.field in EVENT_DATE_FIELDS]
            read = (*prop_fields, *dates) if relation == "RECORDS_EVENT" else prop_fields
            columns += [f"{key}:{f}" for f in read if not full(spec, f)]
    facts = {relation: tuple(stating.get(relation, ())) for relation in sorted(narrowed)}
    return facts, tuple(dict.fromkeys(columns))


def may_see_fact(context: Context, dataset: str | None, relation: str) -> bool:
    """Whether this caller may see that a record of ``dataset`` states its ``relation`` link: it may
    see the dataset (``Context.may_see``) and the columns making that link."""
    facts = visibility(context).facts
    return context.may_see(dataset) and (relation not in facts or dataset in facts[relation])


def fact_datasets(context: Context, relation: str) -> list[str]:
    """The datasets whose statements of ``relation`` this caller may see (:func:`may_see_fact`), for
    the Cypher filters and facets that count facts."""
    return [key for key in context.visible_datasets() if may_see_fact(context, key, relation)]


def visibility(context: Context) -> Visibility:
    """What this caller may see of the enterprises, for the statements of ``graph/``: the datasets
    whose records it may see (which enterprises it knows of), per golden field the datasets whose
    statement of it it may see, and the metric sources whose figures it may see. From the catalog and
    the role alone, so it is worked out once per (catalog, role)."""
    return _visibility(context.catalog, context.principal.role)


def visibility_of(catalog: Catalog, role: Role) -> Visibility:
    """:func:`visibility` for a role outside a GraphQL request (the towns' report downloads)."""
    return _visibility(catalog, role)


def golden_value(context: Context, props: dict[str, Any], field: str) -> Any:
    """Golden ``field`` of an enterprise (its node properties ``props``) as the caller may see it: as
    is, masked, or None."""
    value = props.get(field)
    if value is None or field in _IDENTITY:
        return value
    source = golden_sources(props).get(field) or [None, None]
    sharing, kind = _golden_rule(context.catalog, context.principal.role, field, source[1])
    decision = policy(sharing, context.principal.role)
    if decision is Decision.MASK and not isinstance(value, str):
        return None  # a masked number is no number
    return context.mask(sharing, kind, value)

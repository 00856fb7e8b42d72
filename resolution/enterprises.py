"""The canonical enterprises of one resolution run: ids, lookups, golden records, what changed.

Canonical ids are the platform's, never Splink's cluster ids, and are derived from evidence so that a
rerun from scratch gives the same ids:

* ``E-<credit code>``  an enterprise known by a valid Unified Social Credit Code
* ``O-<org code>``     known only by a valid organisation code (until a credit code carrying it arrives)
* ``P-<digest>``       provisional: known only by name; the digest is of its first mention's id

An id is never changed because another record arrived; it is retired only by a merge, after which it
redirects to its survivor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from entgraph.graph import canonical_queries
from entgraph.graph.port import GraphStore
from entgraph.graph.search_text import search_tokens
from entgraph.identity.chinese_names import parse_name
from entgraph.identity.codes import parse_credit_code
from entgraph.resolution.golden import GoldenRecord, Source
from entgraph.resolution.mentions import Mention

MAX_NAMES = 20  # name variants kept per enterprise for matching; the rest add little and cost rows


def credit_code_id(code: str) -> str:
    return f"E-{code}"


def org_code_id(org: str) -> str:
    return f"O-{org}"


def provisional_id(first_mention_id: str) -> str:
    return "P-" + hashlib.blake2b(first_mention_id.encode("utf-8"), digest_size=8).hexdigest()


class EnterpriseIndex:
    """Active enterprises in memory for one run (props as in the graph), with the run's changes."""

    def __init__(self, enterprises: Iterable[Mapping[str, Any]], redirects: Mapping[str, str]) -> None:
        self.props: dict[str, dict[str, Any]] = {}
        self.by_org: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        self.redirects = dict(redirects)
        self.golden: dict[str, GoldenRecord] = {}
        self.touched: set[str] = set()
        self.created: set[str] = set()
        self.run_id: str | None = None  # stamped on enterprises this run creates (for roll-back)
        # read with only what matching needs (canonical_queries.MATCH_PROPERTIES): whole before a
        # golden record is made
        self.partial: set[str] = set()
        for props in enterprises:
            self._index(dict(props))

    @classmethod
    def load(cls, store: GraphStore) -> EnterpriseIndex:
        """The city's enterprises with what matching needs of them; ``read_whole`` before updating one."""
        index = cls(
            canonical_queries.all_enterprises(store, properties=canonical_queries.MATCH_PROPERTIES),
            canonical_queries.redirects(store),
        )
        index.partial = set(index.props)
        return index

    def read_whole(self, store: GraphStore, enterprise_ids: Iterable[str]) -> None:
        """Read whole the enterprises this run is about to update: their golden record is rebuilt from
        every property and source, and a property not read would be written back empty."""
        wanted = sorted({eid for eid in enterprise_ids if eid in self.partial})
        for start in range(0, len(wanted), 5_000):
            for props in canonical_queries.enterprises_by_id(store, wanted[start : start + 5_000]):
                self.props[props["id"]] = props
        self.partial.difference_update(wanted)

    def _index(self, props: dict[str, Any]) -> None:
        eid = props["id"]
        self.props[eid] = props
        if props.get("org_code"):
            self.by_org.setdefault(props["org_code"], eid)
        for name in (props.get("name"), *(props.get("names") or [])):
            parts = parse_name(name) if name else None
            if parts and parts.normalised:
                self.by_name.setdefault(parts.normalised, eid)

    def __contains__(self, enterprise_id: str) -> bool:
        return enterprise_id in self.props

    def resolve_id(self, enterprise_id: str) -> str:
        seen = set()
        while enterprise_id in self.redirects and enterprise_id not in seen:
            seen.add(enterprise_id)
            enterprise_id = self.redirects[enterprise_id]
        return enterprise_id

    def ensure(self, enterprise_id: str, **props: Any) -> str:
        """The enterprise with this id, created (in memory) when new."""
        enterprise_id = self.resolve_id(enterprise_id)
        if enterprise_id not in self.props:
            base: dict[str, Any] = {
                "id": enterprise_id,
                "provisional": not enterprise_id.startswith("E-"),
                "created_run": self.run_id,
            }
            if enterprise_id.startswith("E-"):
                code = parse_credit_code(enterprise_id[2:])
                base |= {
                    "credit_code": code.code,
                    "org_code": code.org_code,
                    "division": code.division,
                    "code_entity_type": code.entity_type_name,
                }
            elif enterprise_id.startswith("O-"):
                base["org_code"] = enterprise_id[2:]
            self._index(base | {k: v for k, v in props.items() if v is not None})
            self.created.add(enterprise_id)
            self.touched.add(enterprise_id)
        return enterprise_id

    def offer(self, enterprise_id: str, mention: Mention, source: Source, trusted: bool) -> None:
        """Let a linked mention update the golden record; trusted links also teach its name."""
        golden = self.golden.get(enterprise_id)
        if golden is None:
            if enterprise_id in self.partial:  # a golden record from part of it would lose the rest
                raise RuntimeError(f"enterprise {enterprise_id} offered values before it was read whole")
            golden = self.golden[enterprise_id] = GoldenRecord.from_props(self.props[enterprise_id])
        if golden.offer(mention, source):
            self.touched.add(enterprise_id)
        if trusted and mention.name:
            parts = parse_name(mention.name)
            names = self.props[enterprise_id].setdefault("names", [])
            if parts and parts.normalised and parts.normalised not in names and len(names) < MAX_NAMES:
                names.append(parts.normalised)
                self.by_name.setdefault(parts.normalised, enterprise_id)
                self.touched.add(enterprise_id)

    def rows_to_write(self) -> list[dict[str, Any]]:
        """Enterprise rows whose properties changed in this run."""
        rows = []
        for eid in sorted(self.touched):
            props = dict(self.props[eid])
            if eid in self.golden:
                props |= self.golden[eid].props()
                self.props[eid] = props
            props["name_tokens"] = search_tokens(
                " ".join(filter(None, [props.get("name"), *(props.get("former_names") or [])]))
            )
            props["kind"] = kind_of(props)
            rows.append({"id": eid, "props": {k: v for k, v in props.items() if k != "id"}})
        return rows

    def matchable(self) -> Iterable[tuple[dict[str, Any], str]]:
        """(profile, enterprise id) pairs to match against, golden values applied. A merged-away
        enterprise keeps its own profile (names, phone, representative) but answers for its survivor,
        so records that matched it before the merge still match it after."""
        for eid, props in self.props.items():
            golden = self.golden.get(eid)
            yield (props | golden.props() if golden else props), self.resolve_id(eid)


def kind_of(props: Mapping[str, Any]) -> str:
    """An enterprise's kind from its properties: a branch, an individual business (个体工商户) or an
    enterprise."""
    name = props.get("name") or next(iter(props.get("names") or []), None)
    parts = parse_name(name) if name else None
    if parts and parts.branch:
        return "branch"
    entity_type = f"{props.get('entity_type') or ''}{props.get('code_entity_type') or ''}"
    if "个体" in entity_type or (parts and parts.is_individual_business):
        return "individual_business"
    return "enterprise"

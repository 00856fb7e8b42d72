"""Cypher for industry chains (产业链): which enterprises sit in which segment of which chain, per year.

Membership is stated by the chain feed's rows: ``(r:SourceRecord)-[:IN_CHAIN]->(c:IndustryChain)``, the
row carrying ``year`` and ``chain_position`` (上游 / 中游 / 下游), and resolution's
``(r)-[:ABOUT {party: 'subject'}]->(e:Enterprise)``. A membership counts when its record is active and its
enterprise live (not merged away).

What a caller may see is a :class:`~entgraph.graph.visibility.Visibility`: a membership counts only as a
record of a dataset the caller may see states it in a chain column it may see (which makes its
enterprise known to the caller), a chain is there only when such a record states it, and an
enterprise's golden town counts only where the caller may see it (else it is an unknown town).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from entgraph.graph.port import GraphStore, Row
from entgraph.graph.visibility import EVERYTHING, Visibility, also

# Filters on the record come after a WITH: in the MATCH's WHERE they make FalkorDB's planner start from
# a scan of every SourceRecord instead of the chain's index entry.
_LIVE_MEMBER = "r.retired IS NULL AND a.party = 'subject' AND NOT (e)-[:REDIRECTS_TO]->()"


def _member(sight: Visibility) -> str:
    """The test of a membership row ``(r, a, e)``: live, and stated by a record the caller may see."""
    return _LIVE_MEMBER + also(sight.sees_fact("r", "IN_CHAIN"))


def chains(store: GraphStore, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{key, name}`` of every chain the caller may know of, by name: for a caller with datasets or
    chain columns hidden from it, those a live record it may see states (a chain only a closed
    register names is none of its chains); for others, every chain node."""
    if sight.datasets is None and "IN_CHAIN" not in sight.facts:
        return store.read(
            "MATCH (c:IndustryChain) RETURN c.key AS key, coalesce(c.name, c.key) AS name ORDER BY name"
        )
    return store.read(
        # r unlabelled and tested after the WITH: the chains (a few) are walked, never every record
        "MATCH (c:IndustryChain)<-[:IN_CHAIN]-(r) "
        f"WITH c, r WHERE r.retired IS NULL{also(sight.sees_fact('r', 'IN_CHAIN'))} "
        "WITH DISTINCT c RETURN c.key AS key, coalesce(c.name, c.key) AS name ORDER BY name",
        sight.params(),
    )


def segment_counts(store: GraphStore, chains: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{chain, year, position, enterprises}``: distinct live enterprises per chain, year and segment,
    plus one row per chain and year with ``position`` null counting the year's enterprises once each."""
    match = (
        "UNWIND $chains AS chain "
        "MATCH (c:IndustryChain {key: chain})<-[:IN_CHAIN]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH chain, r, a, e WHERE {_member(sight)} "
    )
    return store.read(
        match
        + "RETURN chain, r.year AS year, r.chain_position AS position, count(DISTINCT e) AS enterprises "
        + "UNION ALL "
        + match
        + "RETURN chain, r.year AS year, null AS position, count(DISTINCT e) AS enterprises",
        {"chains": list(chains), **sight.params()},
    )


def members(store: GraphStore, chain: str, year: int, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{id, position, town}``: the chain's enterprises in ``year``, one row per (enterprise, segment);
    ``town`` is the golden town as the caller may see it (null where it may not)."""
    return store.read(
        "MATCH (c:IndustryChain {key: $chain})<-[:IN_CHAIN]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH r, a, e WHERE {_member(sight)} AND r.year = $year "
        f"RETURN DISTINCT e.id AS id, r.chain_position AS position, {sight.value('town')} AS town "
        "ORDER BY id",
        {"chain": chain, "year": year, **sight.params()},
    )


def segment_pages(
    store: GraphStore, wants: Sequence[dict[str, Any]], sight: Visibility = EVERYTHING
) -> list[Row]:
    """For each ``{want, chain, year, position, after, size}``: ``{want, ids}``, the ids (in id order,
    after ``after``) of the live enterprises in that segment. ``position`` null means every segment."""
    return store.read(
        "UNWIND $wants AS w "
        "MATCH (c:IndustryChain {key: w.chain})<-[:IN_CHAIN]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH w, r, a, e WHERE {_member(sight)} "
        "AND r.year = w.year AND (w.position IS NULL OR r.chain_position = w.position) AND e.id > w.after "
        "WITH DISTINCT w, e.id AS id ORDER BY id "
        # Collect first, slice after: FalkorDB gives null for ``collect(id)[0..w.size]`` in one step.
        "WITH w, collect(id) AS ids RETURN w.want AS want, ids[0..w.size] AS ids",
        {"wants": list(wants), **sight.params()},
    )

"""What one caller may see of the enterprises, as Cypher: :class:`Visibility`.

The API works it out from the catalog's sharing and the caller's role (``api/visibility.py``); the
statements of ``graph/enterprise_queries.py``, ``chain_queries.py``, ``land_credit_queries.py``,
``warning_queries.py`` and ``meter_queries.py`` take it and test it themselves, so a page, a count and
a facet agree and nothing is fetched only to be dropped. A caller who may see everything
(:data:`EVERYTHING`, and staff under a catalog without 不予共享 datasets) adds nothing to a statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Visibility:
    """What one caller may see of the enterprises, for the statements that take it.

    ``datasets``: the datasets whose records the caller may see, or None for all of them. An enterprise
    is known to the caller when a record of one of them is about it (as any party), or when no record
    is (there is nothing to hide: its golden values still show only as their sources allow); the others,
    known only to datasets hidden from the caller, do not exist for it.

    ``golden``: for each golden field listed, the datasets whose statement of that field the caller may
    see (a field not listed: from every dataset). Which dataset stated a golden value is in the
    enterprise's ``golden_sources`` (:func:`golden_dataset`).

    ``figures``: the metric sources (``<dataset>:<metric>``, :func:`~entgraph.graph.metric_queries.
    source_label`) whose figures the caller may see, or None for all of them: what a warning computed
    from departments' figures may show of them (``warning_queries``).

    ``facts``: for each record -> fact node relation listed (``IN_PARK``, ``RECORDS_EVENT`` ...), the
    datasets whose statement of it the caller may see: those of ``datasets`` whose columns making the
    link (the park column, the event's kind and number ...) it may see in full. A relation not listed:
    as any record the caller may see states it.

    ``columns``: the columns (``<dataset>:<field>``) of datasets the caller may see whose values it may
    not see in full, among those that write fact nodes' properties: a property of a shared node shows
    only where a record states it in a column the caller may see (:meth:`stated_props`).
    """

    datasets: tuple[str, ...] | None = None
    golden: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    figures: tuple[str, ...] | None = None
    facts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        """Whether the caller may see every record, golden value and figure: nothing to test."""
        return (
            self.datasets is None
            and not self.golden
            and self.figures is None
            and not self.facts
            and not self.columns
        )

    @property
    def sifts_facts(self) -> bool:
        """Whether a shared fact node's properties must be sifted for the caller: some record or column
        that may have written them is hidden from it (else the node shows as it is)."""
        return self.datasets is not None or bool(self.columns)

    def keep_known(self, var: str = "e", carry: str = "e") -> str:
        """Cypher clauses keeping the rows whose enterprise ``var`` is known to the caller, with the
        variables ``carry`` (all those still needed, ``var`` among them); empty when every enterprise
        is. Each enterprise's records are walked: cheap for a page or a panorama, O(records) for a
        count or facet over the whole city. A null ``var`` (an OPTIONAL MATCH that found none) is kept:
        there is no enterprise to hide.

        Clauses, not a predicate: FalkorDB rejects a pattern comprehension (or ``exists``) in a WHERE,
        and one projected in the WITH whose WHERE tests it; projected first and tested in the next WITH
        it plans it as an Apply from the enterprise (index-free: no scan of the records).
        """
        if self.datasets is None:
            return ""
        # Own variable names: an ``r`` bound outside would make the comprehension match only that record.
        return (
            f"WITH {carry}, [({var})<-[:ABOUT]-(known_r:SourceRecord) | known_r.dataset] AS known "
            f"WITH {carry} WHERE size(known) = 0 OR size([d IN known WHERE d IN $known_datasets]) > 0 "
        )

    def mark_known(self, var: str, carry: str, flag: str) -> str:
        """Cypher clauses projecting ``flag``, whether enterprise ``var`` is known to the caller (a null
        ``var`` is), with ``carry`` (all the variables still needed, ``var`` among them): for keeping a
        row whose enterprise is hidden, without it (:meth:`keep_known` drops the row)."""
        if self.datasets is None:
            return f"WITH {carry}, true AS {flag} "
        return (
            f"WITH {carry}, [({var})<-[:ABOUT]-(known_r:SourceRecord) | known_r.dataset] AS known "
            f"WITH {carry}, size(known) = 0 OR size([d IN known WHERE d IN $known_datasets]) > 0 AS {flag} "
        )

    def sees_record(self, var: str = "r") -> str:
        """A Cypher predicate: the caller may see what source record ``var`` states (its dataset is
        one the caller may see). A record the caller may see makes the enterprises it is about known
        to it, so a statement that keeps only such records needs no :meth:`keep_known` for them."""
        if self.datasets is None:
            return "true"
        return f"{var}.dataset IN $known_datasets"

    def sees_fact(self, var: str, relation: str) -> str:
        """A Cypher predicate: the caller may see that source record ``var`` states its ``relation``
        link (a park, a chain, a credit event ...): :meth:`sees_record`, narrowed to the datasets whose
        columns making that link it may see (``facts``)."""
        if relation not in self.facts:
            return self.sees_record(var)
        return f"{var}.dataset IN $fact_{relation}"

    def stated_props(self, node: str = "n", records: str = "rs", identity: str = "") -> str:
        """Cypher for the properties of fact node ``node`` as the caller may see them, given
        ``records``: a list of its live records the caller may see. A node's properties are its records'
        fields (each load ``SET n += props``, the last record written wins), so it holds what records of
        datasets hidden from the caller wrote: a property shows where a record of them states the same
        value in a column the caller may see (``columns``); ``key`` (every record pointing at the node
        states its key fields) and those ``identity`` (a Cypher predicate on ``k``) names always do. A
        list of ``[name, value]`` pairs (Cypher cannot build a map with computed keys; read it with
        ``dict``), or the node's map for a caller from whom nothing is sifted."""
        if not self.sifts_facts:
            return f"properties({node})"
        extra = f" OR ({identity})" if identity else ""
        return (
            f"[k IN keys({node}) WHERE k = 'key'{extra} OR any(x IN {records} WHERE x[k] = {node}[k]"
            f"{self._column_shown('x', 'k')}) | [k, {node}[k]]]"
        )

    def stated(self, prop: str, node: str, records: str) -> str:
        """Cypher for the property ``prop`` of fact node ``node`` where one of ``records`` (as in
        :meth:`stated_props`) states it in a column the caller may see, else null."""
        if not self.sifts_facts:
            return f"{node}.{prop}"
        shown = self._column_shown("x", f"'{prop}'")
        return f"CASE WHEN any(x IN {records} WHERE x.{prop} = {node}.{prop}{shown}) THEN {node}.{prop} END"

    def column_value(self, prop: str, record: str) -> str:
        """Cypher for field ``prop`` of source record ``record`` where the caller may see its column
        (the record itself being one it may see), else null."""
        if not self.columns:
            return f"{record}.{prop}"
        return f"CASE WHEN NOT ({record}.dataset + ':{prop}') IN $hidden_columns THEN {record}.{prop} END"

    def _column_shown(self, record: str, prop: str) -> str:
        """`` AND <the column of field prop (a Cypher string) of record is not hidden>``, or nothing."""
        if not self.columns:
            return ""
        return f" AND NOT ({record}.dataset + ':' + {prop}) IN $hidden_columns"

    def shows(self, prop: str, var: str = "e") -> str:
        """A Cypher predicate: the caller may see the golden ``prop`` of enterprise ``var``."""
        if prop not in self.golden:
            return "true"
        return f"{golden_dataset(prop, var)} IN $golden_{prop}"

    def value(self, prop: str, var: str = "e") -> str:
        """The golden ``prop`` of ``var`` as the caller may see it: null where it may not."""
        if prop not in self.golden:
            return f"{var}.{prop}"
        return f"CASE WHEN {self.shows(prop, var)} THEN {var}.{prop} END"

    def params(self) -> dict[str, Any]:
        """The parameters the predicates above use (unused ones are harmless)."""
        out: dict[str, Any] = {f"golden_{prop}": list(datasets) for prop, datasets in self.golden.items()}
        if self.datasets is not None:
            out["known_datasets"] = list(self.datasets)
        if self.figures is not None:
            out["figure_sources"] = list(self.figures)
        out |= {f"fact_{relation}": list(datasets) for relation, datasets in self.facts.items()}
        if self.columns:
            out["hidden_columns"] = list(self.columns)
        return out


EVERYTHING = Visibility()


def also(*predicates: str) -> str:
    """`` AND <predicate>`` for each of ``predicates`` that tests something (``true`` ones are left
    out), to append to a WHERE: a caller who may see everything gets the statement unchanged."""
    return "".join(f" AND {p}" for p in predicates if p != "true")


def golden_dataset(prop: str, var: str = "e") -> str:
    """Cypher for the dataset that stated the golden ``prop`` of enterprise ``var``, or null.

    ``golden_sources`` is JSON (``resolution/golden.py``): ``{"town": ["<record id>", "<dataset>",
    <priority>, "<recency>"], ...}``. Splitting it after the quoted key, then on double quotes, gives the
    dataset as the fourth piece with or without spaces after the separators; record ids
    (``<dataset>:<hex>``) and dataset keys (``[a-z][a-z0-9_]*``) hold no quote or backslash, so nothing
    before it is escaped. A field without a source gives null, which no list of datasets holds: a value
    whose source cannot be read is treated as hidden, never as shown.
    """
    return f"split(split({var}.golden_sources, '\"{prop}\":')[1], '\"')[3]"

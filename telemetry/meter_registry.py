"""The meter registry: which enterprise each meter measures, decided like any other record's link.

A meter is known from the device feeds' rows (电表编号 with the enterprise's credit code, name and
utility account, 户号), or registered by a steward when it is first heard over MQTT. Each meter's rows
are read as mentions and linked with the resolution's own evidence, strongest first:

1. a **valid credit code** (checked with its check character) names the enterprise deterministically;
2. a **utility account** (户号) that resolution has already seen with a valid code on the utility's own
   monthly feed (the ``Identifier`` ``account:<department>:<no>``) — the same rule that links a
   code-less utility record;
3. an **exact name** (current or former) of exactly one enterprise.

One enterprise with many meters (一户多表) is simply several meters pointing at it. A meter whose
mentions name different enterprises (多户一表, one meter shared by several firms) is linked to all of
them and flagged ``shared`` for stewards: its consumption is not added to any one firm's totals until a
steward decides. A meter nothing links is flagged ``unattached``.

A steward's decision (:func:`pin`) is a judgement like any other steward decision (kind ``meter``,
``resolution/judgements.py``): kept forever, shown in the audit trail, and replayed: while it stands,
syncs leave the meter alone, and a sync applies any judgement not yet applied (saved just before a
crash). Undoing it (:func:`undo_pin`) gives the meter back to the evidence, or to the steward's previous
judgement on it when one still stands.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec, Role, Subject
from entgraph.graph import judgement_queries
from entgraph.graph import meter_queries as mq
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import EVERYTHING, Visibility
from entgraph.identity.chinese_names import normalise_text
from entgraph.identity.codes import is_valid_credit_code, normalise_code
from entgraph.resolution.judgements import Judgement
from entgraph.telemetry.payloads import utility_of_unit

UTILITIES = ("electricity", "water")
# The loaders key a meter node by its device feed's kind and the id (``电能表|<id>``).
METER_KIND = {"electricity": "电能表", "water": "水表"}
# Metrics a utility's monthly account feed reports: they say which utility a department is.
_UTILITY_METRICS = {"electricity_kwh": "electricity", "water_m3": "water"}
_VIA_RANK = {"credit_code": 0, "account": 1, "name": 2}


@dataclass(frozen=True)
class MeterFeeds:
    """What the catalog says about meters: each device feed's utility, and each utility's account
    departments (whose ``account:`` identifiers resolution remembers)."""

    utility_of_dataset: dict[str, str]
    account_departments: dict[str, tuple[str, ...]]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> MeterFeeds:
        specs = [feed.spec for feed in catalog]
        utility_of = {s.key: u for s in specs if s.subject is Subject.METER and (u := _device_utility(s))}
        departments: dict[str, set[str]] = defaultdict(set)
        for s in specs:
            if s.subject is Subject.METER or not any(c.role is Role.ACCOUNT_NUMBER for c in s.columns):
                continue
            for m in s.metrics:
                if m.name in _UTILITY_METRICS:
                    departments[_UTILITY_METRICS[m.name]].add(s.department)
        return cls(utility_of, {u: tuple(sorted(d)) for u, d in departments.items()})


def _device_utility(spec: DatasetSpec) -> str | None:
    """What a device feed meters, from its quantity column's unit (kWh, 千瓦时, 度 ... m³, 立方米, 吨)."""
    found = {utility_of_unit(c.unit) for c in spec.columns if c.role is Role.QUANTITY}
    return "electricity" if "electricity" in found else "water" if "water" in found else None


@dataclass
class SyncReport:
    meters: int = 0
    attached: int = 0
    shared: int = 0
    unattached: int = 0
    by_via: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        via = ", ".join(f"{k} {v}" for k, v in sorted(self.by_via.items())) or "none"
        return (
            f"{self.meters} meters: {self.attached} attached ({via}), {self.shared} shared (多户一表, "
            f"for stewards), {self.unattached} unattached"
        )


@dataclass
class _Meter:
    key: str
    meter_id: str
    utility: str | None = None
    codes: Counter[str] = field(default_factory=Counter)
    accounts: Counter[str] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)


def sync(
    store: GraphStore,
    catalog: Catalog,
    only_new: bool = False,
    now_ms: int | None = None,
    keys: Sequence[str] | None = None,
) -> SyncReport:
    """Link every (or every not yet linked, or each of ``keys``) meter no steward has judged to its
    enterprise(s), after applying the steward's judgements. Idempotent: rerunning after a crash, or after
    resolution changed, converges to the same links."""
    store.ensure_schema(mq.METER_SCHEMA)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    _judge_legacy_pins(store)
    judged = replay(store, now_ms)
    feeds = MeterFeeds.from_catalog(catalog)
    mentions = mq.meter_mentions(store, only_new, keys)
    meters = [m for m in _gather(mentions, feeds) if m.key not in judged]
    by_code = mq.enterprises_by_code(store, sorted({c for m in meters for c in m.codes}))
    account_keys = {
        (m.key, a): [f"account:{d}:{a}" for d in feeds.account_departments.get(m.utility or "", ())]
        for m in meters
        for a in m.accounts
    }
    by_account = mq.enterprises_by_identifier(store, sorted({k for ks in account_keys.values() for k in ks}))
    by_name = _name_index(store) if any(m.names for m in meters) else {}
    report, rows = SyncReport(meters=len(meters)), []
    for m in meters:
        owners = _decide(m, by_code, by_account, account_keys, by_name)
        review = None if len(owners) == 1 else ("shared" if owners else "unattached")
        rows.append(
            {"key": m.key, "meter": m.meter_id, "utility": m.utility, "review": review, "owners": owners}
        )
        if review == "shared":
            report.shared += 1
        elif review == "unattached":
            report.unattached += 1
        else:
            report.attached += 1
        report.by_via.update(o["via"] for o in owners)
    mq.write_attachments(store, rows, now_ms)
    return report


def replay(store: GraphStore, now_ms: int) -> set[str]:
    """Apply every standing meter judgement not yet applied (the latest per meter); the keys of the
    meters a steward has decided, which the evidence must leave alone."""
    latest: dict[str, dict] = {}
    for row in mq.standing_judgements(store):
        latest[row["j"]["meter_key"]] = {**row["j"], "applied": row["applied"]}
    for key, j in latest.items():
        if j["applied"] != j["id"]:
            mq.register(store, key, j["meter"], j["utility"])
            mq.apply_judgement(store, key, j["enterprises"], j.get("kept") or [], j["user"], j["id"], now_ms)
    return set(latest)


def _judge_legacy_pins(store: GraphStore) -> None:
    """Meters pinned before pins were judgements (a ``pinned`` flag) get the judgement they stand for."""
    for row in mq.legacy_pins(store):
        at = dt.datetime.fromtimestamp((row["at"] or 0) / 1000, dt.UTC).isoformat(timespec="microseconds")
        judgement = _judgement(
            row["key"], row["meter"], row["utility"], sorted(row["steward"]), row["actor"] or "steward",
            sorted(row["others"]), "pinned before pins were judgements",
        )  # fmt: skip
        judgement_queries.save_judgement(store, {**judgement, "at": at})
        mq.apply_judgement(store, row["key"], judgement["enterprises"], judgement["kept"],
                           judgement["user"], judgement["id"], row["at"] or 0)  # fmt: skip
        mq.forget_legacy_pin(store, row["key"])


def _judgement(
    key: str, meter: str, utility: str | None, ids: list[str], actor: str, kept: list[str], reason: str
) -> dict:
    """A meter judgement's properties: ``object`` the first enterprise (empty: the meter is nobody's)."""
    j = Judgement.new("meter", mq.SUBJECT + key, ids[0] if ids else "", actor, reason)
    return {**j.props(), "enterprises": ids, "kept": kept, "meter_key": key, "meter": meter,
            "utility": utility, "records": []}  # fmt: skip


def _gather(rows: Iterable[dict], feeds: MeterFeeds) -> list[_Meter]:
    meters: dict[str, _Meter] = {}
    for row in rows:
        m = meters.setdefault(row["key"], _Meter(row["key"], row["meter"]))
        m.utility = m.utility or feeds.utility_of_dataset.get(row["dataset"])
        n = int(row["n"])
        code = normalise_code(row["code"]) if row["code"] else ""
        if code and is_valid_credit_code(code):
            m.codes[code] += n
        if row["account"]:
            m.accounts[str(row["account"]).strip()] += n
        if row["name"]:
            m.names[normalise_text(str(row["name"]))] += n
    return sorted(meters.values(), key=lambda m: m.key)


def _name_index(store: GraphStore) -> dict[str, set[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for row in mq.enterprise_names(store):
        for name in row["names"] or ():
            if name:
                index[normalise_text(name)].add(row["id"])
    return index


def _decide(
    m: _Meter,
    by_code: dict[str, str],
    by_account: dict[str, str],
    account_keys: dict[tuple[str, str], list[str]],
    by_name: dict[str, set[str]],
) -> list[dict[str, str]]:
    """The enterprises ``m`` measures, each with the strongest evidence naming it. Weaker evidence only
    counts when nothing stronger named anyone: a name never adds a second owner to a coded meter."""
    found: dict[str, tuple[str, str]] = {}

    def offer(enterprise: str, via: str, evidence: str) -> None:
        if enterprise not in found or _VIA_RANK[via] < _VIA_RANK[found[enterprise][0]]:
            found[enterprise] = (via, evidence)

    for code in m.codes:
        if code in by_code:
            offer(by_code[code], "credit_code", code)
    if not found:
        for account in m.accounts:
            for key in account_keys.get((m.key, account), ()):
                if key in by_account:
                    offer(by_account[key], "account", key)
    if not found:
        for name in m.names:
            ids = by_name.get(name, set())
            if len(ids) == 1:
                offer(next(iter(ids)), "name", name)
    return [{"id": e, "via": via, "evidence": ev} for e, (via, ev) in sorted(found.items())]


def attached_to(store: GraphStore) -> dict[str, set[str]]:
    """Meter id -> the enterprises it is attached to (more than one: a shared meter, 多户一表, whose
    readings count for nobody until a steward decides)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for row in mq.owners(store):
        owners[row["meter"]].add(row["enterprise"])
    return dict(owners)


def exclusive_owners(store: GraphStore) -> dict[str, str]:
    """Meter id -> its one enterprise, for the meters attached to exactly one."""
    return {m: next(iter(e)) for m, e in attached_to(store).items() if len(e) == 1}


def pin(
    store: GraphStore,
    meter: str,
    utility: str,
    enterprise_ids: list[str],
    actor: str,
    sight: Visibility = EVERYTHING,
    reason: str = "",
) -> list[str]:
    """A steward's decision, saved as a judgement (see module doc), about the enterprises it knows
    (``sight``): the meter's links to others stay (``meter_queries.apply_judgement``). Returns the ids
    linked."""
    if utility not in UTILITIES:
        raise ValueError(f"utility must be one of {', '.join(UTILITIES)}, not {utility!r}")
    missing = sorted(set(enterprise_ids) - mq.live_enterprises(store, enterprise_ids))
    if missing:
        raise ValueError(f"no live enterprise with id {', '.join(missing)}")
    store.ensure_schema(mq.METER_SCHEMA)
    # The same id can name an electricity and a water meter: pin the one of this utility.
    existing = [r["key"] for r in mq.registered_as(store, meter) if r["utility"] in (utility, None)]
    key = existing[0] if existing else f"{METER_KIND[utility]}|{meter}"
    mq.register(store, key, meter, utility)
    ids = list(dict.fromkeys(enterprise_ids))
    judgement = _judgement(key, meter, utility, ids, actor, mq.hidden_owners(store, key, sight), reason)
    judgement_queries.save_judgement(store, judgement)  # first: a crash after it is replayed by a sync
    return mq.apply_judgement(
        store, key, ids, judgement["kept"], actor, judgement["id"], int(time.time() * 1000)
    )


def undo_pin(store: GraphStore, catalog: Catalog, judgement_id: str, actor: str, reason: str = "") -> dict:
    """Withdraw a meter judgement: the meter goes back to the steward's previous standing judgement on
    it, or else to what the evidence says (a sync of that meter). Returns the judgement as stored now."""
    row = judgement_queries.judgement(store, judgement_id)
    if row is None or row.get("kind") != "meter":
        raise ValueError(f"no meter judgement {judgement_id}")
    if row.get("undone"):
        raise ValueError(f"judgement {judgement_id} was already undone at {row['undone_at']}")
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    judgement_queries.save_judgement(
        store,
        {"id": judgement_id, "undone": True, "undone_by": actor, "undone_at": at, "undo_reason": reason},
    )
    key = row["meter_key"]
    mq.release(store, key)
    now_ms = int(time.time() * 1000)
    if key not in replay(store, now_ms):
        sync(store, catalog, keys=[key], now_ms=now_ms)
    found = judgement_queries.judgement(store, judgement_id)
    assert found is not None
    return found


def known_meters(store: GraphStore) -> set[str]:
    """Every registered meter id (attached or not): readings of other meters are quarantined."""
    return {r["meter"] for r in mq.known_meters(store)}

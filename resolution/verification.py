"""The towns' verification lists: refreshed from the graph, verdicts recorded and replayed, timeliness.

:func:`refresh` computes every cross-check item (``cross_checks.py``) and keeps it
(``town_check_queries.keep_items``): an item reaches a town's list when a refresh first finds it (the
upload worker refreshes after each resolve; ``entgraph towns refresh`` does on demand) and leaves it
when the data clears it (a registration arrives, a meter is re-attached ...).

A town's verdict on an item is a judgement (kind ``verify``: who, when, the round, the note) and is
replayed: the lists read every standing verdict each time, so a settled item stays settled in later
months, new data and reruns included, until its verdict is undone. ``follow_up`` keeps an item open.
What a verdict changes in the graph (a ``matched`` item merged or linked to its enterprise, a meter
pinned) is the steward's or the meter registry's own judgement, made by the caller (``api/towns.py``)
and replayed by them.

A list for a round (a month, ``YYYY-MM``) holds the items the town had received by then and not
settled before it: open ones, those it settled in that round, and those the data cleared in it.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.graph import meter_queries, task_queries
from entgraph.graph import town_check_queries as q
from entgraph.graph.port import GraphStore
from entgraph.localtime import CST
from entgraph.resolution import cross_checks
from entgraph.workdays import add_workdays

VERDICTS: tuple[str, ...] = ("matched", "not_ours", "closed", "moved", "follow_up")
VERIFY_WORKDAYS = 20  # a town settles what reaches it within 20 working days (about its monthly cycle)
# The town of items whose records name none (a power feed with names only): the city's office places
# them; ``listing(town=UNPLACED)`` selects them, as the direct reports' reminders do.
UNPLACED = "未定镇街"


class VerificationError(ValueError):
    """A verdict the platform will not take; the sentence says why."""


@dataclass(frozen=True)
class RefreshSummary:
    items: int
    new: int
    cleared: int

    def line(self) -> str:
        return f"{self.items} items to verify ({self.new} new), {self.cleared} cleared by the data"


def current_round(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(CST)).astimezone(CST).strftime("%Y-%m")


def refresh(store: GraphStore, catalog: Catalog, now: dt.datetime | None = None) -> RefreshSummary:
    """Compute every town's items from the graph and keep them (see the module doc)."""
    store.ensure_schema(q.CHECK_SCHEMA)
    kinds = cross_checks.evidence_datasets(catalog)
    wanted = sorted({d for datasets in kinds.values() for d in datasets})
    links = q.electricity_meters(store)
    fed: dict[str, set[str]] = {}
    for row in meter_queries.meter_mentions(store, only_unattached=False):
        if row.get("name"):
            fed.setdefault(row["key"], set()).add(row["name"])
    found = [
        *cross_checks.enterprise_checks(
            q.enterprise_evidence(store, wanted, None), kinds, {link["enterprise"] for link in links}
        ),
        *cross_checks.task_checks(task_queries.tasks(store, "open"), kinds),
        *cross_checks.meter_checks(links, fed),
    ]
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    known = {row["key"] for row in q.items(store, None) if row.get("gone_at") is None}
    cleared = q.keep_items(
        store, [_props(item) for item in found], moment.isoformat(timespec="milliseconds"), current_round(now)
    )
    return RefreshSummary(len(found), sum(1 for item in found if item.key not in known), cleared)


def _props(item: cross_checks.CheckItem) -> dict[str, Any]:
    props = asdict(item)
    props["key"] = item.key
    props["evidence"] = list(item.evidence)
    props["extra"] = json.dumps(dict(item.extra), ensure_ascii=False)
    return {k: v for k, v in props.items() if v is not None}


def record(
    store: GraphStore,
    item_key: str,
    verdict: str,
    *,
    user: str,
    note: str = "",
    enterprise: str | None = None,
    round_: str | None = None,
) -> dict[str, Any]:
    """Keep a town's verdict on an item (its effect on the graph is the caller's: see the module doc)."""
    if verdict not in VERDICTS:
        raise VerificationError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if verdict == "matched" and not enterprise:
        raise VerificationError("a matched item names the enterprise it is")
    if verdict in ("not_ours", "follow_up") and not note.strip():
        raise VerificationError(f"say why ({verdict}): what the town found")
    found = q.item(store, item_key)
    if found is None:
        raise VerificationError(f"no item {item_key} to verify")
    judgement = {
        "id": f"J-{uuid.uuid4().hex[:16]}",
        "subject": item_key,
        "object": enterprise or "",
        "verdict": verdict,
        "town": found.get("town") or "",
        "round": round_ or current_round(),
        "user": user,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "reason": note.strip(),
    }
    q.save_verdict(store, judgement)
    return {**judgement, "kind": q.KIND}


def undo(store: GraphStore, verdict_id: str, user: str) -> dict[str, Any]:
    undone = q.undo_verdict(store, verdict_id, user, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    if undone is None:
        raise VerificationError(f"no standing verdict {verdict_id}")
    return undone


def standing(store: GraphStore) -> dict[str, dict[str, Any]]:
    """Each item's standing verdict (the latest not undone)."""
    latest: dict[str, dict[str, Any]] = {}
    for verdict in q.verdicts(store):
        latest[verdict["subject"]] = verdict
    return latest


def listing(
    store: GraphStore, town: str | None, round_: str, checks: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """A town's list for ``round_`` (``town`` None: every town; :data:`UNPLACED`: items of no town):
    each item with ``status`` (open, settled, cleared) and its verdict."""
    verdicts = standing(store)
    listed = []
    kept = q.items(store, None if town == UNPLACED else town)
    for item in kept if town != UNPLACED else [i for i in kept if not i.get("town")]:
        if checks and item["check"] not in checks:
            continue
        if item.get("first_round", "") > round_:
            continue  # reached the town after this round
        verdict = verdicts.get(item["key"])
        gone = _round_of(item.get("gone_at"))
        if verdict and verdict["verdict"] != "follow_up":
            if verdict["round"] < round_:
                continue  # settled in an earlier round
            status = "settled"
        elif gone is not None:
            if gone < round_:
                continue
            status = "cleared"
        else:
            status = "open"
        listed.append(
            {**item, "status": status, "verdict": verdict, "extra": json.loads(item.get("extra") or "{}")}
        )
    return sorted(listed, key=lambda i: (i["status"] != "open", i.get("town") or "", i["check"], i["key"]))


def _round_of(moment: str | None) -> str | None:
    return current_round(dt.datetime.fromisoformat(moment)) if moment else None


def timeliness(
    store: GraphStore, since: dt.date, until: dt.date, within: int = VERIFY_WORKDAYS
) -> dict[str | None, dict[str, Any]]:
    """Per town: the items received between ``since`` and ``until`` (China dates), how many it settled,
    how many within ``within`` working days, the median days to settle, and how many are open."""
    verdicts = standing(store)
    towns: dict[str | None, dict[str, Any]] = {}
    for item in q.items(store, None):
        received = dt.datetime.fromisoformat(item["first_seen_at"]).astimezone(CST)
        if not since <= received.date() <= until:
            continue
        town = towns.setdefault(
            item.get("town"), {"received": 0, "handled": 0, "on_time": 0, "open": 0, "days": []}
        )
        town["received"] += 1
        verdict = verdicts.get(item["key"])
        if verdict and verdict["verdict"] != "follow_up":
            settled = dt.datetime.fromisoformat(verdict["at"]).astimezone(CST)
            town["handled"] += 1
            town["on_time"] += settled.date() <= add_workdays(received.date(), within)
            town["days"].append((settled - received).total_seconds() / 86400)
        elif item.get("gone_at") is None:
            town["open"] += 1
    for town in towns.values():
        days = town.pop("days")
        town["median_days"] = round(statistics.median(days), 1) if days else None
    return towns


def item(store: GraphStore, item_key: str) -> dict[str, Any] | None:
    return q.item(store, item_key)


def extra_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item's extra facts (the steward task, the meter key ...), kept as JSON."""
    extra = item.get("extra") or {}
    return json.loads(extra) if isinstance(extra, str) else dict(extra)

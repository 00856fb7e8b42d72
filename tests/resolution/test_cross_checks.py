"""The towns' cross-check items from what the graph says: each list's rule, on hand-made rows."""

from __future__ import annotations

from entgraph.catalog.registry import Catalog
from entgraph.resolution.cross_checks import enterprise_checks, evidence_datasets, meter_checks, task_checks

KINDS = {"registration": ["reg"], "tax": ["taxreg", "taxpaid"], "power": ["kwh"]}


def _row(id_: str, *datasets: str, provisional: bool = False) -> dict:
    return {"id": id_, "name": f"{id_}公司", "town": "陈埭镇", "datasets": list(datasets),
            "provisional": provisional, "since": "2026-01"}  # fmt: skip


def _checks(items: list) -> set[tuple[str, str]]:
    return {(i.check, i.subject) for i in items}


def test_each_enterprise_list_names_what_is_missing() -> None:
    rows = [
        _row("E-full", "reg", "taxpaid", "kwh"),
        _row("E-taxonly", "taxreg"),
        _row("E-power", "reg", "kwh"),
        _row("E-metered", "reg", "taxreg"),  # a power user by its meter alone
        _row("E-nothing", "reg"),
        _row("P-name", "kwh", provisional=True),
        _row("P-quiet", "reg", provisional=True),  # name-only, but no tax or power: not the towns' to check
    ]
    items = enterprise_checks(rows, KINDS, metered={"E-metered", "E-power"})
    assert _checks(items) == {
        ("tax_without_registration", "E-taxonly"),
        ("power_without_tax", "E-power"),
        ("unmatched", "P-name"),
    }
    [unmatched] = [i for i in items if i.check == "unmatched"]
    assert unmatched.key == "check:unmatched:P-name" and unmatched.evidence == ("kwh",)
    assert unmatched.town == "陈埭镇" and unmatched.since == "2026-01"


def test_a_power_user_without_registration_or_tax_is_on_both_lists() -> None:
    items = enterprise_checks([_row("E-x", "kwh")], KINDS, metered=set())
    assert _checks(items) == {("power_without_registration", "E-x"), ("power_without_tax", "E-x")}


def test_open_tasks_over_tax_or_power_records_are_unmatched_items() -> None:
    tasks = [
        {"id": "T-1", "name": "某某鞋厂", "town": "池店镇", "datasets": ["kwh", "reg"], "impact": 3},
        {"id": "T-2", "name": "某某店", "town": "池店镇", "datasets": ["reg"], "impact": 1},
    ]
    [item] = task_checks(tasks, KINDS)
    assert (item.check, item.subject, item.evidence, item.extra["records"]) == (
        "unmatched",
        "T-1",
        ("kwh",),
        3,
    )


def test_meters_many_shared_and_named_otherwise() -> None:
    def link(key: str, enterprise: str, name: str, town: str = "陈埭镇") -> dict:
        return {"key": key, "meter": key.split("|")[1], "enterprise": enterprise, "name": name,
                "names": [], "town": town}  # fmt: skip

    links = [
        link("elec|M1", "E-a", "晋江市甲鞋业有限公司"),
        link("elec|M2", "E-a", "晋江市甲鞋业有限公司"),
        link("elec|M3", "E-b", "晋江市乙纺织有限公司"),
        link("elec|M3", "E-c", "晋江市丙机械有限公司", town="池店镇"),
        link("elec|M4", "E-d", "晋江市丁食品有限公司"),
        link("elec|M5", "E-e", "晋江市戊服装有限公司"),
    ]
    fed = {"elec|M4": {"晋江市某某贸易有限公司"}, "elec|M5": {"晋江市戊服装有限公司"}}
    items = meter_checks(links, fed)
    assert _checks(items) == {
        ("meter_many", "E-a"),
        ("meter_shared", "elec|M3@E-b"),
        ("meter_shared", "elec|M3@E-c"),
        ("meter_name_differs", "elec|M4"),
    }
    shared = {i.town for i in items if i.check == "meter_shared"}
    assert shared == {"陈埭镇", "池店镇"}, "every town a shared meter touches verifies it"


def test_the_catalog_names_registration_tax_and_power_feeds() -> None:
    kinds = evidence_datasets(Catalog.load(entry_points=False))
    assert "jj_enterprise_registration" in kinds["registration"]
    assert {"jj_tax_registration", "jj_tax_net_receipts", "wh_tax_revenue"} <= set(kinds["tax"])
    assert {"jj_key_enterprise_electricity", "wh_enterprise_electricity"} <= set(kinds["power"])

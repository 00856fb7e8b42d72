"""End to end in headless Chromium against ``entgraph serve`` (see conftest.py): what a person sees and
does in the console, checked against what the API says. Each test also fails if the page threw or
logged an error (CSP refusals included)."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from typing import Any

import httpx
import openpyxl

from entgraph.city_fixtures import City
from entgraph.graph import honour_queries

NAME = "query ($id: String) { enterprise(id: $id) { id name } }"


def shoot(console: Any, page: Any, name: str, full_page: bool = False) -> None:
    path = console.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{name}: the screenshot is (nearly) blank"


def chart_points(page: Any, testid: str) -> int:
    """How many points the ECharts chart in ``[data-testid=testid]`` draws (first series)."""
    page.wait_for_selector(f'[data-testid="{testid}"][data-rendered="1"]')
    return page.evaluate(
        "(id) => { const el = document.querySelector(`[data-testid='${id}']`);"
        " const option = echarts.getInstanceByDom(el).getOption();"
        " return option.series.reduce((n, s) => n + s.data.filter((p) => p !== null).length, 0); }",
        testid,
    )


def golden_cell(page: Any, field: str) -> Any:
    return page.locator(f'[data-testid="golden"] tr[data-field="{field}"] td')


def test_search_opens_a_panorama_whose_charts_render(console: Any, open_as: Any) -> None:
    enterprise = console.graphql(NAME, {"id": console.metered})["enterprise"]
    page = open_as("analyst", "/search")
    # A fragment of the name, as people type it: no legal form, no city prefix.
    trade = re.sub(r"(股份有限公司|有限责任公司|有限公司)$", "", enterprise["name"])
    fragment = trade.removeprefix("晋江市")[:6]
    page.fill('[data-testid="search-input"]', fragment)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'[data-testid="results"][data-query="{fragment}"]')
    hit = page.locator(f'[data-testid="result"][data-id="{enterprise["id"]}"]')
    hit.wait_for()
    assert page.locator('[data-testid="result-count"]').inner_text()
    shoot(console, page, "search")

    hit.locator("a").click()
    page.wait_for_selector(f'[data-testid="panorama"][data-id="{enterprise["id"]}"]')
    assert page.inner_text('[data-testid="enterprise-name"]') == enterprise["name"]
    # Each golden field says where it came from, on hover.
    sourced = page.locator('[data-testid="golden"] td[data-source]:not([data-source=""])')
    assert sourced.count() >= 3
    assert all("来源" in (sourced.nth(i).get_attribute("title") or "") for i in range(sourced.count()))

    # The meter's load curve: a week by hour, then a day of 5-minute readings (written by the fixture).
    week = chart_points(page, "load-curve")
    assert 150 <= week <= 7 * 24 + 1
    page.click('button[data-zoom="day"]')
    page.wait_for_function(
        "() => { const el = document.querySelector(\"[data-testid='load-curve']\");"
        " return el.dataset.rendered === '1' &&"
        " echarts.getInstanceByDom(el).getOption().series[0].data.length > 200; }"
    )
    # The relationship graph starts from this enterprise and grows when a neighbour is clicked.
    graph = page.locator('[data-testid="relgraph"]')
    page.wait_for_function(
        "() => Number(document.querySelector(\"[data-testid='relgraph']\").dataset.nodes) >= 1"
    )
    assert int(graph.get_attribute("data-nodes")) >= 1
    page.click('button[data-zoom="week"]')
    page.wait_for_selector('[data-testid="load-curve"][data-rendered="1"]')
    page.locator('[data-testid="metric-charts"] .card').first.wait_for()
    shoot(console, page, "panorama", full_page=True)


def test_a_metric_chart_draws_the_series_the_api_returns(console: Any, open_as: Any) -> None:
    # Pages of ten: a page of enterprises with their metric series is costly (the API's cost limit).
    query = (
        "query ($after: String) { enterprises(first: 10, after: $after) { pageInfo { endCursor } "
        'edges { node { id metrics(names: ["tax", "vat"]) { points { period } } } } } }'
    )
    best, after = None, None
    for _ in range(10):
        page_of = console.graphql(query, {"after": after}, role="analyst")["enterprises"]
        for node in (e["node"] for e in page_of["edges"]):
            points = sum(len(m["points"]) for m in node["metrics"])
            if points and (best is None or points > best[1]):
                best = (node["id"], points)
        after = page_of["pageInfo"]["endCursor"]
    assert best, "the city reports tax for some enterprises"
    page = open_as("analyst", f"/enterprise/{best[0]}")
    assert chart_points(page, "chart-tax") == best[1]


def _with_personal_fields(console: Any) -> dict[str, Any]:
    rows = console.graphql(
        "{ enterprises(first: 100) { edges { node { id phone legalRep } } } }", role="steward"
    )
    return next(
        e["node"] for e in rows["enterprises"]["edges"] if e["node"]["phone"] and e["node"]["legalRep"]
    )


def test_personal_fields_are_masked_by_role(console: Any, open_as: Any) -> None:
    chosen = _with_personal_fields(console)
    path = f"/enterprise/{chosen['id']}"

    steward = open_as("steward", path)
    steward.wait_for_selector('[data-testid="golden"]')
    assert golden_cell(steward, "phone").inner_text() == chosen["phone"]

    analyst = open_as("analyst", path)
    analyst.wait_for_selector('[data-testid="golden"]')
    masked = golden_cell(analyst, "phone").locator("[data-masked]")
    assert masked.count() == 1
    assert "*" in masked.inner_text() and chosen["phone"] not in masked.inner_text()

    public = open_as("public", path)
    public.wait_for_selector('[data-testid="golden"]')
    phone = golden_cell(public, "phone")
    # Personal data is not open to the public: no value at all, masked or not.
    assert phone.count() == 0 or phone.locator("[data-hidden]").count() == 1
    assert chosen["phone"] not in public.inner_text("main")
    assert chosen["phone"][-4:] not in public.inner_text('[data-testid="golden"]')
    shoot(console, public, "panorama-public")


def test_roles_decide_which_pages_and_actions_are_offered(console: Any, open_as: Any) -> None:
    public = open_as("public", "/search")
    assert public.locator('[data-nav="steward"]').count() == 0
    assert public.locator('[data-nav="warnings"]').count() == 0
    public.goto(f"{console.url}#/steward")
    public.wait_for_selector('[data-testid="forbidden"]')

    analyst = open_as("analyst", "/search")
    assert analyst.locator('[data-nav="warnings"]').count() == 1
    assert analyst.locator('[data-nav="steward"]').count() == 0
    analyst.goto(f"{console.url}#/warnings?town={console.warning_town}")
    analyst.locator("[data-warning]").first.wait_for()
    assert analyst.locator('[data-testid="acknowledge"], [data-testid="resolve"]').count() == 0


def test_a_steward_logs_in_and_accepts_a_task_which_the_api_then_shows(console: Any, open_as: Any) -> None:
    open_as.expected.append("status of 401")  # the wrong key below, refused by the API
    page = open_as("public", "/login")
    shoot(console, page, "login")
    page.fill('[data-testid="credential"]', "egk_not-a-key")
    page.click('[data-testid="login-submit"]')
    page.wait_for_selector('[data-testid="login-error"]:not([hidden])')
    page.fill('[data-testid="credential"]', console.keys["steward"])
    page.click('[data-testid="login-submit"]')
    page.wait_for_selector('[data-testid="role"]:has-text("steward-user")')

    page.click('[data-nav="steward"]')
    page.wait_for_selector('[data-testid="task-name"]')
    task_id = page.locator('[data-testid="task-queue"] li.active').get_attribute("data-task")
    task = console.graphql(
        "query ($id: String!) { stewardTask(id: $id) { status records { id } "
        "candidates { enterpriseId probability } } }",
        {"id": task_id},
        role="steward",
    )["stewardTask"]
    assert task["status"] == "open" and task["candidates"]
    page.wait_for_selector('[data-testid="waterfall"][data-rendered="1"]')
    # Both sides, field by field.
    assert page.locator('[data-testid="comparison"] tr[data-field="name"] td').count() >= 2
    shoot(console, page, "steward")

    page.fill('[data-testid="reason"]', "同一企业：名称与镇街一致")
    page.locator("body").click(position={"x": 5, "y": 300})  # leave the text box: keys are shortcuts again
    page.keyboard.press("a")
    page.wait_for_selector('[data-testid="toast"]:not([hidden])')

    after = console.graphql(
        "query ($id: String!, $e: String!) { stewardTask(id: $id) { status } "
        "enterprise(id: $e) { sourceRecords(first: 100) { id } } "
        "judgements(first: 5) { kind object task reason user } }",
        {"id": task_id, "e": task["candidates"][0]["enterpriseId"]},
        role="steward",
    )
    assert after["stewardTask"]["status"] == "resolved"
    linked = {r["id"] for r in after["enterprise"]["sourceRecords"]}
    assert {r["id"] for r in task["records"]} <= linked
    judgement = next(j for j in after["judgements"] if j["task"] == task_id)
    assert judgement["kind"] == "link" and judgement["object"] == task["candidates"][0]["enterpriseId"]
    assert judgement["reason"] == "同一企业：名称与镇街一致" and judgement["user"] == "steward-user"

    # "z" withdraws the judgement this tab made: the task is open again, the judgement kept as undone.
    page.wait_for_selector('[data-testid="toast"]', state="hidden", timeout=10_000)
    page.keyboard.press("z")
    page.wait_for_selector('[data-testid="toast"]:not([hidden])')
    undone = console.graphql(
        "query ($id: String!) { stewardTask(id: $id) { status } judgements(first: 5) { id task undone } }",
        {"id": task_id},
        role="steward",
    )
    assert undone["stewardTask"]["status"] == "open"
    assert next(j for j in undone["judgements"] if j["task"] == task_id)["undone"] is True

    page.goto(f"{console.url}#/audit")
    page.wait_for_selector('[data-testid="audit"] tr[data-judgement].undone')
    assert task["candidates"][0]["enterpriseId"] in page.inner_text('[data-testid="audit"]')
    shoot(console, page, "audit")


def test_the_chain_explorer_shows_segments_and_aggregates(console: Any, open_as: Any) -> None:
    chains = console.graphql("{ industryChains { name enterpriseCount } }")["industryChains"]
    name = max(chains, key=lambda c: c["enterpriseCount"])["name"]
    query = "query ($name: String!) { industryChain(name: $name) { name segments { position } } }"
    biggest = console.graphql(query, {"name": name})["industryChain"]
    page = open_as("analyst", "/chains")
    page.wait_for_selector('[data-testid="chain-name"]')
    assert page.inner_text('[data-testid="chain-name"]') == biggest["name"]
    assert page.get_attribute('[data-testid="chain-graph"]', "data-segments") == str(len(biggest["segments"]))
    assert page.locator('[data-testid="segment"]').count() == len(biggest["segments"])
    page.wait_for_selector('[data-testid="chain-by-segment"][data-rendered="1"]')
    shoot(console, page, "chains")


MAP_POINTS = """query ($t: String!) {
  townMap(town: $t) { boundary { town } enterprises { id lng lat } parcels { key } }
}"""
MAP_OPTION = """() => {
  const chart = echarts.getInstanceByDom(document.querySelector('[data-testid="town-map"]'));
  const option = chart.getOption();
  const geo = (option.geo || [])[0];
  const shown = geo ? echarts.getMap(geo.map) : null;
  return {
    series: option.series.map((s) => ({ type: s.type, map: s.map || null, points: (s.data || []).length })),
    regions: shown ? shown.geoJSON.features.map((f) => f.properties.name) : null,
  };
}"""


def test_the_map_draws_the_city_then_a_towns_boundary_and_points_and_opens_a_panorama(
    console: Any, open_as: Any
) -> None:
    towns = [b["town"] for b in console.graphql("{ townBoundaries { town } }")["townBoundaries"]]
    assert len(towns) == 19  # the generated city's boundary layer, loaded like any department file
    maps = {town: console.graphql(MAP_POINTS, {"t": town}, role="analyst")["townMap"] for town in towns}
    town = max(towns, key=lambda name: len(maps[name]["enterprises"]))
    shown = maps[town]
    assert shown["enterprises"], "some enterprise of the city holds a parcel with coordinates"

    page = open_as("analyst", "/map")
    page.wait_for_selector('[data-testid="town-map"][data-rendered="1"]')
    city = page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('[data-testid=\"town-map\"]'))"
        ".getOption().series.map((s) => [s.type, s.map, s.data.length])"
    )
    assert city == [["map", "entgraph-city", 19]]
    shoot(console, page, "map-city")

    page.select_option('[data-testid="map-town"]', town)
    page.wait_for_url(re.compile(r"#/map\?town="))
    page.wait_for_selector('[data-testid="town-map"][data-rendered="1"]')
    drawn = page.evaluate(MAP_OPTION)
    assert drawn["regions"] == [town]  # the town's boundary, registered as GeoJSON: no tiles, no network
    assert drawn["series"] == [
        {"type": "scatter", "map": None, "points": len(shown["parcels"])},
        {"type": "scatter", "map": None, "points": len(shown["enterprises"])},
    ]
    assert str(len(shown["enterprises"])) in page.inner_text('[data-testid="map-summary"]')
    shoot(console, page, "map")

    # A real click on an enterprise's point opens its panorama.
    target = shown["enterprises"][0]
    x, y = page.evaluate(
        "([lng, lat]) => echarts.getInstanceByDom(document.querySelector('[data-testid=\"town-map\"]'))"
        ".convertToPixel({ geoIndex: 0 }, [lng, lat])",
        [target["lng"], target["lat"]],
    )
    box = page.locator('[data-testid="town-map"]').bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_url(re.compile(r"#/enterprise/"))
    opened = page.evaluate("() => decodeURIComponent(location.hash.slice('#/enterprise/'.length))")
    here = {e["id"] for e in shown["enterprises"] if (e["lng"], e["lat"]) == (target["lng"], target["lat"])}
    assert opened in here
    page.wait_for_selector('[data-testid="golden"]')


def test_feeds_board_and_a_row_error_report_download(console: Any, open_as: Any, tmp_path: Any) -> None:
    feeds = console.graphql("{ feedStatus { dataset } uploads(first: 200) { id rejected errorReport } }")
    page = open_as("analyst", "/feeds")
    page.wait_for_selector('[data-testid="timeliness"]')
    assert page.locator('[data-testid="timeliness"] tr[data-dataset]').count() == len(feeds["feedStatus"])
    refused = next(u for u in feeds["uploads"] if u["rejected"] and u["errorReport"])
    shoot(console, page, "feeds")
    with page.expect_download() as download:
        page.locator(f'tr[data-upload="{refused["id"]}"] [data-testid="report"]').click()
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    workbook = openpyxl.load_workbook(saved, read_only=True)
    assert len(workbook.sheetnames) >= 2


def test_a_department_uploads_a_file_and_downloads_its_report(
    console: Any, open_as: Any, tmp_path: Any
) -> None:
    registrations = next(p for p in console.city.files.iterdir() if p.name.startswith("税务登记信息"))
    # a clerk's new export: the same register with one row gone bad, under this month's name
    raw = registrations.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "gb18030"  # as the clerk saved it
    lines = raw.decode(encoding).splitlines()
    cells = lines[3].split(",")
    cells[1] = ""  # 纳税人名称 is required: the row is refused and the report says why
    lines[3] = ",".join(cells)
    sent = tmp_path / "税务登记信息_2023-05.csv"
    sent.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))

    page = open_as("department", "/upload")
    assert (
        page.locator('[data-nav="upload"]').count() == 1 and page.locator('[data-nav="steward"]').count() == 0
    )
    assert page.locator('[data-testid="upload-scope"]').inner_text() == "晋江:市税务局"
    options = page.locator('[data-testid="upload-dataset"] option').all_inner_texts()
    assert any("jj_tax_registration" in o for o in options) and not any(
        "jj_key_enterprise_electricity" in o for o in options
    )
    page.select_option('[data-testid="upload-dataset"]', "jj_tax_registration")
    page.set_input_files('[data-testid="upload-files"]', str(sent))
    page.click('[data-testid="upload-send"]')
    done = page.locator(f'tr[data-status="done"]:has-text("{sent.name}")')
    done.wait_for(timeout=90_000)
    assert int(done.locator("td").nth(8).inner_text().replace(",", "")) >= 1, "the bad row is refused"
    page.locator('[data-testid="timeliness"]').wait_for()
    shoot(console, page, "upload")
    with page.expect_download() as download:
        done.locator('[data-testid="job-report"]').click()
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    workbook = openpyxl.load_workbook(saved, read_only=True)
    assert len(workbook.sheetnames) >= 2

    analyst = open_as("analyst", "/search")
    assert analyst.locator('[data-nav="upload"]').count() == 0


def test_an_enterprise_fills_and_submits_its_direct_report_on_a_phone(console: Any, open_as: Any) -> None:
    page = open_as("enterprise", "/report?dataset=wh_enterprise_operations", phone=True)
    form = page.locator('[data-testid="report-form"][data-dataset="wh_enterprise_operations"]')
    form.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    form.locator('[data-field="gross_output"] input').fill("很多")
    form.locator('[data-field="employees"] input').fill("85")
    open_as.expected.append(r"status of 400")  # the refused submission, on purpose
    page.click('[data-testid="report-submit"]')
    problem = form.locator('[data-field="gross_output"] .field-error')
    problem.wait_for()
    assert problem.inner_text(), "the field says what is wrong with it"
    page.click('[data-testid="report-draft"]')
    page.locator("#toast:not([hidden])").wait_for()
    form.locator('[data-field="gross_output"] input').fill("1200.5")
    page.click('[data-testid="report-submit"]')
    page.locator('[data-testid="report-history"] tr[data-version="1"]').wait_for()
    shoot(console, page, "direct-report-phone", full_page=True)
    history = httpx.get(
        f"{console.base}/direct/history", headers={"X-API-Key": console.keys["enterprise"]}
    ).json()["versions"]
    assert [(v["version"], v["values"]["gross_output"]) for v in history] == [(1, "1200.5")]


def test_an_honour_is_applied_for_and_published_from_the_console(
    console: Any, open_as: Any, tmp_path: Any
) -> None:
    certificate = tmp_path / "纳税信用A级证书.pdf"
    certificate.write_bytes(b"%PDF-1.4 a certificate")
    company = open_as("enterprise", "/honours")
    form = company.locator('[data-testid="honour-form"]')
    form.wait_for()
    form.locator('[data-testid="honour-title"]').fill("纳税信用A级纳税人")
    form.locator('[data-testid="honour-department"]').select_option("晋江:市税务局")
    form.locator('[data-testid="honour-date"]').fill("2026-04-30")
    form.locator('[data-testid="honour-file"]').set_input_files(str(certificate))
    form.locator('[data-testid="honour-statement"]').check()
    company.click('[data-testid="honour-apply"]')
    company.locator('[data-testid="honour-applications"] tr[data-status="pending"]').wait_for()

    clerk = open_as("department", "/honours")
    row = clerk.locator(
        '[data-testid="honour-applications"] tr[data-status="pending"]:has-text("纳税信用A级纳税人")'
    )
    row.wait_for()
    row.locator('[data-testid="honour-publish"]').click()
    clerk.locator('[data-testid="honours-public"] tr:has-text("纳税信用A级纳税人")').wait_for()
    shoot(console, clerk, "honours")

    public = open_as("public", "/honours")
    public.locator('[data-testid="honours-public"] tr:has-text("纳税信用A级纳税人")').wait_for()
    assert public.locator('[data-testid="honour-form"]').count() == 0

    # withdrawn on a 失信 record: written here as the resolver's check leaves it (that path, from a loaded
    # credit list to the withdrawal, is tested over HTTP in tests/api/test_channels_http.py); the clerk
    # sees why and restores it
    [applied] = [
        a for a in honour_queries.applications(console.city.store, statuses=["published"])
        if a["title"] == "纳税信用A级纳税人"
    ]  # fmt: skip
    honour_queries.update(console.city.store, applied["id"], "published", {
        "status": "withdrawn", "withdrawn_at": "2026-11-21T09:00:00.000+00:00",
        "withdrawn_reason": "失信记录：法院失信被执行人信息（jj_credit）", "withdrawn_records": "[]",
    })  # fmt: skip
    clerk.reload()
    withdrawn = clerk.locator(f'[data-application="{applied["id"]}"][data-status="withdrawn"]')
    withdrawn.wait_for()
    assert "法院失信被执行人信息" in withdrawn.inner_text()
    assert clerk.locator('[data-testid="honours-public"] tr:has-text("纳税信用A级纳税人")').count() == 0
    clerk.once("dialog", lambda dialog: dialog.accept("已履行，信用修复"))
    withdrawn.locator('[data-testid="honour-restore"]').click()
    clerk.locator(f'[data-application="{applied["id"]}"][data-status="published"]').wait_for()

    # the enterprise reports a change; the clerk sees it due and settles it with an update
    company.reload()
    mine = company.locator(f'[data-application="{applied["id"]}"]')
    company.once("dialog", lambda dialog: dialog.accept("评价结果更新为纳税信用A级（2026年度）"))
    mine.locator('[data-testid="honour-report-change"]').click()
    company.locator(f'[data-application="{applied["id"]}"] [data-testid="honour-change-due"]').wait_for()
    clerk.reload()
    due = clerk.locator(f'[data-application="{applied["id"]}"] [data-testid="honour-change-due"]')
    due.wait_for()
    shoot(console, clerk, "honours-change")
    clerk.once("dialog", lambda dialog: dialog.accept("纳税信用A级纳税人（2026年度）"))
    clerk.locator(f'[data-application="{applied["id"]}"] [data-testid="honour-update"]').click()
    clerk.locator('[data-testid="honours-public"] tr:has-text("纳税信用A级纳税人（2026年度）")').wait_for()
    assert due.count() == 0


def test_an_admin_onboards_an_enterprise_with_a_key_and_revokes_it(console: Any, open_as: Any) -> None:
    admin = open_as("admin", "/keys")
    admin.locator('[data-testid="keys"]').wait_for()
    admin.select_option('[data-testid="key-role"]', "ENTERPRISE")
    admin.fill('[data-testid="key-name"]', "恒达化工 报送员")
    admin.fill('[data-testid="key-scope"]', "91350582MA2XN6QLXM")
    admin.click('[data-testid="key-create"]')
    key = admin.locator('[data-testid="key-value"]').inner_text().strip()
    assert key.startswith("egk_")
    console.keys["onboarded"] = key
    try:
        reporter = open_as("onboarded", "/report")
        reporter.locator('[data-testid="report-form"]').wait_for()
        assert reporter.locator('[data-testid="report-enterprise"]').inner_text() == "91350582MA2XN6QLXM"
        admin.reload()  # the list as it is now, with the new key
        row = admin.locator('[data-testid="keys"] tr[data-key="恒达化工 报送员"]')
        row.locator('[data-testid="key-revoke"]').click()
        row.wait_for(state="detached")
        refused = httpx.post(
            f"{console.base}/graphql", json={"query": "{ me { role } }"}, headers={"X-API-Key": key}
        )
        assert refused.status_code == 401
    finally:
        console.keys.pop("onboarded")


def test_a_steward_acknowledges_then_resolves_a_warning(console: Any, open_as: Any) -> None:
    assert console.warning_town, "the departments' figures raise warnings in some town"
    page = open_as("steward", f"/warnings?town={console.warning_town}")
    card = page.locator("[data-warning]").first
    card.wait_for()
    warning_id = card.get_attribute("data-warning")
    shoot(console, page, "warnings")
    card.locator('[data-testid="acknowledge"]').click()
    page.fill('[data-testid="dialog-note"]', "已联系企业核实")
    page.click('[data-testid="dialog-ok"]')
    card.locator('[data-testid="warning-status"]:has-text("处理中")').wait_for()
    card.locator('[data-testid="resolve"]').click()
    page.click('[data-testid="dialog-ok"]')  # a feedback note is required: the form does not close
    assert page.locator('[data-testid="dialog"]').count() == 1
    page.fill('[data-testid="dialog-note"]', "企业停产检修，已恢复生产")
    page.click('[data-testid="dialog-ok"]')
    card.locator('[data-testid="warning-status"]:has-text("已办结")').wait_for()
    stored = console.graphql(
        "query ($id: String!) { warning(id: $id) { status feedback history { toStatus actor note } } }",
        {"id": warning_id},
        role="analyst",
    )["warning"]
    assert stored["status"] == "resolved" and stored["feedback"] == "企业停产检修，已恢复生产"
    assert [h["toStatus"] for h in stored["history"]] == ["open", "acknowledged", "resolved"]
    assert stored["history"][1]["actor"] == "steward-user"


def test_chinese_by_default_english_on_request_and_remembered(console: Any, open_as: Any) -> None:
    page = open_as("public", "/search", lang=None)
    assert page.inner_text('[data-nav="search"]') == "企业搜索"
    page.click('[data-testid="lang-toggle"]')
    page.wait_for_selector('[data-nav="search"]:has-text("Search")')
    page.reload()
    page.wait_for_selector('[data-nav="search"]:has-text("Search")')
    assert page.get_attribute("html", "lang") == "en"
    shoot(console, page, "search-english")


def test_a_merged_away_id_opens_its_survivor(console: Any, open_as: Any) -> None:
    city: City = console.city
    rows = city.store.read(
        "MATCH (e:Enterprise) WHERE e.merged_into IS NOT NULL "
        "RETURN e.id AS id, e.merged_into AS survivor LIMIT 1"
    )
    if not rows:
        # No merge in the generated city: make one the way a steward would, through the API.
        pair = console.graphql("{ enterprises(first: 2, sort: {field: NAME}) { edges { node { id } } } }")
        loser, survivor = (e["node"]["id"] for e in pair["enterprises"]["edges"])
        console.graphql(
            'mutation ($l: String!, $s: String!) { mergeEnterprises(loser: $l, survivor: $s, reason: "test") '
            "{ summary } }",
            {"l": loser, "s": survivor},
            role="steward",
        )
    else:
        loser, survivor = rows[0]["id"], rows[0]["survivor"]
    page = open_as("analyst", f"/enterprise/{loser}")
    page.wait_for_selector(f'[data-testid="panorama"][data-id="{survivor}"]')
    assert loser in page.inner_text('[data-testid="redirected"]')


def test_a_revoked_key_logs_the_tab_out(console: Any, open_as: Any) -> None:
    from entgraph.api.auth import ApiKeyFile, Role

    keys = ApiKeyFile(console.home / "api-keys.toml")
    console.keys["short-lived"] = keys.create(Role.ANALYST, "short-lived")
    open_as.expected.append("status of 401")  # the revoked key's last request
    page = open_as("short-lived", "/search")
    page.wait_for_selector('[data-testid="role"]:has-text("short-lived")')
    assert keys.revoke("short-lived")
    page.goto(f"{console.url}#/chains")
    page.wait_for_selector('[data-testid="error"]:has-text("UNAUTHENTICATED")')
    page.wait_for_selector('[data-testid="login-link"]')
    assert page.evaluate("sessionStorage.getItem('entgraph.credential')") is None


def test_a_steward_links_a_task_elsewhere_through_the_dialog(console: Any, open_as: Any) -> None:
    tasks = console.graphql("{ stewardTasks(first: 5) { id candidates { enterpriseId } } }", role="steward")[
        "stewardTasks"
    ]
    task = next(t for t in tasks if t["candidates"])
    target = task["candidates"][-1]["enterpriseId"]
    page = open_as("steward", f"/steward/{task['id']}")
    page.wait_for_selector('[data-testid="task-name"]')
    page.keyboard.press("l")
    page.fill('[data-testid="dialog-enterpriseId"]', target)
    page.click('[data-testid="dialog-ok"]')
    page.wait_for_selector('[data-testid="toast"]:not([hidden])')
    after = console.graphql(
        "query ($id: String!) { stewardTask(id: $id) { status } judgements(first: 5) { kind object task } }",
        {"id": task["id"]},
        role="steward",
    )
    assert after["stewardTask"]["status"] == "resolved"
    judgement = next(j for j in after["judgements"] if j["task"] == task["id"])
    assert (judgement["kind"], judgement["object"]) == ("link", target)


def test_a_steward_picks_a_town_then_accepts_two_tasks_at_once(console: Any, open_as: Any) -> None:
    queue = console.graphql(
        "{ stewardTasks(first: 100) { id stake candidates(first: 1) { enterpriseId } } "
        "stewardTownQueues { town tasks records } }",
        role="steward",
    )
    towns = [q for q in queue["stewardTownQueues"] if q["town"]]
    page = open_as("steward", "/steward")
    page.wait_for_selector('[data-testid="task-queue"]')
    # The town selector lists each town's queue with its counts; choosing one filters the queue.
    if towns:
        town = towns[0]
        option = page.locator(f'[data-testid="steward-town"] option[value="{town["town"]}"]')
        assert f"{town['tasks']}" in option.inner_text()
        page.select_option('[data-testid="steward-town"]', town["town"])
        page.wait_for_function(
            "(n) => document.querySelectorAll('[data-testid=task-queue] li').length === n", arg=town["tasks"]
        )
        page.select_option('[data-testid="steward-town"]', "")
        page.wait_for_function(
            "(n) => document.querySelectorAll('[data-testid=task-queue] li').length === n",
            arg=len(queue["stewardTasks"]),
        )
    # The queue is ordered by stake, as the API orders it.
    shown = page.eval_on_selector_all(
        '[data-testid="task-queue"] li', "els => els.map((e) => e.dataset.task)"
    )
    assert shown == [t["id"] for t in queue["stewardTasks"]]

    picked = [t for t in queue["stewardTasks"] if t["candidates"]][-2:]
    assert len(picked) == 2
    for task in picked:
        page.check(f'input[data-pick="{task["id"]}"]')
    page.click('[data-testid="accept-selected"]')
    page.wait_for_selector('[data-testid="dialog"]')
    assert "2" in page.inner_text('[data-testid="dialog"] h3')
    page.fill('[data-testid="dialog-reason"]', "同镇街批量核实")
    page.click('[data-testid="dialog-ok"]')
    page.wait_for_selector('[data-testid="toast"]:not([hidden])')

    after = console.graphql(
        "{ judgements(first: 10) { id kind object task reason user undone } }", role="steward"
    )["judgements"]
    for task in picked:
        status = console.graphql(
            "query ($id: String!) { stewardTask(id: $id) { status } }", {"id": task["id"]}, role="steward"
        )["stewardTask"]["status"]
        assert status == "resolved"
        judgement = next(j for j in after if j["task"] == task["id"] and not j["undone"])
        assert (judgement["kind"], judgement["object"]) == ("link", task["candidates"][0]["enterpriseId"])
        assert judgement["reason"] == "同镇街批量核实" and judgement["user"] == "steward-user"
    # the accepted tasks left the open queue
    page.wait_for_function(
        "(ids) => ids.every((id) =>"
        " !document.querySelector(`[data-testid=task-queue] li[data-task='${id}']`))",
        arg=[t["id"] for t in picked],
    )


def _photo(path: Any, width: int = 2400, height: int = 1800) -> Any:
    """A PNG as large as a phone camera's picture (bands of colour), for the form to shrink."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes((40 + y // 8 % 160, 110, 200 - y // 12 % 150)) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def test_a_town_checker_records_a_field_check_on_a_phone(console: Any, open_as: Any, tmp_path: Any) -> None:
    listed = console.graphql("{ enterprises(first: 20) { edges { node { id name town } } } }")
    enterprise = next(
        e["node"]
        for e in listed["enterprises"]["edges"]
        if e["node"]["id"] != console.metered and e["node"]["town"]
    )
    wide = "document.documentElement.scrollWidth"
    page = open_as("steward", "/search", phone=True)
    fragment = re.sub(r"(股份有限公司|有限责任公司|有限公司)$", "", enterprise["name"]).removeprefix(
        "晋江市"
    )[:6]
    page.fill('[data-testid="search-input"]', fragment)
    page.keyboard.press("Enter")
    hit = page.locator(f'[data-testid="result"][data-id="{enterprise["id"]}"]')
    hit.wait_for()
    assert page.evaluate(wide) <= 390, "the results fit the phone"

    hit.locator("a").click()
    page.wait_for_selector(f'[data-testid="panorama"][data-id="{enterprise["id"]}"]')
    page.wait_for_selector('[data-testid="field-checks"][data-count="0"]')
    assert page.evaluate(wide) <= 390, "the panorama fits the phone"
    # The key facts first; the charts and tables below them folded until asked for.
    folds = page.locator("details.fold")
    assert folds.count() >= 3 and all(
        folds.nth(i).get_attribute("open") is None for i in range(folds.count())
    )
    page.click('[data-testid="check-start"]')

    form = page.locator('[data-testid="check-form"]')
    form.wait_for()
    assert page.inner_text('[data-testid="check-name"]') == enterprise["name"]
    assert page.evaluate(wide) <= 390, "the form fits the phone"
    page.click('.status-choice[data-status="closed"]')
    page.fill('[data-testid="check-employees"]', "0")
    page.fill('[data-testid="check-note"]', "厂房已清空，门口贴有停业告示")
    page.set_input_files('[data-testid="check-photo"]', str(_photo(tmp_path / "IMG_0412.png")))
    page.wait_for_selector(".check-preview:not([hidden])")
    shoot(console, page, "field-check-phone", full_page=True)
    page.click('[data-testid="check-submit"]')

    # Back on the panorama: the visit at the top of its checks, and the notice under the name.
    page.wait_for_selector(f'[data-testid="panorama"][data-id="{enterprise["id"]}"]')
    item = page.locator('[data-testid="check-list"] li.fresh')
    item.wait_for()
    assert item.get_attribute("data-status") == "closed" and "厂房已清空" in item.inner_text()
    assert "已关闭" in page.inner_text('[data-testid="check-notice"]')
    item.locator('[data-testid="check-photo-show"]').click()
    page.wait_for_selector('[data-testid="check-photo-img"]')
    assert page.evaluate(wide) <= 390
    shoot(console, page, "field-check-recorded-phone", full_page=True)

    check = _recorded_check(console, enterprise["id"])
    # An analyst reads the check, without the photo or the checker's name; the public sees no checks.
    analyst = open_as("analyst", f"/enterprise/{enterprise['id']}", phone=True)
    seen = analyst.locator(f'[data-testid="check-list"] li[data-check="{check["id"]}"]')
    seen.wait_for()
    assert (
        "steward-user" not in seen.inner_text()
        and seen.locator('[data-testid="check-photo-show"]').count() == 0
    )
    assert analyst.locator('[data-testid="check-start"]').count() == 0
    public = open_as("public", f"/enterprise/{enterprise['id']}", phone=True)
    public.wait_for_selector('[data-testid="panorama"]')
    assert public.locator('[data-testid="field-checks"]').count() == 0


def _recorded_check(console: Any, enterprise_id: str) -> dict[str, Any]:
    """The one check of the enterprise, as the API keeps it: the form's values, the phone's photo."""
    checks = console.graphql(
        "query ($id: String!) { enterprise(id: $id) { fieldChecks { id statusSeen employeesSeen note via "
        "checkedBy checkedRole device photo { url sha256 type bytes } } } }",
        {"id": enterprise_id},
        role="steward",
    )["enterprise"]["fieldChecks"]
    assert len(checks) == 1
    check = checks[0]
    assert (check["statusSeen"], check["employeesSeen"], check["via"]) == ("CLOSED", 0, "http")
    assert (check["checkedBy"], check["checkedRole"]) == ("steward-user", "steward") and check["device"]
    # The phone sent the camera's picture shrunk to a JPEG; the server kept what it received.
    assert check["photo"]["type"] == "image/jpeg" and check["photo"]["bytes"] < 2_000_000
    kept = httpx.get(f"{console.base}{check['photo']['url']}", headers={"X-API-Key": console.keys["steward"]})
    assert kept.content[:3] == b"\xff\xd8\xff"
    assert hashlib.sha256(kept.content).hexdigest() == check["photo"]["sha256"]
    return check


def test_a_town_verifies_its_list_and_reads_its_dashboard(console: Any, open_as: Any, tmp_path: Any) -> None:
    console.graphql("mutation { refreshVerificationItems { items } }", role="steward")
    items = console.graphql("{ verificationItems { key check town status } }", role="steward")[
        "verificationItems"
    ]
    item = next(i for i in items if i["town"] and i["status"] == "open")
    town = item["town"]
    page = open_as("steward", f"/towns?town={town}&tab=checks")
    row = page.locator(f'tr[data-item="{item["key"]}"]')
    row.wait_for()
    assert row.get_attribute("data-status") == "open"
    shoot(console, page, "town-checks")
    row.locator('[data-testid="verdict-choice"]').select_option("CLOSED")
    row.locator('[data-testid="verdict-record"]').click()
    page.fill('[data-testid="dialog-note"]', "现场核实：已停业关门")
    page.click('[data-testid="dialog-ok"]')
    page.locator(f'tr[data-item="{item["key"]}"][data-status="settled"]').wait_for()
    stored = console.graphql(
        "query ($t: String) { verificationItems(town: $t) { key status verdict { id verdict note } } }",
        {"t": town},
        role="steward",
    )["verificationItems"]
    [settled] = [i for i in stored if i["key"] == item["key"]]
    assert settled["verdict"]["verdict"] == "closed" and settled["verdict"]["note"] == "现场核实：已停业关门"
    page.locator(f'tr[data-item="{item["key"]}"] [data-testid="verdict-undo"]').click()
    page.locator(f'tr[data-item="{item["key"]}"][data-status="open"]').wait_for()

    page.click('[data-testid="town-tab-dashboard"]')
    for metric in ("tax", "electricityKwh", "insuredEmployees"):
        page.wait_for_selector(f'[data-testid="town-chart-{metric}"][data-rendered="1"]')
    assert (
        town in page.locator("h1").inner_text()
        or page.locator('[data-testid="town-select"]').input_value() == town
    )
    assert page.locator('[data-testid="town-summary"] .chip').count() >= 4
    shoot(console, page, "town-dashboard", full_page=True)
    with page.expect_download() as download:
        page.click('[data-testid="town-report-xlsx"]')
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    assert "月度指标" in openpyxl.load_workbook(saved, read_only=True).sheetnames

    page.click('[data-testid="town-tab-effectiveness"]')
    page.locator(f'[data-testid="town-effectiveness"] tr[data-town="{town}"]').wait_for()


def test_the_console_sends_its_documents_by_hash(console: Any, open_as: Any) -> None:
    """Persisted queries: every document the console sends is registered with the server, so only its
    SHA-256 travels (Apollo's protocol) and no request has to be repeated with the text."""
    sent: list[dict] = []
    page = open_as("analyst", "/towns")

    def keep(request: Any) -> None:
        if request.url.endswith("/graphql") and request.method == "POST":
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", keep)
    page.goto(f"{console.url}#/search?q=鞋业")
    page.wait_for_selector('[data-testid="results"] tr')
    assert sent, "the search page asked the API"
    for body in sent:
        assert "query" not in body and len(body["extensions"]["persistedQuery"]["sha256Hash"]) == 64, body

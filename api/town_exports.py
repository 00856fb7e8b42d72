"""A town's spreadsheets for its monthly meeting: the verification list and the monthly town report.

    GET /towns/{town}/verification.xlsx?round=2026-11        the items to verify, a sheet per check,
                                                             with their verdicts and blank columns to
                                                             fill at the meeting
    GET /towns/{town}/report.xlsx?month=2026-10              the dashboard as a report (概况, 月度指标,
                                                             重点企业变化, 长期停业, 亏损, 待办, 效能)

Both are for analysts and above, and show what the GraphQL fields (``verificationItems``,
``townDashboard``) show the same caller.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from entgraph.api.auth import Role
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import BadInput, Forbidden
from entgraph.api.town_dashboard import Dashboard, assemble
from entgraph.api.towns import ROUND, checked_round
from entgraph.resolution import verification
from entgraph.resolution.cross_checks import CHECKS

TAG = "towns"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHECK_TITLES = {
    "unmatched": "未匹配纳税人和用电户",
    "tax_without_registration": "有税务无工商",
    "power_without_registration": "有用电无工商",
    "power_without_tax": "有用电无税务",
    "meter_many": "一户多表",
    "meter_shared": "多户一表",
    "meter_name_differs": "户表不符",
}
FIELD_STATUS = {
    "operating": "正常经营",
    "stopped": "停产停业",
    "moved": "已迁出",
    "closed": "已关闭",
    "total": "合计",
}
VERDICT_TITLES = {"matched": "已匹配", "not_ours": "非本地企业", "closed": "已关停", "moved": "已迁出",
                  "follow_up": "待跟进"}  # fmt: skip


def register_town_exports(app: FastAPI, routes: ChannelRoutes) -> None:
    def staff(request: Request) -> Role:
        principal = routes.principal(request)
        if not principal.role.covers(Role.ANALYST):
            raise Forbidden("the towns' spreadsheets are for staff", requiredRole="analyst")
        return principal.role

    @app.get("/towns/{town}/verification.xlsx", tags=[TAG], summary="A town's verification list")
    async def verification_sheet(town: str, request: Request, round: str | None = None) -> Response:
        staff(request)
        month = checked_round(round)
        rows = await run_in_threadpool(verification.listing, routes.store(), town[:50], month, None)
        return _xlsx(_verification_book(town, month, rows), f"{town}-{month}-核实比对.xlsx")

    @app.get("/towns/{town}/report.xlsx", tags=[TAG], summary="A town's monthly report")
    async def report(
        town: str,
        request: Request,
        month: str | None = None,
        shutdownMonths: int = 6,  # noqa: N803 - the API's case
    ) -> Response:
        role = staff(request)
        if (month is not None and not ROUND.match(month)) or not 1 <= shutdownMonths <= 60:
            raise BadInput("month like 2026-10; shutdownMonths between 1 and 60")
        board = await run_in_threadpool(
            assemble, routes.store(), routes.catalog(), role, town[:50], month, shutdownMonths
        )
        return _xlsx(_report_book(board), f"{town}-{board.figures.month}-月度分析.xlsx")


def _xlsx(write: Any, name: str) -> Response:
    return Response(write, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}"
    })  # fmt: skip


def _verification_book(town: str, month: str, rows: list[dict[str, Any]]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    header = ["名称", "统一社会信用代码", "企业编号", "依据", "数据起始期", "推送时间", "状态", "核实结论",
              "核实企业", "说明", "核实人", "核实时间", "现场核实情况（会上填写）"]  # fmt: skip
    for check in CHECKS:
        sheet = book.add_worksheet(CHECK_TITLES[check])
        sheet.write_row(0, 0, [f"{town} {month} {CHECK_TITLES[check]}"], bold)
        sheet.write_row(1, 0, header, bold)
        mine = [r for r in rows if r["check"] == check]
        for n, row in enumerate(mine, 2):
            v = row.get("verdict") or {}
            sheet.write_row(n, 0, [
                row.get("name") or "", row.get("credit_code") or "", row.get("enterprise") or "",
                "、".join(row.get("evidence") or []), row.get("since") or "", row["first_seen_at"][:10],
                {"open": "待核实", "settled": "已核实", "cleared": "数据已消除"}[row["status"]],
                VERDICT_TITLES.get(v.get("verdict", ""), ""), v.get("object") or "", v.get("reason") or "",
                v.get("user") or "", (v.get("at") or "")[:10], "",
            ])  # fmt: skip
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, 12, 16)
    book.close()
    return out.getvalue()


def _report_book(board: Dashboard) -> bytes:
    import xlsxwriter

    f = board.figures
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})

    def sheet(title: str, header: list[str], rows: list[list[Any]]) -> None:
        ws = book.add_worksheet(title)
        ws.write_row(0, 0, [f"{f.town} {f.month} {title}"], bold)
        ws.write_row(1, 0, header, bold)
        for n, row in enumerate(rows, 2):
            ws.write_row(n, 0, ["" if v is None else v for v in row])
        ws.set_column(0, len(header), 16)

    sheet("概况", ["分类", "值", "企业数"],
          [["登记状态", k, n] for k, n in f.by_status.most_common()]
          + [["行业", k, n] for k, n in f.by_industry.most_common()]
          + [["本月现场核查", FIELD_STATUS.get(k, k), n] for k, n in sorted(board.field_checks.items())]
          )  # fmt: skip
    sheet("月度指标", ["月份", "税收(元)", "同比", "用电量(kWh)", "同比", "参保人数", "同比"],
          [[m.month, m.values["tax"], m.year_on_year["tax"], m.values["electricity_kwh"],
            m.year_on_year["electricity_kwh"], m.values["insured_employees"],
            m.year_on_year["insured_employees"]] for m in f.monthly])  # fmt: skip
    sheet("重点企业变化", ["企业", "企业编号", "类别", "指标", "近三月", "上年同期", "变化"],
          [[c.name, c.enterprise, {"above_scale": "规上", "key": "重点"}[c.group], c.metric, c.current,
            c.previous, round(c.change, 4)] for c in f.changes])  # fmt: skip
    sheet("长期停业", ["企业", "企业编号", "最后有电或税的月份", "已停月数"],
          [[d.name, d.enterprise, d.last_active, d.months] for d in f.dormant])  # fmt: skip
    sheet("亏损", ["企业", "企业编号", "近十二月净利润(元)", "亏损月数"] if f.profit_reported else ["说明"],
          [[x.name, x.enterprise, x.net_profit, x.loss_months] for x in f.loss_making]
          if f.profit_reported else [["本镇街企业的数据中没有净利润"]])  # fmt: skip
    sheet("待办", ["类别", "事项", "企业编号", "已等待(天)"],
          [["预警", w.get("message_zh") or w["rule"], w.get("enterprise"), round(w["age_days"], 1)]
           for w in board.warnings]
          + [["核实", f"{CHECK_TITLES[v['check']]}：{v.get('name')}", v.get("enterprise"),
              round(v["age_days"], 1)] for v in board.verifications])  # fmt: skip
    w, v = board.warning_handling, board.verification_handling
    sheet("效能", ["类别", "收到", "已处理", "按期处理", "未处理", "处理天数中位数"],
          [["预警反馈", w.received, w.handled, w.on_time, w.open, w.median_days],
           ["核实比对", v.received, v.handled, v.on_time, v.open, v.median_days]])  # fmt: skip
    book.close()
    return out.getvalue()

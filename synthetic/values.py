"""Cell values by column role and type (and, for untyped text, by header keywords).

``compile_column`` turns one ``ColumnSpec`` into a function of the row being built, so a dataset's
columns are looked at once and its rows are then cheap to make. Numbers come out in the unit the
column declares (header unit first, then the spec's ``unit``), so a loader converting units gets the
population's figures back.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType, Role, Subject
from entgraph.synthetic import geography as geo
from entgraph.synthetic import name_parts as nm
from entgraph.synthetic.population import Enterprise

Value = Any
Gen = Callable[["RowCtx"], Value]

UNIT_RE = re.compile(
    r"[（(]\s*([^（）()]*?)\s*[)）]\s*$|(万元|亿元|元|平方米|亩|公顷|m\s*²|m\^?2|万人|立方米|千瓦时|吨)\s*$"
)
AMOUNT_UNITS = {"元": 1e-4, "万元": 1.0, "亿元": 1e4}  # value in 万元 -> multiply by 1/x
AREA_UNITS = {"平方米": 1.0, "m²": 1.0, "m2": 1.0, "亩": 666.6667, "公顷": 10000.0, "万平方米": 10000.0}


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # M (month) Q (quarter) Y (year) D (day) S (snapshot)
    year: int
    number: int  # month or quarter; 0 otherwise
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.kind == "M":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "Q":
            return f"{self.year}Q{self.number}"
        if self.kind == "D":
            return self.start.isoformat()
        return str(self.year)


@dataclass(slots=True)
class Party:
    """One party of one row: the true enterprise and how this row writes it."""

    ent: Enterprise
    name: str
    code: str  # credit code as written ("" when omitted)
    noise: list[str] = field(default_factory=list)
    old_tin: bool = False  # write the 15-char taxpayer id
    legacy: bool = False  # no credit code: only the org code / 15-char taxpayer id (in columns for them)


@dataclass(slots=True)
class RowCtx:
    rng: random.Random
    period: Period
    parties: dict[str, Party]
    meter: str = ""
    at: dt.datetime | None = None  # reading time (meter datasets)
    region: str = ""  # region datasets: the town or city the row is about
    indicator: str = ""
    number: int = 0  # the row's sequence number in its file (序号)
    cache: dict[str, Any] = field(default_factory=dict)  # per-row memo (e.g. one project per row)


@dataclass
class Style:
    """How one department writes its cells (chosen once per dataset)."""

    native_dates: bool
    date_style: str  # iso | slash | cn | compact
    period_style: str  # dash | compact | cn | slash
    percent_sign: bool
    amount_text: float  # share of amounts written as text with thousands separators
    region_as_town: bool
    industry_code_style: str  # division | subclass | bare
    old_tin_share: float
    phone_style: str  # plain | dashless | paren
    address_province: bool


def header_unit(header: str) -> str | None:
    m = UNIT_RE.search(header.replace(" ", "") if "m ²" not in header else header.replace("m ²", "m²"))
    if not m:
        return None
    unit = (m.group(1) or m.group(2) or "").replace(" ", "")
    if unit.startswith("万m") or unit == "万m^3":
        return "万" + unit[1:]
    return unit or None


def effective_unit(column: ColumnSpec, default: str | None) -> str | None:
    return header_unit(column.header) or column.unit or default


def has(header: str, *words: str) -> bool:
    return any(w in header for w in words)


# -- shared formatting -----------------------------------------------------------------------------


def fmt_date(style: Style, day: dt.date, csv: bool) -> Value:
    if style.native_dates and not csv:
        return day
    s = style.date_style
    if s == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if s == "cn":
        return f"{day.year}年{day.month}月{day.day}日"
    if s == "compact":
        return f"{day:%Y%m%d}"
    return day.isoformat()


def fmt_period(style: Style, p: Period) -> str:
    if p.kind == "Q":
        q = "一二三四"[p.number - 1]
        return {"cn": f"{p.year}年{q}季度", "compact": f"{p.year}Q{p.number}"}.get(
            style.period_style, f"{p.year}年第{p.number}季度"
        )
    if p.kind in ("Y",):
        return f"{p.year}年" if style.period_style == "cn" else str(p.year)
    if p.kind == "D":
        return p.start.isoformat()
    month = p.number or p.end.month
    return {
        "dash": f"{p.year}-{month:02d}",
        "compact": f"{p.year}{month:02d}",
        "cn": f"{p.year}年{month}月",
        "slash": f"{p.year}/{month:02d}",
    }[style.period_style]


def fmt_phone(style: Style, phone: str) -> str:
    if phone.startswith("0595-"):
        if style.phone_style == "dashless":
            return phone.replace("-", "")
        if style.phone_style == "paren":
            return f"(0595){phone[5:]}"
    return phone


def day_in(rng: random.Random, p: Period) -> dt.date:
    span = (p.end - p.start).days
    return p.start + dt.timedelta(days=rng.randint(0, max(0, span)))


# The utility that keeps the accounts of each device-read meter feed.
METER_ACCOUNT_DEPARTMENT = {"wh_meter_electricity": "市电业局", "wh_meter_water": "市水务局"}


def account_number(department: str, ent: Enterprise) -> str:
    """A utility account (户号) that stays the same for a firm across one department's files."""
    salt = zlib.crc32(department.encode("utf-8"))
    return f"{(ent.index * 2654435761 + salt) % 10**10:010d}"


def meter_id(feed: str, ent: Enterprise, k: int) -> str:
    """A device serial: unique across feeds (an electricity and a water meter never share one)."""
    salt = zlib.crc32(feed.encode("utf-8")) % 1000
    return f"JJ{salt:03d}{ent.index:07d}{k:02d}"


def bank_account(ent: Enterprise) -> str:
    return f"{(ent.index * 48271 + 1357) % 10**9:09d}0{zlib.crc32(ent.id.encode()) % 10**9:09d}"


# -- numbers -------------------------------------------------------------------------------------------


AmountMaker = Callable[[float, Enterprise | None, random.Random, float], float]
# (words, maker(annual revenue in 万元, firm, rng, share of the year)) -> an amount in 万元
AMOUNT_RULES: tuple[tuple[tuple[str, ...], AmountMaker], ...] = (
    (("单价",), lambda rev, e, r, per: r.uniform(0.4, 3.0)),  # 4,000-30,000 元/m²
    (("税", "入库", "实缴", "已纳", "应纳"), lambda rev, e, r, per: rev * per * r.uniform(0.01, 0.06)),
    (
        ("营业收入", "营收", "收入", "产值", "销售", "计税依据", "增加值"),
        lambda rev, e, r, per: rev * per * r.uniform(0.6, 1.4),
    ),
    (
        ("资产", "资本", "注册资金", "资金数额"),
        lambda rev, e, r, per: (
            (e.registered_capital if e and e.registered_capital else rev) * r.uniform(0.8, 2.5)
        ),
    ),
    (
        ("补助", "奖励", "补贴", "扶持", "资金"),
        lambda rev, e, r, per: r.choice((5, 10, 20, 30, 50, 100, 200)) * r.uniform(0.8, 1.2),
    ),
    (("薪酬", "工资", "折旧", "利润", "研发"), lambda rev, e, r, per: rev * per * r.uniform(0.02, 0.15)),
    (("公积金", "按揭", "首付", "购房贷款"), lambda rev, e, r, per: r.uniform(20, 300)),
    (("贷款", "抵押"), lambda rev, e, r, per: r.uniform(30, 3000)),
    (("总价", "房屋", "购房", "商品房", "网签", "楼盘"), lambda rev, e, r, per: r.uniform(60, 500)),
    (
        ("投资", "造价", "合同", "中标", "审结", "成交", "出让", "预售", "付款", "余额"),
        lambda rev, e, r, per: max(10.0, rev * r.uniform(0.05, 0.6)),
    ),
)


def amount_wan(header: str, ent: Enterprise | None, rng: random.Random, p: Period, title: str = "") -> float:
    """A plausible amount in 万元 for this header (or, when it says nothing, the dataset's title) and firm."""
    revenue = ent.revenue if ent else rng.lognormvariate(6, 1.5)
    per = {"M": 1 / 12, "Q": 1 / 4, "D": 1 / 365}.get(p.kind, 1.0)
    for text in (header, title):
        for words, make in AMOUNT_RULES:
            if has(text, *words):
                return make(revenue, ent, rng, per)
    return revenue * per * rng.uniform(0.05, 0.5)


def region_amount(unit: str | None, rng: random.Random) -> float:
    if unit == "亿元":
        return rng.uniform(5, 900)
    if unit == "万元":
        return rng.uniform(5_000, 5_000_000)
    return rng.uniform(20_000, 90_000)  # per-capita incomes and the like in 元


def to_unit(wan: float, unit: str | None) -> float:
    factor = AMOUNT_UNITS.get(unit or "元", 1e-4)
    return round(wan / factor, 2)


AREA_RULES: tuple[tuple[tuple[str, ...], tuple[float, float]], ...] = (  # (words, square metres)
    (("园区", "总面积（亩）", "开发面积"), (300_000, 5_000_000)),
    (("宗地", "用地", "土地", "出让", "占地", "使用权", "划拨"), (2_000, 60_000)),
    (("套内", "分摊", "房屋", "住宅", "商业房", "楼盘", "网签", "商品房", "公积金", "预售"), (40, 300)),
    (("租赁", "使用", "营业", "商铺", "楼宇"), (100, 5_000)),
)


def area_sqm(header: str, rng: random.Random, title: str = "") -> float:
    for text in (header, title):
        for words, (low, high) in AREA_RULES:
            if has(text, *words):
                return rng.uniform(low, high)
    return rng.uniform(200, 30_000)


def quantity(header: str, ent: Enterprise | None, rng: random.Random, p: Period) -> float:
    revenue = ent.revenue if ent else 500.0
    per = {"M": 1 / 12, "Q": 1 / 4, "D": 1 / 365}.get(p.kind, 1.0)
    if has(header, "电", "千瓦时", "kWh", "kwh"):
        return round(revenue * per * rng.uniform(30, 120), 1)
    if has(header, "水", "立方米", "吨"):
        return round(revenue * per * rng.uniform(1, 8), 1)
    if has(header, "产量", "数量"):
        return round(revenue * per * rng.uniform(5, 50))
    return round(rng.uniform(1, 1000), 2)


def count_for(header: str, ent: Enterprise | None, rng: random.Random) -> int:
    if ent and has(header, "从业", "职工", "人数", "员工", "参保"):
        return max(1, int(ent.employees * rng.uniform(0.85, 1.1)))
    if has(header, "套数", "套"):
        return rng.randint(1, 300)
    if has(header, "层", "楼层"):
        return rng.randint(1, 33)
    if has(header, "登记数", "保有量"):
        return rng.randint(200, 80_000)
    return rng.randint(1, 500)


def rate_for(header: str, rng: random.Random) -> float:
    if has(header, "税率"):
        return float(rng.choice((13, 13, 9, 6, 3, 1, 25, 5)))
    if has(header, "比例"):
        return float(rng.choice((100, 100, 50, 40, 60)))
    if has(header, "容积率"):
        return round(rng.uniform(0.8, 3.5), 2)
    if has(header, "增速", "增长", "%", "率"):
        return round(rng.uniform(-8, 18), 1)
    return round(rng.uniform(0, 100), 1)


# -- text ----------------------------------------------------------------------------------------------


def category(column: ColumnSpec, rng: random.Random, ent: Enterprise | None = None) -> str:
    """A category value: the spec's values, else a pool its header names; consistent with the firm when
    the pool separates firms from individual businesses (单位纳税人 / 个体经营纳税人)."""
    pool = column.values or next((p for word, p in nm.CATEGORY_POOLS if word in column.header), None)
    if not pool:
        return rng.choice(nm.GENERIC_CATEGORIES)
    if ent is not None:
        if any("个体" in v for v in pool):
            own = [v for v in pool if ("个体" in v) == (ent.kind == "individual")]
            if own:
                return rng.choice(own)
        named = [
            v
            for v in pool
            if len(core := v.removesuffix("公司").removesuffix("企业")) >= 2 and core in ent.name
        ]
        if named:  # 机构类型 小额贷款公司 for a 小额贷款 firm
            return rng.choice(named)
    return rng.choice(pool)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _certificate(rng: random.Random, y: int) -> str:
    if y < 2017 or rng.random() < 0.15:
        return f"晋国用（{y - rng.randint(0, 8)}）第{rng.randrange(1, 99999):05d}号"
    return f"闽（{y}）晋江市不动产权第{rng.randrange(1, 10**7):07d}号"


def _permit(rng: random.Random, y: int, m: int, header: str, department: str) -> str:
    if "施工" in header or "住建" in department:
        return f"{nm.DIVISION}{y}{m:02d}{rng.randrange(1, 10**4):04d}0101"
    kind = "地字" if "用地" in header else "建字"
    return f"{kind}第{nm.DIVISION}{y}{rng.randrange(1, 10**5):05d}号"


def _unit_no(rng: random.Random, tail: bool) -> str:
    r = rng.randrange
    base = f"{nm.DIVISION}{r(1, 20):03d}{r(1, 60):03d}GB{r(1, 99999):05d}"
    return base + (f"F{r(1, 10**8):08d}" if tail else "")


IdMaker = Callable[[random.Random, int, int, str, str], str]
# (header words, maker(rng, year, month, header, department)); the first rule whose word is in the header
ID_RULES: tuple[tuple[tuple[str, ...], IdMaker], ...] = (
    (("UUID", "uuid"), lambda r, y, m, h, d: _uuid(r)),
    (("不动产单元号",), lambda r, y, m, h, d: _unit_no(r, True)),
    (("不动产权证", "权证号", "土地证", "证件号"), lambda r, y, m, h, d: _certificate(r, y)),
    (("排污许可证",), lambda r, y, m, h, d: f"{nm.DIVISION}{y}{r.randrange(1, 10**6):06d}001P"),
    (("预售许可证",), lambda r, y, m, h, d: f"晋房预售字（{y}）第{r.randrange(1, 400):03d}号"),
    (("许可证",), _permit),
    (("证书编号", "证书号"), lambda r, y, m, h, d: _certificate_no(r, y, d)),
    (
        ("专利号",),
        lambda r, y, m, h, d: f"ZL{y}{r.choice('123')}{r.randrange(1, 10**7):07d}.{r.randrange(10)}",
    ),
    (("标准编号",), lambda r, y, m, h, d: f"Q/JJ{r.choice('ABCDE')} {r.randrange(1, 999):03d}-{y}"),
    (("合同编号", "合同号"), lambda r, y, m, h, d: f"JJ{y}{r.randrange(1, 10**6):06d}"),
    (("管理编号",), lambda r, y, m, h, d: f"晋税跨报〔{y}〕{r.randrange(1, 10**5):05d}号"),
    (("文号", "决定书"), lambda r, y, m, h, d: f"{_doc_prefix(d)}〔{y}〕{r.randrange(1, 400)}号"),
    (("宗号", "业务号"), lambda r, y, m, h, d: f"{y}{r.randrange(1, 10**8):08d}"),
    (("缴款书",), lambda r, y, m, h, d: f"{nm.DIVISION}{y % 100:02d}{r.randrange(1, 10**9):09d}"),
    (("账号",), lambda r, y, m, h, d: f"{r.randrange(10**18, 10**19)}"),
    (("房号",), lambda r, y, m, h, d: f"{r.randrange(1, 33)}{r.randrange(1, 9):02d}"),
    (("幢号", "楼栋"), lambda r, y, m, h, d: f"{r.randrange(1, 30)}#"),
    (("单元号",), lambda r, y, m, h, d: f"{r.randrange(1, 4)}单元"),
    (("宗地", "地块"), lambda r, y, m, h, d: _unit_no(r, False)),
    (
        ("项目代码", "备案号", "项目编号"),
        lambda r, y, m, h, d: (
            f"{y}-{nm.DIVISION}-{r.choice(('13', '17', '18', '34', '39'))}-03-{r.randrange(1, 10**6):06d}"
        ),
    ),
    (("序号", "编码", "代码", "唯一号", "测量号"), lambda r, y, m, h, d: f"{r.randrange(10**8, 10**12)}"),
)
IDENTIFIER_WORDS = (
    "编号",
    "证号",
    "号码",
    "代码",
    "编码",
    "UUID",
    "文号",
    "宗号",
    "序号",
    "单元号",
    "房号",
    "幢号",
    "账号",
)


def _certificate_no(rng: random.Random, y: int, context: str) -> str:
    if "预售" in context:
        return f"晋房预售字（{y}）第{rng.randrange(1, 400):03d}号"
    if "高新" in context:
        return f"GR{y}35{rng.randrange(1, 10**6):06d}"
    return f"{y}{rng.randrange(1, 10**6):06d}"


_DOC_PREFIXES = (
    ("财政", "晋财企指"),
    ("工信", "晋工信"),
    ("发改", "晋发改"),
    ("科技", "晋科"),
    ("市场", "晋市监"),
)


def _doc_prefix(context: str) -> str:
    """The prefix of a department's document numbers (文号): 晋财企指〔2023〕12号, 晋工信〔2022〕3号 ..."""
    return next((prefix for word, prefix in _DOC_PREFIXES if word in context), "晋政")


def identifier(header: str, rng: random.Random, p: Period, department: str, title: str = "") -> str:
    """A document, certificate, parcel, project or contract number in the format its header names."""
    y, m = p.end.year, p.end.month
    context = f"{department}|{title}"
    for words, make in ID_RULES:
        if has(header, *words):
            return make(rng, y, m, header, context)
    return f"{y}{rng.randrange(1, 10**6):06d}"


PROJECT_KINDS = (
    "年产{q}万双运动鞋生产线项目",
    "智能化技改项目",
    "新建厂房项目",
    "研发中心建设项目",
    "{q}万平方米标准厂房项目",
    "数字化车间改造项目",
    "仓储物流中心项目",
    "综合楼工程",
)
ESTATES = ("花园", "广场", "华府", "名城", "公馆", "中心", "大厦", "天地", "苑")
ORIGINS = ("福建省泉州市", "福建省厦门市", "广东省深圳市", "浙江省温州市", "香港", "台湾省", "上海市")
REASONS = ("未按规定申报纳税", "安全生产违法行为", "环境违法行为", "拖欠工资", "合同违约", "虚假宣传")
PLATFORMS = ("企业技术中心", "工程研究中心", "工程技术研究中心", "重点实验室", "研发中心")
MATERIALS = {
    "footwear": ("EVA", "橡胶", "皮革", "网布"),
    "apparel": ("面料", "纱线", "辅料"),
    "textile": ("涤纶切片", "棉纱", "染料"),
    "food": ("面粉", "白砂糖", "食用油"),
    "ceramics": ("高岭土", "釉料", "石英砂"),
    "concrete": ("水泥", "砂石", "粉煤灰"),
    "paper": ("木浆", "绒毛浆", "无纺布"),
    "equipment": ("钢材", "铸件", "电机"),
    "ic": ("硅片", "光刻胶", "特种气体"),
    "health": ("无纺布", "中药材", "医用高分子材料"),
}


def _patent_title(ent: Enterprise | None, rng: random.Random) -> str:
    product = rng.choice(ent.industry.products) if ent and ent.industry.products else "鞋底"
    return rng.choice((f"一种{product}的制备方法", f"一种新型{product}", f"{product}（外观设计）"))


WORKS = ("新建厂房及配套设施", "购置生产设备", "建设生产线", "总建筑面积约2万平方米")
REMARKS = ("", "", "", "无", "正常", "已核实", "同意", "按期完成", "数据已核对")


def project_name(ent: Enterprise | None, rng: random.Random) -> str:
    zihao = ent.parts.zihao if ent else rng.choice(nm.ZIHAO_FAMOUS)
    kind = rng.choice(PROJECT_KINDS).format(q=rng.choice((50, 100, 300, 500)))
    return f"{zihao}{kind}"


def _authority(rng: random.Random, department: str) -> str:
    if "税" in department:
        return nm.GOVERNMENT["tax"]
    if department.startswith("市") and department.endswith(("局", "委", "办", "中心")):
        return nm.CITY_FULL + department[1:]
    for word, key in (("自然资源", "land"), ("住建", "housing"), ("财政", "finance"), ("市场", "market")):
        if word in department:
            return nm.GOVERNMENT[key]
    return rng.choice(list(nm.GOVERNMENT.values()))


def _tax_office(ent: Enterprise | None, rng: random.Random) -> str:
    town = ent.town.short if ent and ent.town else "青阳"
    return rng.choice((nm.GOVERNMENT["tax"], f"{nm.GOVERNMENT['tax']}{town}税务所"))


TextMaker = Callable[[Enterprise | None, random.Random, str], str]
_BANK_BRANCHES = tuple(b[0].removesuffix("股份有限公司") + "晋江分行" for b in nm.BANKS[:7])
# (header words, maker(enterprise, rng, department)) for text columns without a role
TEXT_RULES: tuple[tuple[tuple[str, ...], TextMaker], ...] = (
    (("经营范围", "主营业务", "主要业务"), lambda e, r, d: e.industry.scope if e else "一般项目：货物进出口"),
    (("国库",), lambda e, r, d: nm.GOVERNMENT["treasury"]),
    (("意见",), lambda e, r, d: r.choice(("同意", "同意报验", "准予"))),
    (("登记机关",), lambda e, r, d: nm.GOVERNMENT["market"]),
    (("来源地",), lambda e, r, d: r.choice(ORIGINS)),
    (
        ("起火原因",),
        lambda e, r, d: r.choice(("电气线路故障", "违章用火", "生产作业不慎", "遗留火种", "原因待查")),
    ),
    (("事由", "原因"), lambda e, r, d: r.choice(REASONS)),
    (
        ("处理结果", "处罚结果"),
        lambda e, r, d: r.choice(("罚款", "警告", "责令改正", "列入严重失信名单", "已整改")),
    ),
    (("计量单位",), lambda e, r, d: r.choice(("双", "件", "吨", "万片", "平方米", "千瓦时", "吨标准煤"))),
    (("原材料", "原料"), lambda e, r, d: r.choice(MATERIALS.get(e.sector if e else "", ("原材料",)))),
    (("隐患",), lambda e, r, d: r.choice(("疏散通道堵塞", "消防设施损坏", "电气线路老化", "违规住人"))),
    (("进展", "进度"), lambda e, r, d: r.choice(("前期准备", "开工建设", "主体施工", "竣工投产"))),
    (("淘汰",), lambda e, r, d: r.choice(("淘汰落后印染设备", "淘汰燃煤锅炉", "淘汰落后产能"))),
    (
        ("空间", "图形", "坐标"),
        lambda e, r, d: f"{118.5 + r.random() * 0.2:.6f},{24.7 + r.random() * 0.15:.6f}",
    ),
    (("污水处理厂",), lambda e, r, d: f"晋江市{r.choice(nm.TOWNS).short}污水处理厂"),
    (("平台",), lambda e, r, d: f"{e.parts.zihao if e else '晋江'}{r.choice(PLATFORMS)}"),
    (("专利名称",), lambda e, r, d: _patent_title(e, r)),
    (("税务机关", "税务所", "税务局", "税务登记地"), lambda e, r, d: _tax_office(e, r)),
    (("银行",), lambda e, r, d: r.choice(_BANK_BRANCHES)),
    (("机关", "部门", "主管单位", "执收单位", "出让单位", "单位名称"), lambda e, r, d: _authority(r, d)),
    (
        ("产品", "原材料"),
        lambda e, r, d: r.choice(e.industry.products if e and e.industry.products else ("鞋服",)),
    ),
    (("内容", "规模"), lambda e, r, d: r.choice(WORKS)),
    (("项目",), lambda e, r, d: project_name(e, r)),
    (("楼盘", "楼宇", "小区"), lambda e, r, d: f"{e.parts.zihao if e else '晋江'}{r.choice(ESTATES)}"),
    (("楼层", "所在层"), lambda e, r, d: str(r.randint(1, 33))),
    (("园区",), lambda e, r, d: r.choice(nm.PARKS)[0]),
    (
        ("期限", "工期", "年限"),
        lambda e, r, d: r.choice(("50年", "40年", "70年", "24个月", "36个月", "2021-2023")),
    ),
    (("币种",), lambda e, r, d: "人民币"),
    (("情况", "备注", "说明", "摘要", "状况"), lambda e, r, d: r.choice(REMARKS)),
    (("批次",), lambda e, r, d: f"第{r.randint(1, 6)}批"),
    (("配比",), lambda e, r, d: r.choice(("C30 1:1.6:2.8", "C35 1:1.4:2.6", "C25 1:1.9:3.1"))),
    (("用途",), lambda e, r, d: r.choice(("工业", "商业", "住宅", "办公"))),
)


def free_text(header: str, ent: Enterprise | None, rng: random.Random, department: str) -> str:
    """Text for a column without a role, by what its header says it holds."""
    for words, make in TEXT_RULES:
        if has(header, *words):
            return make(ent, rng, department)
    return rng.choice(REMARKS[3:])


def person_name(rng: random.Random) -> str:
    surname = nm.SURNAMES[rng.randrange(len(nm.SURNAMES))][0]
    return surname + "".join(rng.choice(nm.GIVEN_CHARS) for _ in range(2))


# -- compiling columns -------------------------------------------------------------------------------


@dataclass
class ColumnPlan:
    column: ColumnSpec
    party: str | None  # the party whose enterprise the cell describes (None: none)
    gen: Gen
    identity: bool  # a credit/org/taxpayer code column (blanked when the row omits codes)
    name: bool  # an enterprise-name column
    kind: str  # date | period | number | code | name | text | geometry (for planting malformed cells)


def compile_columns(spec: DatasetSpec, style: Style, csv: bool) -> list[ColumnPlan]:
    identity_parties = [c.party for c in spec.columns if c.role in _PARTY_ROLES]
    default_party = "subject" if "subject" in identity_parties else (identity_parties or [None])[0]
    return [_compile(spec, c, style, csv, default_party) for c in spec.columns]


_PARTY_ROLES = {Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID, Role.ENTERPRISE_NAME, Role.ACCOUNT_NUMBER}
_NUMERIC_TYPES = {
    FieldType.INTEGER, FieldType.DECIMAL, FieldType.AMOUNT, FieldType.AREA, FieldType.QUANTITY,
    FieldType.PERCENT, FieldType.YEAR,
}  # fmt: skip
_CODE_TYPES = {FieldType.CREDIT_CODE, FieldType.ORG_CODE, FieldType.TAXPAYER_ID}


def _kind(column: ColumnSpec) -> str:
    if column.type is FieldType.GEOMETRY:
        return "geometry"
    if column.type in (FieldType.DATE, FieldType.DATETIME):
        return "date"
    if column.type is FieldType.PERIOD:
        return "period"
    if column.type in _NUMERIC_TYPES or column.role in (
        Role.AMOUNT, Role.AREA, Role.QUANTITY, Role.COUNT, Role.RATE, Role.INDICATOR_VALUE,
    ):  # fmt: skip
        return "number"
    if column.type in _CODE_TYPES or column.role in (Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID):
        return "code"
    if column.role is Role.ENTERPRISE_NAME:
        return "name"
    return "text"


EntOf = Callable[[RowCtx], Enterprise | None]


def _compile(
    spec: DatasetSpec, c: ColumnSpec, style: Style, csv: bool, default_party: str | None
) -> ColumnPlan:
    party = c.party if c.party != "subject" or default_party == "subject" else default_party
    if default_party is None:
        party = None
    role, t = c.role, c.type
    is_code = role in (Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID) or (
        role is None and t in _CODE_TYPES
    )

    def ent(row: RowCtx) -> Enterprise | None:
        p = row.parties.get(party) if party else None
        return p.ent if p else None

    gen = _code_gen(c, role, t) if is_code else _identity_gen(spec, c, party, ent) or _sequence_gen(c)
    if gen is None and t is FieldType.GEOMETRY:
        gen = _geometry_gen(ent)
    if gen is None:
        if role in _TIME_ROLES or t in _TIME_TYPES:
            gen = _time_gen(c, role, t, style, csv)
        elif role in _NUMBER_ROLES or t in _NUMERIC_TYPES:
            gen = _number_gen(c, role, t, style, spec, ent)
        elif t is FieldType.BOOLEAN:
            gen = _choice(c.values or ("是", "否"))
        else:
            gen = _text_gen(c, style, spec, ent)
    return ColumnPlan(c, party, gen, is_code, role is Role.ENTERPRISE_NAME, _kind(c))


_TIME_ROLES = {Role.PERIOD, Role.PERIOD_START, Role.PERIOD_END, Role.YEAR, Role.DATE}
_TIME_TYPES = {FieldType.DATE, FieldType.DATETIME, FieldType.PERIOD, FieldType.YEAR}


def _choice(values: tuple[str, ...]) -> Gen:
    def gen(row: RowCtx) -> str:
        return row.rng.choice(values)

    return gen


def _identity_gen(spec: DatasetSpec, c: ColumnSpec, party: str | None, ent: EntOf) -> Gen | None:
    """Names, accounts, meters and the subject of region rows; None for other columns."""
    role, dept = c.role, spec.department

    def name(row: RowCtx) -> str:
        p = row.parties.get(party) if party else None
        return p.name if p else ""

    # A device feed's 户号 is the utility's account: the same number the utility's monthly feed carries,
    # which is what lets the meter registry link a code-less meter through it.
    account_dept = METER_ACCOUNT_DEPARTMENT.get(spec.key, dept)

    def account(row: RowCtx) -> str:
        e = ent(row)
        return account_number(account_dept, e) if e else ""

    def indicator(row: RowCtx) -> str:
        return row.indicator or (c.values and row.rng.choice(c.values)) or row.rng.choice(nm.INDICATORS)

    if role is Role.ENTERPRISE_NAME:
        return name
    if role is Role.ACCOUNT_NUMBER:
        return account
    if role is Role.METER_ID:
        return lambda row: row.meter
    if role is Role.FORMER_NAME:
        return lambda row: e.former_name if (e := ent(row)) else ""
    if spec.subject is Subject.REGION and role in (Role.REGION, Role.TOWN, Role.PARK):
        return lambda row: row.region
    if role is Role.INDICATOR_NAME:
        return indicator
    return None


_NUMBER_ROLES = {Role.AMOUNT, Role.AREA, Role.QUANTITY, Role.COUNT, Role.RATE, Role.INDICATOR_VALUE,
                 Role.REGISTERED_CAPITAL}  # fmt: skip


def _code_gen(c: ColumnSpec, role: Role | None, t: FieldType) -> Gen:
    party = c.party
    as_org = role is Role.ORG_CODE or (role is None and t is FieldType.ORG_CODE)
    as_tin = role is Role.TAXPAYER_ID or (role is None and t is FieldType.TAXPAYER_ID)

    def gen(row: RowCtx) -> str:
        p = row.parties.get(party) or next(iter(row.parties.values()), None)
        if p is None:
            return ""
        if not p.code:  # a row without the credit code may still carry the older identifiers
            if not p.legacy or not (as_org or as_tin):
                return ""
            code = p.ent.credit_code
            if as_tin:
                return code[2:17]
            org = code[8:17]
            return f"{org[:8]}-{org[8]}" if row.rng.random() < 0.3 else org
        if as_org:
            org = p.code[8:17]
            return f"{org[:8]}-{org[8]}" if row.rng.random() < 0.3 and len(org) == 9 else org
        if as_tin and p.old_tin and len(p.code) == 18:
            return p.code[2:17]
        return p.code

    return gen


def _time_gen(c: ColumnSpec, role: Role | None, t: FieldType, style: Style, csv: bool) -> Gen:
    h = c.header
    established = role is Role.ESTABLISHED or has(h, "成立", "开业", "设立", "注册时间", "注册日期")
    if t is FieldType.YEAR or role is Role.YEAR:
        return lambda row: row.period.end.year if row.rng.random() < 0.8 else f"{row.period.end.year}年"
    if t is FieldType.PERIOD or (role is Role.PERIOD and t is FieldType.TEXT):
        return lambda row: fmt_period(style, row.period)
    if t is FieldType.DATETIME:

        def gen_dt(row: RowCtx) -> Value:
            at = row.at
            if at is None:
                day = day_in(row.rng, row.period)
                at = dt.datetime.combine(day, dt.time(row.rng.randrange(8, 19), row.rng.randrange(60)))
            return at if style.native_dates and not csv else at.strftime("%Y-%m-%d %H:%M:%S")

        return gen_dt

    def gen(row: RowCtx) -> Value:
        p = row.period
        if established:
            party = row.parties.get(c.party) or next(iter(row.parties.values()), None)
            day = party.ent.established if party else day_in(row.rng, p)
        elif role is Role.PERIOD_START:
            day = p.start
        elif role is Role.PERIOD_END or role is Role.PERIOD:
            day = p.end
        elif has(h, "起"):
            day = day_in(row.rng, p)
        elif has(h, "止", "至", "到期", "竣工", "交付", "移出"):
            day = p.end + dt.timedelta(days=row.rng.randint(30, 900))
        elif has(h, "申请"):
            day = p.start - dt.timedelta(days=row.rng.randint(10, 400))
        elif has(h, "入库", "申报", "录入"):
            day = p.end + dt.timedelta(days=row.rng.randint(1, 15))
        else:
            day = day_in(row.rng, p)
        return fmt_date(style, day, csv)

    return gen


def _sequence_gen(c: ColumnSpec) -> Gen | None:
    """序号 columns: the row's sequence number in its file."""
    if c.header.strip() in ("序号", "编号序号", "顺序号") and c.role in (None, Role.IDENTIFIER, Role.COUNT):
        return lambda row: row.number if c.type is not FieldType.TEXT else str(row.number)
    return None


def _number_gen(
    c: ColumnSpec, role: Role | None, t: FieldType, style: Style, spec: DatasetSpec, ent: EntOf
) -> Gen:
    h, title = c.header, spec.title
    region_rows = spec.subject is Subject.REGION
    if role is Role.REGISTERED_CAPITAL or (t is FieldType.AMOUNT and has(h, "注册资本", "注册资金")):
        unit = effective_unit(c, "元")  # as a loader reads an amount without a unit
        return lambda row: to_unit(e.registered_capital, unit) if (e := ent(row)) else ""
    if t is FieldType.AMOUNT or role is Role.AMOUNT:
        unit = effective_unit(c, "元")

        def gen_amount(row: RowCtx) -> Value:
            if region_rows:
                v = round(region_amount(unit, row.rng), 2)
            else:
                v = to_unit(amount_wan(h, ent(row), row.rng, row.period, title), unit)
            if style.amount_text and row.rng.random() < style.amount_text:
                return f"{v:,.2f}"
            return v

        return gen_amount
    if t is FieldType.AREA or role is Role.AREA:
        factor = AREA_UNITS.get(effective_unit(c, "平方米") or "平方米", 1.0)
        return lambda row: round(area_sqm(h, row.rng, title) / factor, 2)
    if t is FieldType.PERCENT or role is Role.RATE:

        def gen_rate(row: RowCtx) -> Value:
            v = rate_for(h, row.rng)
            return f"{v:g}%" if style.percent_sign and t is FieldType.PERCENT else v

        return gen_rate
    if t is FieldType.INTEGER or role is Role.COUNT:
        return lambda row: count_for(h, ent(row), row.rng)
    if region_rows and effective_unit(c, None) == "万人":
        return lambda row: round(row.rng.uniform(0.05, 5.0) * (8 if row.region == nm.CITY_FULL else 1), 2)
    if t is FieldType.QUANTITY or role is Role.QUANTITY:
        return lambda row: quantity(h, ent(row), row.rng, row.period)
    if role is Role.INDICATOR_VALUE or region_rows:
        return lambda row: round(
            row.rng.uniform(-5, 20) if has(h, "%", "增速", "率") else row.rng.uniform(1, 5000), 2
        )
    return lambda row: round(row.rng.uniform(1, 1000), 2)


ESTATE_TITLES = ("房", "楼盘", "公积金", "预售", "网签")


def _text_gen(c: ColumnSpec, style: Style, spec: DatasetSpec, ent: EntOf) -> Gen:
    """Text cells: people and contact, places, classifications, then categories, numbers and free text."""
    for factory in (_people_gen, _place_gen, _class_gen):
        gen = factory(c, style, ent)
        if gen is not None:
            return gen
    h, role, dept = c.header, c.role, spec.department
    if role is Role.CATEGORY or (c.values and role is None):
        return lambda row: category(c, row.rng, ent(row))
    if role is Role.IDENTIFIER or (role is None and (has(h, *IDENTIFIER_WORDS) or h.endswith("号"))):
        return lambda row: identifier(h, row.rng, row.period, dept, spec.title)
    if role is Role.NAME:
        # what the name is of: what the header says, else a housing estate or a project by the title
        if any(has(h, *words) for words, _ in TEXT_RULES) and not has(h, "项目", "工程"):
            kind = h
        else:
            kind = "楼盘" if has(spec.title, *ESTATE_TITLES) else "项目"

        def thing(row: RowCtx) -> str:
            memo = row.cache.get(kind)
            if memo is None:
                memo = row.cache[kind] = free_text(kind, ent(row), row.rng, dept)
            return memo

        return thing
    pooled = any(w in h for w, _ in nm.CATEGORY_POOLS) and not has(h, "名称", "地址")
    if role is None and c.type is FieldType.TEXT and pooled:
        return lambda row: category(c, row.rng, ent(row))
    return lambda row: free_text(h, ent(row), row.rng, dept)


def _geometry_gen(ent: EntOf) -> Gen:
    """A place: a region row's town boundary (the city's outline for the city), else a parcel inside the
    town of the row's enterprise (none for an enterprise registered elsewhere)."""

    def place(row: RowCtx) -> str:
        if row.region:
            shape = geo.town_shapes().get(row.region)
            if shape is not None or row.region == nm.CITY_FULL:
                return (shape or geo.city_shape()).to_wkt()
            return geo.parcel_cell(None, row.rng)
        e = ent(row)
        if e is not None and e.town is None:
            return ""
        return geo.parcel_cell(e.town_name if e else None, row.rng)

    return place


def _people_gen(c: ColumnSpec, style: Style, ent: EntOf) -> Gen | None:
    h, role, t = c.header, c.role, c.type
    untyped = role is None and t is FieldType.TEXT
    if role in (Role.LEGAL_REPRESENTATIVE, Role.CONTACT_PERSON) or (
        untyped and has(h, "法人代表", "法定代表人", "负责人", "联系人")
    ):
        legal = role is Role.LEGAL_REPRESENTATIVE or (role is None and has(h, "法"))

        def person(row: RowCtx) -> str:
            e = ent(row)
            if e is None:
                return person_name(row.rng)
            return (e.legal_rep if legal else e.contact).name

        return person
    if role is Role.PERSON_NAME:
        return lambda row: person_name(row.rng)
    if role is Role.ID_NUMBER or t is FieldType.ID_NUMBER:
        return lambda row: e.legal_rep.id_number if (e := ent(row)) else ""
    if role is Role.PHONE or t is FieldType.PHONE or (untyped and has(h, "电话", "联系方式", "手机")):
        personal = has(h, "法人联系", "负责人", "手机")

        def phone(row: RowCtx) -> str:
            e = ent(row)
            if e is None:
                return f"0595-8{row.rng.randrange(10**7):07d}"
            return fmt_phone(style, e.legal_rep.mobile if personal else e.phone)

        return phone
    if role is Role.ADDRESS or (untyped and has(h, "地址", "坐落", "地点", "位置", "所在地", "住所")):
        elsewhere = has(h, "工程", "建设", "施工", "项目", "跨区域", "房屋", "坐落", "用地")

        def address(row: RowCtx) -> str:
            e = ent(row)
            if e is None or not e.address or elsewhere:
                town = e.town if e and e.town else row.rng.choice(nm.TOWNS)
                road = row.rng.choice(town.roads)
                return f"{nm.CITY_FULL}{town.name}{road}{row.rng.randint(1, 999)}号"
            return e.address if style.address_province else e.address.removeprefix(nm.PROVINCE)

        return address
    return None


def _place_gen(c: ColumnSpec, style: Style, ent: EntOf) -> Gen | None:
    h, role = c.header, c.role
    untyped = role is None and c.type is FieldType.TEXT
    if untyped and has(h, "区划代码", "行政区代码"):  # a boundary layer's 行政区划代码
        return lambda row: geo.division_code(row.region or (e.town_name if (e := ent(row)) else ""))
    if role is Role.BANK_ACCOUNT:
        return lambda row: bank_account(e) if (e := ent(row)) else identifier("账号", row.rng, row.period, "")
    if role is Role.TOWN or (untyped and h.endswith(("街道", "乡镇", "镇街"))):
        return lambda row: e.town_name if (e := ent(row)) else row.rng.choice(nm.TOWNS).name
    if role is Role.REGION or (untyped and h.endswith(("地区", "区域", "区县"))):

        def region(row: RowCtx) -> str:
            e = ent(row)
            if e is None:
                return nm.CITY_FULL
            if e.town is None:  # registered elsewhere
                return nm.CITY_FULL if e.division == nm.DIVISION else e.parts.prefix or "泉州市"
            return e.town.name if style.region_as_town else nm.CITY_FULL

        return region
    if role is Role.PARK:
        return lambda row: e.park if (e := ent(row)) else row.rng.choice(nm.PARKS)[0]
    return None


def _class_gen(c: ColumnSpec, style: Style, ent: EntOf) -> Gen | None:
    h, role = c.header, c.role
    if role is Role.INDUSTRY_CODE:

        def industry_code(row: RowCtx) -> str:
            e = ent(row)
            if e is None:
                return row.rng.choice(nm.INDUSTRIES).code
            if style.industry_code_style == "subclass":
                return e.industry.section + e.subclass[0]
            return e.subclass[0] if style.industry_code_style == "bare" else e.industry.code

        return industry_code
    if role is Role.INDUSTRY_NAME or (role is None and c.type is FieldType.TEXT and has(h, "行业")):
        section = has(h, "门类")
        sub = h.strip() in ("行业", "所属行业", "行业名称") and not section

        def industry_name(row: RowCtx) -> str:
            e = ent(row)
            ind = e.industry if e else row.rng.choice(nm.INDUSTRIES)
            if section:
                return ind.section_name
            if sub and e is not None and row.rng.random() < 0.5:
                return e.subclass[1]
            return ind.name

        return industry_name
    makers: dict[Role | None, Gen] = {
        Role.INDUSTRY_CHAIN: lambda row: e.chain if (e := ent(row)) and e.chain else row.rng.choice(_CHAINS),
        Role.CHAIN_POSITION: lambda row: (
            e.chain_position if (e := ent(row)) and e.chain_position else row.rng.choice(nm.CHAIN_POSITIONS)
        ),
        Role.ENTITY_TYPE: lambda row: _entity_type(c, ent(row), row.rng),
        Role.STATUS: lambda row: _status(c, ent(row), row.rng),
        Role.BUSINESS_SCOPE: lambda row: e.industry.scope if (e := ent(row)) else "一般项目：货物进出口",
    }
    return makers.get(role)


_CHAINS = tuple(sorted({i.chain for i in nm.INDUSTRIES if i.chain}))


def _entity_type(c: ColumnSpec, e: Enterprise | None, rng: random.Random) -> str:
    if e is None:
        label = "有限责任公司"
    elif e.kind == "individual":
        label = "个体工商户"
    elif e.kind == "branch":
        label = "有限责任公司分公司(自然人投资或控股)" if "股份" not in e.parts.form else "股份有限公司分公司"
    elif "股份" in e.parts.form:
        label = "股份有限公司(非上市、自然人投资或控股)"
    else:
        label = rng.choice(
            ("有限责任公司(自然人投资或控股)", "有限责任公司(自然人独资)", "有限责任公司(台港澳法人独资)")
        )
    if c.values:
        hits = [v for v in c.values if v[:2] in label or label[:4] in v]
        return hits[0] if hits else rng.choice(c.values)
    return label


def _status(c: ColumnSpec, e: Enterprise | None, rng: random.Random) -> str:
    closed = e is not None and e.status != "存续"
    wanted = e.status if closed and e else "存续"
    pool = c.values or (
        ("正常", "注销", "非正常")
        if "纳税人" in c.header
        else ("存续（在营、开业、在册）", "注销", "吊销，未注销")
    )
    hits = [v for v in pool if wanted[:2] in v]
    if hits:
        return hits[0]
    if closed:
        return rng.choice(pool)
    return pool[0]

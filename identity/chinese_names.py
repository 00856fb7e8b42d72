"""Chinese enterprise names: normalisation and parsing into the parts entity resolution compares.

A registered name is built (企业名称登记管理规定) as 行政区划 + 字号 + 行业 + 组织形式, e.g.
``福建省晋江市 | 恒安 | 鞋业 | 有限公司``. Departments write the same enterprise in many ways: traditional
characters, full-width letters and brackets, stray spaces, the region dropped, bracketed after the 字号
(``恒安（晋江）鞋业有限公司``) or written out in full, 有限责任公司 for 有限公司, status notes
(``（已注销）``), or only the abbreviation (``恒安鞋业``). ``parse_name`` splits a name into:

* ``normalised`` -- NFKC, simplified, no whitespace, brackets as ASCII ``()``, notes removed and the legal
  form canonicalised; the region is kept as written.
* ``region`` / ``region_code`` -- the administrative prefix as written (``福建省晋江市``, ``晋江``,
  ``晋江市陈埭镇``) and its canonical short name (``晋江``), from the division table in
  ``identifiers.DIVISIONS`` plus the pilot cities' towns. A suffix-less name (``南安``) is only taken as
  a region when a real 字号 of two or more characters follows it, and a stacked region must lie inside
  the previous one (``泉州南安`` yes, ``晋江市南安`` no), because 字号 often begin with place-like words.
* ``trade_name`` (字号) and ``industry`` (行业 words, which stack: ``服装织造``). ``core`` is the two
  together: what an abbreviation keeps. Generic qualifiers (实业, 发展, 集团, 控股) after a specific industry
  word are left out of ``industry`` because abbreviations drop them (恒安鞋业实业有限公司 -> 恒安鞋业).
* ``legal_form`` -- canonical. 有限责任公司 and 有限公司 are one form in law (both are limited-liability
  companies under the Company Law; 有限公司 is the permitted short form), and departments write them
  interchangeably for the same enterprise, so both become ``有限公司``. 股份有限公司 is a different kind
  of company (a joint-stock company); a 股份 and a non-股份 firm with the same core are usually two
  enterprises, so it stays distinct. 集团 / 集团公司 become 集团有限公司.
* ``branch`` -- the branch marker and its place after the parent's name (``陈埭分公司``, ``第二分厂``,
  ``营业部``). A branch is its own enterprise with its own credit code: never merged with its parent.
  ``parent_name`` gives the normalised parent name.
* ``notes`` -- status and history notes removed from the name (已注销, 吊销, 原名..., 普通合伙, 有限合伙).
* ``is_individual_business`` -- 个体工商户: shop-style forms (店, 商行, 经营部 ...), an explicit 个体 marker,
  or a person's name / a town in a name without a company form.

Everything is a pure function. ``parse_name`` is cached (names repeat across departments); the tables
are built once at import, lookups are dictionary probes of short substrings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import opencc

from entgraph.identity.codes import DIVISIONS

__all__ = [
    "NameParts",
    "core_pinyin",
    "name_variants",
    "normalise_address",
    "normalise_person_name",
    "normalise_phone",
    "normalise_text",
    "parent_name",
    "parse_name",
    "trade_name_pinyin",
]

# -- text ---------------------------------------------------------------------------------------------

_T2S = opencc.OpenCC("t2s")  # created once: loading the conversion tables takes a moment
# after NFKC, every bracket kind becomes ASCII round brackets
_BRACKETS = str.maketrans(
    {
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "〖": "(",
        "〗": ")",
        "〘": "(",
        "〙": ")",
        "⦅": "(",
        "⦆": ")",
        "〈": "(",
        "〉": ")",
        # zero-width characters are no whitespace to str.split: delete them here
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)
_DOTS_RE = re.compile(r"[·•・‧∙⋅\u00b7\u30fb\uff65.。]")


def normalise_text(s: str) -> str:
    """NFKC, traditional -> simplified, brackets unified to ASCII ``()``, every whitespace removed.

    ASCII letters are upper-cased (``abc科技`` and ``ABC科技`` are one name).
    """
    if not s:
        return ""
    if s.isascii():
        return "".join(s.translate(_BRACKETS).split()).upper()
    s = "".join(unicodedata.normalize("NFKC", s).translate(_BRACKETS).split())
    return _T2S.convert(s).upper()


# -- regions ------------------------------------------------------------------------------------------

# suffixes that make a short region name its full name; longest first
_REGION_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "省",
    "市",
    "县",
    "区",
    "盟",
    "旗",
)
# Towns (乡镇/街道) of the pilot cities: code of their county, and their names with the suffix.
_TOWNS: dict[str, tuple[str, ...]] = {
    "350582": (  # 晋江市: 6 街道 + 13 镇
        "青阳街道",
        "梅岭街道",
        "西园街道",
        "罗山街道",
        "灵源街道",
        "新塘街道",
        "陈埭镇",
        "池店镇",
        "安海镇",
        "磁灶镇",
        "内坑镇",
        "紫帽镇",
        "东石镇",
        "永和镇",
        "英林镇",
        "金井镇",
        "龙湖镇",
        "深沪镇",
        "西滨镇",
    ),
    "150302": (  # 海勃湾区
        "千里山镇",
        "新华街道",
        "新华西街道",
        "海北街道",
        "凤凰岭街道",
        "林荫街道",
        "滨河街道",
        "卡布其街道",
        "东山街道",
    ),
    "150303": ("巴音陶亥镇", "公乌素镇", "拉僧庙镇", "西卓子山街道"),  # 海南区
    "150304": ("乌兰淖尔镇", "苏海图街道", "巴音赛街道", "梁家沟街道", "三道坎街道", "五虎山街道"),  # 乌达区
}
# Suffix-less town names are only recognised for these counties' towns (Wuhai's short names such as
# 新华 or 海北 are far too common in 字号 to strip without their suffix).
_SHORT_TOWN_COUNTIES = frozenset({"350582"})
_TOWN_SUFFIXES = ("街道", "镇", "乡")


def _short_name(full: str) -> str:
    for suffix in _REGION_SUFFIXES:
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def _level(code: str) -> int:
    if code.endswith("0000"):
        return 1
    if code.endswith("00"):
        return 2
    return 3


def _build_regions() -> tuple[dict[str, tuple[str, bool]], dict[str, str]]:
    """(surface form -> (division code, is a bare short name), division code -> canonical short name)."""
    shorts: dict[str, list[str]] = {}
    for code, full in DIVISIONS.items():
        shorts.setdefault(_short_name(full), []).append(code)
    canonical: dict[str, str] = {}
    for code, full in DIVISIONS.items():
        short = _short_name(full)
        codes = shorts[short]
        # 海南区 (乌海) shares its short name with 海南省: only the highest level keeps the short name
        highest = min(codes, key=_level)
        canonical[code] = short if code == highest else full
    forms: dict[str, tuple[str, bool]] = {}
    by_level = sorted(DIVISIONS.items(), key=lambda item: (_level(item[0]), item[0]))
    for code, full in by_level:  # official names win every clash
        forms.setdefault(full, (code, False))
    for code, full in by_level:
        short = _short_name(full)
        if short != full:
            forms.setdefault(short, (code, True))
        for suffix in ("省", "市", "县", "区"):
            if len(short) >= 2:
                forms.setdefault(short + suffix, (code, False))
    return forms, canonical


_REGION_FORMS, _REGION_CANONICAL = _build_regions()
_BRACKET_ONLY_REGIONS = frozenset({"中国"})  # 安踏(中国)有限公司; never as a prefix: 中国银行 is a 字号
_TOWN_FORMS: dict[str, tuple[str, bool]] = {}  # town surface form -> (county code, is suffix-less)
for _county, _towns in _TOWNS.items():
    for _town in _towns:
        _TOWN_FORMS[_town] = (_county, False)
        if _county in _SHORT_TOWN_COUNTIES:
            for _suffix in _TOWN_SUFFIXES:
                if _town.endswith(_suffix):
                    _TOWN_FORMS.setdefault(_town[: -len(_suffix)], (_county, True))


def _index(words: Iterable[str], last: bool = False) -> dict[str, tuple[int, ...]]:
    """First (or last) character -> the lengths of the words starting (ending) with it, longest first.

    Lookups slice the text at those lengths and probe the word set: a few dictionary probes a position.
    """
    index: dict[str, set[int]] = {}
    for word in words:
        index.setdefault(word[-1] if last else word[0], set()).add(len(word))
    return {ch: tuple(sorted(sizes, reverse=True)) for ch, sizes in index.items()}


_REGION_BY_FIRST = _index(_REGION_FORMS)
_TOWN_BY_FIRST = _index(_TOWN_FORMS)
_PLACE_BY_LAST = _index([*_REGION_FORMS, *_TOWN_FORMS], last=True)
_GENERIC_TOWN_RE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:街道|镇|乡)")
_VILLAGE_RE = re.compile(r"[\u4e00-\u9fff]{1,4}?(?:村|社区)")


def _below(parent: str, child: str) -> bool:
    """Whether division ``child`` lies inside division ``parent``."""
    if child == parent:
        return False
    if parent.endswith("0000"):
        return child[:2] == parent[:2]
    if parent.endswith("00"):
        return child[:4] == parent[:4]
    return False


def _deepest(codes: list[str]) -> str | None:
    return max(codes, key=_level) if codes else None


# -- legal forms, branches, notes ---------------------------------------------------------------------

# written form at the end of a name -> canonical legal form
_LEGAL_FORMS: dict[str, str] = {
    "集团股份有限公司": "集团股份有限公司",
    "股份有限公司": "股份有限公司",
    "股份公司": "股份有限公司",
    "集团有限责任公司": "集团有限公司",
    "集团有限公司": "集团有限公司",
    "集团公司": "集团有限公司",
    "集团": "集团有限公司",
    "有限责任公司": "有限公司",
    "有限公司": "有限公司",
    "公司": "公司",
    "合伙企业": "合伙企业",
    "普通合伙": "合伙企业",
    "有限合伙": "合伙企业",
    "个人独资企业": "个人独资企业",
    "独资企业": "个人独资企业",
    "农民专业合作社": "专业合作社",
    "专业合作社": "专业合作社",
    "股份经济合作社": "股份经济合作社",
    "经济合作社": "经济合作社",
    "合作社": "合作社",
    "个体工商户": "个体工商户",
    "事务所": "事务所",
    "工作室": "工作室",
    "经营部": "经营部",
    "门市部": "门市部",
    "服务部": "服务部",
    "批发部": "批发部",
    "销售部": "销售部",
    "商店": "商店",
    "商行": "商行",
    "超市": "超市",
    "商场": "商场",
    "中心": "中心",
    "厂": "厂",
    "店": "店",
    "行": "行",
    "部": "部",
    "馆": "馆",
    "社": "社",
    "场": "场",
    "站": "站",
    "所": "所",
    "点": "点",
    "队": "队",
    "坊": "坊",
    "铺": "铺",
}
_LEGAL_BY_LAST = _index(_LEGAL_FORMS, last=True)
# characters before a one-character form that make it part of a word, not a form: 银行, 分店 ...
_ONE_CHAR_BLOCKERS = {
    "行": "银分支",
    "部": "分总",
    "店": "分",
    "厂": "分",
    "所": "分",
    "站": "分",
    "社": "分",
}
_PARTNERSHIP_NOTES = frozenset({"普通合伙", "有限合伙", "特殊普通合伙"})
_COMPANY_FORMS = frozenset(
    {"集团股份有限公司", "股份有限公司", "集团有限公司", "有限公司", "公司", "合伙企业", "个人独资企业"}
)
_NOT_INDIVIDUAL_FORMS = _COMPANY_FORMS | {"专业合作社", "股份经济合作社", "经济合作社", "合作社", "事务所"}
_SHOP_FORMS = frozenset(
    {
        "个体工商户",
        "工作室",
        "经营部",
        "门市部",
        "服务部",
        "批发部",
        "销售部",
        "商店",
        "商行",
        "超市",
        "店",
        "行",
        "部",
        "馆",
        "点",
        "队",
        "坊",
        "铺",
    }
)
_STRONG_BRANCH = (
    "分公司",
    "支公司",
    "分厂",
    "分店",
    "分行",
    "支行",
    "办事处",
    "代表处",
    "联络处",
    "分理处",
    "分中心",
    "分部",
    "分所",
    "分社",
    "分场",
    "分站",
    "分院",
)
_WEAK_BRANCH = ("营业部", "经营部", "门市部", "营业所", "储蓄所", "销售部", "服务部", "分销部")
_BRANCH_MARKERS = _STRONG_BRANCH + _WEAK_BRANCH
# the parent's legal form a branch name continues after; the last one before the marker counts
_PARENT_FORM_RE = re.compile(
    r"(?:股份有限公司|有限责任公司|有限公司|集团公司|公司|合伙企业|个人独资企业|合作社|银行|集团)"
)
_ORDINAL_RE = re.compile(r"第[零〇一二三四五六七八九十百千两\d]+$")
_STATUS = (
    r"已?注销|已?吊销|吊销未注销|吊销,未注销|已?撤销|已?迁出|已?歇业|已?停业|已?关闭|注销中|清算中|已?迁移"
)
_NOTE_RE = re.compile(
    rf"(?:{_STATUS}|筹|筹建|筹备|非法人|分支机构|(?:原名?|曾用名|现名|更名为?|又名)[:：]?.{{2,}})"
)
_INDIVIDUAL_MARKS = frozenset({"个体", "个体户", "个体工商户"})
_INDIVIDUAL_PREFIX_RE = re.compile(r"^(?:个体工商户|个体户|个体)[:：\-_]?")
_STATUS_WORDS = tuple(
    sorted(
        [
            *(
                f"{pre}{word}"
                for word in ("注销", "吊销", "撤销", "迁出", "歇业", "停业", "关闭", "迁移")
                for pre in ("", "已")
            ),
            "吊销未注销",
            "注销中",
            "清算中",
        ],
        key=len,
        reverse=True,
    )
)
_STATUS_LAST = frozenset(w[-1] for w in _STATUS_WORDS)
_FORMER_RE = re.compile(r"(?:原名|曾用名|原企业名称)[:：]?.+")
_SEPARATORS = "-_—,;:"  # after NFKC (full-width ，；： are ASCII by then)
_BRACKET_RE = re.compile(r"\(([^()]*)\)")
_OPEN_TAIL_RE = re.compile(r"\(([^()]*)$")

# -- industry words -----------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_INDUSTRY_WORDS = _words(
    """
    鞋业 鞋服 鞋材 鞋帽 制鞋 鞋 轻工 服装 服饰 时装 制衣 织造 纺织 纺织品 针织 针纺 化纤 染整 印染 漂染 织布
    布业 布 纱线 棉纺 毛纺 丝绸 家纺 皮革 箱包 玩具 工艺品 辅料 服装辅料 拉链 伞业 体育用品 运动用品 体育
    食品 食品工业 饮品 饮料 糖果 茶业 茶叶 茶 粮油 米业 农业 农产品 水产 渔业 林业 牧业 养殖 种植 生态农业
    酒业 乳业 冷链 副食品 食杂 小吃 快餐 面线糊 餐饮 餐饮管理 酒店管理 陶瓷 瓷业 瓷砖 建材 新型建材 石材
    水泥 混凝土 商品混凝土 玻璃 钢构 钢结构 钢铁 金属 不锈钢 铝业 铜业 五金 机械 机械制造 精密机械 机械设备
    机电 设备 智能装备 装备 电器 电气 电机 电子 电子科技 电子产品 光电 光电科技 半导体 微电子 集成电路 通信
    通讯 电力 能源 新能源 光伏 电池 储能 煤业 煤炭 煤化工 焦化 化工 精细化工 氯碱 硅铁 硅业 冶金 矿业 稀土
    环保 环境 环保科技 水务 燃气 热力 塑胶 塑料 塑业 橡胶 包装 印刷 纸业 纸品 卫生用品 妇幼用品 护理用品
    日用品 日化 化妆品 医药 医疗 医疗器械 生物 生物科技 健康 健康科技 制药 药业 药 保健品 科技 高科技 技术
    信息技术 信息 网络 网络科技 数字科技 软件 智能 智能科技 新材料 材料 汽车 汽配 汽车配件 汽车维修 电动车
    机械维修 维修 运输 物流 货运 货运代理 国际货运代理 国际 供应链 仓储 快递 快递代办 代办 航运 海运 贸易
    商贸 国际贸易 进出口 投资 投资管理 资产管理 置业 地产 房地产 房地产开发 物业 物业管理 建筑 建筑工程 建设
    建设工程 建工 装饰 装饰工程 装修 工程 市政工程 园林 园林绿化 劳务 人力资源 咨询 管理咨询 企业管理 文化
    文化传媒 传媒 广告 教育 教育科技 培训 旅游 家政 家政服务 美容 理发 服务 电子商务 电商 会展 设计 检测
    小额贷款 融资担保 担保 融资租赁 租赁 典当 保险 财产保险 人寿保险 银行 商业银行 农村商业银行 石油 石化
    天然气 加油 旅行 卫浴 厨卫 家具 家居 灯饰 照明 眼镜 珠宝 首饰 百货 便利 电脑 手机 加工 批发 零售 鞋材加工
    实业 发展 集团 控股
    """
)
_GENERIC_WORDS = frozenset({"实业", "发展", "集团", "控股"})
_INDUSTRY_BY_LAST = _index(_INDUSTRY_WORDS, last=True)

# surnames for telling a person's name (张三服装店) from a 字号
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "施洪庄柯颜粘尤傅骆舒"
)
_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐"}
)


# -- the parts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameParts:
    """A parsed enterprise name (see the module docstring for what each part holds)."""

    raw: str
    normalised: str
    region: str | None
    region_code: str | None
    trade_name: str
    industry: str
    legal_form: str | None
    branch: str | None
    notes: tuple[str, ...]
    is_individual_business: bool

    @property
    def core(self) -> str:
        """字号 + industry: the name without region, legal form, branch and notes."""
        return self.trade_name + self.industry


@dataclass(slots=True)
class _Region:
    """Region tokens found in a name, in the order they are written."""

    written: list[str]
    codes: list[str]  # division codes (for region_code)
    town_county: str | None = None  # the county a recognised town belongs to
    has_town: bool = False
    bracket_china: bool = False

    def add(self, written: str, code: str | None, is_town: bool) -> None:
        self.written.append(written)
        if code is not None:
            self.codes.append(code)
        elif written in _BRACKET_ONLY_REGIONS:
            self.bracket_china = True
        if is_town:
            self.has_town = True
            county = _TOWN_FORMS.get(written, (None, False))[0]
            if county is not None:
                self.town_county = county


def _person_like(name: str) -> bool:
    if name[:2] in _COMPOUND_SURNAMES:
        return 3 <= len(name) <= 4
    return 2 <= len(name) <= 3 and name[0] in _SURNAMES and name.isalpha() and not name.isascii()


def _split_notes(text: str) -> tuple[str, list[str], bool, bool]:
    """(text without notes, notes, partnership note seen, individual marker seen)."""
    notes: list[str] = []
    flags = {"partner": False, "individual": False}

    def bracket(match: re.Match[str]) -> str:
        inner = match.group(1).strip(_SEPARATORS)
        if not inner:
            return ""
        if inner in _PARTNERSHIP_NOTES:
            notes.append(inner)
            flags["partner"] = True
            return ""
        if inner in _INDIVIDUAL_MARKS:
            flags["individual"] = True
            return ""
        if _NOTE_RE.fullmatch(inner):
            notes.append(inner)
            return ""
        return match.group(0)

    if "(" in text:
        text = _BRACKET_RE.sub(bracket, text)
        if "(" in text:  # an unclosed note at the end: 恒安鞋业有限公司(已注销
            tail = _OPEN_TAIL_RE.search(text)
            if tail is not None:
                inner = tail.group(1)
                if inner in _PARTNERSHIP_NOTES or _NOTE_RE.fullmatch(inner):
                    notes.append(inner)
                    flags["partner"] = flags["partner"] or inner in _PARTNERSHIP_NOTES
                    text = text[: tail.start()]
    # trailing, unbracketed: 恒安鞋业有限公司已注销, 恒安鞋业有限公司原名恒安鞋厂
    if "原" in text or "曾用名" in text:
        former = _FORMER_RE.search(text, 2)
        if former is not None:
            notes.append(former.group(0))
            text = text[: former.start()].rstrip(_SEPARATORS)
    if text and text[-1] in _STATUS_LAST:
        for word in _STATUS_WORDS:
            if text.endswith(word) and len(text) - len(word) >= 2:
                notes.append(word)
                text = text[: -len(word)].rstrip(_SEPARATORS)
                break
    if text.startswith("个体"):
        stripped = _INDIVIDUAL_PREFIX_RE.sub("", text)
        if stripped != text and stripped:
            flags["individual"] = True
            text = stripped
    return text, notes, flags["partner"], flags["individual"]


def _strip_brackets(text: str) -> str:
    return text.replace("(", "").replace(")", "") if "(" in text or ")" in text else text


def _bracket_region_before(text: str, end: int) -> int | None:
    """Start of a bracketed region ending at ``end`` (``(晋江)`` before a branch marker), or None."""
    if end < 4 or text[end - 1] != ")":
        return None
    start = text.rfind("(", 0, end)
    if start < 0:
        return None
    inner = text[start + 1 : end - 1]
    return start if inner in _REGION_FORMS or inner in _TOWN_FORMS else None


def _place_before(text: str, end: int) -> int:
    """Start of the place names (regions, towns) ending at ``end``: 恒安鞋业|晋江陈埭|分厂."""
    while end > 2:
        for size in _PLACE_BY_LAST.get(text[end - 1], ()):
            piece = text[end - size : end]
            if end - size >= 2 and (piece in _REGION_FORMS or piece in _TOWN_FORMS):
                end -= size
                break
        else:
            break
    return end


def _split_branch(text: str) -> tuple[str, str | None]:
    """(parent text, branch text without brackets) of a name; branch None when it is no branch."""
    if not text.endswith(_BRANCH_MARKERS):
        return text, None
    marker = next(m for m in _BRANCH_MARKERS if text.endswith(m))
    marker_start = len(text) - len(marker)
    if marker_start == 0:
        return text, None
    last = None
    for last in _PARENT_FORM_RE.finditer(text, 0, marker_start):  # noqa: B007 - the last match counts
        pass
    if last is not None and marker_start - last.end() <= 16 and last.end() >= 2:
        cut = last.end()
    else:
        if marker in _WEAK_BRANCH:  # 张三五金经营部 is a shop, not a branch
            return text, None
        bracket = _bracket_region_before(text, marker_start)
        if bracket is not None:
            cut = bracket
        else:
            ordinal = _ORDINAL_RE.search(text, 0, marker_start)
            cut = _place_before(text, ordinal.start() if ordinal is not None else marker_start)
        if cut < 2:
            return text, None
    if text[cut] == "(":  # 中国工商银行(晋江)晋江深沪支行: the bracketed region belongs to the parent
        close = text.find(")", cut)
        if close > 0 and text[cut + 1 : close] in _REGION_FORMS and close + 1 < marker_start:
            cut = close + 1
    return text[:cut], _strip_brackets(text[cut:])


def _split_legal_form(text: str) -> tuple[str, str | None]:
    """(text before the legal form, canonical legal form); the longest written form wins."""
    if not text:
        return text, None
    n = len(text)
    for size in _LEGAL_BY_LAST.get(text[-1], ()):
        written = text[n - size :]
        if size > n or written not in _LEGAL_FORMS:
            continue
        head = text[: n - size]
        if size == 1:
            if len(head) < 2 or head[-1] in _ONE_CHAR_BLOCKERS.get(written, ""):
                continue
        elif not head:
            continue
        return head, _LEGAL_FORMS[written]
    return text, None


def _industry_split(text: str) -> tuple[str, list[str]]:
    """(字号, industry words in written order): words are taken from the end, longest first, while at least
    two characters are left for the 字号."""
    words: list[str] = []
    end = len(text)
    while end > 2:
        for size in _INDUSTRY_BY_LAST.get(text[end - 1], ()):
            if end - size >= 2 and text[end - size : end] in _INDUSTRY_WORDS:
                words.append(text[end - size : end])
                end -= size
                break
        else:
            break
    words.reverse()
    return text[:end], words


def _has_real_trade_name(text: str) -> bool:
    """Whether ``text`` (after a region) still holds a 字号: two or more characters, no industry word."""
    trade, _ = _industry_split(text)
    if len(trade) < 2:
        return False
    return not any(trade[-size:] in _INDUSTRY_WORDS for size in _INDUSTRY_BY_LAST.get(trade[-1], ()))


def _industry_text(words: list[str]) -> str:
    specific = [w for w in words if w not in _GENERIC_WORDS]
    if specific:
        return "".join(specific)
    return words[0] if words else ""


def _region_at(text: str, pos: int, last_code: str | None) -> tuple[int, str, str, bool] | None:
    """A division name starting at ``pos`` (related to the previous one): (end, written, code, is short)."""
    for size in _REGION_BY_FIRST.get(text[pos], ()):
        word = text[pos : pos + size]
        entry = _REGION_FORMS.get(word)
        if entry is None:
            continue
        code, short = entry
        if last_code is not None and not (_below(last_code, code) or _below(code, last_code)):
            continue
        end = pos + size
        if word[-1] == "市" and text.startswith("场", end):  # 晋江市场...: the 市 is 市场's
            continue
        return end, word, code, short
    return None


class _Token(NamedTuple):
    end: int
    written: str
    code: str | None  # division code; None for towns and villages
    checked: bool  # kept only when a real 字号 follows (short names, towns, villages)
    is_town: bool


def _locality_at(text: str, pos: int, company: bool, after_division: bool, town_seen: bool) -> _Token | None:
    """A town (known, or any 镇/乡/街道 right after a division) or, after a town, a village at ``pos``."""
    if town_seen:
        village = _VILLAGE_RE.match(text, pos)
        return _Token(village.end(), village.group(0), None, True, True) if village else None
    for size in _TOWN_BY_FIRST.get(text[pos], ()):
        word = text[pos : pos + size]
        town = _TOWN_FORMS.get(word)
        if town is not None and not (company and town[1]):  # suffix-less: individual businesses only
            return _Token(pos + size, word, None, True, True)
    if after_division:
        generic = _GENERIC_TOWN_RE.match(text, pos)
        if generic is not None:
            return _Token(generic.end(), generic.group(0), None, True, True)
    return None


def _region_prefix(text: str, company: bool, region: _Region) -> str:
    """Strip region and town tokens from the start of ``text`` into ``region``; returns the rest."""
    if not text or (text[0] not in _REGION_BY_FIRST and text[0] not in _TOWN_BY_FIRST):
        return text
    tokens: list[_Token] = []
    pos = 0
    last_code: str | None = None
    town_seen = False
    while pos < len(text):
        division = _region_at(text, pos, last_code)
        if division is not None:
            found = _Token(*division, is_town=False)
        else:
            after_division = bool(tokens) and tokens[-1].code is not None
            found = _locality_at(text, pos, company, after_division, town_seen)
        if found is None:
            break
        tokens.append(found)
        pos = found.end
        if found.code is not None:
            last_code = found.code
        else:
            town_seen = True
            last_code = _TOWN_FORMS.get(found.written, (last_code, False))[0]
    # give back checked tokens (short names, towns, villages) at the end while no real 字号 follows them
    while tokens and tokens[-1].checked and not _has_real_trade_name(text[tokens[-1].end :]):
        tokens.pop()
    for token in tokens:
        region.add(token.written, token.code, token.is_town)
    return text[tokens[-1].end :] if tokens else text


def _bracket_regions(text: str) -> tuple[str, list[tuple[str, str | None, bool]]]:
    """``text`` without its bracketed regions (恒安(晋江)鞋业, (晋江)恒安), and those regions."""
    found: list[tuple[str, str | None, bool]] = []

    def repl(match: re.Match[str]) -> str:
        inner = match.group(1)
        entry = _REGION_FORMS.get(inner)
        if entry is not None:
            found.append((inner, entry[0], False))
        elif inner in _BRACKET_ONLY_REGIONS or inner in _TOWN_FORMS:
            found.append((inner, None, inner in _TOWN_FORMS))
        else:
            return match.group(0)
        return ""

    return (_BRACKET_RE.sub(repl, text), found) if "(" in text else (text, found)


def _region_code(region: _Region) -> str | None:
    code = _deepest(region.codes)
    if code is not None:
        return _REGION_CANONICAL[code]
    if region.town_county is not None:
        return _REGION_CANONICAL[region.town_county]
    if region.bracket_china:
        return "中国"
    return None


# Parses and readings by text, kept for the process and between resolve runs (resolution/name_memo.py
# saves and primes them): a city's registered names are parsed once, not on every monthly run. Plain
# dicts, emptied when they reach _MEMO_LIMIT, so a long-lived API process cannot grow them for ever.
_PARSED: dict[str, tuple[NameParts, str] | None] = {}
_PINYIN: dict[str, str] = {}
_MEMO_LIMIT = 1 << 20


def _parse(raw: str) -> tuple[NameParts, str] | None:
    try:
        return _PARSED[raw]
    except KeyError:
        pass
    parsed = _parse_uncached(raw)
    if len(_PARSED) >= _MEMO_LIMIT:
        _PARSED.clear()
    _PARSED[raw] = parsed
    return parsed


def _parse_uncached(raw: str) -> tuple[NameParts, str] | None:
    text = normalise_text(raw)
    if not text:
        return None
    text, notes, partnership, individual_mark = _split_notes(text)
    text = text.strip(_SEPARATORS)
    if not text:
        return None
    parent, branch = _split_branch(text)
    head, legal_form = _split_legal_form(parent)
    if legal_form is None and partnership:
        legal_form = "合伙企业"
    region = _Region([], [])
    company = legal_form in _NOT_INDIVIDUAL_FORMS or branch is not None
    unbracketed, bracketed = _bracket_regions(head)
    rest = _region_prefix(unbracketed, company, region)
    for written, code, is_town in bracketed:
        region.add(written, code, is_town)
    plain = _strip_brackets(rest)
    trade, words = _industry_split(plain)
    if not trade and words:  # only industry words: the first two characters stand for the 字号
        trade = plain[:2]
        words = []
    industry = _industry_text(words)
    branch_text = branch or ""
    form_text = legal_form or ""  # canonical; (有限合伙) alone is written as 合伙企业
    normalised = head + form_text + branch_text
    if branch is None:
        is_individual = individual_mark or legal_form in _SHOP_FORMS
        if not is_individual and legal_form not in _NOT_INDIVIDUAL_FORMS:
            person = _person_like(trade)
            is_individual = region.has_town or (person and (legal_form is not None or not industry))
    else:
        is_individual = False
    parts = NameParts(
        raw=raw,
        normalised=normalised,
        region="".join(region.written) or None,
        region_code=_region_code(region),
        trade_name=trade,
        industry=industry,
        legal_form=legal_form,
        branch=branch,
        notes=tuple(notes),
        is_individual_business=is_individual,
    )
    regionless = rest + form_text + branch_text
    return parts, regionless


def parse_name(raw: str | None) -> NameParts | None:
    """The parts of an enterprise name; None for an empty or blank name."""
    if raw is None:
        return None
    parsed = _parse(raw)
    return parsed[0] if parsed is not None else None


def parent_name(parts: NameParts) -> str | None:
    """The normalised name of a branch's parent (``...有限公司陈埭分公司`` -> ``...有限公司``), else None."""
    if not parts.branch or not parts.normalised.endswith(parts.branch):
        return None
    return parts.normalised[: -len(parts.branch)] or None


# readings of polyphones as they are read in 字号 (长 is chang in 长城, 长兴; pypinyin often says zhang)
_PINYIN_OVERRIDES = {"长": "chang", "行": "xing", "乐": "le"}


def _pinyin(text: str) -> str:
    reading = _PINYIN.get(text)
    if reading is None:
        from pypinyin import lazy_pinyin  # loaded on first use: the phrase dictionary is large

        syllables = lazy_pinyin(text)
        if len(syllables) == len(text):  # one syllable a character: apply the 字号 readings
            syllables = [_PINYIN_OVERRIDES.get(ch, syl) for ch, syl in zip(text, syllables, strict=True)]
        reading = "".join(syllables).lower()
        if len(_PINYIN) >= _MEMO_LIMIT:
            _PINYIN.clear()
        _PINYIN[text] = reading
    return reading


def memo() -> tuple[dict[str, tuple[NameParts, str] | None], dict[str, str]]:
    """The parses and readings made so far in this process (resolution/name_memo.py saves them)."""
    return _PARSED, _PINYIN


def prime_memo(parsed: dict[str, tuple[NameParts, str] | None], readings: dict[str, str]) -> None:
    """Take parses and readings made by an earlier run of this same code (resolution/name_memo.py)."""
    if len(_PARSED) + len(parsed) < _MEMO_LIMIT:
        _PARSED.update(parsed)
    if len(_PINYIN) + len(readings) < _MEMO_LIMIT:
        _PINYIN.update(readings)


def trade_name_pinyin(parts: NameParts) -> str:
    """Toneless pinyin of the 字号, syllables joined (鑫/新 -> xin, 恒/衡 -> heng: catches homophones)."""
    return _pinyin(parts.trade_name) if parts.trade_name else ""


def core_pinyin(parts: NameParts) -> str:
    """Toneless pinyin of the core (字号 + industry words): 化达商品混凝土 sounds as 华达商品混凝土."""
    return "".join(_pinyin(part) for part in (parts.trade_name, parts.industry) if part)


def name_variants(raw: str) -> list[str]:
    """The forms a name is matched under: normalised full name, core, full name without the region.

    A branch's core keeps its branch (恒安鞋业陈埭分公司): a branch must never match its parent's core.
    """
    parsed = _parse(raw) if raw else None
    if parsed is None:
        return []
    parts, regionless = parsed
    core = parts.core + (parts.branch or "")
    out: list[str] = []
    for variant in (parts.normalised, core, regionless):
        if variant and variant not in out:
            out.append(variant)
    return out


# -- people, phones, addresses ------------------------------------------------------------------------


def normalise_person_name(s: str | None) -> str | None:
    """A legal representative's name: NFKC, simplified, no spaces, no middle dots (买买提·艾力)."""
    if s is None:
        return None
    text = _DOTS_RE.sub("", normalise_text(s))
    return text or None


_PHONE_SPLIT_RE = re.compile(r"[,;/、，；|]|或|及")
_EXTENSION_RE = re.compile(r"(?:转|分机|EXT\.?|X|#)\d{1,6}$", re.IGNORECASE)
_DIGITS_RE = re.compile(r"\d+", re.ASCII)
_MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_SERVICE_RE = re.compile(r"[48]00\d{7}", re.ASCII)


def _phone_digits(text: str) -> str | None:
    text = _EXTENSION_RE.sub("", text.strip())
    groups = _DIGITS_RE.findall(text)
    if not groups:
        return None
    digits = "".join(groups)
    result = _phone_of_digits(digits, text.lstrip().startswith("+"))
    if result is None and len(groups) > 1 and len(groups[-1]) <= 5:  # 0595-85661234-8001: an extension
        result = _phone_of_digits("".join(groups[:-1]), text.lstrip().startswith("+"))
    return result


def _phone_of_digits(digits: str, plus: bool) -> str | None:
    international = False
    if digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and (plus or (len(digits) == 13 and digits[2] == "1")):
        digits, international = digits[2:], True
    if _MOBILE_RE.fullmatch(digits) or _SERVICE_RE.fullmatch(digits):
        return digits if len(set(digits[3:])) > 1 else None
    if international and not digits.startswith("0"):
        digits = "0" + digits  # '+86 595 85661234': the trunk 0 is dropped after a country code
    if digits.startswith("0"):
        if _MOBILE_RE.fullmatch(digits[1:]):  # 013812345678: a mobile dialled long-distance
            return digits[1:]
        area = 3 if digits[1:2] in ("1", "2") else 4
        local = digits[area:]
    else:
        local = digits
    if 7 <= len(local) <= 8 and local[0] not in "01" and len(set(local)) > 1:
        return local
    return None


def normalise_phone(s: str | int | None) -> str | None:
    """Digits only, comparable across departments: mobiles as 11 digits, landlines without their area code
    (``0595-85661234`` and ``85661234`` are equal), 400/800 numbers as 10 digits; +86/0086 dropped; of
    several numbers the first usable one; None for junk or too-short text."""
    if s is None or isinstance(s, bool):
        return None
    if isinstance(s, int):
        text = str(s)
    elif isinstance(s, float):
        if not s.is_integer():
            return None
        text = str(int(s))
    else:
        text = unicodedata.normalize("NFKC", s)
        if text.endswith(".0") and text[:-2].isdigit():  # a number read from a spreadsheet as text
            text = text[:-2]
    if not text.strip():
        return None
    whole = _phone_digits(text)
    if whole is not None:
        return whole
    for piece in _PHONE_SPLIT_RE.split(text):
        if piece.strip():
            found = _phone_digits(piece)
            if found is not None:
                return found
    return None


_ADDRESS_PREFIX_RE = re.compile(r"^(?:中国|中华人民共和国)")


def normalise_address(s: str | None) -> str | None:
    """NFKC, simplified, no spaces, ASCII digits, leading province / city / county names stripped
    (``福建省泉州市晋江市陈埭镇...`` -> ``陈埭镇...``). Bare short names are only stripped for a province
    followed by another region (``福建晋江市``), so ``晋江大道`` stays."""
    if s is None:
        return None
    text = _ADDRESS_PREFIX_RE.sub("", normalise_text(s))
    pos = 0
    last_code: str | None = None
    while pos < len(text):
        found = _region_at(text, pos, last_code)
        if found is None:
            break
        end, _word, code, short = found
        # a bare short name only for a province followed by another division: 福建晋江市 (not 晋江大道)
        if short and (_level(code) != 1 or end >= len(text) or _region_at(text, end, code) is None):
            break
        pos, last_code = end, code
    rest = text[pos:]
    return rest or None

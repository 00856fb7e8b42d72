"""Chinese enterprise names: normalisation, parsing into region / 字号 / industry / legal form / branch /
notes, and the helpers for people, phones and addresses.

Every expectation is a concrete output, so that a wrong rule fails a test. The last tests parse the
synthetic city generator's names and their noisy variants and require the parts to agree.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from entgraph.identity.chinese_names import (
    NameParts,
    name_variants,
    normalise_address,
    normalise_person_name,
    normalise_phone,
    normalise_text,
    parent_name,
    parse_name,
    trade_name_pinyin,
)
from entgraph.synthetic.noise import noisy_name
from entgraph.synthetic.population import build_population


def parts(raw: str) -> NameParts:
    parsed = parse_name(raw)
    assert parsed is not None
    return parsed


# -- normalise_text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("恒安鞋业有限公司", "恒安鞋业有限公司"),
        ("ＡＢＣ１２３科技有限公司", "ABC123科技有限公司"),  # full-width letters and digits
        ("abc科技", "ABC科技"),  # ASCII letters upper-cased
        ("恒安　鞋业 有限\t公司\n", "恒安鞋业有限公司"),  # ideographic space, spaces, tab, newline
        ("恒安\u200b鞋业\ufeff", "恒安鞋业"),  # zero-width characters
        ("晉江市恆安鞋業有限責任公司", "晋江市恒安鞋业有限责任公司"),  # traditional -> simplified
        ("恒安（晋江）鞋业", "恒安(晋江)鞋业"),
        ("恒安【晋江】鞋业", "恒安(晋江)鞋业"),
        ("恒安〔晋江〕鞋业", "恒安(晋江)鞋业"),
        ("恒安［晋江］鞋业", "恒安(晋江)鞋业"),
        ("恒安[晋江]鞋业", "恒安(晋江)鞋业"),
        ("", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


# -- regions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "region_code", "trade_name"),
    [
        ("福建省晋江市恒安鞋业有限公司", "福建省晋江市", "晋江", "恒安"),
        ("福建省泉州市恒安鞋业有限公司", "福建省泉州市", "泉州", "恒安"),
        ("泉州市恒安鞋业有限公司", "泉州市", "泉州", "恒安"),
        ("晋江市恒安鞋业有限公司", "晋江市", "晋江", "恒安"),
        ("晋江恒安鞋业有限公司", "晋江", "晋江", "恒安"),
        ("福建恒安鞋业有限公司", "福建", "福建", "恒安"),
        ("泉州恒安鞋业有限公司", "泉州", "泉州", "恒安"),
        ("福建晋江恒安鞋业有限公司", "福建晋江", "晋江", "恒安"),
        ("石狮市恒安鞋业有限公司", "石狮市", "石狮", "恒安"),
        ("内蒙古乌海市恒达煤业有限公司", "内蒙古乌海市", "乌海", "恒达"),
        ("内蒙古自治区乌海市恒达煤业有限公司", "内蒙古自治区乌海市", "乌海", "恒达"),
        ("乌海市恒达煤业有限公司", "乌海市", "乌海", "恒达"),
        ("乌海恒达煤业有限公司", "乌海", "乌海", "恒达"),
        ("乌海市海勃湾区恒达煤业有限公司", "乌海市海勃湾区", "海勃湾", "恒达"),
        ("海勃湾区恒达煤业有限公司", "海勃湾区", "海勃湾", "恒达"),
        ("乌达区恒达焦化有限公司", "乌达区", "乌达", "恒达"),
        # 海南区 (乌海) shares its short name with 海南省: the district keeps its suffix as its code
        ("海南区恒达硅铁有限公司", "海南区", "海南区", "恒达"),
        ("海南恒达硅铁有限公司", "海南", "海南", "恒达"),
        # bracketed after or before the 字号
        ("恒安（晋江）鞋业有限公司", "晋江", "晋江", "恒安"),
        ("(晋江)恒安鞋业有限公司", "晋江", "晋江", "恒安"),
        ("恒安(福建)鞋业有限公司", "福建", "福建", "恒安"),
        ("安踏（中国）有限公司", "中国", "中国", "安踏"),
        # no region
        ("恒安鞋业有限公司", None, None, "恒安"),
    ],
)
def test_region(raw: str, region: str | None, region_code: str | None, trade_name: str) -> None:
    p = parts(raw)
    assert (p.region, p.region_code, p.trade_name) == (region, region_code, trade_name)


@pytest.mark.parametrize(
    ("raw", "region", "trade_name"),
    [
        # a short region name is only stripped when a 字号 of >= 2 characters is left
        ("南安鞋业有限公司", None, "南安"),
        ("南安达鞋业有限公司", None, "南安达"),
        ("泉州南安鞋业有限公司", "泉州", "南安"),  # 南安 lies in 泉州, but no 字号 would be left
        # a second region must lie inside (or around) the first: 南安 is not in 晋江
        ("晋江市南安鞋业有限公司", "晋江市", "南安"),
        ("泉州南安恒达鞋业有限公司", "泉州南安", "恒达"),
        # 中国 is a region only in brackets: 中国银行 is a 字号
        ("中国银行股份有限公司", None, "中国"),
        # 晋江市场: 市 belongs to 市场
        ("晋江市场开发有限公司", "晋江", "市场开发"),
        # a suffix-less town name is no region in a company name
        ("晋江市龙湖鞋业有限公司", "晋江市", "龙湖"),
    ],
)
def test_region_false_positives(raw: str, region: str | None, trade_name: str) -> None:
    p = parts(raw)
    assert (p.region, p.trade_name) == (region, trade_name)


@pytest.mark.parametrize(
    ("raw", "region", "region_code", "trade_name", "industry", "legal_form"),
    [
        ("晋江市陈埭镇张三服装店", "晋江市陈埭镇", "晋江", "张三", "服装", "店"),
        ("晋江市青阳街道李四鞋材商行", "晋江市青阳街道", "晋江", "李四", "鞋材", "商行"),
        ("陈埭镇张三服装店", "陈埭镇", "晋江", "张三", "服装", "店"),
        ("晋江市陈埭恒安鞋店", "晋江市陈埭", "晋江", "恒安", "鞋", "店"),  # suffix-less town
        ("陈埭恒安（晋江）鞋店", "陈埭晋江", "晋江", "恒安", "鞋", "店"),
        ("晋江市陈埭镇岸兜村王五五金店", "晋江市陈埭镇岸兜村", "晋江", "王五", "五金", "店"),
        (
            "乌海市海勃湾区千里山镇赵六煤炭经营部",
            "乌海市海勃湾区千里山镇",
            "海勃湾",
            "赵六",
            "煤炭",
            "经营部",
        ),
        ("晋江市某某镇孙七服装店", "晋江市某某镇", "晋江", "孙七", "服装", "店"),  # any 镇 after a county
        ("晋江市陈埭镇恒安鞋业有限公司", "晋江市陈埭镇", "晋江", "恒安", "鞋业", "有限公司"),
    ],
)
def test_towns(
    raw: str, region: str, region_code: str, trade_name: str, industry: str, legal_form: str
) -> None:
    p = parts(raw)
    assert (p.region, p.region_code, p.trade_name, p.industry, p.legal_form) == (
        region,
        region_code,
        trade_name,
        industry,
        legal_form,
    )


def test_town_needs_a_trade_name_after_it() -> None:
    # 安海 is a town of 晋江, but here it is the 字号 itself
    p = parts("晋江市安海纸品店")
    assert (p.region, p.trade_name, p.industry) == ("晋江市", "安海", "纸品")
    p = parts("晋江市安海达纸品店")
    assert (p.region, p.trade_name) == ("晋江市", "安海达")


# -- legal forms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "legal_form", "trade_name", "industry"),
    [
        ("晋江市恒安鞋业有限公司", "有限公司", "恒安", "鞋业"),
        ("晋江市恒安鞋业有限责任公司", "有限公司", "恒安", "鞋业"),
        ("晋江市恒安鞋业股份有限公司", "股份有限公司", "恒安", "鞋业"),
        ("恒安鞋业股份公司", "股份有限公司", "恒安", "鞋业"),
        ("恒安鞋业集团有限公司", "集团有限公司", "恒安", "鞋业"),
        ("恒安鞋业集团有限责任公司", "集团有限公司", "恒安", "鞋业"),
        ("恒安鞋业集团公司", "集团有限公司", "恒安", "鞋业"),
        ("恒安鞋业集团", "集团有限公司", "恒安", "鞋业"),
        ("恒安集团股份有限公司", "集团股份有限公司", "恒安", ""),
        ("晋江泉源投资合伙企业", "合伙企业", "泉源", "投资"),
        ("晋江泉源投资个人独资企业", "个人独资企业", "泉源", "投资"),
        ("晋江市恒安制衣厂", "厂", "恒安", "制衣"),
        ("晋江市恒安服装店", "店", "恒安", "服装"),
        ("晋江市恒安鞋业商行", "商行", "恒安", "鞋业"),
        ("晋江市恒安五金经营部", "经营部", "恒安", "五金"),
        ("晋江市恒安五金门市部", "门市部", "恒安", "五金"),
        ("晋江市恒安设计工作室", "工作室", "恒安", "设计"),
        ("晋江市恒安茶叶专业合作社", "专业合作社", "恒安", "茶叶"),
        ("晋江市恒安茶叶农民专业合作社", "专业合作社", "恒安", "茶叶"),
        ("晋江市恒安电动车行", "行", "恒安", "电动车"),
        ("晋江市恒安快递代办点", "点", "恒安", "快递代办"),
        ("恒安鞋业", None, "恒安", "鞋业"),  # an abbreviation
        ("中国工商银行", None, "中国工商", "银行"),  # 行 of 银行 is no legal form
    ],
)
def test_legal_form(raw: str, legal_form: str | None, trade_name: str, industry: str) -> None:
    p = parts(raw)
    assert (p.legal_form, p.trade_name, p.industry) == (legal_form, trade_name, industry)


def test_limited_liability_forms_are_one_but_joint_stock_is_not() -> None:
    a = parts("晋江市恒安鞋业有限责任公司")
    b = parts("晋江市恒安鞋业有限公司")
    c = parts("晋江市恒安鞋业股份有限公司")
    assert a.normalised == b.normalised == "晋江市恒安鞋业有限公司"
    assert c.normalised == "晋江市恒安鞋业股份有限公司"
    assert a.legal_form == b.legal_form != c.legal_form
    assert a.core == b.core == c.core == "恒安鞋业"


# -- branches -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "branch", "parent", "core"),
    [
        ("晋江市恒安鞋业有限公司泉州分公司", "泉州分公司", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限责任公司泉州分公司", "泉州分公司", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限公司第一分厂", "第一分厂", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限公司石狮营业部", "石狮营业部", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限公司厦门办事处", "厦门办事处", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限公司（晋江）分公司", "晋江分公司", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("晋江市恒安鞋业有限公司陈埭经营部", "陈埭经营部", "晋江市恒安鞋业有限公司", "恒安鞋业"),
        ("中国工商银行股份有限公司晋江深沪支行", "晋江深沪支行", "中国工商银行股份有限公司", "中国工商银行"),
        (
            "福建晋江农村商业银行股份有限公司营业部",
            "营业部",
            "福建晋江农村商业银行股份有限公司",
            "农村商业银行",
        ),
        # the parent written without its legal form: the places before the marker belong to the branch
        ("恒安鞋业陈埭分公司", "陈埭分公司", "恒安鞋业", "恒安鞋业"),
        ("恒安鞋业晋江陈埭分厂", "晋江陈埭分厂", "恒安鞋业", "恒安鞋业"),
        ("恒安鞋店陈埭分店", "陈埭分店", "恒安鞋店", "恒安鞋"),
        ("恒安鞋业第二分厂", "第二分厂", "恒安鞋业", "恒安鞋业"),
    ],
)
def test_branch(raw: str, branch: str, parent: str, core: str) -> None:
    p = parts(raw)
    assert p.branch == branch
    assert parent_name(p) == parent
    assert p.core == core
    assert p.is_individual_business is False


def test_branch_is_not_its_parent() -> None:
    parent = parts("晋江市恒安鞋业有限公司")
    branch = parts("晋江市恒安鞋业有限公司泉州分公司")
    assert parent.branch is None and parent_name(parent) is None
    assert branch.normalised != parent.normalised
    assert branch.core == parent.core  # same 字号 + industry, but the branch marker keeps them apart
    assert parent.normalised not in name_variants("晋江市恒安鞋业有限公司泉州分公司")
    assert parent.core not in name_variants("晋江市恒安鞋业有限公司泉州分公司")


def test_shop_marker_without_parent_is_no_branch() -> None:
    p = parts("张三五金经营部")
    assert (p.branch, p.legal_form, p.trade_name, p.industry) == (None, "经营部", "张三", "五金")
    assert p.is_individual_business is True


# -- notes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised", "notes"),
    [
        ("恒安鞋业有限公司(已注销)", "恒安鞋业有限公司", ("已注销",)),
        ("恒安鞋业有限公司（吊销）", "恒安鞋业有限公司", ("吊销",)),
        ("恒安鞋业有限公司【吊销未注销】", "恒安鞋业有限公司", ("吊销未注销",)),
        ("恒安鞋业有限公司已注销", "恒安鞋业有限公司", ("已注销",)),
        ("恒安鞋业有限公司-注销", "恒安鞋业有限公司", ("注销",)),
        ("恒安鞋业有限公司(已注销", "恒安鞋业有限公司", ("已注销",)),  # unclosed bracket
        ("恒安鞋业有限公司(原晋江市恒安鞋厂)", "恒安鞋业有限公司", ("原晋江市恒安鞋厂",)),
        ("恒安鞋业有限公司（原名：恒安鞋厂）", "恒安鞋业有限公司", ("原名:恒安鞋厂",)),  # NFKC: ： -> :
        ("恒安鞋业有限公司原名恒安鞋厂", "恒安鞋业有限公司", ("原名恒安鞋厂",)),
        ("晋江泉源投资合伙企业（有限合伙）", "晋江泉源投资合伙企业", ("有限合伙",)),
        ("晋江泉源投资合伙企业(普通合伙)", "晋江泉源投资合伙企业", ("普通合伙",)),
        ("晋江泉源投资（有限合伙）", "晋江泉源投资合伙企业", ("有限合伙",)),
    ],
)
def test_notes(raw: str, normalised: str, notes: tuple[str, ...]) -> None:
    p = parts(raw)
    assert (p.normalised, p.notes) == (normalised, notes)


def test_partnership_note_implies_partnership_form() -> None:
    p = parts("晋江泉源投资（有限合伙）")
    assert (p.legal_form, p.trade_name, p.industry, p.region_code) == ("合伙企业", "泉源", "投资", "晋江")


# -- industry words and the 字号 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "trade_name", "industry"),
    [
        ("晋江市恒安服装织造有限公司", "恒安", "服装织造"),  # industry words stack
        ("晋江市恒安鞋业实业有限公司", "恒安", "鞋业"),  # a generic qualifier after an industry word
        ("晋江市恒安贸易发展有限公司", "恒安", "贸易"),
        ("晋江市恒安实业发展有限公司", "恒安", "实业"),  # only generic words: the first one stays
        ("晋江市恒安实业有限公司", "恒安", "实业"),
        ("恒安建设集团有限公司", "恒安", "建设"),
        ("乌海市恒达煤化工有限公司", "恒达", "煤化工"),
        ("恒鑫新材料科技有限公司", "恒鑫", "新材料科技"),
        ("鸿新材料有限公司", "鸿新", "材料"),  # the 字号 keeps two characters: not 鸿 + 新材料
        ("恒安房地产开发有限公司", "恒安", "房地产开发"),
        ("晋江市鞋业有限公司", "鞋业", ""),  # nothing left: the first two characters are the 字号
        ("七匹狼有限公司", "七匹狼", ""),
    ],
)
def test_trade_name_and_industry(raw: str, trade_name: str, industry: str) -> None:
    p = parts(raw)
    assert (p.trade_name, p.industry, p.core) == (trade_name, industry, trade_name + industry)


# -- individual businesses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("晋江市陈埭镇张三服装店", True),
        ("李四鞋材商行", True),
        ("晋江市恒安鞋店", True),
        ("晋江市陈埭镇张三鞋厂", True),  # a 厂 with a town in its name
        ("张三鞋厂", True),  # a 厂 under a person's name
        ("个体户陈志明", True),
        ("陈志明", True),
        ("恒安鞋厂", False),
        ("晋江市恒安鞋业有限公司", False),
        ("恒安鞋业", False),
        ("晋江市恒安鞋业有限公司陈埭经营部", False),  # a branch
        ("晋江泉源投资合伙企业(有限合伙)", False),
    ],
)
def test_individual_business(raw: str, expected: bool) -> None:
    assert parts(raw).is_individual_business is expected


def test_individual_marker_is_not_part_of_the_name() -> None:
    a, b = parts("个体户陈志明"), parts("陈志明")
    assert a.normalised == b.normalised == "陈志明"
    assert a.trade_name == b.trade_name == "陈志明"
    assert parts("(个体工商户)晋江市张三鞋店").normalised == "晋江市张三鞋店"


# -- the whole NameParts -------------------------------------------------------------------------------


def test_full_parse() -> None:
    assert parse_name(" 福建省晉江市恆安（晋江）鞋業有限責任公司泉州分公司（已注銷） ") == NameParts(
        raw=" 福建省晉江市恆安（晋江）鞋業有限責任公司泉州分公司（已注銷） ",
        normalised="福建省晋江市恒安(晋江)鞋业有限公司泉州分公司",
        region="福建省晋江市晋江",
        region_code="晋江",
        trade_name="恒安",
        industry="鞋业",
        legal_form="有限公司",
        branch="泉州分公司",
        notes=("已注销",),
        is_individual_business=False,
    )


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", "（已注销）"])
def test_parse_name_empty(raw: str | None) -> None:
    assert parse_name(raw) is None


def test_parse_is_cached_and_frozen() -> None:
    a = parse_name("晋江市恒安鞋业有限公司")
    assert a is parse_name("晋江市恒安鞋业有限公司")
    with pytest.raises(AttributeError):
        a.trade_name = "x"  # type: ignore[misc, union-attr]


def test_noise_variants_agree() -> None:
    clean = parts("福建省晋江市恒安鞋业有限公司")
    for noisy in (
        "晋江市恒安鞋业有限责任公司",
        "晉江市恆安鞋業有限公司",
        "恒安（晋江）鞋业有限公司",
        "恒安鞋业",
        " 晋江 恒安鞋业有限公司 ",
        "恒安鞋业有限公司　",
        "恒安鞋业有限公司(已注销)",
    ):
        p = parts(noisy)
        assert p.core == clean.core == "恒安鞋业", noisy
        assert p.region_code in (None, "晋江"), noisy


# -- pinyin and variants ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("晋江市鑫达鞋业有限公司", "晋江市新大鞋业有限公司"),
        ("恒安鞋业", "衡安鞋业"),
        ("昌隆鞋业", "长龙鞋业"),  # 长 read chang in a 字号
    ],
)
def test_trade_name_pinyin_catches_homophones(a: str, b: str) -> None:
    pa, pb = parts(a), parts(b)
    assert pa.trade_name != pb.trade_name
    assert trade_name_pinyin(pa) == trade_name_pinyin(pb)


def test_trade_name_pinyin_values() -> None:
    assert trade_name_pinyin(parts("晋江市恒安鞋业有限公司")) == "hengan"
    assert trade_name_pinyin(parts("晋江市鑫达鞋业有限公司")) == "xinda"
    assert trade_name_pinyin(parts("晋江市恒安鞋业有限公司")) != trade_name_pinyin(
        parts("晋江市安踏鞋业有限公司")
    )


def test_name_variants() -> None:
    assert name_variants("福建省晋江市恒安鞋业有限责任公司") == [
        "福建省晋江市恒安鞋业有限公司",
        "恒安鞋业",
        "恒安鞋业有限公司",
    ]
    assert name_variants("恒安（晋江）鞋业有限公司") == [
        "恒安(晋江)鞋业有限公司",
        "恒安鞋业",
        "恒安鞋业有限公司",
    ]
    assert name_variants("恒安鞋业") == ["恒安鞋业"]  # all three forms are one
    assert name_variants("晋江市恒安鞋业有限公司泉州分公司") == [
        "晋江市恒安鞋业有限公司泉州分公司",
        "恒安鞋业泉州分公司",
        "恒安鞋业有限公司泉州分公司",
    ]
    assert name_variants("") == []
    assert name_variants("  ") == []


# -- people, phones, addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        (" 張 三 ", "张三"),
        ("买买提·艾力", "买买提艾力"),
        ("买买提•艾力", "买买提艾力"),
        ("买买提・艾力", "买买提艾力"),
        ("买买提.艾力", "买买提艾力"),
        ("ｊｏｈｎ　ｓｍｉｔｈ", "JOHNSMITH"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_normalise_person_name(raw: str | None, expected: str | None) -> None:
    assert normalise_person_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        ("13812345678.0", "13812345678"),
        ("0595-85661234", "85661234"),
        ("(0595)85661234", "85661234"),
        ("0595 85661234", "85661234"),
        ("059585661234", "85661234"),
        ("85661234", "85661234"),
        ("0473-2012345", "2012345"),
        ("010-62345678", "62345678"),
        ("+86 595 85661234", "85661234"),
        ("0595-85661234-8001", "85661234"),  # extension dropped
        ("0595-85661234转8001", "85661234"),
        ("13812345678/0595-85661234", "13812345678"),  # the first of several
        ("0595-85661234；13812345678", "85661234"),
        ("400-123-4567", "4001234567"),
        ("", None),
        ("无", None),
        ("12345", None),
        ("00000000", None),
        ("11111111111", None),
        (None, None),
    ],
)
def test_normalise_phone(raw: str | int | float | None, expected: str | None) -> None:
    assert normalise_phone(raw) == expected  # type: ignore[arg-type]


def test_landline_with_and_without_area_code_are_equal() -> None:
    assert normalise_phone("0595-85661234") == normalise_phone("85661234") == normalise_phone("059585661234")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("福建省泉州市晋江市陈埭镇江头路１２号", "陈埭镇江头路12号"),
        ("福建省晋江市陈埭镇江头路12号", "陈埭镇江头路12号"),
        ("晋江市 陈埭镇 江头路 12 号", "陈埭镇江头路12号"),
        ("福建晋江市陈埭镇江头路12号", "陈埭镇江头路12号"),
        ("中国福建省晋江市陈埭镇江头路12号", "陈埭镇江头路12号"),
        ("晉江市陳埭鎮江頭路12號", "陈埭镇江头路12号"),
        ("内蒙古自治区乌海市海勃湾区滨河街道8号", "滨河街道8号"),
        ("内蒙古乌海市海勃湾区滨河街道8号", "滨河街道8号"),
        ("晋江大道100号", "晋江大道100号"),  # a bare short name is a road here, not a region
        ("福建路1号", "福建路1号"),
        ("晋江市", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_address(raw: str | None, expected: str | None) -> None:
    assert normalise_address(raw) == expected


# -- the synthetic city's names -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def population():  # type: ignore[no-untyped-def]
    return build_population(400, 2024)


def test_synthetic_clean_names_parse_into_their_pieces(population) -> None:  # type: ignore[no-untyped-def]
    """The generator's own pieces: 字号, region, industry word, branch suffix (banks excluded)."""
    checked = 0
    for ent in population.enterprises:
        if ent.sector == "finance":
            continue
        p, t = parts(ent.name), ent.parts
        assert p.trade_name == t.zihao, ent.name
        if t.prefix == "个体户":
            assert p.is_individual_business, ent.name
            continue
        assert p.region_code == (t.region or None), ent.name
        if ent.kind == "individual":
            assert p.industry + (p.legal_form or "") == t.word, ent.name
        else:
            assert p.industry == t.word.removesuffix("集团"), ent.name
            assert p.branch == (t.suffix.replace("（", "").replace("）", "") or None), ent.name
        checked += 1
    assert checked > 350


def test_synthetic_noise_agreement(population) -> None:  # type: ignore[no-untyped-def]
    """Noisy variants give the clean name's core, branch, region (or none) and legal form."""
    rng = random.Random(7)
    total: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    failures: list[tuple[str, str, list[str]]] = []
    for ent in population.enterprises:
        clean = parts(ent.name)
        for wanted in (1, 1, 1, 2):
            name, kinds = noisy_name(rng, ent.parts, wanted)
            if not kinds:
                continue
            p = parts(name)
            if "homophone" in kinds:  # the 字号 differs by a character; its pinyin should not
                total["homophone"] += 1
                agree["homophone"] += trade_name_pinyin(p) == trade_name_pinyin(clean)
                continue
            ok = p.core == clean.core and p.branch == clean.branch
            if "abbreviation" not in kinds:
                if "region_prefix" in kinds:  # dropped, bracketed, written out, or added (the city's)
                    ok = ok and p.region_code in (None, ent.parts.region or "晋江")
                else:
                    ok = ok and p.region_code == clean.region_code
                if "legal_form" not in kinds:
                    ok = ok and p.legal_form == clean.legal_form
            for kind in kinds:
                total[kind] += 1
                agree[kind] += ok
            total["all"] += 1
            agree["all"] += ok
            if not ok:
                failures.append((ent.name, name, kinds))
    assert total["all"] > 1000
    for kind in ("abbreviation", "legal_form", "region_prefix", "traditional", "spacing"):
        assert total[kind] > 50, kind
    rate = agree["all"] / total["all"]
    assert rate > 0.98, (rate, failures[:20])
    assert agree["homophone"] / total["homophone"] > 0.85

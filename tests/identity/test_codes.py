"""Credit codes, organisation codes, taxpayer ids and resident ids.

Expectations are hand-computed (the arithmetic is in the comments), taken from the standards' worked
examples, or are codes of real enterprises as published on their business licences.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from entgraph.identity.codes import (
    CREDIT_CODE_ALPHABET,
    CreditCode,
    credit_code_check_char,
    division_name,
    is_valid_credit_code,
    is_valid_org_code,
    is_valid_resident_id,
    make_credit_code,
    make_org_code,
    normalise_code,
    org_code_check_char,
    org_code_of,
    parse_credit_code,
    resident_id_check_char,
    taxpayer_id_to_credit_code,
    taxpayer_id_to_org_code,
)

# Real published credit codes (business licences / public registries).
HUAWEI = "914403001922038216"  # 华为技术有限公司
TENCENT = "91440300708461136T"  # 深圳市腾讯计算机系统有限公司
PUBLISHED = "91110000600037341L"  # a Beijing enterprise, the python-stdnum example
SICHUAN_EXAMPLE = "91512081MA62K0260E"  # worked example in public explanations of the check char
GB32100_EXAMPLE = "91350100M000100Y43"  # GB 32100-2015's worked example: sum 1640, 1640 mod 31 = 28 -> 3
# Genuine Fujian codes reported publicly as failing the GB 32100 check (issued before the rules settled).
FUJIAN_FAILING = "91350211M0000XUF46"

# A resident id that also passes the credit-code check (see test_resident_id_in_credit_code_column).
ID_LIKE_CREDIT = "350582199001010693"
GB11643_EXAMPLE = "11010519491231002X"  # the standard's example: sum 167, 167 mod 11 = 2 -> 'X'


# -- an independent reference, written straight from the standards' formulas -------------------------


def ref_credit_check(first17: str) -> str:
    total = 0
    for i, ch in enumerate(first17):
        total += CREDIT_CODE_ALPHABET.index(ch) * (3**i % 31)
    value = 31 - total % 31
    return CREDIT_CODE_ALPHABET[0 if value == 31 else value]


# -- check characters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("00000000000000000", "0"),  # sum 0 -> 31 - 0 = 31 -> 0
        ("10000000000000000", "Y"),  # 1*1 = 1 -> 31 - 1 = 30 -> 'Y'
        ("01000000000000000", "W"),  # 1*3 = 3 -> 28 -> 'W'
        ("00100000000000000", "N"),  # 1*9 = 9 -> 22 -> 'N'
        ("91350100M000100Y4", "3"),  # GB 32100 worked example, sum 1640
        ("91512081MA62K0260", "E"),  # sum 1505, 1505 mod 31 = 17 -> 14 -> 'E'
        ("91350582MA2XXXXX0", "X"),  # sum 3691, 3691 mod 31 = 2 -> 29 -> 'X'
        ("91350582000000000", "Y"),  # 9+3+27+135+0+130+128+34 = 466, 466 mod 31 = 1 -> 30 -> 'Y'
        ("35058219900101069", "3"),  # sum 1175, 1175 mod 31 = 28 -> 3
    ],
)
def test_credit_code_check_char_hand_computed(first17: str, expected: str) -> None:
    assert credit_code_check_char(first17) == expected
    assert credit_code_check_char(first17.lower()) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("00000000", "0"),  # sum 0 -> 11 - 0 = 11 -> '0'
        ("00000006", "X"),  # 6*2 = 12, 12 mod 11 = 1 -> 10 -> 'X'
        ("00000001", "9"),  # 1*2 = 2 -> 9
        ("19220382", "1"),  # Huawei: 3+63+18+20+0+24+32+4 = 164, mod 11 = 10 -> 1
        ("MA62K026", "0"),  # 66+70+54+20+100+0+8+12 = 330, mod 11 = 0 -> 11 -> '0'
        ("12345678", "8"),  # 3+14+27+40+25+48+28+16 = 201, mod 11 = 3 -> 8
        ("MA2XXXXX", "0"),  # 66+70+18+330+165+264+132+66 = 1111 = 11*101 -> '0'
    ],
)
def test_org_code_check_char_hand_computed(body: str, expected: str) -> None:
    assert org_code_check_char(body) == expected
    assert make_org_code(body) == body + expected


def test_check_char_functions_refuse_bad_input() -> None:
    with pytest.raises(ValueError):
        credit_code_check_char("123")
    with pytest.raises(ValueError):
        credit_code_check_char("9135058200000000O")  # O is not in the alphabet
    with pytest.raises(ValueError):
        org_code_check_char("1234567")
    with pytest.raises(ValueError):
        org_code_check_char("1234567*")


def test_resident_id_check_char_gb11643_example() -> None:
    # 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167, 167 mod 11 = 2 -> 'X'
    assert resident_id_check_char("11010519491231002") == "X"
    # 21+45+0+25+64+8+2+9+54+0+0+9+0+5+0+24+18 = 284, 284 mod 11 = 9 -> '3'
    assert resident_id_check_char("35058219900101069") == "3"


# -- credit codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [HUAWEI, TENCENT, PUBLISHED, SICHUAN_EXAMPLE, GB32100_EXAMPLE])
def test_real_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    parsed = parse_credit_code(code)
    assert parsed.valid and parsed.problems == ()
    assert parsed.code == code


def test_parse_fields_of_huawei() -> None:
    parsed = parse_credit_code(HUAWEI)
    assert parsed == CreditCode(
        raw=HUAWEI,
        code=HUAWEI,
        valid=True,
        problems=(),
        authority="9",
        authority_name="工商(市场监管)",
        entity_type="1",
        entity_type_name="企业",
        division="440300",
        org_code="192203821",
    )
    assert parsed.division_name == "深圳市"


def test_entity_types_depend_on_authority() -> None:
    shop = parse_credit_code(make_credit_code("350582", "MA2Y1234", "9", "2"))
    assert (shop.authority_name, shop.entity_type_name) == ("工商(市场监管)", "个体工商户")
    coop = parse_credit_code(make_credit_code("350582", "MA2Y1234", "9", "3"))
    assert coop.entity_type_name == "农民专业合作社"
    society = parse_credit_code("51150302123456788N")
    assert society.valid
    assert (society.authority_name, society.entity_type_name) == ("民政", "社会团体")
    assert society.division == "150302" and society.division_name == "海勃湾区"
    institution = parse_credit_code(make_credit_code("350582", "12345678", "1", "2"))
    assert (institution.authority_name, institution.entity_type_name) == ("机构编制", "事业单位")


@pytest.mark.parametrize(
    "raw",
    [
        "91350582ma2xxxxx0x",  # lower case
        "９１３５０５８２ＭＡ２ＸＸＸＸＸ０Ｘ",  # full width
        " 9135 0582-MA2X XXXX-0X ",  # spaces and hyphens
        "91350582—MA2XXXXX0X",  # an em dash
        "\u30009135\u30000582MA2XXXXX0X\t",  # ideographic spaces and a tab
    ],
)
def test_messy_input_is_normalised(raw: str) -> None:
    parsed = parse_credit_code(raw)
    assert parsed.code == "91350582MA2XXXXX0X"
    assert parsed.raw == raw
    assert parsed.valid
    assert is_valid_credit_code(raw)


def test_normalise_code() -> None:
    assert normalise_code(None) == ""
    assert normalise_code("  １２３４５６７８－９ ") == "123456789"
    assert normalise_code("ab-cd ef") == "ABCDEF"


def test_wrong_check_char_is_kept_and_flagged() -> None:
    bad = HUAWEI[:-1] + "7"
    parsed = parse_credit_code(bad)
    assert not parsed.valid
    assert parsed.problems == ("check_char",)
    assert parsed.code == bad  # never dropped
    assert parsed.org_code == "192203821" and parsed.division == "440300"
    assert not is_valid_credit_code(bad)


def test_genuine_pre_2016_code_failing_its_check_is_kept() -> None:
    parsed = parse_credit_code(FUJIAN_FAILING)
    assert ref_credit_check(FUJIAN_FAILING[:17]) != FUJIAN_FAILING[17]
    assert not parsed.valid
    assert "check_char" in parsed.problems
    assert parsed.code == FUJIAN_FAILING
    assert parsed.authority_name == "工商(市场监管)" and parsed.division == "350211"


def test_every_single_substitution_is_caught() -> None:
    rng = random.Random(7)
    for _ in range(40):
        code = make_credit_code("350582", "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(8)))
        assert is_valid_credit_code(code)
        i = rng.randrange(18)
        for ch in CREDIT_CODE_ALPHABET:
            if ch != code[i]:
                assert not is_valid_credit_code(code[:i] + ch + code[i + 1 :])


def test_adjacent_transpositions_are_caught() -> None:
    code = make_credit_code("350582", "MA2Y1234")
    for i in range(17):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code:
            assert not is_valid_credit_code(swapped)


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        ("", ("empty",)),
        (None, ("empty",)),
        ("9135058212345678", ("length",)),
        ("91350582MA2XXXXX0XX", ("length",)),
        ("9135058I", ("length", "charset")),
        ("91350582MA2XXXXO0X", ("charset",)),  # 'O' is not used
        ("91350582MA2XXXXZ0X", ("charset",)),  # nor 'Z'
    ],
)
def test_structural_problems(raw: str | None, problems: tuple[str, ...]) -> None:
    parsed = parse_credit_code(raw)
    assert not parsed.valid
    assert parsed.problems == problems


def test_division_must_be_digits() -> None:
    first17 = "91A50582MA2XXXXX0"
    code = first17 + ref_credit_check(first17)
    parsed = parse_credit_code(code)
    assert not parsed.valid
    assert parsed.problems == ("division",)


def test_non_blocking_problems_keep_a_code_valid() -> None:
    # authority 'B' is not in GB 32100 appendix A: reported, but the check character decides validity
    first17 = "B1350582MA2XXXXX0"
    unknown = parse_credit_code(first17 + ref_credit_check(first17))
    assert unknown.valid
    assert unknown.problems == ("unknown_authority",)
    assert unknown.authority == "B" and unknown.authority_name is None
    # an embedded organisation code with a wrong check character: 'MA2XXXXX' needs '0', not '1'
    first17 = "91350582MA2XXXXX1"
    odd = parse_credit_code(first17 + ref_credit_check(first17))
    assert odd.valid
    assert odd.problems == ("org_code_check",)
    # entity type 5 does not exist for authority 9
    first17 = "95350582MA2XXXXX0"
    assert parse_credit_code(first17 + ref_credit_check(first17)).problems == ("unknown_entity_type",)


def test_resident_id_in_credit_code_column() -> None:
    # the resident id passes the credit check too (hand-computed above), yet is never a valid code
    assert ref_credit_check(ID_LIKE_CREDIT[:17]) == ID_LIKE_CREDIT[17]
    assert is_valid_resident_id(ID_LIKE_CREDIT)
    parsed = parse_credit_code(ID_LIKE_CREDIT)
    assert not parsed.valid
    assert "looks_like_resident_id" in parsed.problems
    assert "check_char" not in parsed.problems
    assert not is_valid_credit_code(ID_LIKE_CREDIT)
    # and one that fails the credit check is flagged for both
    assert set(parse_credit_code(GB11643_EXAMPLE).problems) >= {"looks_like_resident_id", "check_char"}


def test_make_credit_code() -> None:
    assert make_credit_code("350582", "00000000") == "91350582000000000Y"  # hand-computed above
    assert make_credit_code("350582", "MA2XXXXX") == "91350582MA2XXXXX0X"
    assert make_credit_code("150302", "12345678", authority="5", entity_type="1") == "51150302123456788N"
    for n in range(0, 10**8, 7_777_777):
        code = make_credit_code("350582", f"{n:08d}")
        assert ref_credit_check(code[:17]) == code[17]
        assert is_valid_credit_code(code)


def test_make_credit_code_refuses_bad_parts() -> None:
    with pytest.raises(ValueError):
        make_credit_code("35058", "12345678")
    with pytest.raises(ValueError):
        make_credit_code("35058A", "12345678")
    with pytest.raises(ValueError):
        make_credit_code("350582", "1234567")
    with pytest.raises(ValueError):
        make_credit_code("350582", "1234567O")  # a valid org-code char, but not a credit-code one
    with pytest.raises(ValueError):
        make_credit_code("350582", "12345678", authority="91")


# -- organisation codes ----------------------------------------------------------------------------


def test_is_valid_org_code() -> None:
    assert is_valid_org_code("192203821")
    assert is_valid_org_code("19220382-1")
    assert is_valid_org_code("ma62k026-0")
    assert is_valid_org_code("00000006X")
    assert is_valid_org_code("00000006-x")
    assert not is_valid_org_code("19220382-2")
    assert not is_valid_org_code("19220382")
    assert not is_valid_org_code("1922038211")
    assert not is_valid_org_code("")
    assert not is_valid_org_code(None)
    assert not is_valid_org_code("1922*382-1")


# -- resident ids ----------------------------------------------------------------------------------


def test_is_valid_resident_id() -> None:
    assert is_valid_resident_id(GB11643_EXAMPLE)
    assert is_valid_resident_id(GB11643_EXAMPLE.lower())
    assert is_valid_resident_id(ID_LIKE_CREDIT)
    assert not is_valid_resident_id("110105194912310021")  # wrong check char
    assert not is_valid_resident_id("11010519491231002")  # 17 chars
    assert not is_valid_resident_id("110105194912310")  # old 15-digit format
    assert not is_valid_resident_id(None)


def test_resident_id_birth_date_must_be_plausible() -> None:
    def with_check(body: str) -> str:
        return body + resident_id_check_char(body)

    assert is_valid_resident_id(with_check("35058220000229123"))  # a leap day
    assert not is_valid_resident_id(with_check("35058219990229123"))  # no such day
    assert not is_valid_resident_id(with_check("35058219901301123"))  # month 13
    assert not is_valid_resident_id(with_check("35058218991231123"))  # before 1900
    next_year = dt.date.today().year + 1
    assert not is_valid_resident_id(with_check(f"350582{next_year}0101123"))  # not born yet
    assert not is_valid_resident_id(with_check("99058219900101123"))  # no province 99


# -- taxpayer ids ----------------------------------------------------------------------------------


def test_taxpayer_ids() -> None:
    old = "440300" + "192203821"  # 15 chars: division + organisation code
    assert taxpayer_id_to_org_code(old) == "192203821"
    assert taxpayer_id_to_credit_code(old) is None
    assert taxpayer_id_to_org_code(HUAWEI) == "192203821"
    assert taxpayer_id_to_credit_code(HUAWEI.lower()) == HUAWEI
    assert taxpayer_id_to_credit_code(HUAWEI[:-1] + "7") is None
    individual = GB11643_EXAMPLE + "01"  # 20 chars: a person's id + 2 digits
    assert taxpayer_id_to_org_code(individual) is None
    assert taxpayer_id_to_credit_code(individual) is None
    assert taxpayer_id_to_org_code("440300192203822") is None  # org check char wrong
    assert taxpayer_id_to_org_code("44030A192203821") is None
    assert taxpayer_id_to_org_code(ID_LIKE_CREDIT) is None  # a person, not an enterprise
    assert taxpayer_id_to_org_code(None) is None


def test_org_code_of_any_code_links_old_ids_to_credit_codes() -> None:
    code = make_credit_code("350582", "MA2Y1234")
    org = code[8:17]
    assert org_code_of(code) == org
    assert org_code_of("350582" + org) == org  # the tax bureau's old 15-char taxpayer id
    assert org_code_of(f"{org[:8]}-{org[8]}") == org  # the statistics bureau's printed form
    assert org_code_of(org.lower()) == org
    assert org_code_of("garbage") is None
    assert org_code_of("") is None
    # a code failing its own check is never linked by the organisation code it carries (issue 16: a
    # mistyped or spreadsheet-rounded id would link to another enterprise); parsing still shows it
    assert org_code_of(FUJIAN_FAILING) is None
    assert parse_credit_code(FUJIAN_FAILING).org_code == "M0000XUF4"


# -- divisions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("division", "name"),
    [
        ("350582", "晋江市"),
        ("350581", "石狮市"),
        ("350583", "南安市"),
        ("350521", "惠安县"),
        ("350500", "泉州市"),
        ("350000", "福建省"),
        ("150302", "海勃湾区"),
        ("150303", "海南区"),
        ("150304", "乌达区"),
        ("150300", "乌海市"),
        ("150000", "内蒙古自治区"),
        ("350599", "泉州市"),  # unknown county: its prefecture
        ("359999", "福建省"),  # unknown prefecture: its province
        ("150399", "乌海市"),
        ("990000", None),
        ("3505", None),
        ("35058A", None),
        (None, None),
    ],
)
def test_division_name(division: str | None, name: str | None) -> None:
    assert division_name(division) == name


def test_a_truncated_credit_code_is_not_an_old_taxpayer_id() -> None:
    from entgraph.identity.codes import is_division_code, taxpayer_id_to_org_code

    assert is_division_code("350582") and not is_division_code("913505") and not is_division_code("99000a")
    assert taxpayer_id_to_org_code("91350582MA4MHM5") is None

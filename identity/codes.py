"""Chinese enterprise identifiers: credit codes, organisation codes, taxpayer ids, resident ids.

Pure functions, no I/O. The rules:

* Unified Social Credit Code (统一社会信用代码, GB 32100-2015), 18 characters from
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S, V)::

      9 1 350582 MA2XXXXX0 Y
      | | |      |         `- check character: weights 3**(i-1) mod 31 over the alphabet values,
      | | |      |            31 - (sum mod 31), 31 -> 0, mapped back through the alphabet
      | | |      `- organisation code (主体标识码, GB 11714: 8 body characters + its own check character)
      | | `- administrative division of the registration authority (行政区划码)
      | `- entity type (机构类别), meaning depends on the authority
      `- registration authority (登记管理部门)

* Organisation code (组织机构代码, GB 11714): 8 body characters valued 0-9, A=10 .. Z=35, weights
  3,7,9,10,5,8,4,2; check = 11 - (sum mod 11), 10 -> 'X', 11 -> '0'. Printed as ``12345678-9``.

* Resident identity number (居民身份证号码, GB 11643): 6-digit division, 8-digit birth date, 3-digit
  sequence, check character: weights 2**(17-i) mod 11, (12 - sum mod 11) mod 11, 10 -> 'X'.

* Taxpayer identification number (纳税人识别号): 18 characters -> the credit code itself; 15 -> 6-digit
  division + organisation code (pre-2015 tax registrations); 20 -> 18-digit resident id + 2 digits
  (individual businesses).

Some genuine pre-2016 credit codes fail their check character. Parsing keeps them (``valid=False``
with the reasons in ``problems``); callers keep the text and only refuse to link on it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CreditCode",
    "credit_code_check_char",
    "division_name",
    "is_number_notation",
    "is_valid_credit_code",
    "is_valid_org_code",
    "is_valid_resident_id",
    "make_credit_code",
    "make_org_code",
    "normalise_code",
    "org_code_check_char",
    "org_code_of",
    "parse_credit_code",
    "resident_id_check_char",
    "taxpayer_id_to_credit_code",
    "taxpayer_id_to_org_code",
]

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {ch: i for i, ch in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, ...
_ORG_VALUE = {ch: int(ch, 36) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
_ID_CHECK = "10X98765432"  # indexed by sum mod 11
_DIGITS = frozenset("0123456789")

# Separators people type inside codes: spaces (incl. ideographic), hyphens and dashes of all kinds.
_STRIP_TABLE = str.maketrans(
    "", "", " \t\r\n\u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d'\"`"
)

# 登记管理部门代码 -> (name, {机构类别代码: name}), GB 32100-2015 appendix A.
AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地(大陆)代表机构", "9": "其他"},
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商(市场监管)", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}

# Problems that make a credit code unusable for linking. Others (unknown authority or entity type, an
# embedded organisation code failing its own check) are reported but do not make ``valid`` false:
# the credit-code check character is what GB 32100 defines as validity, and it catches every single
# substitution and adjacent transposition.
BLOCKING_PROBLEMS = frozenset(
    {"empty", "length", "charset", "division", "check_char", "looks_like_resident_id"}
)

# A small division table: the two pilot cities and every province.
DIVISIONS: dict[str, str] = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "150300": "乌海市",
    "150302": "海勃湾区",
    "150303": "海南区",
    "150304": "乌达区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "350100": "福州市",
    "350200": "厦门市",
    "350500": "泉州市",
    "350502": "鲤城区",
    "350503": "丰泽区",
    "350504": "洛江区",
    "350505": "泉港区",
    "350521": "惠安县",
    "350524": "安溪县",
    "350525": "永春县",
    "350526": "德化县",
    "350527": "金门县",
    "350581": "石狮市",
    "350582": "晋江市",
    "350583": "南安市",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "440300": "深圳市",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}
# Province-level codes a resident id may start with (83: residence permits of Taiwan residents).
# Foreigners' permanent-residence numbers (first digit 9) are deliberately not accepted: they would
# collide with credit codes of authority 9.
_ID_PROVINCES = frozenset(code[:2] for code in DIVISIONS if code.endswith("0000")) | {"83"}


# A number in scientific notation ('9.13505821558235E+017', '9.1350582155802e+17'): what a spreadsheet
# makes of an all-digit code it took for a number, rounded to 15 significant digits. A decimal point or
# an exponent sign tells it from a code, which never has either (E alone is a credit-code character).
_NUMBER_NOTATION = re.compile(r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$|^[+-]?\d*\.\d+[eE][+-]?\d+$", re.ASCII)


def is_number_notation(text: str | None) -> bool:
    """Is this a number written in scientific notation (a code a spreadsheet rounded), not a code?"""
    if not text:
        return False
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.strip()
    return ("." in text or "+" in text) and _NUMBER_NOTATION.match(text) is not None


def normalise_code(raw: str | None) -> str:
    """NFKC, strip, drop spaces/hyphens/dashes, upper-case: '９１３５ ０５８２-ma…' -> '91350582MA…'.

    A number in scientific notation ('9.13505821558235E+17') is no code at all but a code a spreadsheet
    rounded: it normalises to '' (nothing to link by), though the record keeps it as written.
    """
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    if text.isascii() and text.isalnum():  # the common, clean case: skip the per-character translate
        return text.upper()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if ("." in text or "+" in text) and is_number_notation(text):
        return ""
    return text.translate(_STRIP_TABLE).upper()


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a credit code whose first 17 characters are given (GB 32100)."""
    if len(first17) != 17:
        raise ValueError(f"a credit code body has 17 characters, not {len(first17)}: {first17!r}")
    first17 = first17.upper()
    try:
        total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a credit-code character (in {first17!r})") from None
    return CREDIT_CODE_ALPHABET[-total % 31]


def org_code_check_char(first8: str) -> str:
    """The 9th character of an organisation code whose 8 body characters are given (GB 11714)."""
    if len(first8) != 8:
        raise ValueError(f"an organisation code body has 8 characters, not {len(first8)}: {first8!r}")
    first8 = first8.upper()
    try:
        total = sum(_ORG_VALUE[ch] * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not an organisation-code character (in {first8!r})") from None
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _org_check_ok(code9: str) -> bool:
    if len(code9) != 9 or any(ch not in _ORG_VALUE for ch in code9[:8]):
        return False
    return org_code_check_char(code9[:8]) == code9[8]


def is_valid_org_code(code: str | None) -> bool:
    """A 9-character organisation code with a right check character; '12345678-9' is accepted."""
    return _org_check_ok(normalise_code(code))


def make_org_code(body8: str) -> str:
    """The 9-character organisation code for an 8-character body."""
    body = normalise_code(body8)
    return body + org_code_check_char(body)


def make_credit_code(division: str, org_body8: str, authority: str = "9", entity_type: str = "1") -> str:
    """A valid credit code: authority + entity type + division + organisation code + check character."""
    division = normalise_code(division)
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"a division code has 6 digits: {division!r}")
    first17 = normalise_code(authority) + normalise_code(entity_type) + division + make_org_code(org_body8)
    if len(first17) != 17:
        raise ValueError("authority and entity type are one character each")
    return first17 + credit_code_check_char(first17)


def resident_id_check_char(first17: str) -> str:
    """The 18th character of a resident id whose first 17 digits are given (GB 11643)."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError(f"a resident id body has 17 digits: {first17!r}")
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _plausible_birth(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def _resident_id_ok(code: str) -> bool:
    """``code`` already normalised."""
    if len(code) != 18 or not code.isascii() or not code[:17].isdigit():
        return False
    if code[:2] not in _ID_PROVINCES or not _plausible_birth(code[6:14]):
        return False
    return resident_id_check_char(code[:17]) == code[17]


def is_valid_resident_id(s: str | None) -> bool:
    """An 18-character 居民身份证号码 with a right check character and a plausible birth date."""
    return _resident_id_ok(normalise_code(s))


@dataclass(frozen=True, slots=True)
class CreditCode:
    """What a (possibly broken) credit code says. ``code`` is the normalised text, always kept."""

    raw: str
    code: str
    valid: bool
    problems: tuple[str, ...]
    authority: str | None = None
    authority_name: str | None = None
    entity_type: str | None = None
    entity_type_name: str | None = None
    division: str | None = None
    org_code: str | None = None

    @property
    def division_name(self) -> str | None:
        return division_name(self.division) if self.division else None


def _structure_problems(code: str) -> list[str]:
    """Problems with an 18-character code's characters, check character and look."""
    problems: list[str] = []
    charset_ok = all(ch in _CREDIT_VALUE for ch in code)
    if not charset_ok:
        problems.append("charset")
    if not code[2:8].isdigit() or not code[2:8].isascii():
        problems.append("division")
    if charset_ok and credit_code_check_char(code[:17]) != code[17]:
        problems.append("check_char")
    if _resident_id_ok(code):
        problems.append("looks_like_resident_id")
    return problems


@lru_cache(maxsize=1 << 16)
def _parse_normalised(raw: str, code: str) -> CreditCode:
    if not code:
        return CreditCode(raw, code, False, ("empty",))
    if len(code) != 18:
        problems = ["length"]
        if any(ch not in _CREDIT_VALUE for ch in code):
            problems.append("charset")
        return CreditCode(raw, code, False, tuple(problems))
    problems = _structure_problems(code)
    authority, entity_type = code[0], code[1]
    authority_name = entity_type_name = None
    known = AUTHORITIES.get(authority)
    if known is None:
        problems.append("unknown_authority")
    else:
        authority_name = known[0]
        entity_type_name = known[1].get(entity_type)
        if entity_type_name is None:
            problems.append("unknown_entity_type")
    org_code = code[8:17]
    if "charset" not in problems and not _org_check_ok(org_code):
        problems.append("org_code_check")
    return CreditCode(
        raw=raw,
        code=code,
        valid=not BLOCKING_PROBLEMS.intersection(problems),
        problems=tuple(problems),
        authority=authority,
        authority_name=authority_name,
        entity_type=entity_type,
        entity_type_name=entity_type_name,
        division=code[2:8],
        org_code=org_code,
    )


def parse_credit_code(raw: str | None) -> CreditCode:
    """Everything a credit code says, and what is wrong with it. Never raises on bad input."""
    text = "" if raw is None else raw if isinstance(raw, str) else str(raw)
    return _parse_normalised(text, normalise_code(text))


@lru_cache(maxsize=1 << 16)
def _credit_ok(code: str) -> bool:
    if len(code) != 18 or any(ch not in _CREDIT_VALUE for ch in code):
        return False
    if not code[2:8].isdigit() or credit_code_check_char(code[:17]) != code[17]:
        return False
    return not _resident_id_ok(code)


def is_valid_credit_code(raw: str | None) -> bool:
    """True when the code is 18 alphabet characters with a right check character and is not a resident id."""
    return _credit_ok(normalise_code(raw))


# GB/T 2260 province-level codes: the first two digits of any administrative division code.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def is_division_code(code6: str) -> bool:
    """Six digits starting with a real province code (a 15-char taxpayer id starts with one)."""
    return len(code6) == 6 and code6.isdigit() and code6[:2] in PROVINCE_CODES


def taxpayer_id_to_credit_code(tid: str | None) -> str | None:
    """The credit code an 18-character taxpayer id is, when it is a valid one."""
    code = normalise_code(tid)
    return code if _credit_ok(code) else None


def taxpayer_id_to_org_code(tid: str | None) -> str | None:
    """The organisation code inside a 15- or 18-character taxpayer id (None for individuals' 20-char ids).

    Only an organisation code that passes its own check character is returned, and an 18-character id
    gives one only when it is a valid credit code: a mistyped id, or an all-digit id a spreadsheet
    rounded (whose embedded digits are as likely as not another enterprise's organisation code), is
    never matched to some other enterprise. The organisation code a failing credit code carries is
    still in ``parse_credit_code(...).org_code``, for display.
    """
    code = normalise_code(tid)
    if len(code) == 15:
        if not is_division_code(code[:6]):
            return None
        org = code[6:]
    elif len(code) == 18:
        if not _credit_ok(code):  # fails its check, or is a resident id (a person, not an enterprise)
            return None
        org = code[8:17]
    else:
        return None
    return org if _org_check_ok(org) else None


def org_code_of(any_code: str | None) -> str | None:
    """The 9-char organisation code of a valid credit code, a 15-char taxpayer id or a (9/10-char) org
    code; None when the code (or the organisation code in it) fails its check."""
    code = normalise_code(any_code)
    if len(code) == 9:
        return code if _org_check_ok(code) else None
    return taxpayer_id_to_org_code(code)


def division_name(division6: str | None) -> str | None:
    """The name of a 6-digit division, falling back to its prefecture, then its province."""
    if not division6 or len(division6) != 6 or not division6.isdigit():
        return None
    return (
        DIVISIONS.get(division6)
        or DIVISIONS.get(division6[:4] + "00")
        or DIVISIONS.get(division6[:2] + "0000")
    )

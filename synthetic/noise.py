"""How departments get names and codes wrong, and the malformed cells planted in every file.

Noise is chosen per party per row and recorded by kind (truth.csv lists the kinds applied):

- ``no_code``        the row omits the party's credit code / taxpayer id / org code
- ``legacy_code``    (profiles only) no credit code, but the org code / 15-char taxpayer id in their columns
- ``invalid_code``   the code has one character changed (fails its check character)
- ``code_format``    the code is written in full-width or lower-case characters
- ``abbreviation``   字号 + industry word only (no region, no legal form)
- ``legal_form``     有限公司 <-> 有限责任公司 <-> 股份有限公司
- ``region_prefix``  region dropped, bracketed after the 字号, or written out (福建省晋江市)
- ``homophone``      a homophone / near-form character in the 字号 (鑫/新, 恒/衡, 达/大 ...)
- ``traditional``    the name in traditional characters (OpenCC s2t)
- ``spacing``        stray spaces, half-/full-width brackets and letters
- ``former_name``    the name before a rename (older records, or departments that never updated)
- ``missing_field``  an optional cell of the row left empty
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache

from entgraph.synthetic import name_parts as nm
from entgraph.synthetic.population import CODE_CHARS, NameParts, identifiers

NAME_KINDS: tuple[tuple[str, float], ...] = (
    ("abbreviation", 0.2),
    ("legal_form", 0.15),
    ("region_prefix", 0.22),
    ("homophone", 0.13),
    ("traditional", 0.1),
    ("spacing", 0.2),
)
# the kinds a profile's keep rates govern instead (profiles.FeedHabits); the rest, for such profiles
HABIT_KINDS = frozenset(("abbreviation", "legal_form", "region_prefix"))
OTHER_KINDS = tuple((k, w) for k, w in NAME_KINDS if k not in HABIT_KINDS)
OTHER_WEIGHT = sum(w for _, w in OTHER_KINDS) / sum(w for _, w in NAME_KINDS)
_HOMOPHONES = {k: v for k, v in nm.HOMOPHONES.items() if len(k) == 1}
_FULLWIDTH = {i: i + 0xFEE0 for i in range(0x21, 0x7F)}


@dataclass(frozen=True)
class NoiseProfile:
    """One department's habits. Shares are of rows (per party)."""

    no_code: float  # rows that omit the code columns
    name_noise_coded: float  # rows with a code whose name is noisy anyway
    name_noise_uncoded: float  # rows without a code whose name is noisy
    traditional: float  # rows written in traditional characters (whole name)
    stale: float  # rows after a rename still using the former name
    invalid_code: float  # rows whose code has one character wrong
    missing_field: float  # rows with one optional cell left empty


DEFAULT = NoiseProfile(0.3, 0.06, 0.5, 0.02, 0.1, 0.01, 0.05)
# departments keyed by a word in their name; the first match wins
DEPARTMENT_PROFILES: tuple[tuple[tuple[str, ...], NoiseProfile], ...] = (
    (("供电", "电业", "电力", "水务", "自来水", "燃气"), NoiseProfile(0.9, 0.1, 0.55, 0.02, 0.4, 0.01, 0.05)),
    (("自然资源", "国土", "土地"), NoiseProfile(0.85, 0.1, 0.55, 0.02, 0.3, 0.01, 0.08)),
    (("住建", "住房", "公积金"), NoiseProfile(0.6, 0.08, 0.5, 0.02, 0.2, 0.01, 0.06)),
    (("税务",), NoiseProfile(0.02, 0.03, 0.3, 0.01, 0.02, 0.005, 0.02)),
    (("市场监管", "市场监督"), NoiseProfile(0.0, 0.01, 0.2, 0.01, 0.0, 0.002, 0.01)),
    (("统计",), NoiseProfile(0.2, 0.05, 0.4, 0.02, 0.1, 0.01, 0.04)),
    (("镇", "街道"), NoiseProfile(0.5, 0.12, 0.6, 0.03, 0.3, 0.02, 0.1)),
    (("直报", "设备采集"), NoiseProfile(0.1, 0.08, 0.4, 0.05, 0.05, 0.02, 0.05)),
)


Profiles = Mapping[str, NoiseProfile]


def profile_for(
    department: str, notes: str = "", scale: float = 1.0, overrides: Profiles | None = None
) -> NoiseProfile:
    """The noise habits of a department; ``scale`` multiplies every name/code noise share.

    ``overrides`` maps a word of a department's name (``"自然资源"``, ``"税务"``, or ``"*"`` for every
    department) to the profile to use instead of the built-in one.
    """
    chosen = next((p for word, p in (overrides or {}).items() if word != "*" and word in department), None)
    builtin = next((p for words, p in DEPARTMENT_PROFILES if any(w in department for w in words)), DEFAULT)
    base = chosen or (overrides or {}).get("*") or builtin
    if "traditional" in notes:  # the seed itself is written in traditional characters
        base = replace(base, traditional=max(base.traditional, 0.15))
    if scale == 1.0:
        return base
    return NoiseProfile(
        min(1.0, base.no_code * scale),
        min(1.0, base.name_noise_coded * scale),
        min(1.0, base.name_noise_uncoded * scale),
        min(1.0, base.traditional * scale),
        min(1.0, base.stale * scale),
        min(1.0, base.invalid_code * scale),
        min(1.0, base.missing_field * scale),
    )


@cache
def _s2t() -> object:
    import opencc

    return opencc.OpenCC("s2t")


def traditional(text: str) -> str:
    return _s2t().convert(text)  # type: ignore[attr-defined]


def _region_variant(rng: random.Random, p: NameParts) -> NameParts:
    region = p.region or nm.CITY
    if p.prefix == "个体户":
        return replace(p, prefix="")
    full = {"福建": "福建省", "泉州": "泉州市"}.get(region, f"{region}市")
    province = "" if region == "福建" else "福建省"
    options = [
        replace(p, prefix=""),
        replace(p, prefix="", zihao=f"{p.zihao}（{region}）"),
        replace(p, prefix=f"{province}{full}"),
        replace(p, prefix=region if p.prefix != region else full),
    ]
    options = [o for o in options if o.full != p.full]
    return rng.choice(options) if options else p


def _legal_form_variant(rng: random.Random, p: NameParts) -> NameParts | None:
    if not p.form:
        return None
    if p.form == "集团有限公司":
        return replace(p, form=rng.choice(("集团", "集团公司", "有限公司")))
    form = p.form
    head = ""
    for f in ("股份有限公司", "有限责任公司", "有限公司"):  # 实业有限公司 -> 实业 + 有限公司
        if form.endswith(f):
            head, form = form[: -len(f)], f
            break
    others = [f for f in nm.LEGAL_FORM_VARIANTS if f != form]
    return replace(p, form=head + rng.choice(others))


def _homophone(rng: random.Random, p: NameParts) -> NameParts | None:
    for attr in ("zihao", "word"):
        text = getattr(p, attr)
        spots = [i for i, ch in enumerate(text) if ch in _HOMOPHONES]
        if spots:
            i = rng.choice(spots)
            return replace(p, **{attr: text[:i] + _HOMOPHONES[text[i]] + text[i + 1 :]})
    return None


def _spacing(rng: random.Random, name: str) -> str:
    x = rng.random()
    if "（" in name and x < 0.4:
        return name.replace("（", "(").replace("）", ")")
    if "(" in name and x < 0.4:
        return name.replace("(", "（").replace(")", "）")
    if x < 0.55:
        return f" {name}" if rng.random() < 0.5 else f"{name}  "
    if x < 0.7 and any(ord(ch) < 0x7F for ch in name):
        return name.translate(_FULLWIDTH)
    i = rng.randint(1, max(1, len(name) - 1))
    return f"{name[:i]} {name[i:]}"


Kinds = tuple[tuple[str, float], ...]


def noisy_name(
    rng: random.Random, parts: NameParts, kinds_wanted: int = 1, kinds: Kinds = NAME_KINDS
) -> tuple[str, list[str]]:
    """A variant of the name and the noise kinds applied (at least one unless nothing applies).

    ``kinds`` weighs the kinds to draw from (a profile with keep rates leaves out ``HABIT_KINDS``).
    """
    applied: list[str] = []
    string_kinds: list[str] = []
    for _ in range(kinds_wanted * 3):
        if len(applied) + len(string_kinds) >= kinds_wanted:
            break
        kind = _pick(rng, kinds)
        if kind in applied or kind in string_kinds:
            continue
        if kind in ("traditional", "spacing"):
            string_kinds.append(kind)
            continue
        new: NameParts | None
        if kind == "abbreviation":
            new = (
                replace(parts, prefix="", town="", form="", region="")
                if parts.prefix != "个体户" and parts.form
                else None
            )
        elif kind == "legal_form":
            new = _legal_form_variant(rng, parts)
        elif kind == "region_prefix":
            new = _region_variant(rng, parts)
        else:
            new = _homophone(rng, parts)
        if new is not None and new.full != parts.full:
            parts = new
            applied.append(kind)
    name = parts.full
    for kind in string_kinds:
        changed = traditional(name) if kind == "traditional" else _spacing(rng, name)
        if changed != name:
            name = changed
            applied.append(kind)
    return name, applied


def _pick(rng: random.Random, kinds: Kinds = NAME_KINDS) -> str:
    x = rng.random() * (1.0 if kinds is NAME_KINDS else sum(w for _, w in kinds))  # NAME_KINDS sums to 1
    for kind, w in kinds:
        x -= w
        if x < 0:
            return kind
    return kinds[-1][0]


# -- a profile's keep rates (profiles.FeedHabits): region and legal form written another way -----------


def styled_region(rng: random.Random, p: NameParts, style: str, halfwidth: bool) -> NameParts | None:
    """The name with its region prefix written in ``style`` (None: no prefix to vary).

    ``drop`` 恒达鞋业有限公司, ``bracket`` 恒达（晋江）鞋业有限公司, ``written`` 福建省晋江市恒达..., ``swap``
    the other short/long form (晋江市 <-> 晋江, 福建 -> 福建省).
    """
    if not p.prefix:
        return None
    if p.prefix == "个体户" or style == "drop":
        return replace(p, prefix="")
    region = p.region or nm.CITY
    full = {"福建": "福建省", "泉州": "泉州市"}.get(region, f"{region}市")
    if p.prefix != region and p.prefix.startswith(region):  # 惠安县, 丰泽区: the registered long form
        full = p.prefix
    if style == "bracket":
        left, right = ("(", ")") if halfwidth else ("（", "）")
        return replace(p, prefix="", zihao=f"{p.zihao}{left}{region}{right}")
    if style == "written":
        written = replace(p, prefix=("" if region == "福建" else "福建省") + full)
        if written.full != p.full:
            return written
    return replace(p, prefix=region if p.prefix != region else full)


def styled_form(rng: random.Random, p: NameParts, drop: bool) -> NameParts | None:
    """The name without its legal form (drop) or with another one (None: it has none)."""
    if not p.form:
        return None
    if not drop:
        return _legal_form_variant(rng, p)
    for f in ("股份有限公司", "有限责任公司", "有限公司", "集团公司"):  # 实业有限公司 keeps 实业
        if p.form.endswith(f):
            return replace(p, form=p.form[: -len(f)])
    return replace(p, form="")


def corrupt_code(rng: random.Random, code: str) -> str:
    """The code with one character changed so that it fails validation (never a valid other code)."""
    is_valid = identifiers().is_valid_credit_code
    for _ in range(50):
        i = rng.randrange(len(code))
        pool = "0123456789" if code[i].isdigit() and i < 8 else CODE_CHARS
        bad = code[:i] + rng.choice(pool) + code[i + 1 :]
        if bad != code and not is_valid(bad):
            return bad
    return code[:-1]


def format_code(rng: random.Random, code: str) -> str:
    x = rng.random()
    if x < 0.5:
        return code.translate(_FULLWIDTH)
    if x < 0.8:
        return code.lower()
    return f" {code} "


BAD_DATES = ("2023-13-45", "2023-02-30", "2022/4/31", "20231301", "2023年13月5日", "0000-00-00", "45号")
BAD_PERIODS = ("2023-13", "202313", "2023年13月", "13/2023", "2023年第5季度")
# Never a null token ("—", "N/A", "无"): those mean "no value" and are rightly loaded as empty.
BAD_NUMBERS = ("待核实", "约50万", "见附件", "12.3.4", "壹佰万", "#REF!")


def malformed(rng: random.Random, kind: str, value: object) -> tuple[str, str]:
    """(the planted cell text, its kind) for a column of the given kind; value is the good value."""
    if kind == "date":
        return rng.choice(BAD_DATES), "bad_date"
    if kind == "period":
        return rng.choice(BAD_PERIODS), "bad_period"
    if kind == "number":
        return rng.choice(BAD_NUMBERS), "text_in_number"
    if kind == "code":
        text = str(value or "")
        if len(text) == 18 and rng.random() < 0.7:
            return corrupt_code(rng, text), "bad_code"
        return (text[:-3] if len(text) > 6 else "91350582ABC"), "bad_code"
    return "", "empty_required"

"""City profiles of the synthetic generator: the default is unchanged, and each knob shapes the files it
claims to (codes per feed, shared core names, keep rates, former names, contacts) with a correct truth."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from entgraph.catalog.spec import DatasetSpec, FieldType, Role
from entgraph.identity.codes import is_valid_credit_code, org_code_of
from entgraph.loaders import normalise
from entgraph.loaders import readers as rd
from entgraph.synthetic import catalog_specs, generate_city
from entgraph.synthetic import name_parts as nm
from entgraph.synthetic.profiles import (
    INDEPENDENT,
    JINJIANG,
    PROFILES,
    CityProfile,
    FeedHabits,
    get_profile,
    is_register,
)

PREFIXES = ("晋江市", "福建", "泉州", "石狮市", "南安市", "惠安县", "安溪县", "丰泽区", "鲤城区", "洛江区")
FORMS = sorted((f for f, _ in nm.LEGAL_FORMS), key=len, reverse=True)
_FORM_RE = re.compile("有限(责任)?公司")

# A register spec with a former-name (曾用名) column (the catalog's register has none) and a contact column.
REGISTER_SPEC = DatasetSpec.model_validate(
    {
        "key": "t_profile_register", "city": "晋江", "department": "市市场监管局",
        "title": "测试企业登记信息", "seed": "x",
        "seed_fields": ["企业名称", "统一社会信用代码", "曾用名", "法定代表人", "联系人"],
        "frequency": "full_snapshot", "record_label": "TestRegister",
        "columns": [
            {"header": "企业名称", "field": "name", "role": "enterprise_name", "required": True},
            {"header": "统一社会信用代码", "field": "code", "type": "credit_code", "role": "credit_code"},
            {"header": "曾用名", "field": "former", "role": "former_name"},
            {"header": "法定代表人", "field": "rep", "role": "legal_representative"},
            {"header": "联系人", "field": "contact", "role": "contact_person"},
        ],
    }
)  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_rows(summary, specs: list[DatasetSpec]) -> dict[tuple[str, str, int], dict[str, str]]:
    """Every data row of the written files, read with the loader's readers: (file, sheet, row) -> cells."""
    by_key = {s.key: s for s in specs}
    out: dict[tuple[str, str, int], dict[str, str]] = {}
    for f in summary.files:
        spec = by_key[f.dataset]
        expected = {c.header: c.aliases for c in spec.columns}
        required = [c.header for c in spec.columns if c.required]
        for sheet in rd.open_table(summary.files_dir / f.file):
            if sheet.name == "说明":
                continue
            match = rd.find_header(sheet, expected, required, normalise.normalise_header)
            assert match is not None, (f.file, sheet.name)
            index = {header: i for i, header in match.mapping.items()}
            for number, cells in sheet.rows():
                if number > match.row:
                    out[(f.file, sheet.name, number)] = {
                        h: rd.cell_text(cells[i]) if i < len(cells) else "" for h, i in index.items()
                    }
    return out


def core(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    for form in FORMS:
        if name.endswith(form):
            return name[: -len(form)]
    return name


def is_code_column(c) -> bool:
    return c.role in (Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID) or c.type in (
        FieldType.CREDIT_CODE, FieldType.ORG_CODE, FieldType.TAXPAYER_ID,
    )  # fmt: skip


def tree_digest(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            h.update(str(p.relative_to(out)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


@pytest.fixture(scope="module")
def catalog() -> list[DatasetSpec]:
    return catalog_specs()


def test_jinjiang_is_the_default(tmp_path: Path, catalog) -> None:
    """The named default and no profile at all write the same bytes (the digest of today's output is
    pinned in test_synthetic.py::test_default_profile_output_unchanged)."""
    default = generate_city(300, 0, tmp_path / "a", catalog, formats="csv")
    named = generate_city(300, 0, tmp_path / "b", catalog, formats="csv", profile=JINJIANG)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert default.profile == named.profile == "jinjiang"
    manifest = json.loads((tmp_path / "a/truth/manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"]["name"] == "jinjiang" and manifest["shared_core_share"] < 0.15


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_keeps_the_truth(tmp_path: Path, catalog, name: str) -> None:
    """Every data row is in truth.csv once per party, with its enterprise's own credit code, and every
    valid credit code written in a row is the code of the enterprise truth names for it."""
    summary = generate_city(200, 5, tmp_path, catalog, formats="csv", profile=name)
    rows = read_rows(summary, catalog)
    truth = read_csv(tmp_path / "truth/truth.csv")
    population = {r["id"]: r for r in read_csv(tmp_path / "truth/enterprises.csv")}
    assert {(t["file"], t["sheet"], int(t["row"])) for t in truth} == set(rows)
    by_row: dict[tuple[str, str, int], dict[str, str]] = defaultdict(dict)
    for t in truth:
        if t["enterprise_id"]:
            assert population[t["enterprise_id"]]["credit_code"] == t["credit_code"]
        by_row[(t["file"], t["sheet"], int(t["row"]))][t["party"]] = t["credit_code"]
    specs = {s.key: s for s in catalog}
    files = {f.file: specs[f.dataset] for f in summary.files}
    for key, cells in rows.items():
        spec = files[key[0]]
        for c in spec.columns:
            value = normalise.normalise_header(cells.get(c.header, ""))  # NFKC: full-width codes too
            if is_code_column(c) and is_valid_credit_code(value.upper()):
                assert value.upper() in by_row[key].values(), (key, c.header)


def test_register_only_codes_only_in_the_register(tmp_path: Path, catalog) -> None:
    summary = generate_city(250, 1, tmp_path, catalog, formats="csv", profile="register-only")
    rows = read_rows(summary, catalog)
    specs = {s.key: s for s in catalog}
    valid: Counter[str] = Counter()
    legacy = 0
    for (file, _, _), cells in rows.items():
        spec = specs[next(f.dataset for f in summary.files if f.file == file)]
        for c in spec.columns:
            text = normalise.normalise_header(cells.get(c.header, "")).upper().replace("-", "")
            if not is_code_column(c) or not text:
                continue
            if is_valid_credit_code(text):
                valid[spec.key] += 1
                # outside the register only a column the spec requires keeps the code (it cannot be empty)
                assert is_register(spec.department) or any(
                    k.required for k in spec.columns if is_code_column(k) and k.party == c.party
                ), (spec.key, c.header, text)
            elif org_code_of(text):
                legacy += not is_register(spec.department)
    register = {s.key for s in catalog if is_register(s.department) and any(map(is_code_column, s.columns))}
    assert register and all(valid[k] > 0 for k in register)
    assert legacy > 20  # old org codes / 15-char taxpayer ids in some rows
    assert summary.profile == "register-only" and summary.coded_share < 0.35


@pytest.mark.parametrize(("name", "low", "high"), [("register-only", 0.0, 0.0), ("dense-names", 0.3, 0.5),
                                                   ("most-coded", 0.85, 0.95)])  # fmt: skip
def test_coded_share_of_optional_code_feeds(
    tmp_path: Path, catalog: list[DatasetSpec], name: str, low: float, high: float
) -> None:
    generate_city(300, 2, tmp_path, catalog, formats="csv", profile=name)
    specs = {s.key: s for s in catalog}
    optional = {
        k for k, s in specs.items()
        if not is_register(s.department) and any(is_code_column(c) for c in s.columns)
        and not any(c.required for c in s.columns if is_code_column(c))
    }  # fmt: skip
    truth = read_csv(tmp_path / "truth/truth.csv")
    lines = [t for t in truth if t["dataset"] in optional and t["enterprise_id"]]
    coded_parties = {(k, c.party) for k in optional for c in specs[k].columns if is_code_column(c)} | {
        (k, "subject") for k in optional
    }
    lines = [t for t in lines if (t["dataset"], t["party"]) in coded_parties]
    assert len(lines) > 1000
    coded = sum(not {"no_code", "legacy_code"} & set(t["noise"].split(";")) for t in lines) / len(lines)
    assert low <= coded <= high, coded


def test_dense_names_share_cores(tmp_path: Path, catalog) -> None:
    summary = generate_city(300, 3, tmp_path, catalog, formats="csv", profile="dense-names")
    manifest = json.loads((tmp_path / "truth/manifest.json").read_text(encoding="utf-8"))
    assert manifest["shared_core_share"] == summary.shared_core_share >= 0.15
    firms = [r for r in read_csv(tmp_path / "truth/enterprises.csv") if r["kind"] == "enterprise"]
    cores = Counter(core(r["name"]) for r in firms)
    share = sum(cores[core(r["name"])] >= 2 for r in firms) / len(firms)
    assert abs(share - summary.shared_core_share) < 0.03, (share, summary.shared_core_share)
    # enterprises sharing a core differ in region prefix and/or legal form; a full name is never reused,
    # apart from the built-in look-alike that takes over the name of a deregistered firm
    names = Counter(r["name"] for r in firms)
    for name, count in names.items():
        if count > 1:
            assert sum(r["status"] == "注销" for r in firms if r["name"] == name) >= count - 1, name
    groups = [c for c, n in cores.items() if n >= 2]
    assert len(groups) > 10
    assert any(len({r["name"] for r in firms if core(r["name"]) == c}) >= 3 for c in groups)


def test_keep_rates_are_respected(tmp_path: Path, catalog) -> None:
    profile = CityProfile(
        "test-keep",
        habits=(
            (("市场监管", "市场监督"), FeedHabits(1.0, 1.0)),
            (("税务",), FeedHabits(0.95, 0.95)),
            (("供电", "电业", "电力"), FeedHabits(0.4, 0.5)),
            (("*",), FeedHabits(0.6, 0.7)),
        ),
    )
    generate_city(1000, 4, tmp_path, catalog, formats="csv", row_scale=4, profile=profile)
    population = {r["id"]: r for r in read_csv(tmp_path / "truth/enterprises.csv")}
    departments = {s.key: s.department for s in catalog}
    groups = {"register": ("市场监",), "tax": ("税务",), "power": ("供电", "电业", "电力")}
    expected = {"register": (1.0, 1.0), "tax": (0.95, 0.95), "power": (0.4, 0.5), "other": (0.6, 0.7)}
    counts = {g: [0, 0, 0, 0] for g in expected}  # region: kept, applicable; form: kept, applicable
    for t in read_csv(tmp_path / "truth/truth.csv"):
        if not t["enterprise_id"] or "former_name" in t["noise"]:
            continue
        dept = departments[t["dataset"]]
        group = next((g for g, words in groups.items() if any(w in dept for w in words)), "other")
        name, noise = population[t["enterprise_id"]]["name"], t["noise"].split(";")
        if name.startswith(PREFIXES):
            counts[group][0] += "region_prefix" not in noise
            counts[group][1] += 1
        if _FORM_RE.search(name):
            counts[group][2] += "legal_form" not in noise
            counts[group][3] += 1
    for group, (region, form) in expected.items():
        kept_region, n_region, kept_form, n_form = counts[group]
        assert n_region > 150 and n_form > 150, (group, counts[group])
        for rate, kept, n in ((region, kept_region, n_region), (form, kept_form, n_form)):
            tolerance = 4 * (rate * (1 - rate) / n) ** 0.5 + 0.01  # four standard deviations
            assert abs(kept / n - rate) <= tolerance, (group, kept / n, rate)
    assert sum(c[1] + c[3] for c in counts.values()) > 3000


def test_former_names_and_contacts_follow_the_profile(tmp_path: Path) -> None:
    specs = [REGISTER_SPEC]
    with_names = generate_city(300, 6, tmp_path / "a", specs, formats="csv", profile=JINJIANG)
    without = generate_city(300, 6, tmp_path / "b", specs, formats="csv", profile=INDEPENDENT)
    filled = [cells["曾用名"] for cells in read_rows(with_names, specs).values()]
    assert sum(bool(v) for v in filled) >= 5  # the default register lists former names
    cells = list(read_rows(without, specs).values())
    renamed = [r for r in read_csv(tmp_path / "b/truth/enterprises.csv") if r["former_name"]]
    assert renamed and all(c["曾用名"] == "" for c in cells)  # renamed firms, but no former names written
    firms = [c for c in cells if "公司" in c["企业名称"]]
    same = sum(c["联系人"] == c["法定代表人"] for c in firms) / len(firms)
    assert abs(same - INDEPENDENT.contact_is_rep) < 0.1, same  # type: ignore[operator]


def test_independent_spelling(tmp_path: Path, catalog) -> None:
    summary = generate_city(250, 8, tmp_path, catalog, formats="csv", profile="independent")
    rows = read_rows(summary, catalog)
    names = [v for cells in rows.values() for h, v in cells.items() if "名称" in h or h == "义务人"]
    full, half = sum("（晋江）" in n for n in names), sum("(晋江)" in n for n in names)
    assert full > 20 and half > 20  # bracketed regions, in both bracket widths
    # power and water feeds are name-only: their code columns stay empty (the spec makes none required)
    utility = {s.key: s for s in catalog if any(w in s.department for w in ("供电", "电业", "水务"))}
    files = {f.file: f.dataset for f in summary.files if f.dataset in utility}
    codes = [
        cells[c.header]
        for (file, _, _), cells in rows.items() if file in files
        for c in utility[files[file]].columns if is_code_column(c)
    ]  # fmt: skip
    assert len(codes) > 20 and not any(codes)


def test_profiles_are_data() -> None:
    assert get_profile(None) is JINJIANG and get_profile("independent") is INDEPENDENT
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("nowhere")
    with pytest.raises(ValueError, match="coded"):
        CityProfile("x", coded="all")
    with pytest.raises(ValueError, match="between 0 and 1"):
        CityProfile("x", habits=((("*",), FeedHabits(1.5, 1.0)),))
    with pytest.raises(AttributeError):
        JINJIANG.coded = "most"  # type: ignore[misc]


def test_generate_command_profile(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from entgraph.synthetic.cli import generate_command

    app = typer.Typer()
    app.command()(generate_command)
    out = tmp_path / "city"
    args = ["-n", "150", "--seed", "1", "--out", str(out), "--formats", "csv", "--profile", "dense-names"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "profile dense-names:" in result.output and "share their core name" in result.output
    manifest = json.loads((out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"]["name"] == "dense-names" and "shared_core_share" in manifest
    bad = CliRunner().invoke(app, ["--profile", "nowhere", "--out", str(out)])
    assert bad.exit_code != 0

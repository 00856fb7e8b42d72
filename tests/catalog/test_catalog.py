"""The built-in catalog against the seed catalog: one valid spec per seed dataset, every seed field kept.

Expectations come from ``shared/catalog/seed_datasets.csv`` and from the deadline rules the seed
documents state, never from the specs themselves, so a spec that drifts from its seed fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
from pathlib import Path

import pytest

from entgraph.catalog.markdown import catalog_markdown
from entgraph.catalog.registry import BUILTIN_CATALOG
from entgraph.catalog.spec import (
    IDENTITY_ROLES,
    DatasetSpec,
    FieldType,
    Frequency,
    Role,
    Subject,
    Usage,
    load_spec,
)
from entgraph.loaders.normalise import normalise_header

REPO = Path(__file__).resolve().parents[2]
# A copy of the workspace's shared/catalog/seed_datasets.csv (the 84 datasets as the seeds name them),
# kept in the repository so that a clone tests its catalog against it; a test checks the copy is current
# where the workspace's original is at hand.
SEED_CSV = REPO / "tests" / "fixtures" / "catalog" / "seed_datasets.csv"
WORKSPACE_SEED_CSV = REPO.parent / "shared" / "catalog" / "seed_datasets.csv"
DOC = REPO / "docs" / "catalog.md"

SEED_DATASETS = 84
CITY_OF_SEED = {"002": ("晋江", "jj_"), "000": ("乌海", "wh_")}
FREQUENCY = {
    "月度": Frequency.MONTHLY,
    "年度": Frequency.ANNUAL,
    "季度": Frequency.QUARTERLY,
    "每日": Frequency.DAILY,
    "每小时": Frequency.HOURLY,
    "每5分钟": Frequency.FIVE_MINUTES,
    "全量": Frequency.FULL_SNAPSHOT,
    "有变更及时更新": Frequency.ON_CHANGE,
}
# 乌海政办字〔2020〕32号: daily data by 09:30 next day, monthly by the 5th, quarterly within 15 days,
# annual by 15 January.
WUHAI_DEADLINES = {
    Frequency.DAILY: dt.timedelta(hours=9, minutes=30),
    Frequency.MONTHLY: dt.timedelta(days=5),
    Frequency.QUARTERLY: dt.timedelta(days=15),
    Frequency.ANNUAL: dt.timedelta(days=15),
}
# 晋政办〔2023〕13号 附件1: monthly data by the 15th of the next month.
JINJIANG_MONTHLY = dt.timedelta(days=15)

PERSONAL_ROLES = {Role.PHONE, Role.ID_NUMBER, Role.CONTACT_PERSON, Role.PERSON_NAME, Role.BANK_ACCOUNT}
PERIOD_ROLES = {Role.PERIOD, Role.PERIOD_END, Role.YEAR, Role.DATE}
UNITS = {
    FieldType.AMOUNT: {"元", "万元", "亿元"},
    FieldType.AREA: {"平方米", "亩", "公顷"},
}


def field_names(fields: str) -> list[str]:
    """The seed's field names: split on 、 except inside brackets ('主管税务所（科、分局）' is one field)."""
    names, current, depth = [], "", 0
    for char in fields:
        depth += char in "(（"
        depth -= char in ")）"
        if char == "、" and depth <= 0:
            names.append(current)
            current, depth = "", 0
        else:
            current += char
    return [*names, current]


@pytest.fixture(scope="module")
def specs() -> dict[Path, DatasetSpec]:
    return {path: load_spec(path) for path in sorted(BUILTIN_CATALOG.glob("*.toml"))}


def test_the_seed_catalog_copy_is_current() -> None:
    if not WORKSPACE_SEED_CSV.is_file():
        pytest.skip("no workspace beside this clone (../shared/catalog): the committed copy is used")
    assert SEED_CSV.read_bytes() == WORKSPACE_SEED_CSV.read_bytes(), (
        "copy ../shared/catalog/seed_datasets.csv"
    )


@pytest.fixture(scope="module")
def seed_rows() -> list[dict[str, str]]:
    with SEED_CSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def by_row(specs: dict[Path, DatasetSpec], seed_rows: list[dict[str, str]]) -> list[tuple[dict, DatasetSpec]]:
    index: dict[tuple[str, str], list[DatasetSpec]] = {}
    for spec in specs.values():
        index.setdefault((spec.department, spec.title), []).append(spec)
    pairs = []
    for row in seed_rows:
        matches = index.get((row["department"], row["dataset"]), [])
        assert len(matches) == 1, f"{row['department']}/{row['dataset']}: {len(matches)} specs"
        pairs.append((row, matches[0]))
    return pairs


def test_the_catalog_has_one_valid_spec_per_seed_dataset(
    specs: dict[Path, DatasetSpec], seed_rows: list[dict[str, str]]
) -> None:
    assert len(seed_rows) == SEED_DATASETS
    assert len(specs) == SEED_DATASETS
    keys = [spec.key for spec in specs.values()]
    assert len(set(keys)) == len(keys), "dataset keys repeat"
    for path, spec in specs.items():
        assert path.stem == spec.key, f"{path.name} holds {spec.key}"
    seed_ids = {(row["department"], row["dataset"]) for row in seed_rows}
    spec_ids = {(spec.department, spec.title) for spec in specs.values()}
    assert spec_ids == seed_ids, (
        f"specs without a seed row: {sorted(spec_ids - seed_ids)}; "
        f"seed rows without a spec: {sorted(seed_ids - spec_ids)}"
    )


def test_each_spec_says_what_its_seed_row_says(by_row: list[tuple[dict, DatasetSpec]]) -> None:
    problems = []
    for row, spec in by_row:
        city, prefix = CITY_OF_SEED[row["seed"][:3]]
        expected = {
            "seed": row["seed"],
            "city": city,
            "seed_fields": tuple(row["fields"].split("、")),
            "frequency": FREQUENCY[row["frequency"]],
            "first_collection": row["first_collection"],
        }
        for attr, value in expected.items():
            if getattr(spec, attr) != value:
                problems.append(f"{spec.key}.{attr} = {getattr(spec, attr)!r}, seed says {value!r}")
        if not spec.key.startswith(prefix):
            problems.append(f"{spec.key}: a {city} dataset's key starts with {prefix}")
    assert not problems, "\n".join(problems)


def test_every_seed_field_is_a_header_or_a_designed_category(
    by_row: list[tuple[dict, DatasetSpec]],
) -> None:
    problems = []
    for row, spec in by_row:
        headers = {c.header for c in spec.columns}
        categories = {
            value for c in spec.columns if c.designed and c.role is Role.CATEGORY for value in c.values
        }
        missing = [f for f in field_names(row["fields"]) if f not in headers | categories]
        if missing:
            problems.append(f"{spec.key} lacks seed fields {missing}")
    assert not problems, "\n".join(problems)


def test_designed_columns_are_marked_and_explained(by_row: list[tuple[dict, DatasetSpec]]) -> None:
    for row, spec in by_row:
        seed_fields = set(field_names(row["fields"]))
        for column in spec.columns:
            if column.header not in seed_fields:
                assert column.designed, (
                    f"{spec.key}: {column.header} is not in the seed but not marked designed"
                )
            else:
                assert not column.designed, f"{spec.key}: seed field {column.header} is marked designed"
        if any(c.designed for c in spec.columns):
            assert "designed" in spec.notes.lower(), f"{spec.key}: notes must explain its designed columns"


def test_deadlines_follow_the_seed_documents(by_row: list[tuple[dict, DatasetSpec]]) -> None:
    problems = []
    for row, spec in by_row:
        frequency = FREQUENCY[row["frequency"]]
        if frequency in (Frequency.ON_CHANGE, Frequency.FULL_SNAPSHOT):
            expected: dt.timedelta | None = None
        elif row["seed"].startswith("000") and frequency in WUHAI_DEADLINES:
            expected = WUHAI_DEADLINES[frequency]
        elif row["seed"].startswith("002") and frequency is Frequency.MONTHLY:
            expected = JINJIANG_MONTHLY
        else:  # Jinjiang yearly/quarterly (附件1 gives several dates) and real-time meters: due, and soon
            if spec.deadline is None or not dt.timedelta(0) < spec.deadline <= dt.timedelta(days=91):
                problems.append(f"{spec.key}: deadline {spec.deadline} for a {frequency.value} feed")
            continue
        if spec.deadline != expected:
            problems.append(f"{spec.key}: deadline {spec.deadline}, the seed's rule gives {expected}")
    assert not problems, "\n".join(problems)


def test_enterprise_datasets_identify_their_enterprises(specs: dict[Path, DatasetSpec]) -> None:
    for spec in specs.values():
        identity_parties = {c.party for c in spec.columns if c.role in IDENTITY_ROLES}
        if spec.subject is Subject.ENTERPRISE:
            assert "subject" in identity_parties, f"{spec.key} has no identity column for its subject"
        for party in spec.parties:
            assert party in identity_parties, f"{spec.key}: party {party} has no identity column"


def test_region_datasets_are_indicator_series(specs: dict[Path, DatasetSpec]) -> None:
    regional = [s for s in specs.values() if s.subject is Subject.REGION]
    assert regional
    for spec in regional:
        roles = [c.role for c in spec.columns]
        assert Role.INDICATOR_VALUE in roles, f"{spec.key} has no indicator value"
        assert PERIOD_ROLES & set(roles), f"{spec.key} has no period"
        assert {Role.REGION, Role.PARK} & set(roles), f"{spec.key} does not say which region"
        assert not any(c.role in IDENTITY_ROLES for c in spec.columns), f"{spec.key} names enterprises"
        names = [c for c in spec.columns if c.role is Role.INDICATOR_NAME]
        assert len(names) <= 1, f"{spec.key}: several indicator-name columns"


def test_meter_datasets_are_readings(specs: dict[Path, DatasetSpec]) -> None:
    meters = [s for s in specs.values() if s.subject is Subject.METER]
    assert {s.title for s in meters} == {"用电数据", "用水数据"}
    for spec in meters:
        meter_id = [c for c in spec.columns if c.role is Role.METER_ID]
        assert meter_id and meter_id[0].required, spec.key
        assert any(c.type is FieldType.DATETIME and c.required for c in spec.columns), spec.key
        readings = [c for c in spec.columns if c.type is FieldType.QUANTITY and c.required]
        assert readings and all(c.unit for c in readings), spec.key
        assert any(c.role in IDENTITY_ROLES for c in spec.columns), f"{spec.key}: meter not bound to anyone"
        assert any(n.label == "Meter" and n.key == (meter_id[0].field,) for n in spec.nodes), spec.key
        assert set(spec.record_key) >= {meter_id[0].field}, spec.key


def test_personal_data_is_protected_and_never_open(specs: dict[Path, DatasetSpec]) -> None:
    problems = []
    for spec in specs.values():
        for column in spec.columns:
            sharing = spec.sharing_of(column)
            where = f"{spec.key}.{column.field}"
            looks_personal = column.role in PERSONAL_ROLES or column.type in (
                FieldType.PHONE,
                FieldType.ID_NUMBER,
            )
            if looks_personal and not sharing.personal:
                problems.append(f"{where} holds personal data but is not marked personal")
            if sharing.personal and sharing.open_to_public:
                problems.append(f"{where} is personal and open to the public")
            if sharing.personal and sharing.usage is Usage.UNCONDITIONAL:
                problems.append(f"{where} is personal and shared unconditionally")
            if (column.type is FieldType.ID_NUMBER or column.role is Role.ID_NUMBER) and (
                sharing.usage is not Usage.NOT_SHARED
            ):
                problems.append(f"{where}: identity card numbers are 不予共享")
    assert not problems, "\n".join(problems)


def test_credit_lists_are_credit_data(specs: dict[Path, DatasetSpec]) -> None:
    for spec in specs.values():
        for node in spec.nodes:
            if node.label == "CreditEvent":
                fields = set(node.key)
                for column in spec.columns:
                    if column.field in fields - {"kind"}:
                        assert spec.sharing_of(column).credit, f"{spec.key}.{column.field} is not credit data"


def test_measured_columns_declare_their_units(specs: dict[Path, DatasetSpec]) -> None:
    problems = []
    for spec in specs.values():
        for column in spec.columns:
            if column.type in (FieldType.AMOUNT, FieldType.AREA, FieldType.QUANTITY) and not column.unit:
                problems.append(f"{spec.key}.{column.field} ({column.type.value}) has no unit")
            allowed = UNITS.get(column.type)
            if allowed and column.unit not in allowed:
                problems.append(f"{spec.key}.{column.field}: unit {column.unit!r} is not one of {allowed}")
        for metric in spec.metrics:
            column = spec.column(metric.value)
            stored = {FieldType.AMOUNT: "元", FieldType.AREA: "平方米"}.get(column.type, column.unit)
            if metric.unit != stored:
                problems.append(
                    f"{spec.key} metric {metric.name} in {metric.unit}, its column gives {stored}"
                )
    assert not problems, "\n".join(problems)


def test_headers_and_aliases_tell_columns_apart(specs: dict[Path, DatasetSpec]) -> None:
    problems = []
    for spec in specs.values():
        owner: dict[str, str] = {}
        for column in spec.columns:
            for text in {normalise_header(h) for h in (column.header, *column.aliases)}:
                if owner.setdefault(text, column.field) != column.field:
                    problems.append(f"{spec.key}: '{text}' names both {owner[text]} and {column.field}")
    assert not problems, "\n".join(problems)


def test_closed_categories(specs: dict[Path, DatasetSpec]) -> None:
    for spec in specs.values():
        for column in spec.columns:
            if column.role is Role.CHAIN_POSITION:
                assert set(column.values) == {"上游", "中游", "下游"}, spec.key
            if column.designed and column.role is Role.CATEGORY and column.field == "kind":
                assert column.values, f"{spec.key}: a designed category column needs its values"


def test_file_patterns_pick_the_right_dataset(specs: dict[Path, DatasetSpec]) -> None:
    from entgraph.catalog.registry import Catalog, Feed

    catalog = Catalog(Feed(spec) for spec in specs.values())
    problems = []
    for spec in specs.values():
        if not 2 <= len(spec.file_patterns) <= 3:
            problems.append(f"{spec.key}: {len(spec.file_patterns)} file patterns")
        for name in (f"{spec.title}_2023年4月.xlsx", f"{spec.key}_202304.csv"):
            if not any(fnmatch.fnmatch(name, p) for p in spec.file_patterns):
                problems.append(f"{spec.key}: no pattern matches {name}")
            best = catalog.by_file_name(Path(name))[0].spec.key
            if best != spec.key:
                problems.append(f"{name} is taken for {best}")
    assert not problems, "\n".join(problems)


def test_catalog_doc_is_current(specs: dict[Path, DatasetSpec]) -> None:
    expected = catalog_markdown(specs.values())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/catalog.md is out of date: python -m entgraph.catalog.markdown > docs/catalog.md"
    )

"""truth/ambiguous.csv: the rows that name an enterprise by a shared core with nothing that singles it out
(issue 14), checked against the written files with the loader's readers and the resolution's name parser."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from entgraph.catalog.spec import DatasetSpec, Role
from entgraph.identity.chinese_names import NameParts, parse_name
from entgraph.identity.codes import org_code_of, parse_credit_code, taxpayer_id_to_credit_code
from entgraph.loaders import normalise
from entgraph.loaders import readers as rd
from entgraph.resolution.mentions import enterprise_parties
from entgraph.synthetic import catalog_specs, generate_city
from entgraph.synthetic.ambiguous import AMBIGUOUS_HEADER
from entgraph.synthetic.profiles import get_profile

IDENTIFYING = (
    Role.ACCOUNT_NUMBER, Role.PHONE, Role.LEGAL_REPRESENTATIVE, Role.CONTACT_PERSON, Role.ADDRESS,
)  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory):
    specs = catalog_specs()
    out = tmp_path_factory.mktemp("dense")
    return generate_city(300, 7, out, specs, formats="csv", profile="dense-names"), specs


def written_rows(summary, specs: list[DatasetSpec]) -> dict[tuple[str, str, int], dict[str, str]]:
    """Every data row as the loader's readers read it: (file, sheet, row) -> {header: text}."""
    by_key = {s.key: s for s in specs}
    out: dict[tuple[str, str, int], dict[str, str]] = {}
    for f in summary.files:
        spec = by_key[f.dataset]
        expected = {c.header: c.aliases for c in spec.columns}
        required = [c.header for c in spec.columns if c.required]
        for sheet in rd.open_table(summary.files_dir / f.file):
            match = rd.find_header(sheet, expected, required, normalise.normalise_header)
            assert match is not None
            index = {header: i for i, header in match.mapping.items()}
            for number, cells in sheet.rows():
                if number > match.row:
                    out[(f.file, sheet.name, number)] = {
                        h: rd.cell_text(cells[i]) if i < len(cells) else "" for h, i in index.items()
                    }
    return out


def identifies(spec: DatasetSpec, cells: dict[str, str], party: str) -> bool:
    """Whether the row writes, for the party, a valid code or another identifying value."""
    for c in spec.columns:
        text = (cells.get(c.header) or "").strip()
        if c.party != party or not text:
            continue
        if c.role in IDENTIFYING:
            return True
        if c.role is Role.CREDIT_CODE and parse_credit_code(text).valid:
            return True
        if c.role is Role.TAXPAYER_ID and (taxpayer_id_to_credit_code(text) or org_code_of(text)):
            return True
        if c.role is Role.ORG_CODE and org_code_of(text):
            return True
    return False


def written_name(spec: DatasetSpec, cells: dict[str, str], party: str) -> str:
    return next(
        (
            cells.get(c.header) or ""
            for c in spec.columns
            if c.party == party and c.role is Role.ENTERPRISE_NAME
        ),
        "",
    )


def compatible(
    written: NameParts, registered: NameParts, other_form: bool = False, adds_region: bool = False
) -> bool:
    """The rule of issue 14: a region or legal form not written fits anything; a branch must be the same.
    With the feed's habits: a feed writing ``other_form`` legal forms fits any registered one, a feed
    that ``adds_region`` fits a name registered without one."""
    return (
        written.branch == registered.branch
        and (
            written.region_code in (None, registered.region_code)
            or (adds_region and registered.region_code is None)
        )
        and (written.legal_form in (None, registered.legal_form) or (other_form and registered.legal_form))
    )


def habits(spec: DatasetSpec) -> tuple[bool, bool]:
    """(writes other legal forms, adds regions) for the dense-names profile's feed of ``spec``, from the
    profile's declared keep rates (its styles only ever vary a region the registered name has)."""
    profile = get_profile("dense-names")
    feed = profile.habits_for(spec.department)
    assert feed is not None
    return feed.keep_form < 1 and profile.form_drop < 1, False


def test_dense_names_lists_its_ambiguous_rows(dense) -> None:
    summary, specs = dense
    truth_dir = summary.out_dir / "truth"
    with open(truth_dir / "ambiguous.csv", encoding="utf-8", newline="") as f:
        assert tuple(next(csv.reader(f))) == AMBIGUOUS_HEADER
    listed = read_csv(truth_dir / "ambiguous.csv")
    truth = {(t["file"], t["sheet"], int(t["row"]), t["party"]): t for t in read_csv(truth_dir / "truth.csv")}
    keys = {(a["file"], a["sheet"], int(a["row"]), a["party"]) for a in listed}
    assert keys <= set(truth) and len(keys) == len(listed) > 20
    assert {a["reason"] for a in listed} <= {
        "shared core, name only",
        "shared core, name and a mistyped code only",
        "shared core, name written as another's",
        "shared core, told apart only by a part the feed rewrites",
    }
    assert all(truth[k]["enterprise_id"] for k in keys)
    assert 0 < summary.ambiguous_mentions == len(listed) < summary.codeless_mentions
    manifest = json.loads((truth_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ambiguous_mentions"] == len(listed)
    assert manifest["codeless_mentions"] == summary.codeless_mentions

    # the rule, checked on the written files: cores from enterprises.csv with the resolution's parser
    by_core: dict[str, list[tuple[str, NameParts]]] = defaultdict(list)
    core_of: dict[tuple[str, bool], str] = {}
    for e in read_csv(truth_dir / "enterprises.csv"):
        for former, name in ((False, e["name"]), (True, e["former_name"])):
            if name and (parts := parse_name(name)) is not None and parts.core:
                by_core[parts.core].append((e["id"], parts))
                core_of[(e["id"], former)] = parts.core
    by_key = {s.key: s for s in specs}
    rows = written_rows(summary, specs)
    singled_out = ambiguous_seen = rewritten = 0
    reasons = {(a["file"], a["sheet"], int(a["row"]), a["party"]): a["reason"] for a in listed}
    for key, t in truth.items():
        spec, eid = by_key[t["dataset"]], t["enterprise_id"]
        if not eid or key[3] not in enterprise_parties(spec) or "malformed" in t["noise"]:
            continue
        former = "former_name" in t["noise"].split(";")
        names = by_core[core_of.get((eid, former)) or core_of[(eid, False)]]
        shared = len({i for i, _ in names}) > 1
        cells = rows[key[:3]]
        name = written_name(spec, cells, key[3])
        parsed = parse_name(name) if name else None
        fitting = {i for i, parts in names if parsed and compatible(parsed, parts)}
        as_fed = {i for i, parts in names if parsed and compatible(parsed, parts, *habits(spec))}
        if key in keys:  # listed: a shared core, nothing identifying, a name that fits others too
            ambiguous_seen += 1
            assert shared, (key, t)
            assert not identifies(spec, cells, key[3]), (key, cells)
            if reasons[key] == "shared core, told apart only by a part the feed rewrites":
                # the name fits its enterprise alone, but no longer once the feed's habits count
                assert fitting == {eid} and as_fed != {eid}, (key, name, fitting, as_fed)
                rewritten += 1
            else:
                assert fitting != {eid}, (key, name, fitting)
        elif shared and name and not identifies(spec, cells, key[3]):
            # a name-only row left out: its written name singles it out -- every written part fits its
            # enterprise alone, or (a legal form no same-core firm has) none at all and it fits closest;
            # and so with the feed's habits counted
            assert fitting in ({eid}, set()), (key, name, fitting)
            assert as_fed in ({eid}, set()), (key, name, as_fed)
            singled_out += fitting == {eid}
    assert ambiguous_seen == sum("malformed" not in truth[k]["noise"] for k in keys)  # refused rows aside
    assert singled_out > 10  # a written region does single out many name-only rows
    assert rewritten > 10  # and a legal form alone, in feeds that rewrite legal forms, does not


def test_default_city_lists_few(tmp_path: Path) -> None:
    """晋江's own 字号 are nearly unique: few rows are ambiguous, and all are named in the summary."""
    summary = generate_city(300, 0, tmp_path, catalog_specs(), formats="csv")
    listed = read_csv(tmp_path / "truth" / "ambiguous.csv")
    assert summary.paths["ambiguous"] == tmp_path / "truth" / "ambiguous.csv"
    assert len(listed) == summary.ambiguous_mentions < 0.05 * summary.codeless_mentions

"""Records -> mentions: which code is trusted, which is only evidence, and one mention per party."""

from __future__ import annotations

from entgraph.catalog.registry import Catalog
from entgraph.identity.codes import make_credit_code, make_org_code
from entgraph.resolution.mentions import enterprise_parties, mention_id, mentions_of, split_mention

CODE = make_credit_code("350582", "12345678")
ORG = make_org_code("12345678")


def _only(spec, record):
    found = list(mentions_of(spec, {"id": "ds:1", "loaded_at": "2026-01-01", **record}))
    assert len(found) == 1
    return found[0]


def test_a_valid_credit_code_is_trusted_and_gives_its_org_code(catalog: Catalog) -> None:
    spec = catalog.get("wh_enterprise_electricity").spec
    m = _only(spec, {"credit_code": CODE, "enterprise_name": "乌海市恒安煤业有限公司", "account_no": "0011"})
    assert (m.credit_code, m.org_code, m.code_hint) == (CODE, ORG, None)
    assert m.name == "乌海市恒安煤业有限公司"
    assert m.identifiers == [f"account:{spec.department}:0011"]
    assert m.id == "ds:1|subject"


def test_an_invalid_code_is_evidence_only(catalog: Catalog) -> None:
    spec = catalog.get("wh_enterprise_electricity").spec
    broken = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    m = _only(spec, {"credit_code_invalid": broken, "enterprise_name": "恒安煤业"})
    assert m.credit_code is None
    assert m.code_hint == broken


def test_taxpayer_ids_give_the_codes_they_derive_from(catalog: Catalog) -> None:
    spec = catalog.get("jj_tax_registration").spec
    eighteen = _only(spec, {"taxpayer_id": CODE, "taxpayer_name": "晋江市恒安鞋业有限公司"})
    assert (eighteen.credit_code, eighteen.org_code, eighteen.taxpayer_id) == (CODE, ORG, CODE)
    fifteen = _only(spec, {"taxpayer_id": "350582" + ORG, "taxpayer_name": "晋江市恒安鞋业有限公司"})
    assert (fifteen.credit_code, fifteen.org_code) == (None, ORG)
    assert fifteen.identifiers == [f"taxpayer_id:350582{ORG}"]


def test_every_party_of_a_record_is_its_own_mention(catalog: Catalog) -> None:
    spec = catalog.get("jj_real_estate_mortgages").spec
    assert enterprise_parties(spec) == ["subject", "mortgagee"]
    record = {
        "id": "m:1",
        "mortgagor_name": "晋江市恒安鞋业有限公司",
        "mortgagee_name": "中国工商银行股份有限公司晋江分行",
    }
    found = {m.party: m for m in mentions_of(spec, record)}
    assert found["subject"].name == "晋江市恒安鞋业有限公司"
    assert found["mortgagee"].name == "中国工商银行股份有限公司晋江分行"
    assert found["mortgagee"].id == "m:1|mortgagee"
    # an optional party left empty is no mention at all
    assert [m.party for m in mentions_of(spec, {"id": "m:2", "mortgagor_name": "某某有限公司"})] == [
        "subject"
    ]


def test_region_and_meter_feeds_have_no_enterprise_parties(catalog: Catalog) -> None:
    assert enterprise_parties(catalog.get("wh_meter_electricity").spec) == []
    assert enterprise_parties(catalog.get("jj_fiscal_monthly_report").spec) == []


def test_a_person_in_a_column_that_may_hold_people_is_no_enterprise(catalog: Catalog) -> None:
    spec = catalog.get("jj_real_estate_registration").spec
    field = next(c.field for c in spec.columns if c.header == "权利人")
    assert list(mentions_of(spec, {"id": "re:1", field: "张三丰"})) == []
    assert [m.name for m in mentions_of(spec, {"id": "re:2", field: "晋江市恒安鞋业有限公司"})] == [
        "晋江市恒安鞋业有限公司"
    ]


def test_a_mention_id_splits_back_into_record_and_party() -> None:
    assert split_mention(mention_id("R-1", "mortgagee")) == ("R-1", "mortgagee")
    assert split_mention("R-1") == ("R-1", "subject")  # a bare record id: its subject


def test_no_org_code_is_taken_out_of_a_taxpayer_id_the_loader_found_invalid() -> None:
    """A 9-character org code in a taxpayer-id column that failed its check (or a rounded number) is
    evidence only: it names no enterprise (issue 16)."""
    from entgraph.catalog.spec import Role
    from entgraph.resolution.mentions import _Codes

    valid = _Codes()
    valid.take(Role.TAXPAYER_ID, "15580199-6", None)
    assert valid.org == "155801996"
    invalid = _Codes()
    invalid.take(Role.TAXPAYER_ID, None, "15580199-7")
    assert invalid.org is None and invalid.credit is None
    assert invalid.hint == "155801997" and invalid.taxpayer == "155801997"

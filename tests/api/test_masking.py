"""Field masking: the whole role x sharing-attribute matrix, the mask formats, the catalog's real columns,
and a masked field served through HTTP."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest
import strawberry
from fastapi.testclient import TestClient
from strawberry.types import Info

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.context import Context
from entgraph.api.masking import Decision, MaskKind, apply, column_sharing, mask_kind, mask_value, policy
from entgraph.api.schema import Query
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import Sharing, Usage
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.settings import Settings

pytestmark = pytest.mark.stores

SHOW, MASK, NULL = Decision.SHOW, Decision.MASK, Decision.NULL
U, C, N = Usage.UNCONDITIONAL, Usage.CONDITIONAL, Usage.NOT_SHARED


def expected(role: Role, usage: Usage, open_to_public: bool, credit: bool, personal: bool) -> Decision:
    """The rules as the issue states them, written out independently of the implementation."""
    if role in (Role.PUBLIC, Role.DEPARTMENT, Role.ENTERPRISE):  # the channel roles read as the public
        # only 无条件使用 + open_to_public, never personal or credit data
        return SHOW if (usage is U and open_to_public and not personal and not credit) else NULL
    if role is Role.ANALYST:
        # 无条件使用 and 有条件使用 non-personal fields and credit data; personal data masked
        if usage is N:
            return NULL
        return MASK if personal else SHOW
    if role is Role.STEWARD:
        return NULL if usage is N else SHOW  # everything except 不予共享
    return SHOW  # admin: everything


MATRIX = list(itertools.product(Role, Usage, (False, True), (False, True), (False, True)))


@pytest.mark.parametrize(("role", "usage", "open_to_public", "credit", "personal"), MATRIX)
def test_policy_over_the_whole_matrix(
    role: Role, usage: Usage, open_to_public: bool, credit: bool, personal: bool
) -> None:
    sharing = Sharing(usage=usage, open_to_public=open_to_public, credit=credit, personal=personal)
    assert policy(sharing, role) is expected(role, usage, open_to_public, credit, personal)


def test_the_matrix_is_complete_and_every_decision_occurs() -> None:
    assert len(MATRIX) == 6 * 3 * 2 * 2 * 2
    decisions = {
        policy(Sharing(usage=u, open_to_public=o, credit=c, personal=p), r) for r, u, o, c, p in MATRIX
    }
    assert decisions == {SHOW, MASK, NULL}


@pytest.mark.parametrize(
    ("sharing", "public", "analyst", "steward", "admin"),
    [
        (Sharing(usage=U, open_to_public=True), SHOW, SHOW, SHOW, SHOW),  # a public register field
        (Sharing(usage=U, open_to_public=False), NULL, SHOW, SHOW, SHOW),  # shared between departments
        (Sharing(usage=C), NULL, SHOW, SHOW, SHOW),  # conditional use
        (Sharing(usage=U, open_to_public=True, credit=True), NULL, SHOW, SHOW, SHOW),  # credit lists
        (Sharing(usage=C, personal=True), NULL, MASK, SHOW, SHOW),  # a contact phone
        (Sharing(usage=U, open_to_public=True, personal=True), NULL, MASK, SHOW, SHOW),
        (Sharing(usage=N), NULL, NULL, NULL, SHOW),  # 不予共享
        (Sharing(usage=N, open_to_public=True, personal=True), NULL, NULL, NULL, SHOW),
    ],
)
def test_named_cases(
    sharing: Sharing, public: Decision, analyst: Decision, steward: Decision, admin: Decision
) -> None:
    chain = [Role.PUBLIC, Role.ANALYST, Role.STEWARD, Role.ADMIN]
    assert [policy(sharing, role) for role in chain] == [public, analyst, steward, admin]
    assert policy(sharing, "analyst") is analyst  # role names work too
    # the collection channels' roles read the graph as the public does
    assert policy(sharing, Role.DEPARTMENT) is policy(sharing, Role.ENTERPRISE) is public


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (MaskKind.PHONE, "13812345678", "138****5678"),
        (MaskKind.PHONE, 13812345678, "138****5678"),
        (MaskKind.PHONE, "+86 138 1234 5678", "+86 1** **** 5678"),
        (MaskKind.PHONE, "0595-88881234", "059*-****1234"),
        (MaskKind.PHONE, "88881234", "****1234"),  # 8 digits: keeping 3 + 4 would give away 7
        (MaskKind.PHONE, "1234567", "*******"),
        (MaskKind.PERSON_NAME, "张三", "张*"),
        (MaskKind.PERSON_NAME, "欧阳娜娜", "欧***"),
        (MaskKind.PERSON_NAME, "张", "张*"),
        (MaskKind.ID_NUMBER, "35058219900101123X", "350582********123X"),
        (MaskKind.ID_NUMBER, "350582900101123", "350582*****1123"),
        (MaskKind.ID_NUMBER, "3505821990", "**********"),
        (MaskKind.ACCOUNT, "6222021234567890123", "***************0123"),
        (MaskKind.ACCOUNT, "1234567", "*******"),
        (MaskKind.TEXT, "晋江市青阳街道某路1号", "晋***"),
        ("phone", " 13812345678 ", "138****5678"),
        (MaskKind.PHONE, None, None),
        (MaskKind.PERSON_NAME, "", ""),
    ],
)
def test_mask_value(kind: MaskKind | str, value: object, masked: str | None) -> None:
    assert mask_value(kind, value) == masked


def test_mask_value_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="email"):
        mask_value("email", "a@b.cn")


def test_apply_shows_masks_or_nulls() -> None:
    personal = Sharing(usage=C, personal=True)
    assert apply(personal, Role.PUBLIC, MaskKind.PHONE, "13812345678") is None
    assert apply(personal, Role.ANALYST, MaskKind.PHONE, "13812345678") == "138****5678"
    assert apply(personal, Role.STEWARD, MaskKind.PHONE, "13812345678") == "13812345678"


def test_the_catalogs_columns_drive_the_decisions() -> None:
    spec = Catalog.load(entry_points=False).get("jj_enterprise_registration").spec
    columns = {c.field: c for c in spec.columns}

    phone = column_sharing(spec, "phone")  # the column's own sharing: personal, conditional
    chain = [Role.PUBLIC, Role.ANALYST, Role.STEWARD, Role.ADMIN]
    assert [policy(phone, role) for role in chain] == [NULL, MASK, SHOW, SHOW]
    assert policy(phone, Role.DEPARTMENT) is policy(phone, Role.ENTERPRISE) is NULL  # read as the public
    assert mask_kind(columns["phone"]) is MaskKind.PHONE
    assert mask_kind(columns["legal_representative"]) is MaskKind.PERSON_NAME
    assert mask_kind(columns["address"]) is MaskKind.TEXT

    name = column_sharing(spec, "enterprise_name")  # the dataset's default: an open register
    assert {policy(name, role) for role in Role} == {SHOW}
    with pytest.raises(KeyError):
        column_sharing(spec, "no_such_field")


def test_credit_datasets_are_hidden_from_the_public_only() -> None:
    spec = Catalog.load(entry_points=False).get("wh_credit_wuhai").spec
    credit_columns = [c.field for c in spec.columns if column_sharing(spec, c.field).credit]
    assert credit_columns
    for field in credit_columns:
        sharing = column_sharing(spec, field)
        assert policy(sharing, Role.PUBLIC) is NULL
        if sharing.usage is not N and not sharing.personal:
            assert policy(sharing, Role.ANALYST) is SHOW


# -- through HTTP ----------------------------------------------------------------------------------

PHONE_SHARING = Sharing(usage=C, personal=True)


@strawberry.type
class Contact:
    name: str | None
    phone: str | None


@strawberry.type
class MaskedQuery(Query):
    @strawberry.field
    def contact(self, info: Info[Context, None]) -> Contact:
        ctx = info.context
        return Contact(
            name=ctx.mask(PHONE_SHARING, MaskKind.PERSON_NAME, "王小明"),
            phone=ctx.mask(PHONE_SHARING, MaskKind.PHONE, "13912345678"),
        )


def test_a_resolver_masks_by_the_callers_role(shared_server: EmbeddedServer, tmp_path: Path) -> None:
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    analyst, steward = keys.create(Role.ANALYST, "analyst"), keys.create(Role.STEWARD, "steward")
    settings = Settings(home=tmp_path, api_keys_file=tmp_path / "api-keys.toml", api_mode="development")
    store = FalkorDBStore(f"api-{uuid.uuid4().hex[:10]}", server=shared_server)
    with TestClient(create_app(settings, store, Catalog([]), query=MaskedQuery)) as client:

        def contact(**headers: str) -> dict[str, str | None]:
            response = client.post("/graphql", json={"query": "{ contact { name phone } }"}, headers=headers)
            return response.json()["data"]["contact"]

        assert contact() == {"name": None, "phone": None}
        assert contact(**{"X-API-Key": analyst}) == {"name": "王**", "phone": "139****5678"}
        assert contact(**{"X-API-Key": steward}) == {"name": "王小明", "phone": "13912345678"}
    store.close()

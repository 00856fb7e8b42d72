"""Authentication (tokens, API keys), roles and the ``requires`` permission, through HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import strawberry
from fastapi.testclient import TestClient
from pydantic import SecretStr
from strawberry.types import Info
from typer.testing import CliRunner

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role, issue_token, requires
from entgraph.api.context import Context
from entgraph.api.graphql_client import api_settings
from entgraph.api.schema import Query
from entgraph.catalog.registry import Catalog
from entgraph.cli import app as cli_app
from entgraph.errors import ConfigurationError
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

SECRET = "s" * 40
OTHER_SECRET = "o" * 40
ME = "{ me { role subject } }"


def make_settings(home: Path, **overrides: Any) -> Settings:
    return api_settings(home, **({"api_jwt_secret": SECRET} | overrides))


@pytest.fixture
def store(fresh_graph: GraphStore) -> FalkorDBStore:
    return fresh_graph


@strawberry.type
class GuardedQuery(Query):
    @strawberry.field(permission_classes=[requires("steward")])
    def steward_note(self, info: Info[Context, None]) -> str:
        return "for stewards"

    @strawberry.field(permission_classes=[requires(Role.ADMIN)])
    def admin_note(self, info: Info[Context, None]) -> str | None:
        return "for admins"


@pytest.fixture
def client(tmp_path: Path, store: FalkorDBStore, catalog: Catalog) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), store, catalog, query=GuardedQuery)) as test_client:
        yield test_client


def post(client: TestClient, query: str, **headers: str) -> Any:
    return client.post("/graphql", json={"query": query}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(role: str = "analyst", sub: str = "li.lei", secret: str = SECRET, **claims: Any) -> str:
    payload = {"sub": sub, "role": role, "exp": datetime.now(UTC) + timedelta(minutes=5)} | claims
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def assert_unauthenticated(response: Any, *words: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert set(body) == {"errors"}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    for word in words:
        assert word in error["message"]


# -- roles -----------------------------------------------------------------------------------------


def test_roles_are_nested() -> None:
    order = [Role.PUBLIC, Role.ANALYST, Role.STEWARD, Role.ADMIN]
    for i, role in enumerate(order):
        for j, other in enumerate(order):
            assert role.covers(other) is (i >= j), (role, other)
    assert Role.parse(" Steward ") is Role.STEWARD
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")


def test_no_credentials_is_public(client: TestClient) -> None:
    response = post(client, ME)
    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"role": "PUBLIC", "subject": None}}


# -- bearer tokens ---------------------------------------------------------------------------------


def test_a_valid_token_gives_its_role_and_subject(client: TestClient) -> None:
    response = post(client, ME, **bearer(issue_token(SecretStr(SECRET), Role.STEWARD, "wang.fang", 60)))
    assert response.json()["data"] == {"me": {"role": "STEWARD", "subject": "wang.fang"}}
    lower_case_scheme = post(client, ME, Authorization=f"bearer {token('admin', 'ops')}")
    assert lower_case_scheme.json()["data"] == {"me": {"role": "ADMIN", "subject": "ops"}}


def test_a_token_signed_with_another_secret_is_401(client: TestClient) -> None:
    assert_unauthenticated(post(client, ME, **bearer(token(secret=OTHER_SECRET))), "not valid")


def test_an_expired_token_is_401(client: TestClient) -> None:
    expired = token(exp=datetime.now(UTC) - timedelta(seconds=30))
    assert_unauthenticated(post(client, ME, **bearer(expired)), "expired")


def test_tokens_lacking_claims_or_naming_unknown_roles_are_401(client: TestClient) -> None:
    assert_unauthenticated(post(client, ME, **bearer(token(role=None))), "'role'")
    assert_unauthenticated(post(client, ME, **bearer(token(exp=None))), "'exp'")
    assert_unauthenticated(post(client, ME, **bearer(token(sub=None))), "'sub'")
    assert_unauthenticated(post(client, ME, **bearer(token(role="superuser"))), "unknown role")


def test_an_unsigned_token_is_401(client: TestClient) -> None:
    unsigned = jwt.encode(
        {"sub": "x", "role": "admin", "exp": datetime.now(UTC) + timedelta(minutes=5)}, None, algorithm="none"
    )
    assert_unauthenticated(post(client, ME, **bearer(unsigned)))


def test_malformed_authorization_headers_are_401(client: TestClient) -> None:
    assert_unauthenticated(post(client, ME, Authorization="Basic dXNlcjpwdw=="), "Bearer <token>")
    assert_unauthenticated(post(client, ME, Authorization="Bearer "), "Bearer <token>")
    assert_unauthenticated(post(client, ME, Authorization="Bearer not-a-jwt"), "not valid")


def test_tokens_are_refused_with_a_clear_message_when_no_secret_is_set(
    tmp_path: Path, store: FalkorDBStore, catalog: Catalog
) -> None:
    with TestClient(create_app(make_settings(tmp_path, api_jwt_secret=None), store, catalog)) as client:
        assert_unauthenticated(post(client, ME, **bearer(token())), "ENTGRAPH_API_JWT_SECRET is not set")
        assert post(client, ME).json()["data"]["me"]["role"] == "PUBLIC"


def test_a_short_secret_is_a_bad_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        make_settings(tmp_path, api_jwt_secret="too-short")


# -- API keys --------------------------------------------------------------------------------------


def test_an_api_key_gives_its_role_and_only_its_hash_is_stored(tmp_path: Path, client: TestClient) -> None:
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    key = keys.create(Role.ANALYST, "税务分析")
    stored = (tmp_path / "api-keys.toml").read_text(encoding="utf-8")
    assert key not in stored
    assert hashlib.sha256(key.encode()).hexdigest() in stored
    assert (tmp_path / "api-keys.toml").stat().st_mode & 0o077 == 0

    response = post(client, ME, **{"X-API-Key": key})
    assert response.json()["data"] == {"me": {"role": "ANALYST", "subject": "税务分析"}}


def test_an_unknown_or_revoked_key_is_401(tmp_path: Path, client: TestClient) -> None:
    assert_unauthenticated(post(client, ME, **{"X-API-Key": "egk_not-a-key"}), "unknown API key")

    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    key = keys.create(Role.STEWARD, "steward desk")
    assert post(client, ME, **{"X-API-Key": key}).json()["data"]["me"]["role"] == "STEWARD"
    assert keys.revoke("steward desk")
    # The running app re-reads the file: the revoked key stops working without a restart.
    assert_unauthenticated(post(client, ME, **{"X-API-Key": key}), "unknown API key")


def test_a_key_and_a_token_together_are_refused(tmp_path: Path, client: TestClient) -> None:
    key = ApiKeyFile(tmp_path / "api-keys.toml").create(Role.ANALYST, "both")
    assert_unauthenticated(post(client, ME, **{"X-API-Key": key}, **bearer(token())), "not both")


def test_a_json_keys_file_works_too(tmp_path: Path, store: FalkorDBStore, catalog: Catalog) -> None:
    path = tmp_path / "keys.json"
    key = ApiKeyFile(path).create(Role.ADMIN, "ops")
    assert set(json.loads(path.read_text())) == {hashlib.sha256(key.encode()).hexdigest()}
    with TestClient(create_app(make_settings(tmp_path, api_keys_file=path), store, catalog)) as client:
        assert post(client, ME, **{"X-API-Key": key}).json()["data"]["me"] == {
            "role": "ADMIN",
            "subject": "ops",
        }


def test_a_malformed_keys_file_stops_the_app_at_creation(tmp_path: Path, store: FalkorDBStore) -> None:
    path = tmp_path / "api-keys.toml"
    path.write_text('[abc]\nrole = "analyst"\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="SHA-256"):
        create_app(make_settings(tmp_path), store)
    path.write_text(f'[{"a" * 64}]\nrole = "root"\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown role"):
        create_app(make_settings(tmp_path), store)


def test_duplicate_key_names_are_refused(tmp_path: Path) -> None:
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    keys.create(Role.ANALYST, "dash")
    with pytest.raises(ConfigurationError, match="exists"):
        keys.create(Role.ADMIN, "dash")
    assert [(e.name, e.role) for e in keys.check()] == [("dash", Role.ANALYST)]


# -- requires(role) --------------------------------------------------------------------------------


def test_a_steward_field_refuses_an_analyst_with_forbidden(client: TestClient) -> None:
    response = post(client, "{ me { role } stewardNote }", **bearer(token("analyst")))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # stewardNote is non-null: the refusal nulls the whole result
    [error] = body["errors"]
    assert error["path"] == ["stewardNote"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredRole": "steward"}
    assert "steward" in error["message"]


def test_a_guarded_field_answers_the_roles_that_cover_it(client: TestClient) -> None:
    for role in ("steward", "admin"):
        data = post(client, "{ stewardNote }", **bearer(token(role))).json()
        assert data == {"data": {"stewardNote": "for stewards"}}, role

    steward = post(client, "{ me { role } adminNote }", **bearer(token("steward"))).json()
    assert steward["data"] == {"me": {"role": "STEWARD"}, "adminNote": None}  # nullable: only it is null
    assert steward["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    anonymous = post(client, "{ adminNote }").json()
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = post(client, "{ adminNote }", **bearer(token("admin"))).json()
    assert admin == {"data": {"adminNote": "for admins"}}


# -- the CLI ---------------------------------------------------------------------------------------


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {"ENTGRAPH_HOME": str(home), "ENTGRAPH_API_KEYS_FILE": str(home / "api-keys.toml"), **extra}


def test_api_key_create_cli_round_trip(tmp_path: Path, store: FalkorDBStore, catalog: Catalog) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli_app, ["api-key", "create", "--role", "steward", "--name", "quality desk"], env=cli_env(tmp_path)
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("egk_") and "\n" not in key
    assert "only time" in created.stderr
    assert key not in (tmp_path / "api-keys.toml").read_text(encoding="utf-8")

    listed = runner.invoke(cli_app, ["api-key", "list"], env=cli_env(tmp_path))
    assert "quality desk\tsteward" in listed.stdout
    assert key not in listed.stdout

    with TestClient(create_app(make_settings(tmp_path), store, catalog)) as client:
        me = post(client, ME, **{"X-API-Key": key}).json()["data"]["me"]
        assert me == {"role": "STEWARD", "subject": "quality desk"}

        revoked = runner.invoke(cli_app, ["api-key", "revoke", "quality desk"], env=cli_env(tmp_path))
        assert revoked.exit_code == 0, revoked.output
        assert_unauthenticated(post(client, ME, **{"X-API-Key": key}))

    bad_role = runner.invoke(
        cli_app, ["api-key", "create", "--role", "root", "--name", "x"], env=cli_env(tmp_path)
    )
    assert bad_role.exit_code != 0


def test_api_token_cli_round_trip(tmp_path: Path, client: TestClient) -> None:
    runner = CliRunner()
    issued = runner.invoke(
        cli_app,
        ["api-token", "--role", "analyst", "--sub", "zhao.min", "--ttl", "120"],
        env=cli_env(tmp_path, ENTGRAPH_API_JWT_SECRET=SECRET),
    )
    assert issued.exit_code == 0, issued.output
    me = post(client, ME, **bearer(issued.stdout.strip())).json()["data"]["me"]
    assert me == {"role": "ANALYST", "subject": "zhao.min"}

    no_secret = runner.invoke(
        cli_app,
        ["api-token", "--role", "admin", "--sub", "x"],
        env=cli_env(tmp_path, ENTGRAPH_API_JWT_SECRET=""),
    )
    assert no_secret.exit_code != 0
    assert isinstance(no_secret.exception, ConfigurationError)
    assert "ENTGRAPH_API_JWT_SECRET" in str(no_secret.exception)


# -- the collection channels' roles ----------------------------------------------------------------

ME_SCOPED = "{ me { role subject scope } }"
TAX = "晋江:市税务局"
CODE = "91350582MA2XN6QLXM"


def test_channel_roles_stand_beside_the_chain() -> None:
    for channel in (Role.DEPARTMENT, Role.ENTERPRISE):
        assert channel.covers(channel) and Role.ADMIN.covers(channel)
        for other in (Role.PUBLIC, Role.ANALYST, Role.STEWARD):
            assert not other.covers(channel), (other, channel)
        assert channel.covers(Role.PUBLIC) and not channel.covers(Role.ANALYST)
    assert not Role.DEPARTMENT.covers(Role.ENTERPRISE) and not Role.ENTERPRISE.covers(Role.DEPARTMENT)


def test_a_channel_token_carries_its_scope_and_needs_one(client: TestClient) -> None:
    scoped = post(client, ME_SCOPED, **bearer(token("department", "tax clerk", scope=TAX)))
    assert scoped.json()["data"] == {"me": {"role": "DEPARTMENT", "subject": "tax clerk", "scope": TAX}}
    reporter = post(
        client, ME_SCOPED, **bearer(issue_token(SecretStr(SECRET), Role.ENTERPRISE, "张会计", 60, CODE))
    )
    assert reporter.json()["data"]["me"] == {"role": "ENTERPRISE", "subject": "张会计", "scope": CODE}
    assert_unauthenticated(post(client, ME, **bearer(token("enterprise", "x"))), "needs a scope")
    assert_unauthenticated(
        post(client, ME, **bearer(token("department", "x", scope="市税务局"))), "city:department"
    )
    assert_unauthenticated(post(client, ME, **bearer(token("analyst", "x", scope=TAX))), "takes no scope")


def test_channel_keys_keep_their_scope_in_the_keys_file(
    tmp_path: Path, store: FalkorDBStore, catalog: Catalog
) -> None:
    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    key = keys.create(Role.DEPARTMENT, "tax uploads", TAX)
    with pytest.raises(ConfigurationError, match="needs a scope"):
        keys.create(Role.ENTERPRISE, "no scope")
    assert [(e.name, e.scope) for e in ApiKeyFile(keys.path).check()] == [("tax uploads", TAX)]
    with TestClient(create_app(make_settings(tmp_path), store, catalog)) as client:
        me = post(client, ME_SCOPED, **{"X-API-Key": key}).json()["data"]["me"]
    assert me == {"role": "DEPARTMENT", "subject": "tax uploads", "scope": TAX}


def test_channel_key_cli_checks_the_scope_against_the_catalog(tmp_path: Path) -> None:
    runner = CliRunner()

    def create(*args: str) -> Any:
        # wide, so that Rich's error box keeps each message on one line
        return runner.invoke(cli_app, ["api-key", "create", *args], env=cli_env(tmp_path, COLUMNS="400"))

    made = create("--role", "department", "--name", "tax", "--scope", TAX)
    assert made.exit_code == 0, made.output
    unknown = create("--role", "department", "--name", "x", "--scope", "晋江:市魔法局")
    assert unknown.exit_code == 2 and "owns no dataset" in unknown.output and TAX in unknown.output
    bad_code = create("--role", "enterprise", "--name", "y", "--scope", "91350582MA2XN6QL4E")
    assert bad_code.exit_code == 2 and "not a valid unified social credit code" in bad_code.output
    listed = runner.invoke(cli_app, ["api-key", "list"], env=cli_env(tmp_path))
    assert f"tax\tdepartment:{TAX}" in listed.stdout


def test_an_admin_manages_keys_over_graphql(client: TestClient) -> None:
    admin = bearer(token("admin", "ops"))
    create = (
        "mutation ($role: Role!, $name: String!, $scope: String) "
        "{ createApiKey(role: $role, name: $name, scope: $scope) { name role scope key } }"
    )

    def post_as(headers: dict[str, str], query: str, **variables: Any) -> Any:
        return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()

    made = post_as(admin, create, role="DEPARTMENT", name="税务局 上报", scope=TAX)["data"]["createApiKey"]
    assert made["key"].startswith("egk_") and made["scope"] == TAX
    me = post(client, ME_SCOPED, **{"X-API-Key": made["key"]}).json()["data"]["me"]
    assert me == {"role": "DEPARTMENT", "subject": "税务局 上报", "scope": TAX}
    listed = post_as(admin, "{ apiKeys { name role scope } }")["data"]["apiKeys"]
    assert {"name": "税务局 上报", "role": "DEPARTMENT", "scope": TAX} in listed
    assert all(set(k) == {"name", "role", "scope"} for k in listed)  # never the key

    refused = post_as(admin, create, role="DEPARTMENT", name="x", scope="晋江:市魔法局")
    assert (
        refused["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        and "owns no dataset" in refused["errors"][0]["message"]
    )
    analyst = post_as(bearer(token("analyst")), create, role="ADMIN", name="sneaky")
    assert analyst["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    department = post_as({"X-API-Key": made["key"]}, "{ apiKeys { name } }")
    assert department["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    revoked = post_as(admin, 'mutation { revokeApiKey(name: "税务局 上报") }')
    assert revoked["data"]["revokeApiKey"] is True
    assert_unauthenticated(post(client, ME, **{"X-API-Key": made["key"]}))

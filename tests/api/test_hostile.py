"""The API under hostile input (issue 15), through HTTP against a served app in production mode.

uvicorn serves the app on a loopback port in a thread; requests go over TCP with httpx, as an attacker's
tools would send them. Each bomb must be answered with a coded error, never INTERNAL or a 500, and
without echoing what was sent."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import strawberry

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import HOSTILE_SECRET as SECRET
from entgraph.api.graphql_client import Served
from entgraph.api.schema import Query
from entgraph.city_fixtures import City
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.settings import Settings


def _code(errors: list[dict[str, Any]]) -> str:
    assert errors, "expected an error"
    return errors[0]["extensions"]["code"]


# -- 1, 3: long strings, big bodies -----------------------------------------------------------------


def test_a_huge_search_is_refused_at_once_without_echo(served: Served) -> None:
    term = "恒" * 300_000
    started = time.monotonic()
    search = "query($q: String!) { enterprises(search: $q, first: 5) { totalCount } }"
    response = served.post({"query": search, "variables": {"q": term[:200_000]}})
    assert response.status_code == 413  # 600 KB of UTF-8: over the body limit, not even parsed
    sent = int(response.request.headers["content-length"])
    assert response.json()["errors"][0]["extensions"] == {
        "code": "LIMIT_EXCEEDED", "limit": "body_bytes", "max": 256 * 1024, "actual": sent,
    }  # fmt: skip
    errors = served.errors(
        "query($q: String!) { enterprises(search: $q, first: 5) { totalCount } }", q="恒" * 5000
    )
    assert _code(errors) == "LIMIT_EXCEEDED" and errors[0]["extensions"]["limit"] == "string_length"
    literal = served.errors('{ enterprises(search: "%s", first: 5) { totalCount } }' % ("达" * 5000))
    assert _code(literal) == "LIMIT_EXCEEDED"
    assert time.monotonic() - started < 5
    assert "恒恒恒" not in json.dumps(errors, ensure_ascii=False)


def test_a_long_id_is_refused_and_not_echoed(served: Served) -> None:
    errors = served.errors("query($id: String) { enterprise(id: $id) { name } }", id="E-" + "9" * 50_000)
    assert _code(errors) == "LIMIT_EXCEEDED"
    assert len(json.dumps(errors)) < 1000


def test_a_document_padded_with_comments_is_refused_unread(served: Served) -> None:
    padded = "# " + "x" * 40_000 + "\n{ me { role } }"
    for _ in range(2):
        errors = served.errors(padded)
        assert _code(errors) == "LIMIT_EXCEEDED" and errors[0]["extensions"]["limit"] == "document_chars"
    assert served.post({"query": "{ me { role } }"}).json() == {"data": {"me": {"role": "PUBLIC"}}}


def test_a_body_without_length_is_cut_at_the_limit(served: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ me { role } }", "variables": {"x": "'
        for _ in range(100):
            yield b"a" * 10_000
        yield b'"}}'

    response = served.http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["limit"] == "body_bytes"


def test_long_lists_and_deep_variables_are_refused(served: Served) -> None:
    ids = [f"E-{k}" for k in range(5000)]
    errors = served.errors("query($ids: [ID!]!) { enterprises(first: 1) { totalCount } }", ids=ids)
    assert _code(errors) == "LIMIT_EXCEEDED" and errors[0]["extensions"]["limit"] == "list_length"
    nested: Any = "x"
    for _ in range(100):
        nested = [nested]
    errors = served.errors("query($n: [String]) { me { role } }", n=nested)
    assert _code(errors) == "LIMIT_EXCEEDED"


def test_a_json_body_nested_thousands_deep_is_a_400(served: Served) -> None:
    body = '{"query": "{ me { role } }", "variables": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = served.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


# -- 2: validation ----------------------------------------------------------------------------------


def test_repeated_fields_are_refused_before_the_validation_rules(served: Served) -> None:
    bomb = "{ " + " ".join(["me { role }"] * 400) + " }"  # 1,602 tokens: under the token limit
    started = time.monotonic()
    for _ in range(3):
        errors = served.errors(bomb)
        assert _code(errors) == "LIMIT_EXCEEDED" and errors[0]["extensions"]["limit"] == "repeats"
    assert time.monotonic() - started < 3
    many = "{ " + " ".join(f"a{k}: me {{ role }}" for k in range(900)) + " }"
    assert _code(served.errors(many)) == "LIMIT_EXCEEDED"  # tokens (and aliases, selections)
    assert _code(served.errors("{ " + " ".join(["me { role }"] * 500) + " }")) == "LIMIT_EXCEEDED"
    assert served.post({"query": "{ me { role } }"}).json() == {"data": {"me": {"role": "PUBLIC"}}}


# -- 6, 7: suggestions, NUL, dates ------------------------------------------------------------------


def test_no_did_you_mean_in_production(served: Served) -> None:
    for query in (
        '{ enterprises(serch: "x") { totalCount } }',
        "{ me { rol } }",
        "query($r: Rol) { me { role } }",
    ):
        errors = served.errors(query)
        assert _code(errors) == "BAD_INPUT"
        assert all("Did you mean" not in e["message"] for e in errors), errors


def test_nul_anywhere_is_bad_input_not_internal(served: Served) -> None:
    for query, variables in (
        ("query($id: String) { enterprise(id: $id) { name } }", {"id": "E-\x00"}),
        ("query($q: String!) { enterprises(search: $q) { totalCount } }", {"q": "恒\x00达"}),
        ('{ enterprise(id: "E-\\u0000") { name } }', {}),
    ):
        errors = served.errors(query, **variables)
        assert _code(errors) == "BAD_INPUT", errors
    response = served.http.get("/reports/x%00", headers={"X-API-Key": served.keys[Role.ADMIN]})
    assert response.status_code in (400, 404), response.text


@pytest.mark.parametrize("as_of", ["0999-01-01", "9999-12-31"])
def test_out_of_range_dates_are_bad_input(served: Served, as_of: str) -> None:
    errors = served.errors(f'{{ feedStatus(asOf: "{as_of}") {{ dataset }} }}')
    assert _code(errors) == "BAD_INPUT", errors


# -- 9: credentials, CORS, probes -------------------------------------------------------------------


def _token(**claims: Any) -> str:
    now = dt.datetime.now(dt.UTC)
    base = {"sub": "tester", "role": "admin", "iat": now, "exp": now + dt.timedelta(hours=1)}
    return jwt.encode(base | claims, SECRET, algorithm="HS256")


def test_credentials_that_are_not_quite_right_are_401_with_a_reason(served: Served) -> None:
    now = dt.datetime.now(dt.UTC)
    for headers, says in (
        ({"Authorization": ""}, "Bearer"),
        ({"Authorization": f"Bearer {_token(nbf=now + dt.timedelta(hours=1))}"}, "not valid yet"),
        ({"Authorization": f"Bearer {_token(sub=42)}"}, "'sub'"),
        ({"Authorization": f"Bearer {_token(exp=dt.datetime(9999, 1, 1, tzinfo=dt.UTC))}"}, "longer than"),
    ):
        response = served.post({"query": "{ me { role } }"}, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert says in response.json()["errors"][0]["message"]
    fine = served.post({"query": "{ me { role } }"}, headers={"Authorization": f"Bearer {_token()}"})
    assert fine.json() == {"data": {"me": {"role": "ADMIN"}}}


def test_a_cors_refusal_is_graphql_shaped(served: Served) -> None:
    response = served.http.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_readyz_tells_strangers_only_that_it_is_ready(served: Served) -> None:
    assert served.http.get("/readyz").json() == {"status": "ready", "backend": "falkordb"}
    admin = served.http.get("/readyz", headers={"X-API-Key": served.keys[Role.ADMIN]}).json()
    assert "facts" in admin


# -- rate limits ------------------------------------------------------------------------------------


def test_an_anonymous_flood_gets_429_and_a_keyed_caller_does_not(resolved_city: City, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    keys = ApiKeyFile(tmp_path / "api-keys.toml")
    key = keys.create(Role.ANALYST, "dashboard")
    settings = Settings(
        home=tmp_path, api_mode="production", api_keys_file=tmp_path / "api-keys.toml",
        api_rate_anonymous=5.0, api_rate_authenticated=1000.0,
    )  # fmt: skip
    with TestClient(create_app(settings, resolved_city.store, resolved_city.catalog)) as client:
        statuses = [client.post("/graphql", json={"query": "{ me { role } }"}) for _ in range(30)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and len(limited) < 30
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        keyed = [
            client.post("/graphql", json={"query": "{ me { role } }"}, headers={"X-API-Key": key})
            for _ in range(30)
        ]
        assert all(r.status_code == 200 for r in keyed)
    # a big document weighs more: 8 KB costs four of the bucket's ten (5/s for 2 s)
    heavy = {"query": "# " + "x" * 8000 + "\n{ me { role } }"}
    with TestClient(create_app(settings, resolved_city.store, resolved_city.catalog)) as client:
        codes = [client.post("/graphql", json=heavy).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def _raw_post(base: str, headers: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, str, bytes]:
    """Send a request line, ``headers`` and ``body`` over a bare socket; (status, headers, body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(f"POST /graphql HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(rest) < length:
            rest += sock.recv(65536)
        return status, head.decode("latin-1").lower(), rest


def test_a_caller_over_its_rate_is_refused_before_its_body_is_read(
    resolved_city: City, tmp_path: Path, over_tcp: Any
) -> None:
    settings = Settings(
        home=tmp_path, api_mode="production", api_keys_file=tmp_path / "api-keys.toml",
        api_rate_anonymous=1.0, api_rate_authenticated=1000.0,
    )  # fmt: skip
    small = json.dumps({"query": "{ me { role } }"}).encode()
    json_headers = f"Content-Type: application/json\r\nContent-Length: {len(small)}\r\n"
    with over_tcp(create_app(settings, resolved_city.store, resolved_city.catalog)) as base:
        assert _raw_post(base, json_headers, small)[0] == 200
        statuses = [_raw_post(base, json_headers, small)[0] for _ in range(3)]
        assert statuses[-1] == 429, statuses  # the bucket (1/s, 2 s of burst) is spent
        # 50 MB declared, 10 bytes sent: answered at once, without waiting for (or reading) the rest
        big = "Content-Type: application/json\r\nContent-Length: 50000000\r\n"
        started = time.monotonic()
        status, head, body = _raw_post(base, big, b'{"query": ')
        assert (status, json.loads(body)["errors"][0]["extensions"]["code"]) == (429, "RATE_LIMITED")
        assert "connection: close" in head and "retry-after" in head
        assert time.monotonic() - started < 2
        # a wrong key is no way round the address's limit: counted as anonymous, refused as such
        wrong = json_headers + "X-API-Key: eg_not_a_key\r\n"
        status, head, body = _raw_post(base, wrong, small)
        assert status == 429 and "connection: close" not in head  # a small body is read: kept alive
    with over_tcp(create_app(settings, resolved_city.store, resolved_city.catalog)) as base:
        status, _, body = _raw_post(base, json_headers + "X-API-Key: eg_not_a_key\r\n", small)
        assert status == 401  # within its rate, a wrong key is told why


# -- 1: the store's time limit ----------------------------------------------------------------------


@strawberry.type
class _SlowQuery(Query):
    @strawberry.field
    async def endless(self, info: strawberry.Info) -> int:
        rows = await info.context.in_thread(
            info.context.store.read,
            "UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b UNWIND range(1, 3000) AS c "
            "RETURN count(*) AS n",
        )
        return rows[0]["n"]


def test_a_read_past_the_store_limit_is_timeout_and_frees_the_store(
    resolved_city: City, shared_server: EmbeddedServer, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    store = FalkorDBStore(resolved_city.store.graph_name, server=shared_server, read_timeout_ms=200)
    settings = Settings(home=tmp_path, api_mode="production", api_keys_file=tmp_path / "api-keys.toml")
    app = create_app(settings, store, resolved_city.catalog, query=_SlowQuery)
    try:
        with TestClient(app) as client:
            started = time.monotonic()
            body = client.post("/graphql", json={"query": "{ endless }"}).json()
            assert body["errors"][0]["extensions"]["code"] == "TIMEOUT", body
            assert "time limit (200 ms)" in body["errors"][0]["message"]
            assert time.monotonic() - started < 30  # the cube has 2.7e10 rows: stopped, not finished
            assert client.post("/graphql", json={"query": "{ me { role } }"}).json() == {
                "data": {"me": {"role": "PUBLIC"}}
            }
            listed = client.post("/graphql", json={"query": "{ enterprises(first: 2) { totalCount } }"})
            assert "errors" not in listed.json()  # the store answers again
    finally:
        store.close()

"""The console's files, checked without a browser: every GraphQL document it sends is valid against the
schema and within the API's default limits, every interface string exists in both languages, the
vendored libraries are the ones recorded, and the files are served with their security headers."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import strawberry
from fastapi.testclient import TestClient
from graphql import parse, validate

from entgraph.api import persisted_queries
from entgraph.api.app import create_app
from entgraph.api.console import STATIC
from entgraph.api.limits import Limits, measure
from entgraph.api.schema import Mutation, Query
from entgraph.catalog.registry import Catalog
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

JS = STATIC / "js"


def console_documents() -> dict[str, str]:
    """The documents of queries.js, as the server registers them (persisted queries)."""
    return persisted_queries.console_documents(JS / "queries.js")


def test_queries_js_holds_every_document_the_pages_send() -> None:
    documents = console_documents()
    used = set()
    for path in JS.rglob("*.js"):
        used |= set(re.findall(r"\bQ\.([A-Z_]+)\b", path.read_text(encoding="utf-8")))
    assert used, "the pages send documents from queries.js"
    assert used <= set(documents), f"pages use documents queries.js lacks: {used - set(documents)}"
    # No page writes its own document inline: every gql( call takes a Q. constant (the steward page's
    # run(label, mutation, ...) helper is handed one).
    for path in (JS / "pages").glob("*.js"):
        calls = re.findall(r"\bgql(?:Strict)?\(\s*([^,)\s]+)", path.read_text(encoding="utf-8"))
        assert all(c.startswith("Q.") or c == "mutation" for c in calls), (path.name, calls)
        runs = re.findall(r"\brun\([^,]+,\s*([^,\s]+),", path.read_text(encoding="utf-8"))
        assert all(r.startswith("Q.") for r in runs), (path.name, runs)


@pytest.mark.parametrize("name", sorted(console_documents()))
def test_each_document_is_valid_and_within_the_default_limits(name: str) -> None:
    schema = strawberry.Schema(query=Query, mutation=Mutation)._schema
    document = parse(console_documents()[name])
    assert validate(schema, document) == [], name
    limits = Limits()  # what a production server enforces unless configured otherwise
    for operation, m in measure(schema, document).items():
        assert m.depth <= limits.max_depth, (operation, m)
        assert m.aliases <= limits.max_aliases, (operation, m)
        assert m.cost <= limits.max_cost, (operation, m)


def _strings(language: str) -> dict[str, str]:
    text = (JS / "i18n.js").read_text(encoding="utf-8")
    block = re.search(rf"^const {language} = \{{(.*?)^\}};", text, re.S | re.M)
    assert block, language
    pairs = re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$', block.group(1), re.M)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"{language}: a key is defined twice"
    return dict(pairs)


def test_every_interface_string_exists_in_chinese_and_english() -> None:
    zh, en = _strings("zh"), _strings("en")
    assert len(zh) > 200
    assert set(zh) == set(en), {"only zh": set(zh) - set(en), "only en": set(en) - set(zh)}
    used: set[str] = set()
    for path in JS.rglob("*.js"):
        used |= set(re.findall(r'\bt\("([^"]+)"', path.read_text(encoding="utf-8")))
    assert used - set(zh) == set(), "keys used but not defined"
    # Placeholders match: a translation must not drop the {count} the other one shows.
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_vendored_libraries_are_the_recorded_npm_files() -> None:
    manifest = json.loads((STATIC / "vendor" / "vendored.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"echarts.min.js", "cytoscape.min.js"}
    for name, entry in manifest["files"].items():
        data = (STATIC / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{name} differs from {entry['package']}"
        assert entry["version"].encode() in data, f"{name} does not say it is version {entry['version']}"
    # Licences travel with the code.
    for notice in ("LICENSE-echarts.txt", "NOTICE-echarts.txt", "LICENSE-cytoscape.txt"):
        assert (STATIC / "vendor" / notice).stat().st_size > 100


def test_index_loads_only_files_that_exist_and_nothing_from_elsewhere() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        if source.startswith("data:"):
            continue
        assert "//" not in source, f"{source}: the console must work offline (no CDN)"
        assert (STATIC / source).is_file(), source
    for path in JS.rglob("*.js"):
        for imported in re.findall(r'from "(\.[^"]+)"', path.read_text(encoding="utf-8")):
            assert (path.parent / imported).resolve().is_file(), (path.name, imported)


def test_the_consoles_modules_import_one_way() -> None:
    """main.js wires the pages; pages and helpers never import it back, and no modules import in a
    circle (a circle of ES modules runs one of them half-initialised)."""
    imports = {
        path.resolve(): [
            (path.parent / imported).resolve()
            for imported in re.findall(r'from "(\.[^"]+)"', path.read_text(encoding="utf-8"))
        ]
        for path in JS.rglob("*.js")
    }
    main = (JS / "main.js").resolve()
    assert all(main not in targets for targets in imports.values())
    done: set[Path] = set()

    def visit(module: Path, trail: tuple[Path, ...]) -> None:
        assert module not in trail, " -> ".join(p.name for p in (*trail, module))
        if module not in done:
            for target in imports.get(module, []):
                visit(target, (*trail, module))
            done.add(module)

    for module in imports:
        visit(module, ())


def _client(store: FalkorDBStore, tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(home=tmp_path, api_keys_file=tmp_path / "keys.toml", **overrides)
    return TestClient(create_app(settings, store, Catalog.load(entry_points=False)))


def test_served_at_console_with_security_headers(fresh_graph: GraphStore, tmp_path: Path) -> None:
    with _client(fresh_graph, tmp_path) as client:
        root = client.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/console/"
        page = client.get("/console/")
        assert page.status_code == 200 and "js/main.js" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        script = client.get("/console/js/main.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert client.get("/console/../api/app.py").status_code == 404


def test_the_console_can_be_turned_off(fresh_graph: GraphStore, tmp_path: Path) -> None:
    with _client(fresh_graph, tmp_path, api_console=False) as client:
        assert client.get("/console/").status_code == 404
        assert client.get("/", follow_redirects=False).status_code == 404
        me = client.post("/graphql", json={"query": "{ me { role } }"}).json()
        assert me["data"]["me"]["role"] == "PUBLIC"  # the API itself still answers

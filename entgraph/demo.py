"""``entgraph demo``: the platform end to end on the embedded store.

Generates a synthetic 晋江 (enterprises, their department files with real-world noise, and the truth),
loads every file, resolves the records to canonical enterprises, scores the result against the truth,
and shows one enterprise's golden record and the stewards' queue. Rerunning it is cheap: files load
unchanged and nothing is pending, which is itself part of what it shows.
"""

from __future__ import annotations

import json

import typer

from entgraph.errors import EntgraphError
from entgraph.graph import PLATFORM_SCHEMA, open_store
from entgraph.graph import resolution_writer as rw
from entgraph.loaders.engine import Loader
from entgraph.loaders.registry import Catalog
from entgraph.loaders.synthetic import generate_city
from entgraph.resolution.evaluate import ambiguous_beside, evaluate, read_truth
from entgraph.resolution.export import export_links, link_rows
from entgraph.resolution.resolver import Bands, Resolver
from entgraph.settings import Settings


def run_demo(settings: Settings, enterprises: int = 1000, seed: int = 1) -> None:
    city = settings.home / f"demo-city-{enterprises}-{seed}"
    catalog = Catalog.load(settings.spec_dirs)
    typer.echo(f"1/8 graph store: {settings.graph}, data under {settings.home.absolute()}")
    if not (city / "truth" / "manifest.json").exists():
        typer.echo(f"2/8 generating a synthetic 晋江 with {enterprises} enterprises in {city}")
        generate_city(enterprises, seed=seed, out_dir=city)
    else:
        typer.echo(f"2/8 using the synthetic city generated before in {city}")
    files = sorted(p for p in city.iterdir() if p.is_file())
    with open_store(settings) as store:
        store.ensure_schema(PLATFORM_SCHEMA)
        loader = Loader(store, catalog, settings.report_dir)
        totals = {"read": 0, "loaded": 0, "refused": 0, "unchanged": 0, "failed": 0}
        for path in files:
            try:
                result = loader.load(path)
            except EntgraphError as exc:
                totals["failed"] += 1
                typer.echo(f"    {path.name}: refused: {exc}", err=True)
                continue
            totals["read"] += result.rows_read
            totals["loaded"] += result.loaded
            totals["refused"] += result.rejected
            totals["unchanged"] += result.unchanged
        typer.echo(
            f"3/8 loaded {len(files)} department files: {totals['read']} rows read, {totals['loaded']} "
            f"loaded, {totals['unchanged']} unchanged, {totals['refused']} refused (see the .xlsx reports "
            f"in {settings.report_dir})"
        )
        bands = Bands(link=settings.link_threshold, review=settings.review_threshold)
        summary = Resolver(store, catalog, settings.model_path, bands, threads=settings.threads).run()
        typer.echo(f"4/8 resolved: {summary.line()}")
        truth = city / "truth" / "truth.csv"
        result = evaluate(read_truth(truth), link_rows(store, catalog), ambiguous=ambiguous_beside(truth))
        typer.echo(
            f"5/8 against the truth, records without a valid credit code: pairwise precision "
            f"{result.pairwise_precision:.4f}, recall {result.pairwise_recall:.4f}; "
            f"{result.steward_share:.1%} sent to stewards"
        )
        out = settings.home / "links.csv"
        export_links(store, catalog, out)
        _show_one(store)
        tasks = rw.tasks(store, "open")
        typer.echo(f"    {len(tasks)} steward tasks open (entgraph steward tasks); links exported to {out}")
    typer.echo("The store keeps running; stop it with: entgraph store stop")


def _show_one(store) -> None:
    """The golden record of the enterprise with the most records, with where each value came from."""
    rows = store.read(
        "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise) WHERE e.merged_into IS NULL "
        "WITH e, count(r) AS n ORDER BY n DESC LIMIT 1 RETURN e AS e, n AS n"
    )
    if not rows:
        return
    e, n = dict(rows[0]["e"]), rows[0]["n"]
    sources = json.loads(e.get("golden_sources") or "{}")
    typer.echo(f"6/8 {e['id']} {e.get('name')}: {n} records from departments; its golden record:")
    for field in ("name", "legal_rep", "town", "address", "industry_code", "status"):
        if field in sources:
            typer.echo(f"      {field:<14} {e.get(field)!s:<30} from {sources[field][1]}")


# Printed at the end of the demo; tests check that each is a valid query of the served schema.
EXAMPLE_QUERIES = (
    '{ enterprises(search: "鞋业", first: 3) { totalCount edges { node { id name town } } } }',
    """{ enterprise(id: "E-...") { name goldenRecord { field value dataset }
      sourceRecords { dataset fileName row } branches { name } honours { kind }
      chains { name position year } related { reason enterprise { name } } } }""",
    """{ enterprises(filter: {honour: "高新技术企业"}, sort: {field: REGISTERED_CAPITAL, direction: DESC},
      first: 5) { edges { node { name registeredCapital } } } }""",
    """{ industryChains { name years segments { position enterpriseCount }
      aggregates(by: SEGMENT) { position enterprises tax } } }""",
    "{ feedStatus { dataset title lastPeriod status } }",
    """{ enterprise(id: "E-...") { name meters { meterId via lastReadingAt
      series(interval: HOUR) { unit points { start value quality } } } warnings { rule messageZh status }
      metrics(names: ["electricity_kwh"]) { dataset points { period value } } } }""",
    '{ warnings(town: "...", first: 5) { totalCount edges { node { rule period messageZh status } } } }',
)
STEWARD_QUERY = "{ stewardTasks(first: 5) { id name impact candidates { probability enterprise { name } } } }"
EXAMPLES = (
    'Example queries (GraphiQL at http://127.0.0.1:{port}/graphql, or curl -d \'{{"query": "..."}}\'):\n\n'
    + "\n".join("  " + q.replace("{", "{{").replace("}", "}}") for q in EXAMPLE_QUERIES)
    + "\n\nAnonymous callers see what the catalog opens to the public: personal fields, meters, warnings,"
    " the chain register and facts only conditionally shared datasets state are hidden from them (an"
    " analyst's key sees those); stewardship needs a steward's key:\n"
    "  entgraph api-key create --role steward --name me     (send it as the header X-API-Key: <key>)\n  "
    + STEWARD_QUERY.replace("{", "{{").replace("}", "}}")
    + "\n"
)


def print_example_queries(port: int) -> None:
    typer.echo(EXAMPLES.format(port=port))


# The console's demo logins: one API key per role, made afresh on each run (only their hashes are kept,
# so the keys of an earlier run cannot be shown again) and revoked by the next run.
DEMO_ROLES = ("analyst", "steward", "admin")


def demo_logins(settings: Settings) -> dict[str, str]:
    from entgraph.api.auth import ApiKeyFile, Role

    keys = ApiKeyFile(settings.api_keys_path)
    made = {}
    for role in DEMO_ROLES:
        name = f"demo-{role}"
        keys.revoke(name)
        made[role] = keys.create(Role.parse(role), name)
    return made


def print_console(port: int, logins: dict[str, str]) -> None:
    from entgraph.api.console import console_url

    typer.echo(
        f"Web console: {console_url('127.0.0.1', port)}  (browse as the public, or log in with a key:)"
    )
    for role, key in logins.items():
        typer.echo(f"  {role:<8} {key}")
    typer.echo("")

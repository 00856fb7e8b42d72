"""``entgraph demo``: the platform end to end on the embedded store.

Generates a synthetic 晋江 (enterprises, their department files with real-world noise, and the truth),
loads every file, resolves the records to canonical enterprises, scores the result against the truth,
and shows one enterprise's golden record and the stewards' queue. Rerunning it is cheap: files load
unchanged and nothing is pending, which is itself part of what it shows. Every summary line adds up:
what it counts is split into parts that sum to it, or it says what the rest is.
"""

from __future__ import annotations

import typer

from entgraph.catalog.registry import Catalog
from entgraph.display import pad
from entgraph.errors import EntgraphError
from entgraph.graph import PLATFORM_SCHEMA, open_store, showcase, task_queries
from entgraph.loaders.engine import Loader, LoadResult
from entgraph.resolution import verification
from entgraph.resolution.evaluate import ambiguous_beside, evaluate, read_truth
from entgraph.resolution.export import export_links, link_rows
from entgraph.resolution.resolver import Bands, Resolver
from entgraph.settings import Settings
from entgraph.synthetic import generate_city

GOLDEN_SHOWN = ("name", "legal_rep", "town", "address", "industry_code", "status")


def run_demo(settings: Settings, enterprises: int = 1000, seed: int = 1) -> str | None:
    """Steps 1-6; returns the id of the enterprise it showed (for the examples), if any."""
    city = settings.home / f"demo-city-{enterprises}-{seed}"
    catalog = Catalog.load(settings.spec_dirs)
    typer.echo(f"1/8 graph store: {settings.graph}, data under {settings.home.absolute()}")
    if not (city / "truth" / "manifest.json").exists():
        typer.echo(f"2/8 generating a synthetic 晋江 with {enterprises} enterprises in {city}")
        generate_city(
            enterprises,
            seed=seed,
            out_dir=city,
            progress=lambda done, total, _f: _every(done, total, "written"),
        )
    else:
        typer.echo(f"2/8 using the synthetic city generated before in {city}")
    files = sorted(p for p in city.iterdir() if p.is_file())
    with open_store(settings) as store:
        store.ensure_schema(PLATFORM_SCHEMA)
        loader = Loader(store, catalog, settings.report_dir)
        results: list[LoadResult] = []
        for k, path in enumerate(files, start=1):
            _every(k - 1, len(files), "loaded")
            try:
                results.append(loader.load(path))
            except EntgraphError as exc:
                typer.echo(f"    {path.name}: refused whole: {exc}", err=True)
        typer.echo(f"3/8 {load_line(results, len(files))} (reports in {settings.report_dir})")
        bands = Bands(link=settings.link_threshold, review=settings.review_threshold)
        resolver = Resolver(
            store,
            catalog,
            settings.model_path,
            bands,
            threads=settings.threads,
            progress=lambda phase: typer.echo(f"    {phase} ...", err=True),
        )
        summary = resolver.run()
        typer.echo(f"4/8 resolved: {summary.line()}")
        typer.echo(f"    towns' cross-checks (核实比对): {verification.refresh(store, catalog).line()}")
        truth = city / "truth" / "truth.csv"
        result = evaluate(read_truth(truth), link_rows(store, catalog), ambiguous=ambiguous_beside(truth))
        typer.echo(
            f"5/8 against the truth ({truth}), on its {result.codeless:,} records without a valid "
            f"credit code: pairwise precision {result.pairwise_precision:.4f}, recall "
            f"{result.pairwise_recall:.4f}; {result.steward_share:.1%} of them await a steward"
        )
        out = settings.home / "links.csv"
        export_links(store, catalog, out)
        shown = _show_one(store)
        tasks = task_queries.tasks(store, "open")
        typer.echo(f"    {len(tasks)} steward tasks open (entgraph steward tasks); links exported to {out}")
    return shown


def _every(done: int, total: int, what: str) -> None:
    """A line every quarter of the files, on stderr: a minute of silence looks hung."""
    if done and (done % max(total // 4, 1) == 0 or done == total):
        typer.echo(f"    {done}/{total} files {what}", err=True)


def load_line(results: list[LoadResult], files: int) -> str:
    """read = loaded + unchanged + refused + duplicates + skipped, summed over the files."""

    def total(attribute: str) -> int:
        return sum(getattr(r, attribute) for r in results)

    whole = files - len(results)
    return (
        f"loaded {files} department files"
        + (f" ({whole} refused whole)" if whole else "")
        + f": {total('rows_read'):,} rows read = {total('loaded'):,} loaded + {total('unchanged'):,} "
        f"unchanged + {total('rejected'):,} refused + {total('duplicates'):,} duplicates (a later row "
        f"with the same key wins) + {total('skipped'):,} skipped (blank, totals, hidden sheets)"
    )


def _show_one(store) -> str | None:
    """The golden record of the enterprise with the most records, with where each value came from."""
    import json

    found = showcase.most_documented_enterprise(store)
    if found is None:
        return None
    e, n = found
    sources = json.loads(e.get("golden_sources") or "{}")
    typer.echo(f"6/8 {e['id']} {e.get('name')}: {n} records from departments; its golden record:")
    for field in GOLDEN_SHOWN:
        if field in sources:
            typer.echo(f"      {pad(field, 14)} {pad(e.get(field), 30)} from {sources[field][1]}")
    return str(e["id"])


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

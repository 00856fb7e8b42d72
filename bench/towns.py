"""What the towns' work costs as the city grows: refreshing the cross-checks and a town's dashboard.

    python -m bench.towns [--small 500] [--large 2000]

Builds two synthetic cities (generated, loaded, resolved, meters attached: ``build_city``), then on
each times a refresh of every town's cross-check lists (``verification.refresh``), reading a town's
list, and the dashboard of its largest town (``town_dashboard.assemble``). Baselines from the same
run: the resolve of the same city (the refresh follows every resolve in the worker, so it should be a
small share of it), and the small city (cost per enterprise at the large size over the small one: 1.0
is linear).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from entgraph.api.auth import Role
from entgraph.api.town_dashboard import assemble
from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import fresh_falkordb
from entgraph.graph import EmbeddedServer
from entgraph.loaders.engine import Loader
from entgraph.resolution import verification
from entgraph.resolution.resolver import Resolver
from entgraph.synthetic import generate_city
from entgraph.telemetry import meter_registry


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = work()
    return time.perf_counter() - started, out


def measure(server: EmbeddedServer, root: Path, enterprises: int) -> dict[str, float]:
    store = fresh_falkordb(server, f"towns{enterprises}")
    catalog = Catalog.load(entry_points=False)
    files = root / f"city{enterprises}"
    generate_city(enterprises, seed=5, out_dir=files)
    loader = Loader(store, catalog, root / "reports")
    for path in sorted(p for p in files.iterdir() if p.is_file()):
        loader.load(path)
    resolve, _ = _timed(lambda: Resolver(store, catalog, root / f"model{enterprises}.json").run())
    meter_registry.sync(store, catalog)
    refresh, summary = _timed(lambda: verification.refresh(store, catalog))
    round_ = verification.current_round()
    rows = store.read(
        "MATCH (e:Enterprise) WHERE e.town IS NOT NULL RETURN e.town AS t, count(*) AS n ORDER BY n DESC"
    )
    town = rows[0]["t"]
    listing, _ = _timed(lambda: verification.listing(store, town, round_))
    dashboard, _ = _timed(lambda: assemble(store, catalog, Role.ANALYST, town, None, 6))
    store.clear()
    store.close()
    return {
        "enterprises": enterprises,
        "items": summary.items,  # type: ignore[attr-defined]
        "resolve_s": resolve,
        "refresh_s": refresh,
        "listing_s": listing,
        "dashboard_s": dashboard,
        "town_enterprises": rows[0]["n"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "server")
        server.ensure_running()
        try:
            small = measure(server, Path(tmp), args.small)
            large = measure(server, Path(tmp), args.large)
        finally:
            server.stop()
    for run in (small, large):
        print(
            f"{run['enterprises']:>6} enterprises: {run['items']} items; refresh {run['refresh_s']:.2f} s "
            f"({run['refresh_s'] / run['resolve_s']:.1%} of the resolve, {run['resolve_s']:.1f} s); "
            f"a town's list {run['listing_s'] * 1000:.0f} ms; dashboard of {run['town_enterprises']} "
            f"enterprises {run['dashboard_s'] * 1000:.0f} ms"
        )
    refresh = (large["refresh_s"] / large["enterprises"]) / (small["refresh_s"] / small["enterprises"])
    board = (large["dashboard_s"] / large["town_enterprises"]) / (
        small["dashboard_s"] / small["town_enterprises"]
    )
    print(
        f"growth, large over small per enterprise: refresh {refresh:.2f}, dashboard {board:.2f} (1.0: linear)"
    )


if __name__ == "__main__":
    main()

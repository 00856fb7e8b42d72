"""The ``entgraph`` command. Each package contributes its own sub-commands; this file only wires them."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from entgraph.api.cli import api_key_app, api_token_command, serve_command
from entgraph.errors import EntgraphError
from entgraph.graph.cli import store_app
from entgraph.loaders.cli import feeds_app, load_command
from entgraph.loaders.synthetic.cli import generate_command
from entgraph.resolution.cli import evaluate_command, export_app, resolve_command, steward_app
from entgraph.settings import Settings
from entgraph.telemetry.cli import telemetry_app

if TYPE_CHECKING:
    from entgraph.demo_services import DemoServices

app = typer.Typer(
    help="entgraph: entity resolution and a knowledge graph for a city's enterprise data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(store_app, name="store")
app.add_typer(feeds_app, name="feeds")
app.command("load")(load_command)
app.command("generate")(generate_command)
app.command("resolve")(resolve_command)
app.command("evaluate")(evaluate_command)
app.add_typer(export_app, name="export")
app.add_typer(steward_app, name="steward")
app.command("serve")(serve_command)
app.add_typer(api_key_app, name="api-key")
app.command("api-token")(api_token_command)
app.add_typer(telemetry_app, name="telemetry")


@app.callback()
def _root(ctx: typer.Context) -> None:
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise EntgraphError(f"bad setting ({problems}); fix the ENTGRAPH_* environment variable") from None


@app.command()
def demo(
    ctx: typer.Context,
    enterprises: int = typer.Option(1000, min=50, help="Size of the synthetic city."),
    seed: int = typer.Option(1, help="Seed of the synthetic city."),
    serve: bool = typer.Option(True, help="End by serving the GraphQL API on the demo city."),
    telemetry: bool = typer.Option(True, help="Run the meters: broker, ingester, simulator, warnings."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port for the API."),
) -> None:
    """Run the platform end to end: generate a city, load its files, resolve, evaluate, serve.

    What the demo starts (the graph store, the MQTT broker, the ingester and simulator) it stops when
    it ends, Ctrl-C included; what was running before it is left running."""
    from entgraph.demo import demo_logins, print_console, run_demo
    from entgraph.demo_examples import DemoFacts, print_examples
    from entgraph.demo_services import DemoServices

    settings = ctx.obj
    with DemoServices(settings) as services, contextlib.ExitStack() as background:
        services.note_store()
        shown = run_demo(settings, enterprises, seed)
        metered, town = None, None
        if telemetry:
            metered, town = _demo_telemetry(settings, services, background)
        else:
            typer.echo("7/8 and 8/8 skipped: --no-telemetry (meters, MQTT, warnings)")
        typer.echo(
            "Feeds on time? The department files as of the city's data (spring 2023), the meters live:"
        )
        typer.echo("  $ entgraph feeds status --as-of 2023-05-01")
        typer.echo("  $ entgraph feeds status --department 企业（设备采集）")
        if not serve:
            typer.echo(
                f"Not serving (--no-serve). To serve this city later: entgraph store start, then entgraph "
                f"serve --port {port} (queries in docs/api.md). The stewards' queue:"
            )
            typer.echo("  $ entgraph steward tasks")
            return
        logins = demo_logins(settings)
        print_examples(DemoFacts(shown, metered, town), port, logins)
        if settings.api_console:
            print_console(port, logins)
        from entgraph.api.cli import serve_command

        serve_command(ctx, host="127.0.0.1", port=port, workers=1)


def _demo_telemetry(
    settings: Settings, services: DemoServices, background: contextlib.ExitStack
) -> tuple[str | None, str | None]:
    """Steps 7-8; without mosquitto they are skipped, saying how to enable them, and the demo goes on.
    Returns a metered enterprise's id and the town with most warnings, for the examples."""
    from entgraph.demo_telemetry import Telemetry
    from entgraph.graph import open_store, showcase
    from entgraph.telemetry.broker import BrokerUnavailable

    services.note_broker()
    try:
        background.enter_context(Telemetry(settings)).start()
    except BrokerUnavailable as exc:
        typer.echo(f"7/8 MQTT telemetry and 8/8 warnings skipped: {exc}; the rest goes on")
        return None, None
    with open_store(settings) as store:
        return showcase.metered_enterprise(store), showcase.busiest_warning_town(store)


@app.command("export-schema")
def export_schema(
    out: str = typer.Option("schema.graphql", help="Where to write the SDL."),
    check: bool = typer.Option(False, help="Exit 1 if the file differs from the code instead of writing."),
) -> None:
    """Write the GraphQL SDL exported from the code (schema.graphql at the repository root)."""
    from pathlib import Path

    from entgraph.api.schema import schema_sdl

    sdl = schema_sdl()
    path = Path(out)
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != sdl:
            typer.echo(f"{path} is out of date; run: entgraph export-schema --out {path}", err=True)
            raise typer.Exit(1)
        typer.echo(f"{path} matches the code")
        return
    path.write_text(sdl, encoding="utf-8")
    typer.echo(f"wrote {path}")


def main() -> None:
    try:
        app()
    except EntgraphError as exc:
        # Expected failures: one sentence, no traceback.
        typer.echo(f"entgraph: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("entgraph: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # python -m entgraph.cli (the demo starts its background commands so)
    main()

"""The ``entgraph`` command. Each package contributes its own sub-commands; this file only wires them."""

from __future__ import annotations

import contextlib
import sys

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
    """Run the platform end to end: generate a city, load its files, resolve, evaluate, serve."""
    from entgraph.demo import demo_logins, print_console, print_example_queries, run_demo

    run_demo(ctx.obj, enterprises, seed)
    with contextlib.ExitStack() as background:
        if telemetry:
            from entgraph.demo_telemetry import Telemetry

            background.enter_context(Telemetry(ctx.obj)).start()
        print_example_queries(port)
        if serve and ctx.obj.api_console:
            print_console(port, demo_logins(ctx.obj))
        if serve:
            from entgraph.api.cli import serve_command

            serve_command(ctx, host="127.0.0.1", port=port, workers=1)


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

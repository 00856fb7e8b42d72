"""The ``entgraph`` command. Each package contributes its own sub-commands; this file only wires them."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import TYPE_CHECKING, Any

import click
import typer
from typer.core import TyperGroup

from entgraph.errors import EntgraphError

if TYPE_CHECKING:
    from entgraph.demo_services import DemoServices
    from entgraph.settings import Settings

# Sub-commands by name: (module, attribute: a Typer app or a command function, short help). Their
# modules are imported only when the sub-command runs (or asks for its own --help): importing them all
# (Splink, DuckDB, FalkorDB, Strawberry, the spreadsheet readers) took a second and more before any
# command did anything, `entgraph --help` included. tests/test_cli_startup.py keeps the help in step.
LAZY: dict[str, tuple[str, str, str]] = {
    "store": ("entgraph.graph.cli", "store_app", "Start, stop and check the graph store."),
    "feeds": (
        "entgraph.loaders.cli",
        "feeds_app",
        "The catalog of department feeds and their reporting timeliness.",
    ),
    "load": (
        "entgraph.loaders.cli",
        "load_command",
        "Load department files: validate every row, write records with provenance, report refused rows.",
    ),
    "worker": (
        "entgraph.worker_cli",
        "worker_command",
        "Load the files and batches submitted over HTTP and in the console, then resolve what was loaded.",
    ),
    "generate": (
        "entgraph.synthetic.cli",
        "generate_command",
        "Generate a synthetic 晋江: one file per dataset spec plus truth.csv, bad_rows.csv, enterprises.csv.",
    ),
    "resolve": (
        "entgraph.resolution.cli",
        "resolve_command",
        "Link pending records to canonical enterprises (codes first, then Splink, then stewards).",
    ),
    "evaluate": (
        "entgraph.resolution.cli",
        "evaluate_command",
        "Pairwise and B-cubed precision/recall of resolution against known truth.",
    ),
    "export": ("entgraph.resolution.cli", "export_app", "Export what the platform knows."),
    "steward": (
        "entgraph.resolution.cli",
        "steward_app",
        "Data stewards: review uncertain matches, link, merge, split, undo.",
    ),
    "serve": (
        "entgraph.api.cli",
        "serve_command",
        "Run the GraphQL API (uvicorn): /graphql, /healthz, /readyz.",
    ),
    "api-key": ("entgraph.api.cli", "api_key_app", "Create, list and revoke API keys (X-API-Key)."),
    "api-token": (
        "entgraph.api.cli",
        "api_token_command",
        "Print a signed bearer token (HS256, ENTGRAPH_API_JWT_SECRET); for development and testing.",
    ),
    "telemetry": (
        "entgraph.telemetry.cli",
        "telemetry_app",
        "Meter telemetry over MQTT: broker, ingester, simulator, warnings.",
    ),
}


def load_command(name: str) -> click.Command:
    """The click command of a lazy sub-command, its module imported now."""
    module, attribute, _ = LAZY[name]
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # a group even with one sub-command (export links)
    else:  # a command function: a one-command app collapses to the command itself
        single = typer.Typer(pretty_exceptions_show_locals=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: its own commands, then the lazy ones, loaded when they run. While it lists its
    commands for ``--help`` it shows each lazy one by its short help alone."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in LAZY:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return click.Command(cmd_name, help=LAZY[cmd_name][2])
        self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
    help="entgraph: entity resolution and a knowledge graph for a city's enterprise data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    from pydantic import ValidationError

    from entgraph.settings import Settings

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
    out: str | None = typer.Option(None, help="Where to write (schema.graphql, or docs/openapi.json)."),
    check: bool = typer.Option(False, help="Exit 1 if the file differs from the code instead of writing."),
    openapi: bool = typer.Option(False, "--openapi", help="The OpenAPI of uploads and docking instead."),
) -> None:
    """Write the GraphQL SDL (schema.graphql) or, with --openapi, the HTTP routes' OpenAPI
    (docs/openapi.json), exported from the code."""
    from pathlib import Path

    if openapi:
        from entgraph.api.app import openapi_document

        sdl, path = openapi_document(), Path(out or "docs/openapi.json")
    else:
        from entgraph.api.schema import schema_sdl

        sdl, path = schema_sdl(), Path(out or "schema.graphql")
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != sdl:
            flag = " --openapi" if openapi else ""
            typer.echo(f"{path} is out of date; run: entgraph export-schema{flag} --out {path}", err=True)
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

"""``entgraph store ...``: run and inspect the embedded graph store."""

from __future__ import annotations

import typer

from entgraph.graph.connect import embedded_server, open_store
from entgraph.graph.model import PLATFORM_SCHEMA
from entgraph.settings import Settings

store_app = typer.Typer(help="Start, stop and check the graph store.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


@store_app.command("start")
def start(ctx: typer.Context) -> None:
    """Start the embedded FalkorDB server (no-op when it already runs) and bootstrap the schema."""
    settings = _settings(ctx)
    _require_embedded(settings, "start")
    info = embedded_server(settings).ensure_running()
    with open_store(settings) as store:
        store.ensure_schema(PLATFORM_SCHEMA)
    where = f"unix socket {info.socket}" if info.socket else f"127.0.0.1:{info.port}"
    typer.echo(f"store running: pid {info.pid}, {where}, data in {settings.home.absolute() / 'falkordb'}")


@store_app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server; its data stays on disk."""
    settings = _settings(ctx)
    _require_embedded(settings, "stop")
    if embedded_server(settings).stop():
        typer.echo("store stopped")
    else:
        typer.echo("store was not running")


@store_app.command("status")
def status(ctx: typer.Context) -> None:
    """Say whether the store answers; exit code 1 when it does not."""
    settings = _settings(ctx)
    if settings.graph.strip() == "embedded":
        state = embedded_server(settings).status()
        if not state.running:
            typer.echo(f"store {state.detail}; data in {state.dir}")
            raise typer.Exit(1)
    # A status check never starts the store, not even if it went away since the check above.
    with open_store(settings, start=False) as store:
        health = store.health()
    if not health.ok:
        typer.echo(f"store not answering: {health.detail}")
        raise typer.Exit(1)
    facts = ", ".join(f"{k} {_fmt(v)}" for k, v in health.facts.items() if v is not None)
    typer.echo(f"store running: {health.location}; {facts}")


def _require_embedded(settings: Settings, verb: str) -> None:
    if settings.graph.strip() != "embedded":
        typer.echo(
            f"ENTGRAPH_GRAPH={settings.graph!r} is a server entgraph does not run; "
            f"nothing to {verb} (use 'entgraph store status' to check it)",
            err=True,
        )
        raise typer.Exit(2)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)

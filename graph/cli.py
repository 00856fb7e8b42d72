"""``entgraph store ...``: run and inspect the embedded graph store."""

from __future__ import annotations

import typer

from entgraph.graph.connect import managed_server, open_store, runs_embedded
from entgraph.graph.model import PLATFORM_SCHEMA
from entgraph.settings import Settings

store_app = typer.Typer(help="Start, stop and check the graph store.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


@store_app.command("start")
def start(ctx: typer.Context) -> None:
    """Start the embedded store (FalkorDB, or Neo4j with ENTGRAPH_GRAPH=neo4j-embedded; no-op when it
    already runs) and bootstrap the schema."""
    settings = _settings(ctx)
    _require_embedded(settings, "start")
    server = managed_server(settings)
    info = server.ensure_running()
    with open_store(settings) as store:
        store.ensure_schema(PLATFORM_SCHEMA)
    socket = getattr(info, "socket", None)
    where = f"unix socket {socket}" if socket else f"127.0.0.1:{info.port}"
    typer.echo(f"store running: pid {info.pid}, {where}, data in {server.dir}")


@store_app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server; its data stays on disk."""
    settings = _settings(ctx)
    _require_embedded(settings, "stop")
    if managed_server(settings).stop():
        typer.echo("store stopped")
    else:
        typer.echo("store was not running")


@store_app.command("status")
def status(ctx: typer.Context) -> None:
    """Say whether the store answers; exit code 1 when it does not."""
    settings = _settings(ctx)
    if runs_embedded(settings):
        state = managed_server(settings).status()
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
    if not runs_embedded(settings):
        typer.echo(
            f"ENTGRAPH_GRAPH={settings.graph!r} is a server entgraph does not run; "
            f"nothing to {verb} (use 'entgraph store status' to check it)",
            err=True,
        )
        raise typer.Exit(2)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)

"""``entgraph serve``, ``entgraph api-key ...`` and ``entgraph api-token``: run the API and let callers in.

The API's modules (Strawberry, FastAPI, PyJWT) are imported inside the commands: every other
``entgraph`` command would otherwise pay for importing them at start-up.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import typer

from entgraph.errors import ConfigurationError
from entgraph.settings import Settings

if TYPE_CHECKING:
    from entgraph.api.auth import ApiKeyFile, Role

api_key_app = typer.Typer(help="Create, list and revoke API keys (X-API-Key).", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


def _keys(ctx: typer.Context) -> ApiKeyFile:
    from entgraph.api.auth import ApiKeyFile

    return ApiKeyFile(_settings(ctx).api_keys_path)


def _role(value: str) -> Role:
    from entgraph.api.auth import Role

    try:
        return Role.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _scope(ctx: typer.Context, role: Role, scope: str | None) -> str | None:
    """The scope checked against the role and the catalog (``auth.known_scope``)."""
    from entgraph.api.auth import known_scope
    from entgraph.catalog.registry import Catalog

    departments = {feed.spec.owner for feed in Catalog.load(_settings(ctx).spec_dirs)}
    try:
        return known_scope(role, scope, departments)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None


@api_key_app.command("create")
def create_key(
    ctx: typer.Context,
    role: str = typer.Option(..., help="public, analyst, steward, admin, department or enterprise."),
    name: str = typer.Option(..., help="Who or what uses the key (unique; used to revoke it)."),
    scope: str | None = typer.Option(
        None, help="department: city:department (晋江:市税务局); enterprise: its credit code."
    ),
) -> None:
    """Make a key and print it once; only its SHA-256 is stored (ENTGRAPH_API_KEYS_FILE)."""
    keys = _keys(ctx)
    key = keys.create(_role(role), name, _scope(ctx, _role(role), scope))
    typer.echo(key)
    typer.echo(
        f"API key for {name!r} ({_role(role).value}) stored as a hash in {keys.path}; "
        "this is the only time it is shown",
        err=True,
    )


@api_key_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Names, roles and creation times of the keys (the keys themselves are not stored)."""
    keys = _keys(ctx)
    entries = keys.check()
    if not entries:
        typer.echo(f"no API keys in {keys.path}")
        return
    for entry in entries:
        role = f"{entry.role.value}:{entry.scope}" if entry.scope else entry.role.value
        typer.echo(f"{entry.name}\t{role}\t{entry.created}\tsha256:{entry.digest[:12]}")


@api_key_app.command("revoke")
def revoke_key(ctx: typer.Context, name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Remove a key; a running server refuses it from its next request."""
    keys = _keys(ctx)
    if not keys.revoke(name):
        raise ConfigurationError(
            f"no API key named {name!r} in {keys.path}; `entgraph api-key list` shows them"
        )
    typer.echo(f"revoked the API key {name!r}")


def api_token_command(
    ctx: typer.Context,
    role: str = typer.Option(..., help="public, analyst, steward, admin, department or enterprise."),
    sub: str = typer.Option(..., help="Subject: who the token is for."),
    ttl: int = typer.Option(3600, min=1, help="Seconds until it expires."),
    scope: str | None = typer.Option(
        None, help="department: city:department (晋江:市税务局); enterprise: its credit code."
    ),
) -> None:
    """Print a signed bearer token (HS256, ENTGRAPH_API_JWT_SECRET); for development and testing."""
    from entgraph.api.auth import issue_token

    secret = _settings(ctx).api_jwt_secret
    if secret is None:
        raise ConfigurationError(
            "ENTGRAPH_API_JWT_SECRET is not set; set it (32+ characters) here and on the server"
        )
    typer.echo(issue_token(secret, _role(role), sub, ttl, _scope(ctx, _role(role), scope)))


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes, each with its own store connection (one per core)."
    ),
) -> None:
    """Run the GraphQL API (uvicorn): /graphql, /healthz, /readyz."""
    import uvicorn

    from entgraph.api.app import create_app
    from entgraph.graph.connect import open_store

    settings = _settings(ctx)
    _configure_logging()
    # Opened here rather than in the app's start-up so that an unreachable store is one sentence on
    # the terminal (EntgraphError), not a start-up traceback.
    # the API's reads get the store's time limit; a store that crashes is not restarted by a request
    store = open_store(settings, read_limit=True, restart=False)
    if workers > 1:
        # One process answers ~30 panoramas a second (docs/benchmarks.md): more cores need more
        # processes. Each worker builds its app from the same ENTGRAPH_* settings and opens its own
        # store connection; the embedded server is shared.
        backend = store.backend
        store.close()
        typer.echo(
            f"entgraph API ({settings.api_mode}, {workers} workers) on http://{host}:{port}/graphql; "
            f"store: {backend}",
            err=True,
        )
        from entgraph.api.serving import serve_workers

        serve_workers(host, port, workers)
        return
    try:
        app = create_app(settings, store=store)
        mode = settings.api_mode
        typer.echo(f"entgraph API ({mode}) on http://{host}:{port}/graphql; store: {store.backend}", err=True)
        # Our middleware writes the access log (as JSON, with the request id): uvicorn's is off.
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", server_header=False)
    finally:
        store.close()


def _configure_logging() -> None:
    """Access log lines are JSON as they are; everything else gets a time, level and logger name."""
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("entgraph.api.access")
    access.addHandler(plain)
    access.setLevel(logging.INFO)
    access.propagate = False

    detailed = logging.StreamHandler(sys.stderr)
    detailed.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    api = logging.getLogger("entgraph.api")
    api.addHandler(detailed)
    api.setLevel(logging.INFO)

"""The demo's background services: the embedded graph store and the MQTT broker.

What the demo started it stops when it ends, however it ends (Ctrl-C too); what was running before it is
left running, and either way it says so."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import typer

from entgraph.graph.connect import managed_server, runs_embedded
from entgraph.settings import Settings


class DemoServices:
    """A context manager: ``note_store()`` / ``note_broker()`` before the demo starts them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: dict[str, Callable[[], object]] = {}  # service -> how to stop it
        self.kept: list[str] = []

    def __enter__(self) -> DemoServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def note_store(self) -> None:
        """Call before anything opens the store: an embedded store not running now is the demo's."""
        if not runs_embedded(self.settings):
            return  # a server of the operator's (Neo4j, a FalkorDB URL): never ours to stop
        server = managed_server(self.settings)
        if server.is_alive():
            self.kept.append("the graph store")
        else:
            self.started["the graph store"] = server.stop

    def note_broker(self) -> None:
        """Call before the broker is started: an embedded mosquitto not running now is the demo's."""
        if self.settings.mqtt.strip() != "embedded":
            return
        from entgraph.telemetry.broker import embedded_broker

        broker = embedded_broker(self.settings)
        if broker.status().running:
            self.kept.append("the MQTT broker")
        else:
            self.started["the MQTT broker"] = broker.stop

    def stop(self) -> None:
        stopped = []
        for name, stop in reversed(list(self.started.items())):  # the broker first, then the store
            with contextlib.suppress(Exception):  # already gone (never started, or stopped by hand)
                if stop():
                    stopped.append(name)
        self.started.clear()
        if stopped:
            typer.echo(f"Stopped {' and '.join(stopped)}, which the demo started.")
        if self.kept:
            typer.echo(f"Left running {' and '.join(self.kept)}, as before the demo.")

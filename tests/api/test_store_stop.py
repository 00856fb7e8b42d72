"""The API never starts an embedded store it was not asked to: it may start it at its own start-up, and a
store the operator stops while the API runs stays stopped (/readyz 503, GraphQL errors with a code)
until the operator starts it again, when the API reconnects by itself."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.graphql_client import api_settings
from entgraph.catalog.registry import Catalog
from entgraph.graph.connect import embedded_server
from entgraph.settings import Settings


def make_settings(home: Path) -> Settings:
    # the API's own store, started on demand, so that stopping it can be watched
    return api_settings(
        home,
        graph="embedded",
        graph_name="api-stop",
        store_port=0,
        store_start_timeout=30,
        store_autostart=True,
    )


def servers_in(data_dir: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if (
                proc.info["name"] == "redis-server"
                and Path(proc.cwd()) == data_dir
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def query(client: TestClient, document: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": document})
    assert response.status_code == 200, response.text
    return response.json()


ENTERPRISE = '{ enterprise(id: "no-such-enterprise") { id } }'


def test_a_store_stopped_under_the_running_api_stays_stopped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    server = embedded_server(settings)
    try:
        with TestClient(create_app(settings, catalog=Catalog.load(entry_points=False))) as client:
            # Start-up opened the store, starting the embedded server: that much the settings asked for.
            assert client.get("/readyz").status_code == 200
            assert len(servers_in(server.dir)) == 1

            assert server.stop() is True  # `entgraph store stop`
            for _ in range(3):  # every request, not just the first, leaves it stopped
                ready = client.get("/readyz")
                assert ready.status_code == 503
                assert "entgraph store start" in ready.json()["reason"]
                body = query(client, ENTERPRISE)
                assert body["data"] is None
                assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
            time.sleep(0.3)
            assert servers_in(server.dir) == []
            assert not server.status().running

            server.ensure_running()  # `entgraph store start`: the API finds it again
            assert client.get("/readyz").status_code == 200
            assert query(client, ENTERPRISE)["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert len(servers_in(server.dir)) == 1
    finally:
        server.stop()


def test_the_api_does_not_restart_a_crashed_store_either(tmp_path: Path) -> None:
    """Restarting means loading the data inside a request (minutes for a big graph, and a shutdown then
    waits for it); the API answers "not ready" and leaves the restart to the operator or supervisor."""
    settings = make_settings(tmp_path / "home")
    server = embedded_server(settings)
    try:
        with TestClient(create_app(settings, catalog=Catalog.load(entry_points=False))) as client:
            assert client.get("/readyz").status_code == 200
            (pid,) = servers_in(server.dir)
            os.kill(pid, signal.SIGKILL)
            psutil.Process(pid).wait(timeout=10) if psutil.pid_exists(pid) else None

            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "entgraph store start" in ready.json()["reason"]
            assert servers_in(server.dir) == []
    finally:
        server.stop()

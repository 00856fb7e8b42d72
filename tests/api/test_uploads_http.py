"""Department uploads through the real server: ``entgraph serve`` and ``entgraph worker`` as processes, files
sent over HTTP, the worker killed mid-load and replaced, and every role kept to its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import SAMPLE_SCOPES
from entgraph.catalog.registry import Catalog
from entgraph.child_process import free_port
from entgraph.city_fixtures import graph_env
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.synthetic import generate_city

pytestmark = [pytest.mark.slow, pytest.mark.stores]

TAX = "晋江:市税务局"
STATS = "晋江:市统计局"
REGISTRATION = "jj_tax_registration"


@dataclass
class Server:
    base: str
    env: dict[str, str]
    keys: dict[str, str]
    home: Path
    http: httpx.Client

    def as_(self, who: str | None) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]} if who else {}

    def submit(self, who: str | None, path: Path, dataset: str | None = None) -> httpx.Response:
        data = {"dataset": dataset} if dataset else {}
        with path.open("rb") as f:
            return self.http.post(
                "/uploads", headers=self.as_(who), files={"file": (path.name, f)}, data=data
            )

    def job(self, who: str, job_id: str) -> httpx.Response:
        return self.http.get(f"/uploads/{job_id}", headers=self.as_(who))

    def wait(self, who: str, job_id: str, statuses: tuple[str, ...], seconds: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.job(who, job_id).json()
            if job["status"] in statuses:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("upload-city")
    generate_city(3000, 8, out, formats="csv")  # 3,000 rows of tax registrations: a load to catch half-way
    return out


def _file(city: Path, catalog: Catalog, dataset: str) -> Path:
    [path] = [p for p in city.iterdir() if [f.spec.key for f in catalog.by_file_name(p)][:1] == [dataset]]
    return path


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "entgraph.cli", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def server(fresh_graph: GraphStore, tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    keys_file = ApiKeyFile(home / "api-keys.toml")
    keys = {
        "tax": keys_file.create(Role.DEPARTMENT, "tax clerk", TAX),
        "stats": keys_file.create(Role.DEPARTMENT, "stats clerk", STATS),
        "admin": keys_file.create(Role.ADMIN, "ops"),
        "analyst": keys_file.create(Role.ANALYST, "analyst"),
        "enterprise": keys_file.create(Role.ENTERPRISE, "reporter", SAMPLE_SCOPES[Role.ENTERPRISE]),
    }
    env = {
        **os.environ,
        "ENTGRAPH_HOME": str(home),
        "ENTGRAPH_API_MODE": "production",
        **graph_env(fresh_graph),
    }
    port = free_port()
    process = _start(["serve", "--port", str(port)], env, home / "serve.log")
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (home / "serve.log").read_text()
            time.sleep(0.2)
        yield Server(base, env, keys, home, http)
    finally:
        http.close()
        _stop(process)


def _records(store: GraphStore, dataset: str) -> int:
    query = "MATCH (r:SourceRecord {dataset: $d}) WHERE r.retired IS NULL RETURN count(r) AS n"
    return store.read(query, {"d": dataset})[0]["n"]


def test_a_department_uploads_and_reads_its_outcome_and_report(
    server: Server, city: Path, catalog: Catalog, fresh_graph: GraphStore
) -> None:
    path = _file(city, catalog, REGISTRATION)
    sent = server.submit("tax", path)
    assert sent.status_code == 202, sent.text
    [job] = sent.json()["jobs"]
    assert job["status"] == "queued" and job["fileName"] == path.name and job["department"] == TAX
    assert _records(fresh_graph, REGISTRATION) == 0, "nothing is loaded inside the request"

    worker = _start(["worker"], server.env, server.home / "worker.log")
    try:
        done = server.wait("tax", job["id"], ("done", "refused", "failed"))
    finally:
        _stop(worker)
    assert done["status"] == "done" and done["dataset"] == REGISTRATION, done
    assert done["rowsRead"] > 100 and done["new"] + done["rejected"] + done["duplicates"] <= done["rowsRead"]
    assert _records(fresh_graph, REGISTRATION) == done["new"]

    report = server.http.get(done["reportUrl"], headers=server.as_("tax"))
    assert report.status_code == 200 and report.content[:2] == b"PK"  # an xlsx
    # another department learns nothing of it: not the job, not the report, not the list
    assert server.job("stats", job["id"]).status_code == 404
    assert server.http.get(done["reportUrl"], headers=server.as_("stats")).status_code == 404
    listed = server.http.get("/uploads", headers=server.as_("stats")).json()["jobs"]
    assert listed == []
    mine = server.http.get("/uploads", headers=server.as_("tax")).json()["jobs"]
    assert [j["id"] for j in mine] == [job["id"]]
    assert server.job("analyst", job["id"]).json()["status"] == "done"  # staff see every job


def test_roles_are_kept_to_their_own_datasets(server: Server, city: Path, catalog: Catalog) -> None:
    path = _file(city, catalog, REGISTRATION)
    other = server.submit("stats", path, dataset=REGISTRATION)
    assert other.status_code == 400
    assert "belongs to 晋江:市税务局, not to 晋江:市统计局" in other.json()["errors"][0]["message"]
    for who, status in (("analyst", 403), ("enterprise", 403), (None, 403)):
        refused = server.submit(who, path)
        assert refused.status_code == status, (who, refused.text)
    assert server.submit("admin", path, dataset=REGISTRATION).status_code == 202  # admin may send any
    empty = server.http.post("/uploads", headers=server.as_("tax"), data={"dataset": REGISTRATION})
    assert empty.status_code == 400 and "'file'" in empty.json()["errors"][0]["message"]


def test_a_worker_killed_mid_upload_loses_and_doubles_nothing(
    server: Server, city: Path, catalog: Catalog, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    path = _file(city, catalog, REGISTRATION)
    [job] = server.submit("tax", path).json()["jobs"]
    # small batches make the load long enough to be caught half-way
    slow = {**server.env, "ENTGRAPH_BATCH_SIZE": "5"}
    worker = _start(["worker"], slow, server.home / "worker.log")
    try:
        server.wait("tax", job["id"], ("running",))
        deadline = time.monotonic() + 60
        while _records(fresh_graph, REGISTRATION) == 0:
            assert time.monotonic() < deadline, (server.home / "worker.log").read_text()
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        _stop(worker)
    partial = _records(fresh_graph, REGISTRATION)
    assert server.job("tax", job["id"]).json()["status"] == "running", "the dead worker's job is stuck"

    replacement = _start(["worker"], server.env, server.home / "worker.log")
    try:
        done = server.wait("tax", job["id"], ("done", "refused", "failed"))
    finally:
        _stop(replacement)
    assert done["status"] == "done" and done["attempts"] == 2, done
    again = Loader(fresh_graph, catalog, tmp_path / "again").load(path)
    assert again.new == again.updated == 0, "the replacement loaded everything"
    # the replacement saw the killed run's records: finished ones unchanged, one whose links were cut
    # short as changed (updated), the rest new; together every row, once
    seen = done["new"] + done["updated"] + done["unchanged"]
    assert (
        _records(fresh_graph, REGISTRATION) == again.unchanged == seen == done["rowsRead"] - done["rejected"]
    )
    assert done["unchanged"] + done["updated"] >= partial > 0 and done["new"] > 0

"""The upload queue in the real store: a queued file loads as ``entgraph load`` loads it, departments
submit only their own datasets, one load at a time per dataset, and a worker that died is replaced
without losing or doubling a row."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import graph_env
from entgraph.graph import intake_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.loaders.intake import Inbox, SubmissionRefused, Worker
from entgraph.synthetic import generate_city

pytestmark = pytest.mark.stores

TAX = "晋江:市税务局"
REGISTRATION = "jj_tax_registration"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("intake-city")
    generate_city(120, 3, out, formats="csv")
    return out


def _file(city: Path, catalog: Catalog, dataset: str) -> Path:
    """The generated city's file of ``dataset``."""
    [path] = [
        p
        for p in city.iterdir()
        if p.is_file() and [f.spec.key for f in catalog.by_file_name(p)][:1] == [dataset]
    ]
    return path


def _records(store: GraphStore, dataset: str) -> list[str]:
    rows = store.read(
        "MATCH (r:SourceRecord {dataset: $d}) WHERE r.retired IS NULL RETURN r.id AS id", {"d": dataset}
    )
    return sorted(row["id"] for row in rows)


def test_a_queued_file_loads_as_entgraph_load_loads_it(
    new_graph: Callable[[str], GraphStore], city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    queued, direct = new_graph("intake-queued"), new_graph("intake-direct")
    try:
        path = _file(city, catalog, REGISTRATION)
        inbox = Inbox(queued, catalog, tmp_path / "inbox")
        job = inbox.accept(io.BytesIO(path.read_bytes()), path.name, submitted_by="tax clerk", scope=TAX)
        assert job["status"] == "queued" and job.get("dataset") is None  # recognised by the worker
        assert Path(job["path"]).read_bytes() == path.read_bytes()

        worker = Worker(queued, catalog, tmp_path / "reports")
        done = worker.run_once()
        assert done is not None and done["status"] == "done", done
        assert worker.run_once() is None, "one job, handled once"
        expected = Loader(direct, catalog, tmp_path / "direct-reports").load(path)
        assert done["dataset"] == REGISTRATION and done["upload_id"] == expected.upload_id
        for field in ("rows_read", "new", "rejected", "duplicates"):
            assert done[field] == getattr(expected, field), field
        assert _records(queued, REGISTRATION) == _records(direct, REGISTRATION) != []
    finally:
        for store in (queued, direct):
            store.clear()
            store.close()


def test_a_department_submits_only_its_own_datasets(
    fresh_graph: GraphStore, city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    inbox = Inbox(fresh_graph, catalog, tmp_path / "inbox")
    power = _file(city, catalog, "jj_key_enterprise_electricity")
    with pytest.raises(SubmissionRefused, match="belongs to 晋江:市供电公司, not to 晋江:市税务局"):
        inbox.accept(
            io.BytesIO(b"x"), power.name, submitted_by="c", scope=TAX, dataset="jj_key_enterprise_electricity"
        )
    with pytest.raises(SubmissionRefused, match="not a usable file name"):
        inbox.accept(io.BytesIO(b"x"), "../../etc/passwd\x00.csv", submitted_by="c", scope=TAX)
    with pytest.raises(SubmissionRefused, match="only spreadsheets, text exports and GeoJSON layers"):
        inbox.accept(io.BytesIO(b"x"), "税务登记.exe", submitted_by="c", scope=TAX)
    with pytest.raises(SubmissionRefused, match="empty"):
        inbox.accept(io.BytesIO(b""), "税务登记.csv", submitted_by="c", scope=TAX)
    assert not list((tmp_path / "inbox").glob("*/*")), "a refused submission keeps no file"

    # a file sent without a dataset is recognised by the worker, and refused if it is another's
    sneaked = inbox.accept(io.BytesIO(power.read_bytes()), power.name, submitted_by="c", scope=TAX)
    refused = Worker(fresh_graph, catalog, tmp_path / "reports").run_once()
    assert refused is not None and refused["id"] == sneaked["id"] and refused["status"] == "refused"
    assert "belongs to 晋江:市供电公司, not to 晋江:市税务局" in refused["message"]
    assert _records(fresh_graph, "jj_key_enterprise_electricity") == []


def test_one_load_at_a_time_per_dataset(
    fresh_graph: GraphStore, city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    inbox = Inbox(fresh_graph, catalog, tmp_path / "inbox")
    path = _file(city, catalog, REGISTRATION)
    first = inbox.accept(
        io.BytesIO(path.read_bytes()), path.name, submitted_by="a", scope=TAX, dataset=REGISTRATION
    )
    second = inbox.accept(
        io.BytesIO(path.read_bytes()), path.name, submitted_by="b", scope=TAX, dataset=REGISTRATION
    )
    now, later = "2026-12-05T09:00:00.000+00:00", "2026-12-05T09:01:00.000+00:00"
    held = intake_queries.claim_next(fresh_graph, "host:1:a", now, later)
    assert held is not None and held["id"] == first["id"]
    assert intake_queries.claim_next(fresh_graph, "host:2:b", now, later) is None, "the dataset is held"
    intake_queries.finish(fresh_graph, first["id"], "host:1:a", {"status": "done"})
    taken = intake_queries.claim_next(fresh_graph, "host:2:b", now, later)
    assert taken is not None and taken["id"] == second["id"]


_KILLED_WORKER = """
import os, sys
from pathlib import Path
from entgraph.catalog.registry import Catalog
from entgraph.graph import open_store
from entgraph.loaders.engine import Loader
from entgraph.loaders.intake import Worker
from entgraph.settings import Settings

# the worker dies once its load has written a few batches: mid-load, for real (SIGKILL, no clean-up)
flush = Loader._flush
def flush_then_die(self, run):
    flush(self, run)
    if run.result.rows_read >= 50:
        os.kill(os.getpid(), 9)
Loader._flush = flush_then_die
with open_store(Settings()) as store:
    Worker(store, Catalog.load(entry_points=False), Path(sys.argv[1]), batch_size=20).run_once()
"""


def test_a_worker_killed_mid_load_is_replaced_and_nothing_is_lost_or_doubled(
    fresh_graph: GraphStore, city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    path = _file(city, catalog, REGISTRATION)
    job = Inbox(fresh_graph, catalog, tmp_path / "inbox").accept(
        io.BytesIO(path.read_bytes()), path.name, submitted_by="a", scope=TAX, dataset=REGISTRATION
    )
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, str(tmp_path / "reports")],
        env={**os.environ, **graph_env(fresh_graph)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    stuck = intake_queries.job(fresh_graph, job["id"])
    assert stuck is not None and stuck["status"] == "running", "the dead worker left its job running"
    partial = len(_records(fresh_graph, REGISTRATION))
    assert partial > 0

    done = Worker(fresh_graph, catalog, tmp_path / "reports").run_once()  # sees the dead pid, requeues
    assert done is not None and done["id"] == job["id"] and done["status"] == "done", done
    assert done["attempts"] == 2
    expected = Loader(fresh_graph, catalog, tmp_path / "again").load(path)
    assert expected.new == 0 and expected.updated == 0, "the rerun left nothing to load"
    assert len(_records(fresh_graph, REGISTRATION)) == expected.unchanged > partial


def test_the_worker_writes_short_batches_while_the_api_answers_people(
    fresh_graph: GraphStore, city: Path, catalog: Catalog, tmp_path: Path
) -> None:
    from entgraph.api.activity import ActivityMark
    from entgraph.city_fixtures import twin_of
    from entgraph.loaders.intake import api_activity_mark, busy_aware_batch_size

    mark = api_activity_mark(tmp_path)
    size = busy_aware_batch_size(mark, quiet=40, busy=7, within_seconds=2.0)
    assert size() == 40, "no mark yet: nobody is reading"
    ActivityMark(mark).touch()
    assert size() == 7
    os.utime(mark, (time.time() - 5, time.time() - 5))
    assert size() == 40, "a stale mark: the API has been quiet"

    written: list[int] = []

    def write(self: GraphStore, cypher: str, params: dict | None = None) -> list:
        if cypher.startswith("UNWIND $rows AS row MERGE (r:SourceRecord"):
            written.append(len((params or {})["rows"]))
        return super(type(self), self).write(cypher, params)

    # the API starts answering half-way through the load: the batches after that are short
    state = {"calls": 0}

    def sized() -> int:
        state["calls"] += 1
        if state["calls"] == 3:
            ActivityMark(mark).touch()
        return size()

    os.utime(mark, (time.time() - 5, time.time() - 5))
    path = _file(city, catalog, REGISTRATION)
    Loader(twin_of(fresh_graph, write=write), catalog, tmp_path / "reports", batch_size=sized).load(path)
    assert written[0] == 40 and set(written[2:-1]) == {7}, written

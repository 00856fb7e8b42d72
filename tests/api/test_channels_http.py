"""The collection channels through the real server: ``entgraph serve`` and ``entgraph worker`` as processes.

Files uploaded and batches docked over HTTP, the worker killed mid-load and replaced, enterprises'
direct reports drafted, refused, submitted and corrected, and every role kept to its own.
"""

from __future__ import annotations

import datetime as dt
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
from entgraph.catalog.spec import Frequency
from entgraph.catalog.timeliness import previous_period
from entgraph.child_process import free_port
from entgraph.city_fixtures import graph_env
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
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


# -- system docking ---------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    """The file's records as JSON records keyed by the seed's headers (its first line is a title)."""
    import csv

    lines = path.read_text(encoding="utf-8-sig").splitlines()[1:]
    return [dict(row) for row in csv.DictReader(lines)]


@pytest.fixture
def worker(server: Server) -> Iterator[None]:
    process = _start(["worker", "--poll", "0.1"], server.env, server.home / "worker.log")
    yield
    _stop(process)


def _push(server: Server, who: str, key: str, body: Any = None, **params: str) -> httpx.Response:
    headers = {**server.as_(who), "Idempotency-Key": key}
    if isinstance(body, bytes):
        return server.http.post(
            f"/docking/{REGISTRATION}",
            headers={**headers, "Content-Type": "text/csv"},
            content=body,
            params=params,
        )
    return server.http.post(f"/docking/{REGISTRATION}", headers=headers, json=body, params=params)


def test_docking_upserts_deletes_and_is_idempotent(
    server: Server, worker: None, city: Path, catalog: Catalog, fresh_graph: GraphStore
) -> None:
    rows = _rows(_file(city, catalog, REGISTRATION))[:100]
    sent = _push(server, "tax", "batch-1", {"records": rows})
    assert sent.status_code == 202, sent.text
    done = server.wait("tax", sent.json()["id"], ("done", "refused", "failed"))
    assert done["status"] == "done" and done["new"] == 100 and done["rowsRead"] == 100, done
    assert _records(fresh_graph, REGISTRATION) == 100

    again = _push(server, "tax", "batch-1", {"records": rows})  # a processor resending after a timeout
    assert again.status_code == 202 and again.json()["id"] == done["id"] and again.json()["status"] == "done"
    reused = _push(server, "tax", "batch-1", {"records": rows[:5]})
    assert (
        reused.status_code == 400
        and reused.json()["errors"][0]["extensions"]["reason"] == "IDEMPOTENCY_KEY_REUSED"
    )

    # our field names work as the headers do; a changed record updates, deletions retire by key
    changed = {
        "taxpayer_id": rows[0]["社会信用代码（纳税人识别号）"],
        "taxpayer_name": "改名后的公司",
        "town": "安海镇",
    }
    gone = [{"社会信用代码（纳税人识别号）": r["社会信用代码（纳税人识别号）"]} for r in rows[1:4]]
    second = _push(server, "tax", "batch-2", {"records": [changed], "deletions": gone})
    done2 = server.wait("tax", second.json()["id"], ("done", "refused", "failed"))
    assert done2["status"] == "done" and done2["updated"] == 1, done2
    assert _records(fresh_graph, REGISTRATION) == 97

    as_csv = (
        "社会信用代码（纳税人识别号）,纳税人名称\n"
        + "\n".join(
            f"{r['社会信用代码（纳税人识别号）']},{r['纳税人名称']}"
            for r in _rows(_file(city, catalog, REGISTRATION))[100:110]
        )
    ).encode()
    third = _push(server, "tax", "batch-3", as_csv)
    assert server.wait("tax", third.json()["id"], ("done", "refused", "failed"))["new"] == 10

    listed = server.http.get(f"/docking/{REGISTRATION}/batches", headers=server.as_("tax")).json()
    assert [b["id"] for b in listed["batches"]] == [done["id"], done2["id"], third.json()["id"]]
    after = server.http.get(
        f"/docking/{REGISTRATION}/batches", headers=server.as_("tax"), params={"since": listed["cursor"]}
    ).json()
    assert after["batches"] == [] and after["cursor"] == listed["cursor"]
    cursor_after_first = server.http.get(
        f"/docking/{REGISTRATION}/batches", headers=server.as_("tax"), params={"first": 1}
    ).json()["cursor"]
    rest = server.http.get(
        f"/docking/{REGISTRATION}/batches", headers=server.as_("tax"), params={"since": cursor_after_first}
    ).json()
    assert [b["id"] for b in rest["batches"]] == [done2["id"], third.json()["id"]]
    assert (
        server.http.get(f"/docking/{REGISTRATION}/batches", headers=server.as_("stats")).json()["batches"]
        == []
    )


def test_a_full_volume_sync_retires_what_it_omits(
    server: Server, worker: None, city: Path, catalog: Catalog, fresh_graph: GraphStore
) -> None:
    rows = _rows(_file(city, catalog, REGISTRATION))[:100]
    for n, part in enumerate((rows[:50], rows[50:])):
        received = _push(server, "tax", f"s1-{n}", {"records": part}, sync="s1", channel="xinyong")
        assert received.status_code == 202 and received.json()["status"] == "received", received.text
    first = server.http.post(
        f"/docking/{REGISTRATION}/syncs/s1/complete", headers=server.as_("tax"), params={"channel": "xinyong"}
    )
    assert server.wait("tax", first.json()["id"], ("done", "refused", "failed"))["new"] == 100
    assert _records(fresh_graph, REGISTRATION) == 100

    _push(server, "tax", "s2-0", {"records": rows[:80]}, sync="s2", channel="xinyong")
    second = server.http.post(
        f"/docking/{REGISTRATION}/syncs/s2/complete", headers=server.as_("tax"), params={"channel": "xinyong"}
    )
    done = server.wait("tax", second.json()["id"], ("done", "refused", "failed"))
    assert done["status"] == "done" and done["retired"] == 20 and done["unchanged"] == 80, done
    assert _records(fresh_graph, REGISTRATION) == 80


def test_docking_refuses_what_it_cannot_take(server: Server, city: Path, catalog: Catalog) -> None:
    rows = _rows(_file(city, catalog, REGISTRATION))[:3]
    other = _push(server, "stats", "x-1", {"records": rows})
    assert other.status_code == 400 and "not to 晋江:市统计局" in other.json()["errors"][0]["message"]
    unknown = _push(server, "tax", "x-2", {"records": [{"no_such_field": 1}]})
    assert (
        unknown.status_code == 400
        and "has no field 'no_such_field'" in unknown.json()["errors"][0]["message"]
    )
    keyless = server.http.post(
        "/docking/jj_tax_declarations",
        headers={**server.as_("tax"), "Idempotency-Key": "k"},
        json={"records": rows},
    )
    assert keyless.status_code == 400 and "declares no record key" in keyless.json()["errors"][0]["message"]
    no_key = server.http.post(f"/docking/{REGISTRATION}", headers=server.as_("tax"), json={"records": rows})
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["errors"][0]["message"]
    assert _push(server, "analyst", "x-3", {"records": rows}).status_code == 403


def test_the_documented_docking_client_pushes_a_file_in_batches(
    server: Server, worker: None, city: Path, catalog: Catalog, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    """docs/examples/dock.py, run as the docs say, against the served platform; run twice, it takes
    every batch once."""
    rows = _rows(_file(city, catalog, REGISTRATION))[:250]
    export = tmp_path / "export.csv"
    with export.open("w", encoding="gb18030", newline="") as f:  # a department system's export
        import csv

        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    script = Path(__file__).parents[2] / "docs" / "examples" / "dock.py"
    args = [sys.executable, str(script), str(export), "--base", server.base, "--key", server.keys["tax"],
            "--dataset", REGISTRATION, "--batch", "100", "--channel", "tax-core"]  # fmt: skip
    for _ in range(2):
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 4 and lines[-1].startswith("3 batches held"), done.stdout
        assert all(" done: " in line for line in lines[:3]), done.stdout
    assert _records(fresh_graph, REGISTRATION) == 250


# -- enterprise direct reports ------------------------------------------------------------------------

ENTERPRISE_CODE = SAMPLE_SCOPES[Role.ENTERPRISE]
OPERATIONS = "wh_enterprise_operations"


def test_an_enterprise_drafts_submits_and_corrects_its_report(
    server: Server, worker: None, fresh_graph: GraphStore
) -> None:
    me = server.as_("enterprise")
    forms = server.http.get("/direct/forms", headers=me).json()
    assert forms["enterprise"] == ENTERPRISE_CODE
    operations = next(f for f in forms["forms"] if f["dataset"] == OPERATIONS)
    period = operations["period"]
    assert (
        period
        and operations["due"]
        and {"工业总产值", "职工人数"} <= {f["label"] for f in operations["fields"]}
    )

    draft = server.http.put(
        f"/direct/{OPERATIONS}/draft", headers=me, json={"period": period, "values": {"工业总产值": "88"}}
    )
    assert draft.status_code == 200, draft.text
    again = server.http.get("/direct/forms", headers=me).json()
    assert next(f for f in again["forms"] if f["dataset"] == OPERATIONS)["draft"] == {"gross_output": "88"}

    bad = server.http.post(
        f"/direct/{OPERATIONS}", headers=me, json={"period": period, "values": {"工业总产值": "很多"}}
    )
    assert bad.status_code == 400
    [issue] = bad.json()["errors"][0]["extensions"]["issues"]
    assert issue["field"] == "工业总产值" and issue["reasonZh"]

    sent = server.http.post(
        f"/direct/{OPERATIONS}",
        headers=me,
        json={"period": period, "values": {"工业总产值": "88", "职工人数": "40"}},
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["version"] == 1
    done = server.wait("admin", sent.json()["job_id"], ("done", "refused", "failed"))
    assert done["status"] == "done" and done["new"] == 1, done
    fixed = server.http.post(
        f"/direct/{OPERATIONS}",
        headers=me,
        json={"period": period, "values": {"工业总产值": "90", "职工人数": "40"}},
    )
    assert fixed.json()["version"] == 2
    assert server.wait("admin", fixed.json()["job_id"], ("done", "refused", "failed"))["updated"] == 1
    versions = server.http.get("/direct/history", headers=me).json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    rows = fresh_graph.read(
        "MATCH (r:SourceRecord {dataset: $d}) RETURN r.credit_code AS c, r.gross_output AS g",
        {"d": OPERATIONS},
    )
    assert rows == [{"c": ENTERPRISE_CODE, "g": 900_000.0}]

    # the department roles, the public and staff do not report for an enterprise
    for who in ("tax", "analyst", None):
        assert (
            server.http.post(
                f"/direct/{OPERATIONS}", headers=server.as_(who), json={"period": period, "values": {}}
            ).status_code
            == 403
        )
    # another enterprise (an admin acting for it) reported the month before and not this one: it is
    # overdue once this month's deadline has passed, on the timeliness board and the reminder list
    other = make_credit_code("150302", "MA0DR003")
    earlier = previous_period(period, Frequency.MONTHLY)
    sent_before = server.http.post(
        f"/direct/{OPERATIONS}", headers=server.as_("admin"), params={"enterprise": other},
        json={"period": earlier, "values": {"工业总产值": "5"}},
    )  # fmt: skip
    assert sent_before.status_code == 202, sent_before.text
    after_deadline = (dt.date.fromisoformat(operations["due_by"]) + dt.timedelta(days=2)).isoformat()
    board = server.http.post(
        "/graphql",
        json={"query": "query ($d: Date) { feedStatus(asOf: $d) { dataset currentPeriod overdueReporters } }",
              "variables": {"d": after_deadline}},
    ).json()["data"]["feedStatus"]  # fmt: skip
    mine = next(f for f in board if f["dataset"] == OPERATIONS)
    assert mine["currentPeriod"] == period and mine["overdueReporters"] == 1
    assert (
        next(f for f in board if f["dataset"] == REGISTRATION)["overdueReporters"] is None
    )  # a department's

    # staff list who reported the month before and not this one, per town; `other` reported before any
    # resolve could place it, so it is listed under 未定镇街 (and named from its own reports, if any)
    def reminded(**town: str) -> list[dict]:
        params = {"dataset": OPERATIONS, "period": period, **town}
        listed = server.http.get("/direct/reminders", headers=server.as_("analyst"), params=params)
        assert listed.status_code == 200, listed.text
        return listed.json()["enterprises"]

    [late] = reminded()
    assert late["credit_code"] == other and late["town"] is None and late["enterprise"] is None
    assert reminded(town="未定镇街") == [late] and reminded(town="池店镇") == []
    sheet = server.http.get(
        "/direct/reminders", headers=server.as_("analyst"), params={"dataset": OPERATIONS, "format": "xlsx"}
    )
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    assert server.http.get("/direct/reminders", headers=me, params={"dataset": OPERATIONS}).status_code == 403


# -- honours published on application ----------------------------------------------------------------

MIIT = "晋江:市工信局"


def test_an_honour_is_applied_for_reviewed_published_withdrawn_and_restored(
    server: Server, worker: None, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    me = server.as_("enterprise")
    form = {"title": "专精特新中小企业", "awardedBy": MIIT, "recognisedOn": "2026-07-01", "statement": "true"}
    unsworn = server.http.post("/honours/applications", headers=me, data=form | {"statement": ""},
                               files={"file": ("证书.pdf", b"%PDF cert")})  # fmt: skip
    assert unsworn.status_code == 400 and "承诺属实" in unsworn.json()["errors"][0]["message"]
    applied = server.http.post(
        "/honours/applications", headers=me, data=form, files={"file": ("证书.pdf", b"%PDF cert")}
    )
    assert applied.status_code == 201, applied.text
    honour = applied.json()
    assert honour["status"] == "pending" and honour["files"][0]["name"] == "证书.pdf"
    for who in ("tax", "analyst", None):  # only an enterprise applies, for itself
        assert server.http.post("/honours/applications", headers=server.as_(who), data=form,
                                files={"file": ("x.pdf", b"x")}).status_code == 403  # fmt: skip

    # its review is due within 30 days, on the timeliness board's honour reviews
    reviews_query = "query ($d: Date) { honourReviews(asOf: $d) { department pending overdue } }"
    today, later = dt.date.today(), dt.date.today() + dt.timedelta(days=31)
    for as_of, overdue in ((today, 0), (later, 1)):
        reviews = server.http.post(
            "/graphql", json={"query": reviews_query, "variables": {"d": as_of.isoformat()}}
        )
        assert reviews.json()["data"]["honourReviews"] == [
            {"department": MIIT, "pending": 1, "overdue": overdue}
        ]

    # the awarding department reviews; another department does not see it
    miit_key = ApiKeyFile(server.home / "api-keys.toml").create(Role.DEPARTMENT, "miit clerk", MIIT)
    miit = {"X-API-Key": miit_key}
    assert server.http.post(f"/honours/applications/{honour['id']}/review", headers=server.as_("tax"),
                            json={"approve": True}).status_code == 404  # fmt: skip
    queue = server.http.get("/honours/applications", headers=miit, params={"status": "pending"}).json()
    assert [a["id"] for a in queue["applications"]] == [honour["id"]]
    cert = server.http.get(f"/honours/applications/{honour['id']}/files/1", headers=miit)
    assert cert.status_code == 200 and cert.content == b"%PDF cert"
    assert (
        server.http.get(
            f"/honours/applications/{honour['id']}/files/1", headers=server.as_("tax")
        ).status_code
        == 404
    )
    published = server.http.post(f"/honours/applications/{honour['id']}/review", headers=miit,
                                 json={"approve": True, "note": "核实"})  # fmt: skip
    assert published.status_code == 200 and published.json()["status"] == "published", published.text
    public = server.http.get("/honours").json()["honours"]
    assert [(h["title"], h["creditCode"]) for h in public] == [("专精特新中小企业", ENTERPRISE_CODE)]
    assert "files" not in public[0] and "appliedBy" not in public[0]

    # a 失信 record about the enterprise, loaded and resolved: the honour comes down, with its reason
    rows = [
        ["法院失信被执行人信息", "晋江市恒安鞋业有限公司", ENTERPRISE_CODE, "(2026)闽05执7号", "2026-11-20"]
    ]
    path = tmp_path / "信用乌海_2026-11.csv"
    path.write_text(
        "数据类别,企业名称,统一社会信用代码,文书号,决定日期\n" + "\n".join(",".join(r) for r in rows) + "\n",
        encoding="utf-8",
    )
    # the credit department sends it from the console's upload (no shell): the worker loads it and,
    # its queue empty, resolves; the 失信 record then names the enterprise
    ndrc = {
        "X-API-Key": ApiKeyFile(server.home / "api-keys.toml").create(
            Role.DEPARTMENT, "ndrc", "乌海:市发改委"
        )
    }
    with path.open("rb") as f:
        sent = server.http.post("/uploads", headers=ndrc, files={"file": (path.name, f)})
    assert sent.status_code == 202, sent.text
    assert (
        server.wait("admin", sent.json()["jobs"][0]["id"], ("done", "refused", "failed"))["status"] == "done"
    )
    deadline = time.monotonic() + 60
    while server.http.get("/honours").json()["honours"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.http.get("/honours").json()["honours"] == []
    mine = server.http.get("/honours/applications", headers=me).json()["applications"][0]
    assert (
        mine["status"] == "withdrawn"
        and "法院失信被执行人信息" in mine["withdrawnReason"]
        and mine["withdrawnAt"]
    )

    restored = server.http.post(
        f"/honours/applications/{honour['id']}/restore", headers=miit, json={"note": "信用修复"}
    )
    assert restored.status_code == 200 and restored.json()["status"] == "published"
    assert len(server.http.get("/honours").json()["honours"]) == 1
    # on the panorama (an enterprise the city knows only from a credit list is not public: an analyst)
    [row] = fresh_graph.read(
        "MATCH (e:Enterprise {credit_code: $c}) RETURN e.id AS id", {"c": ENTERPRISE_CODE}
    )
    panorama = server.http.post(
        "/graphql",
        headers=server.as_("analyst"),
        json={"query": "query ($id: String) { enterprise(id: $id) { publishedHonours { title awardedBy } } }",
              "variables": {"id": row["id"]}},
    ).json()  # fmt: skip
    assert panorama.get("data") and panorama["data"]["enterprise"], panorama
    assert panorama["data"]["enterprise"]["publishedHonours"] == [
        {"title": "专精特新中小企业", "awardedBy": MIIT}
    ]


def test_a_change_to_a_published_honour_is_settled_within_15_working_days(server: Server) -> None:
    """A change (renamed on review): reported by the enterprise, due within 15 working days, settled by
    the department's update; then revoked, and no longer shown."""
    me = server.as_("enterprise")
    miit = {"X-API-Key": ApiKeyFile(server.home / "api-keys.toml").create(Role.DEPARTMENT, "miit 2", MIIT)}
    form = {"title": "创新型中小企业", "awardedBy": MIIT, "recognisedOn": "2026-05-01", "statement": "true"}
    applied = server.http.post(
        "/honours/applications", headers=me, data=form, files={"file": ("证书.pdf", b"%PDF cert")}
    )
    path_of = f"/honours/applications/{applied.json()['id']}"
    assert server.http.post(f"{path_of}/change", headers=me, json={"note": "x"}).status_code == 400, (
        "a pending application has nothing to change"
    )
    assert server.http.post(f"{path_of}/review", headers=miit, json={"approve": True}).status_code == 200

    def shown() -> list[str]:
        honours = server.http.get("/honours").json()["honours"]
        return [h["title"] for h in honours if h["id"] == applied.json()["id"]]

    assert (
        server.http.post(f"{path_of}/change", headers=server.as_("tax"), json={"note": "x"}).status_code
        == 404
    )
    changed = server.http.post(f"{path_of}/change", headers=me, json={"note": "更名为创新型中小企业（复核）"})
    assert changed.status_code == 200 and changed.json()["changeDueAt"], changed.text
    board = (
        "query ($d: Date) { honourReviews(asOf: $d) { department pending changesPending changesOverdue } }"
    )
    today = dt.date.today()
    for as_of, overdue in ((today, 0), (today + dt.timedelta(days=40), 1)):
        reviews = server.http.post("/graphql", json={"query": board, "variables": {"d": as_of.isoformat()}})
        assert reviews.json()["data"]["honourReviews"] == [
            {"department": MIIT, "pending": 0, "changesPending": 1, "changesOverdue": overdue}
        ]
    assert server.http.post(f"{path_of}/update", headers=me, json={"title": "x"}).status_code == 403
    updated = server.http.post(f"{path_of}/update", headers=miit, json={"title": "创新型中小企业（复核）"})
    assert updated.status_code == 200 and updated.json()["changeDueAt"] is None, updated.text
    assert [h["title"] for h in updated.json()["history"]] == ["创新型中小企业"]
    assert shown() == ["创新型中小企业（复核）"]
    assert server.http.post("/graphql", json={"query": board}).json()["data"]["honourReviews"] == []
    revoked = server.http.post(f"{path_of}/revoke", headers=miit, json={"note": "资格已到期"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert shown() == []

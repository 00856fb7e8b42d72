"""The ``entgraph`` command as a user runs it: real processes, real store, exit codes and messages."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from entgraph.graph import EmbeddedServer

ENTGRAPH = shutil.which("entgraph", path=str(Path(sys.executable).parent)) or "entgraph"


def run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ENTGRAPH_", "NEO4J_"))}
    environ |= {"ENTGRAPH_HOME": str(home), **env}
    return subprocess.run(
        [ENTGRAPH, *args], check=False, capture_output=True, text=True, env=environ, timeout=600
    )


@pytest.fixture
def home(tmp_path: Path):
    yield tmp_path / "home"
    run("store", "stop", home=tmp_path / "home")
    run("telemetry", "broker", "stop", home=tmp_path / "home")  # the demo starts the MQTT broker


def test_store_start_status_stop_and_data_persists(home: Path) -> None:
    started = run("store", "start", home=home)
    assert started.returncode == 0, started.stderr
    assert "store running: pid" in started.stdout

    status = run("store", "status", home=home)
    assert status.returncode == 0
    assert "store running" in status.stdout and "nodes 0" in status.stdout

    demo = run("demo", "--enterprises", "60", "--no-serve", home=home)
    assert demo.returncode == 0, demo.stderr
    assert "loaded 85 department files" in demo.stdout  # 84 seed feeds, the town boundaries
    _assert_summaries_add_up(demo.stdout)
    # the store was running before the demo: left so; the broker it started: stopped
    assert "Left running the graph store, as before the demo." in demo.stdout, demo.stdout
    assert "Stopped the MQTT broker, which the demo started." in demo.stdout, demo.stdout
    assert not _broker_running(home)
    _run_printed_commands(demo.stdout, home)  # the store is still running: it was before the demo
    assert "pairwise precision" in demo.stdout and "golden record" in demo.stdout
    # meters attached, readings ingested over MQTT, monthly totals and warnings written
    assert "meters stored" in demo.stdout and "meter-months" in demo.stdout, demo.stdout
    assert "8/8 warnings" in demo.stdout
    nodes = _nodes(run("store", "status", home=home).stdout)
    assert nodes > 1000

    assert run("store", "stop", home=home).stdout.strip() == "store stopped"
    stopped = run("store", "status", home=home)
    assert stopped.returncode == 1
    assert "not running" in stopped.stdout
    assert run("store", "stop", home=home).stdout.strip() == "store was not running"

    assert run("store", "start", home=home).returncode == 0
    after = run("store", "status", home=home)
    assert _nodes(after.stdout) == nodes  # everything the demo wrote survived the restart

    again = run(
        "demo", "--enterprises", "60", "--no-serve", home=home
    )  # a rerun loads nothing new, resolves nothing
    assert "0 loaded" in again.stdout and "0 records, 0 mentions" in again.stdout, again.stdout

    # Served: the demo ends with the API and the console up, and the keys it prints work.
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ENTGRAPH_", "NEO4J_"))}
    serving = subprocess.Popen(
        [ENTGRAPH, "demo", "--enterprises", "60", "--no-telemetry", "--port", str(port)],
        env={**environ, "ENTGRAPH_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = _read_until(serving, "  admin ")
        url = f"http://127.0.0.1:{port}/console/"
        assert url in printed, printed
        steward_key = printed.split("  steward ")[1].split()[0]
        _wait_http(url, serving)
        assert "js/main.js" in httpx.get(url).text
        me = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ me { role subject } }"},
            headers={"X-API-Key": steward_key},
        ).json()["data"]["me"]
        assert me == {"role": "STEWARD", "subject": "demo-steward"}
    finally:
        serving.terminate()
        serving.wait(30)


def _run_printed_commands(printed: str, home: Path) -> None:
    """Every ``$ `` command the demo printed runs as printed; the meters' feed shows a received day."""
    commands = [line.strip()[2:] for line in printed.splitlines() if line.strip().startswith("$ ")]
    assert len(commands) >= 3, printed
    path = f"{Path(ENTGRAPH).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for command in commands:
        done = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "ENTGRAPH_HOME": str(home), "PATH": path},
        )  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip(), (command, done.stderr)
        if "设备采集" in command:  # the meters count as received: their last day is shown
            meters = [line for line in done.stdout.splitlines() if "用电数据" in line]
            assert meters and re.search(r"\d{4}-\d{2}-\d{2}", meters[0]), done.stdout


def _assert_summaries_add_up(printed: str) -> None:
    """The load line's parts sum to the rows read; the resolve line's to the mentions."""
    (load,) = [line for line in printed.splitlines() if line.startswith("3/8 ")]
    read, *parts = [
        int(n.replace(",", ""))
        for n in re.findall(
            r"(\d[\d,]*) (?:rows read|loaded|unchanged|refused|duplicates|skipped)", load.split(": ", 1)[1]
        )
    ]
    assert len(parts) == 5 and read == sum(parts) > 0, load
    (resolved,) = [line for line in printed.splitlines() if line.startswith("4/8 ")]
    mentions, decided, waiting = (
        int(x)
        for x in re.search(r"(\d+) mentions: (\d+) decided .*?, (\d+) awaiting a steward", resolved).groups()
    )
    assert mentions == decided + waiting, resolved
    methods = re.search(r"decided \(([^)]*)\)", resolved).group(1)
    counts = [int(part.rsplit(" ", 1)[1]) for part in methods.split(", ") if part != "none"]
    assert decided == sum(counts), resolved


def _broker_running(home: Path) -> bool:
    from entgraph.telemetry.broker import MosquittoBroker

    return MosquittoBroker(home).status().running


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float = 300) -> str:
    """What the process printed up to and including the line containing ``marker``."""
    deadline, seen = time.monotonic() + timeout, []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} in what the demo printed:\n{''.join(seen)[-3000:]}")


def _wait_http(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the demo exited ({process.returncode}) instead of serving"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _nodes(status: str) -> int:
    return int(status.split("nodes ")[1].split(maxsplit=1)[0].rstrip(","))


def test_start_twice_keeps_one_server(home: Path) -> None:
    first = run("store", "start", home=home)
    second = run("store", "start", home=home)
    assert first.stdout.split(",")[0] == second.stdout.split(",")[0]  # same pid


def expect_clean_failure(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("entgraph: error: ")
    for phrase in phrases:
        assert phrase in lines[0]


def test_unwritable_home_is_one_clear_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    expect_clean_failure(run("store", "start", home=blocker / "home"), "not writable", "ENTGRAPH_HOME")


def test_port_in_use_is_one_clear_sentence(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("store", "start", home=home, ENTGRAPH_STORE_PORT=port)
    expect_clean_failure(result, f"port {port}", "already in use", "ENTGRAPH_STORE_PORT")


def test_wrong_falkordb_password_is_one_clear_sentence(home: Path) -> None:
    assert run("store", "start", home=home).returncode == 0
    info = EmbeddedServer(home).status().info
    assert info is not None
    result = run("store", "status", home=home, ENTGRAPH_GRAPH=f"falkordb://:wrong@127.0.0.1:{info.port}")
    expect_clean_failure(result, "refused the password")


def test_unreachable_neo4j_is_one_clear_sentence(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    result = run(
        "store", "status", home=home, ENTGRAPH_GRAPH="neo4j", NEO4J_URI=f"neo4j://127.0.0.1:{free_port}"
    )
    expect_clean_failure(result, "cannot reach Neo4j", "NEO4J_URI")


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"ENTGRAPH_GRAPH": "mysql://x"}, "not a store entgraph knows"),
        ({"ENTGRAPH_GRAPH": "neo4j"}, "needs NEO4J_URI"),
        ({"ENTGRAPH_GRAPH": "falkordb://"}, "names no host"),
        ({"ENTGRAPH_BATCH_SIZE": "lots"}, "BATCH_SIZE"),
    ],
)
def test_bad_settings_are_one_clear_sentence(home: Path, env: dict[str, str], phrase: str) -> None:
    expect_clean_failure(run("store", "status", home=home, **env), phrase)


def test_start_refuses_a_store_it_does_not_run(home: Path) -> None:
    result = run("store", "start", home=home, ENTGRAPH_GRAPH="falkordb://127.0.0.1:1")
    assert result.returncode == 2
    assert "does not run" in result.stderr


def test_serve_with_two_workers_answers_from_both(home: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ENTGRAPH_", "NEO4J_"))}
    environ |= {"ENTGRAPH_HOME": str(home)}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [ENTGRAPH, "serve", "--port", str(port), "--workers", "2"], env=environ, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        for _ in range(40):
            body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ me { role } }"}).json()
            assert body == {"data": {"me": {"role": "PUBLIC"}}}
        # both workers are up: the parent supervises two children serving the one port
        workers = [p for p in psutil.Process(server.pid).children() if "python" in p.name()]
        assert len(workers) >= 2, (tmp_path / "serve.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_workers_listening_socket_is_tcp_so_connections_get_no_delay() -> None:
    import asyncio

    from entgraph.api.serving import NoDelayConfig

    listener = NoDelayConfig("entgraph.api.app:app_from_environment", host="127.0.0.1", port=0).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP

    async def accepted_no_delay() -> int:
        seen: list[int] = []

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        while not seen:
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        return seen[0]

    # asyncio turns TCP_NODELAY on for accepted sockets of a TCP listener (uvicorn's own is proto 0)
    assert asyncio.run(accepted_no_delay()) != 0


@pytest.mark.slow
def test_the_demo_serves_what_it_prints_and_stops_what_it_started(home: Path) -> None:
    """From a home where nothing runs: every printed curl command works as pasted, for the role it
    names; Ctrl-C stops the API, the ingester and simulator, the broker and the store."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ENTGRAPH_", "NEO4J_"))}
    demo = subprocess.Popen(
        [ENTGRAPH, "demo", "--enterprises", "60", "--port", str(port)],
        env={**environ, "ENTGRAPH_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = _read_until(demo, "  admin ", timeout=900)
        _assert_summaries_add_up(printed)
        commands = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
        assert len(commands) == 10, printed  # every example found its facts: no placeholder anywhere
        assert "..." not in "".join(commands)
        _wait_http(f"http://127.0.0.1:{port}/healthz", demo)
        for command in commands:
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60, check=True)
            answer = json.loads(done.stdout)
            assert "errors" not in answer and answer["data"], (command, answer)
        started = psutil.Process(demo.pid).children(recursive=True)
        assert EmbeddedServer(home).is_alive() and _broker_running(home)
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:  # a failed assertion above: stop it as a user would, then for sure
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(demo.pid).children(recursive=True):
                    child.kill()
                demo.kill()
    assert "Stopped the MQTT broker and the graph store, which the demo started." in rest, rest
    assert not EmbeddedServer(home).is_alive() and not _broker_running(home)
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_the_demo_goes_on_without_mosquitto(home: Path) -> None:
    """No broker to be had: the meters and warnings are skipped, saying why and how to get it, and the
    rest of the demo runs to its end."""
    demo = run(
        "demo", "--enterprises", "60", "--no-serve", home=home, ENTGRAPH_MQTT_BINARY="/nonexistent/mosquitto"
    )
    assert demo.returncode == 0, demo.stderr
    assert "7/8 MQTT telemetry and 8/8 warnings skipped" in demo.stdout, demo.stdout
    assert "apt-get install mosquitto" in demo.stdout  # how to enable it
    assert "5/8 against the truth" in demo.stdout and "Stopped the graph store" in demo.stdout
    assert not _broker_running(home)

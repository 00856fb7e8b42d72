"""The write-version table: what a write touches, busy while it runs, stamped when it ends, seen by other
processes, and a writer killed mid-write repaired."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from entgraph.errors import ConfigurationError
from entgraph.graph.port import GraphStore
from entgraph.graph.write_versions import (
    GLOBAL,
    LEASE_SLOTS,
    NAMED,
    WriteVersions,
    dataset_slot,
    enterprise_slot,
    touching,
    touching_everything,
)


@pytest.fixture
def table(tmp_path: Path) -> WriteVersions:
    return WriteVersions.for_graph(tmp_path, "embedded|test")


def test_a_write_invalidates_what_it_touched_and_nothing_else(table: WriteVersions) -> None:
    s0 = table.sequence()
    a, b, d = enterprise_slot("E-a"), enterprise_slot("E-b"), dataset_slot("jj_tax")
    assert a != b
    with touching(enterprises=["E-a"]), table.writing():
        assert not table.unchanged_since(s0, [a]), "busy while the write runs"
        assert table.unchanged_since(s0, [b, d])
    assert not table.unchanged_since(s0, [a]), "stamped when it ended"
    assert table.unchanged_since(s0, [b, d])
    assert table.unchanged_since(table.sequence(), [a]), "a read begun after it is current"
    with touching(datasets=["jj_tax"]), table.writing():
        pass
    assert not table.unchanged_since(s0, [d]) and table.unchanged_since(s0, [b])


def test_a_write_that_says_nothing_touches_everything(table: WriteVersions) -> None:
    s0 = table.sequence()
    with table.writing():
        pass
    assert not table.unchanged_since(s0, []), "the global slot: every answer depends on it"
    s1 = table.sequence()
    with touching(enterprises=["E-a"]), touching_everything(), table.writing():
        pass
    assert not table.unchanged_since(s1, [enterprise_slot("E-b")])


def test_scopes_nest_by_union_and_a_global_one_stays_global(table: WriteVersions) -> None:
    s0 = table.sequence()
    with touching(enterprises=["E-a"]), touching(names=["warnings"]), table.writing():
        pass
    assert not table.unchanged_since(s0, [enterprise_slot("E-a")])
    assert not table.unchanged_since(s0, [NAMED["warnings"]])
    assert table.unchanged_since(s0, [enterprise_slot("E-b")])
    with touching(enterprises=[]), touching(enterprises=["E-c"]), table.writing():
        pass  # the outer scope named nothing: global
    assert not table.unchanged_since(s0, [GLOBAL])


def test_a_write_touching_many_slots_keeps_them_all(table: WriteVersions) -> None:
    ids = [f"E-{n}" for n in range(LEASE_SLOTS * 3)]
    s0 = table.sequence()
    with touching(enterprises=ids), table.writing():
        assert not table.unchanged_since(s0, [enterprise_slot(ids[-1])])
    assert all(not table.unchanged_since(s0, [enterprise_slot(e)]) for e in ids)
    assert table.unchanged_since(s0, [enterprise_slot("E-other")])


def test_another_process_sees_the_write(table: WriteVersions) -> None:
    s0 = table.sequence()
    script = textwrap.dedent(f"""
        from pathlib import Path
        from entgraph.graph.write_versions import WriteVersions, touching
        table = WriteVersions(Path({str(table.path)!r}))
        with touching(enterprises=["E-a"]), table.writing():
            pass
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    assert not table.unchanged_since(s0, [enterprise_slot("E-a")])
    assert table.unchanged_since(s0, [enterprise_slot("E-b")])


@pytest.mark.parametrize("many", [False, True])
def test_a_writer_killed_mid_write_is_repaired(table: WriteVersions, many: bool) -> None:
    ids = [f"E-{n}" for n in range(LEASE_SLOTS + 5)] if many else ["E-a"]
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from entgraph.graph.write_versions import WriteVersions, touching
        table = WriteVersions(Path({str(table.path)!r}))
        with touching(enterprises={ids!r}), table.writing():
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -signal.SIGKILL
    s0 = table.sequence()
    slot = enterprise_slot(ids[-1])
    assert table.repair() == 1, "its lease is left: the write may have committed"
    assert not table.unchanged_since(s0, [slot]), "the repair stamps it: what was read before is stale"
    assert table.unchanged_since(table.sequence(), [slot]), "and then it is idle"
    assert table.repair() == 0


def test_readers_repair_a_dead_writer_themselves(table: WriteVersions) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from entgraph.graph.write_versions import WriteVersions, touching
        table = WriteVersions(Path({str(table.path)!r}))
        with touching(enterprises=["E-a"]), table.writing():
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    s0 = table.sequence()
    assert not table.unchanged_since(s0, [enterprise_slot("E-a")])  # busy: a repair runs
    assert table.unchanged_since(table.sequence(), [enterprise_slot("E-a")])


def test_every_store_write_stamps_the_table(fresh_graph: GraphStore, tmp_path: Path) -> None:
    fresh_graph.versions = table = WriteVersions.for_graph(tmp_path, "store")
    try:
        s0 = table.sequence()
        fresh_graph.read("MATCH (n) RETURN count(n) AS n")
        assert table.unchanged_since(s0, []), "a read stamps nothing"
        with touching(enterprises=["E-a"]):
            fresh_graph.write("CREATE (:Probe {id: 1})")
        assert not table.unchanged_since(s0, [enterprise_slot("E-a")])
        assert table.unchanged_since(s0, [enterprise_slot("E-b")])
        fresh_graph.write("CREATE (:Probe {id: 2})")
        assert not table.unchanged_since(s0, [enterprise_slot("E-b")]), "unannotated: global"
    finally:
        fresh_graph.versions = None
        table.close()


def test_a_table_that_cannot_be_opened_stops_the_writer_with_a_fix(tmp_path: Path) -> None:
    blocked = tmp_path / "home"
    blocked.mkdir()
    (blocked / "run").write_text("a file where the folder should be")
    with pytest.raises(ConfigurationError, match="write-version table"):
        WriteVersions.for_graph(blocked, "embedded|x")

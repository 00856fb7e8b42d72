"""``entgraph --help`` starts without importing the platform: the sub-commands load when they run, and
the help they are listed with is their own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from entgraph.cli import LAZY, app, load_command

HEAVY = (
    *("splink", "duckdb", "falkordb", "neo4j", "strawberry", "fastapi", "python_calamine", "openpyxl"),
    *("pyarrow", "pydantic_settings", "entgraph.resolution", "entgraph.graph", "entgraph.loaders"),
)


@pytest.mark.parametrize("name", sorted(LAZY))
def test_a_lazy_command_is_listed_with_its_own_help(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert command.get_short_help_str(limit=300) == LAZY[name][2]


def _imported_by(args: list[str]) -> tuple[str, list[str]]:
    """What ``entgraph <args>`` printed, and the modules it had imported by then."""
    script = (
        "import sys, json\n"
        "from entgraph.cli import app\n"
        f"try:\n    app({args!r}, prog_name='entgraph')\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout, json.loads(done.stdout.splitlines()[-1])


def test_help_imports_nothing_heavy() -> None:
    printed, loaded = _imported_by(["--help"])
    assert "Commands" in printed  # the help was printed
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == [], heavy


LIBRARIES = ("splink", "duckdb", "falkordb", "neo4j", "strawberry", "fastapi", "python_calamine", "openpyxl")


@pytest.mark.parametrize("command", ["resolve", "load", "steward", "feeds", "evaluate"])
def test_a_commands_help_imports_no_engine(command: str) -> None:
    printed, loaded = _imported_by([command, "--help"])
    assert "Usage" in printed
    assert [m for m in loaded if m.split(".")[0] in LIBRARIES] == []


def test_a_sub_command_still_runs_with_the_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    monkeypatch.setenv("ENTGRAPH_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["feeds", "list"])
    assert result.exit_code == 0, result.output
    assert "jj_tax_net_receipts" in result.output
    assert CliRunner().invoke(app, ["export", "links", "--help"]).exit_code == 0  # a group of one stays one

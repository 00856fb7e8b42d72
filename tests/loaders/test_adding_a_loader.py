"""docs/adding-a-loader.md, followed to the letter: its files are written, its commands run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-loader.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
ENTGRAPH = shutil.which("entgraph", path=str(Path(sys.executable).parent)) or "entgraph"


def walkthrough() -> tuple[dict[str, str], list[str]]:
    """The doc's files (path -> text) and its shell commands, in order."""
    files: dict[str, str] = {}
    commands: list[str] = []
    for lang, info, body in FENCE.findall(DOC.read_text(encoding="utf-8")):
        attrs = dict(part.split("=", 1) for part in info.split() if "=" in part)
        if lang == "bash":
            commands += [line for line in body.splitlines() if line.strip()]
        elif "file" in attrs:
            # "copy that file and change these lines"
            text = replace_lines(files[attrs["replace"]], body) if "replace" in attrs else body
            files[attrs["file"]] = text
    return files, commands


def replace_lines(base: str, changes: str) -> str:
    new = {line.split("=", 1)[0].strip(): line for line in changes.splitlines() if "=" in line}
    out = []
    top_level = True  # only keys above the first [table] are the file's own
    for line in base.splitlines():
        top_level = top_level and not line.startswith("[")
        key = line.split("=", 1)[0].strip() if top_level and "=" in line else None
        out.append(new.get(key, line) if key else line)
    return "\n".join(out) + "\n"


def install_plugin(root: Path, site: Path) -> None:
    """What `pip install -e fire_plugin` leaves behind: the module on the path and its entry points."""
    meta = tomllib.loads((root / "fire_plugin" / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_the_walkthrough_works_as_written(tmp_path: Path) -> None:
    files, commands = walkthrough()
    assert len(commands) == 4, commands
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    site = tmp_path / "site"
    install_plugin(tmp_path, site)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENTGRAPH_", "NEO4J_"))}
    env |= {
        "ENTGRAPH_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(site), str(tmp_path / "fire_plugin")]),
    }

    def run(command: str) -> subprocess.CompletedProcess[str]:
        argv = command.split()
        assert argv[0] == "entgraph"
        return subprocess.run(
            [ENTGRAPH, *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    try:
        listed = run(commands[0])
        assert listed.returncode == 0, listed.stderr
        assert "jj_fire_inspections " in listed.stdout and "消防检查记录" in listed.stdout
        assert "jj_fire_inspections_json" in listed.stdout  # the entry-point loader is registered

        loaded = run(commands[1])
        assert loaded.returncode == 0, loaded.stderr
        line = next(ln for ln in loaded.stdout.splitlines() if "消防检查_2023-04.csv" in ln)
        assert line.split()[2:6] == ["3", "2", "1", "0"]  # read, loaded, refused, unchanged
        report = next(ln for ln in loaded.stdout.splitlines() if "report:" in ln).split("report:")[1].strip()
        assert Path(report).exists()

        again = run(commands[1])
        line = next(ln for ln in again.stdout.splitlines() if "消防检查_2023-04.csv" in ln)
        assert line.split()[2:6] == ["3", "0", "1", "2"]

        exported = run(commands[2])
        assert exported.returncode == 0, exported.stderr
        line = next(ln for ln in exported.stdout.splitlines() if "fire-export-2023-04.json" in ln)
        assert line.split()[1] == "jj_fire_inspections_json"
        assert line.split()[2:5] == ["2", "2", "0"]

        status = run(commands[3])
        assert status.returncode == 0, status.stderr
        row = next(ln for ln in status.stdout.splitlines() if ln.split()[1:2] == ["消防检查记录"])
        assert row.split()[3:7] == ["2023-04", "2023-04", "迟报", "late"]  # received today: after 15 May 2023
    finally:
        run("entgraph store stop")

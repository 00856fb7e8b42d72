"""The layers hold: import-linter checks the contracts in pyproject.toml (``[tool.importlinter]``).

The repository keeps its folders (graph/, api/, ... at the top) and installs each folder
under the ``entgraph`` namespace (``package-dir``), which import-linter cannot follow: it walks one
folder per root package. So the test lays out the installed tree as symbolic links, the way a wheel
would, and lints that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _installed_tree(root: Path) -> Path:
    """``root/entgraph`` with each ``package-dir`` folder linked where it installs."""
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    top = root / "entgraph"
    top.mkdir()
    for source in (REPO / mapping["entgraph"]).glob("*.py"):
        (top / source.name).symlink_to(source)
    for package, folder in mapping.items():
        if package != "entgraph":
            (top / package.removeprefix("entgraph.")).symlink_to(REPO / folder, target_is_directory=True)
    return root


def test_every_layer_imports_only_what_lies_below_it(tmp_path: Path) -> None:
    tree = _installed_tree(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache", str(REPO / "pyproject.toml")],
        check=False, cwd=tree, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "5 kept" in done.stdout, done.stdout[-2000:]

"""The wheel ships every folder the code imports or reads: pyproject.toml lists each package (data
folders too), so a non-editable install is not missing a subpackage an editable one finds anyway."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
SKIP = {"__pycache__", "node_modules"}


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _folders(package: str, folder: Path) -> set[str]:
    """``package`` and every folder below it holding a file, as dotted package names."""
    found = {package}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIP):
        if any(f.is_file() for f in sub.rglob("*") if not SKIP & set(f.parts)):
            found |= _folders(f"{package}.{sub.name}", sub)
    return found


def test_every_folder_of_every_top_package_is_listed() -> None:
    config = _setuptools()
    listed = set(config["packages"])
    expected = set().union(*(_folders(name, ROOT / path) for name, path in config["package-dir"].items()))
    assert expected - listed == set(), "folders a wheel would leave out"
    assert listed - expected == set(), "listed packages with no folder"


def test_data_files_are_declared_for_the_folders_that_hold_them() -> None:
    config = _setuptools()
    data = config["package-data"]
    for package, path in (
        ("entgraph.catalog.specs", "catalog/specs"),
        ("entgraph.api.console.static.js", "api/console/static/js"),
    ):
        assert package in data and any((ROOT / path).glob(data[package][0])), package

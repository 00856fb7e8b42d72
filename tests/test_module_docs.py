"""Every module says its job in its docstring's first line: a reader scanning a folder learns what each
file is for without reading further."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules() -> list[Path]:
    folders = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    found = [p for folder in (*folders.values(), "bench") for p in sorted((REPO / folder).rglob("*.py"))]
    return [p for p in found if "node_modules" not in p.parts]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_a_modules_first_docstring_line_says_its_job(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc and doc.strip(), "no module docstring"
    lines = doc.strip().splitlines()
    first = lines[0].strip()
    # a sentence of its own: ends there, and is followed by nothing or by a blank line
    assert first.endswith((".", ":", "?", ")")) or len(lines) == 1, f"first line runs on: {first!r}"
    assert len(lines) == 1 or not lines[1].strip(), f"first line runs on: {first!r}"

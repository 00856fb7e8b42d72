"""How long a command takes before it does anything, against a bare Python start.

``entgraph --help`` and a sub-command's ``--help``, against a bare Python start in the same run (these
machines are noisy; the ratio is the figure).

    python -m bench.cli_startup [--runs 7] [--json out.json]

Each command runs ``--runs`` times in a fresh process; the median wall time is reported with the
modules imported (``-X importtime``: the cumulative time of the slowest top-level imports), which is
where the time goes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENTGRAPH = str(Path(sys.executable).with_name("entgraph"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "entgraph --help": [ENTGRAPH, "--help"],
    "entgraph load --help": [ENTGRAPH, "load", "--help"],
    "entgraph resolve --help": [ENTGRAPH, "resolve", "--help"],
}


def wall(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def heaviest_imports(top: int = 8) -> list[tuple[str, float]]:
    """The slowest imports under ``entgraph.cli`` (cumulative seconds), from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import entgraph.cli"],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if len(name) - len(name.lstrip()) <= 3:  # top-level imports of entgraph.cli's own tree
                rows.append((name.strip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {name: wall(command, args.runs) for name, command in COMMANDS.items()}
    base = results["python -c pass"]
    print("| command | median s | x bare Python |\n|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / base:.1f} |")
    imports = heaviest_imports()
    print("\nheaviest imports under entgraph.cli (cumulative s):")
    for name, seconds in imports:
        print(f"  {name:<40} {seconds:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"wall": results, "imports": imports}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

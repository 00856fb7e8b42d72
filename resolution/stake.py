"""What is at stake in a steward task: its records weighed by their datasets (``stake.toml``).

A task's stake is the sum of its records' weights. Each record weighs by its dataset's category — tax,
electricity, credit events weigh more than a park list — so the queue puts first the names whose
records feed the figures a city watches. The weights are data (``stake.toml`` beside this module);
this module only reads them and classifies datasets by key, credit flag, department and title.

A task stores one entry per record, ``<record id>|<category>|<weight>`` (record ids never contain
'|'), so the stake accumulates with the task's records over runs and its explanation ("3 tax
records, 12 electricity records") is read back from the same entries.
"""

from __future__ import annotations

import functools
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec
from entgraph.errors import ConfigurationError

STAKE_TABLE = Path(__file__).resolve().parent / "stake.toml"
OTHER = "other"


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    weight: float
    datasets: tuple[str, ...] = ()
    credit: bool = False
    departments: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()

    def claims(self, dataset: str, spec: DatasetSpec | None) -> bool:
        if dataset in self.datasets:
            return True
        if spec is not None:
            if self.credit and spec.sharing.credit:
                return True
            if any(word in (spec.department or "") for word in self.departments):
                return True
            if any(word in (spec.title or "") for word in self.titles):
                return True
        return any(word in dataset.lower() for word in self.keys)


@dataclass(frozen=True)
class StakeLine:
    """One category's share of a task's stake."""

    category: str
    label: str
    records: int
    weight: float

    @property
    def stake(self) -> float:
        return self.records * self.weight


@dataclass
class StakeTable:
    categories: tuple[Category, ...]
    default: float = 1.0
    specs: Mapping[str, DatasetSpec] = field(default_factory=dict)
    _memo: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, catalog: Catalog | None = None, path: Path = STAKE_TABLE) -> StakeTable:
        """The table in ``path``; datasets are classified with ``catalog``'s specs (department, title,
        sharing), else with the built-in catalog's."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read the stake table {path}: {exc}") from None
        categories = []
        for raw in data.get("category", []):
            try:
                categories.append(
                    Category(
                        key=str(raw["key"]),
                        label=str(raw.get("label") or raw["key"]),
                        weight=float(raw["weight"]),
                        datasets=tuple(raw.get("datasets", ())),
                        credit=bool(raw.get("credit", False)),
                        departments=tuple(raw.get("departments", ())),
                        titles=tuple(raw.get("titles", ())),
                        keys=tuple(w.lower() for w in raw.get("keys", ())),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"stake table {path}: a [[category]] needs a key and a numeric weight ({exc})"
                ) from None
        if catalog is None:
            catalog = _builtin_catalog()
        return cls(tuple(categories), float(data.get("default", 1.0)), {s.key: s for s in catalog.specs})

    def classify(self, dataset: str) -> tuple[str, float]:
        """(category, weight) of a dataset's records."""
        found = self._memo.get(dataset)
        if found is None:
            spec = self.specs.get(dataset)
            category = next((c for c in self.categories if c.claims(dataset, spec)), None)
            found = (category.key, category.weight) if category else (OTHER, self.default)
            self._memo[dataset] = found
        return found

    def label(self, category: str) -> str:
        return next((c.label for c in self.categories if c.key == category), category)

    def entries(self, records: Iterable[tuple[str, str]]) -> list[str]:
        """``<record id>|<category>|<weight>`` per distinct record, from (record id, dataset) pairs."""
        out: dict[str, str] = {}
        for record_id, dataset in records:
            if record_id not in out:
                category, weight = self.classify(dataset)
                out[record_id] = f"{record_id}|{category}|{_number(weight)}"
        return list(out.values())

    def explain(self, entries: Sequence[str]) -> list[StakeLine]:
        """A task's stake by category, largest share first."""
        counts: Counter[tuple[str, float]] = Counter()
        for entry in entries:
            _record, category, weight = _parse(entry)
            counts[(category, weight)] += 1
        lines = [StakeLine(cat, self.label(cat), n, weight) for (cat, weight), n in counts.items()]
        lines.sort(key=lambda line: (-line.stake, line.category))
        return lines


def stake_of(entries: Sequence[str]) -> float:
    return sum(_parse(entry)[2] for entry in entries)


def describe(lines: Sequence[StakeLine]) -> str:
    """'3 税务 tax records (×5), 12 电力 electricity records (×4)'."""
    return ", ".join(
        f"{line.records} {line.label} record{'s' if line.records != 1 else ''} (×{_number(line.weight)})"
        for line in lines
    )


@functools.cache
def default_table() -> StakeTable:
    """The packaged table over the built-in catalog (for callers that have no catalog at hand)."""
    return StakeTable.load()


@functools.cache
def _builtin_catalog() -> Catalog:
    return Catalog.load(entry_points=False)


def _parse(entry: str) -> tuple[str, str, float]:
    record_id, category, weight = entry.rsplit("|", 2)
    try:
        return record_id, category, float(weight)
    except ValueError:
        return record_id, category, 0.0


def _number(value: float) -> str:
    return f"{value:g}"


def as_dict(line: StakeLine) -> dict[str, Any]:
    return {**asdict(line), "stake": line.stake}

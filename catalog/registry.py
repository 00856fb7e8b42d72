"""The catalog of known feeds: built-in specs, integrators' spec folders and entry-point loaders.

Built in: the seed datasets (``specs/``) and the platform's own (``platform/``: what the platform asks for
beyond the seeds, such as the town boundaries its map draws).

Integrators add a dataset in one of two ways:
- a spec file (``*.toml``) in a folder named by ``ENTGRAPH_SPECS`` (``:``-separated) or ``--spec-dir``;
- a Python package registering, under the entry-point group ``entgraph.loaders``, either a
  ``DatasetSpec``, a path to spec files, or a ``FeedLoader`` (a spec plus its own row reader, for
  formats that are not tables).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from entgraph.catalog.spec import DatasetSpec, load_spec
from entgraph.errors import ConfigurationError

BUILTIN_CATALOG = Path(__file__).resolve().parent / "specs"
# Datasets the platform itself asks departments for, beyond the seeds' 84 (the town boundaries the map
# draws): built in as well, kept apart so that ``specs/`` stays exactly the seed catalog.
PLATFORM_CATALOG = Path(__file__).resolve().parent / "platform"
ENTRY_POINT_GROUP = "entgraph.loaders"

RawRow = tuple[str, int, dict[str, Any]]
"""(sheet, row number, {header: cell value}) as a custom loader yields it."""


@runtime_checkable
class FeedLoader(Protocol):
    """A dataset whose files are not plain tables: it reads its own rows, the engine does the rest."""

    spec: DatasetSpec

    def rows(self, path: Path) -> Iterator[RawRow]: ...


@dataclass(frozen=True)
class Feed:
    spec: DatasetSpec
    loader: FeedLoader | None = None  # None: a table read by the standard readers
    origin: str = "builtin"


class Catalog:
    """All feeds the platform can load, looked up by key, title, file name or header signature."""

    def __init__(self, feeds: Iterable[Feed]) -> None:
        self._feeds: dict[str, Feed] = {}
        for feed in feeds:
            key = feed.spec.key
            if key in self._feeds:
                raise ConfigurationError(
                    f"dataset key {key!r} is defined twice ({self._feeds[key].origin} and {feed.origin}); "
                    "rename one of them"
                )
            self._feeds[key] = feed

    @classmethod
    def load(cls, spec_dirs: Sequence[Path] = (), entry_points: bool = True) -> Catalog:
        feeds = [
            Feed(spec, origin=str(path))
            for folder in (BUILTIN_CATALOG, PLATFORM_CATALOG)
            for path, spec in _specs_in(folder)
        ]
        for folder in spec_dirs:
            if not Path(folder).is_dir():
                raise ConfigurationError(f"spec folder {folder} does not exist (ENTGRAPH_SPECS / --spec-dir)")
            feeds += [Feed(spec, origin=str(path)) for path, spec in _specs_in(Path(folder))]
        if entry_points:
            feeds += list(_entry_point_feeds())
        return cls(feeds)

    def __iter__(self) -> Iterator[Feed]:
        return iter(self._feeds.values())

    def __len__(self) -> int:
        return len(self._feeds)

    @property
    def specs(self) -> list[DatasetSpec]:
        return [feed.spec for feed in self._feeds.values()]

    def get(self, key_or_title: str) -> Feed:
        """By key, by exact title, or by 'department/title' when titles repeat across departments."""
        wanted = key_or_title.strip()
        if wanted in self._feeds:
            return self._feeds[wanted]
        by_title = [f for f in self._feeds.values() if wanted in (f.spec.title, _qualified(f.spec))]
        if len(by_title) == 1:
            return by_title[0]
        if len(by_title) > 1:
            options = ", ".join(f"{f.spec.key} ({_qualified(f.spec)})" for f in by_title)
            raise ConfigurationError(f"{wanted!r} names several datasets: {options}; pass the key instead")
        raise ConfigurationError(
            f"no dataset {wanted!r} in the catalog; `entgraph feeds list` shows keys and titles"
        )

    def by_file_name(self, path: Path) -> list[Feed]:
        """Feeds whose file patterns, key or title appear in the file name (best evidence first)."""
        name = path.name
        hits = []
        for feed in self._feeds.values():
            spec = feed.spec
            if any(fnmatch.fnmatch(name, pattern) for pattern in spec.file_patterns):
                hits.append((2, feed))
            elif spec.key in name or spec.title in name:
                hits.append((1, feed))
        hits.sort(key=lambda hit: (-hit[0], -len(hit[1].spec.title)))
        return [feed for _, feed in hits]


def _qualified(spec: DatasetSpec) -> str:
    return f"{spec.department}/{spec.title}"


def _specs_in(folder: Path) -> Iterator[tuple[Path, DatasetSpec]]:
    for path in sorted(folder.glob("*.toml")):
        yield path, load_spec(path)


def _entry_point_feeds() -> Iterator[Feed]:
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = entry.load()
        except Exception as exc:  # an integrator's broken package must not hide the cause
            raise ConfigurationError(
                f"entry point {entry.name!r} ({entry.value}) in group {ENTRY_POINT_GROUP} "
                f"failed to load: {exc}"
            ) from exc
        # A class or a factory function is called once to get the loader (or spec) it stands for.
        if isinstance(obj, type) or (callable(obj) and not isinstance(obj, DatasetSpec | FeedLoader | Path)):
            obj = obj()
        origin = f"entry point {entry.name} ({entry.value})"
        if isinstance(obj, DatasetSpec):
            yield Feed(obj, origin=origin)
        elif isinstance(obj, FeedLoader):
            yield Feed(obj.spec, loader=obj, origin=origin)
        elif isinstance(obj, str | Path):
            path = Path(obj)
            specs = _specs_in(path) if path.is_dir() else [(path, load_spec(path))]
            for spec_path, spec in specs:
                yield Feed(spec, origin=f"{origin}: {spec_path}")
        else:
            raise ConfigurationError(
                f"entry point {entry.name!r} in group {ENTRY_POINT_GROUP} gave a {type(obj).__name__}; "
                "it must give a DatasetSpec, a FeedLoader, or a path to spec files"
            )

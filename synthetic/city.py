"""``generate_city``: a synthetic city's department files plus the ground truth to score resolution.

Output folder layout::

    DIR/<dataset files>.xlsx|.csv   one file per dataset spec (`entgraph load DIR/*` loads them)
    DIR/truth/truth.csv          every data row -> its true enterprise, per party, with the noise applied
                                 (sheet: the worksheet name; for a CSV its file name, as the readers name
                                 it; row: as a spreadsheet program numbers it / the CSV line number)
    DIR/truth/bad_rows.csv       the malformed cells planted in the files (file, sheet, row, column, ...)
    DIR/truth/enterprises.csv    the population (ground truth)
    DIR/truth/hard_negatives.csv pairs of distinct enterprises with near-identical names
    DIR/truth/ambiguous.csv      the (row, party) pairs nobody can resolve: a core other enterprises
                                 share, written with nothing that singles the enterprise out
                                 (file, sheet, row, party, reason; see ambiguous.py)
    DIR/truth/manifest.json      seed, N, profile, files, rows per dataset, shared-core and coded shares
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from entgraph.catalog.spec import DatasetSpec
from entgraph.synthetic.ambiguous import AmbiguousWriter
from entgraph.synthetic.datasets import (
    DatasetPlan,
    GenRow,
    Picker,
    RowBuilder,
    assign_sheets,
    plan_dataset,
    plant_malformed,
)
from entgraph.synthetic.files import FileSummary, write_table
from entgraph.synthetic.noise import NoiseProfile
from entgraph.synthetic.population import Population, build_population
from entgraph.synthetic.profiles import CityProfile, get_profile, is_register, shared_core_share

GENERATOR_VERSION = 1
FILES_DIR = "."  # department files sit directly in DIR, so `entgraph load DIR/*` loads them
TRUTH_DIR = "truth"  # ground truth apart, in DIR/truth/
TRUTH_HEADER = ("file", "sheet", "row", "dataset", "enterprise_id", "party", "credit_code", "noise")
BAD_HEADER = ("file", "sheet", "row", "column", "value", "kind")
ENTERPRISE_HEADER = (
    "id", "credit_code", "name", "former_name", "kind", "parent_id", "town", "industry", "legal_rep", "phone",
    "address", "status", "division", "industry_code", "industry_label", "chain", "chain_position", "park",
    "registered_capital_wan", "established", "status_date", "renamed_on",
)  # fmt: skip
FORMATS = ("mixed", "xlsx", "csv")


@dataclass
class CitySummary:
    out_dir: Path
    seed: int
    n_enterprises: int
    files: list[FileSummary]
    population: dict[str, int]
    truth_rows: int
    bad_rows: int
    hard_negatives: int
    seconds: float
    paths: dict[str, Path] = field(default_factory=dict)
    profile: str = "jinjiang"
    shared_core_share: float = 0.0  # companies whose core name (字号 + industry word) another company has
    coded_share: float = 0.0  # rows of non-register feeds with code columns that carry the credit code
    codeless_mentions: int = 0  # (row, party) enterprise mentions without a valid credit code
    ambiguous_mentions: int = 0  # of those, the ones in truth/ambiguous.csv: nobody can single them out

    @property
    def files_dir(self) -> Path:
        return self.out_dir / FILES_DIR

    @property
    def counts(self) -> dict[str, int]:
        return {f.dataset: f.rows for f in self.files}

    @property
    def data_rows(self) -> int:
        return sum(f.rows for f in self.files)


def catalog_specs(spec_dirs: Sequence[Path] = ()) -> list[DatasetSpec]:
    """Every table-shaped dataset in the built-in catalog (and the given spec folders)."""
    from entgraph.catalog.registry import Catalog

    return [feed.spec for feed in Catalog.load(list(spec_dirs), entry_points=False) if feed.loader is None]


def _clear_previous(out_dir: Path) -> None:
    """Remove the files a previous run listed in its manifest (and nothing else)."""
    manifest = out_dir / TRUTH_DIR / "manifest.json"
    if not manifest.is_file():
        return
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for item in old.get("files", []):
        path = out_dir / FILES_DIR / str(item.get("file", ""))
        if path.is_file() and path.parent == out_dir / FILES_DIR:
            path.unlink()


def _keep(
    summaries: list[FileSummary],
    written: FileSummary,
    total: int,
    progress: Callable[[int, int, FileSummary], None] | None,
) -> None:
    summaries.append(written)
    if progress is not None:  # (files written, files in all, the one just written)
        progress(len(summaries), total, written)


def generate_city(
    n_enterprises: int,
    seed: int,
    out_dir: Path,
    specs: Sequence[DatasetSpec] | None = None,
    *,
    formats: str = "mixed",
    noise_scale: float = 1.0,
    row_scale: float = 1.0,
    noise_profiles: Mapping[str, NoiseProfile] | None = None,
    profile: str | CityProfile | None = None,
    progress: Callable[[int, int, FileSummary], None] | None = None,
) -> CitySummary:
    """Generate a synthetic city: population, one file per dataset spec, and the ground truth.

    ``specs`` None loads every catalog spec. ``formats``: ``mixed`` (most .xlsx, some .csv in UTF-8,
    UTF-8 with BOM or GBK), ``xlsx`` or ``csv``. ``noise_scale`` multiplies every noise share (0 gives
    clean files apart from the planted malformed rows); ``row_scale`` multiplies sampled rows per dataset;
    ``noise_profiles`` replaces departments' noise habits (keyed by a word of the department name, ``"*"``
    for all; see ``noise.NoiseProfile`` -- e.g. the share of rows that omit the credit code);
    ``profile`` is a city profile (a name of ``profiles.PROFILES`` or a ``CityProfile``; default
    ``jinjiang``, today's habits) whose coded shares apply on top of the noise profiles.
    ``progress`` is told after each file is written. Deterministic: the same arguments give the same bytes.
    """
    city = get_profile(profile)
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {', '.join(FORMATS)}, not {formats!r}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    files_dir = out_dir / FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    _clear_previous(out_dir)
    specs = sorted(catalog_specs() if specs is None else specs, key=lambda s: s.key)
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("two dataset specs share a key")

    pop = build_population(n_enterprises, seed, city)
    picker = Picker(pop)
    taken: set[str] = set()
    check = _name_check(specs)
    plans = [
        plan_dataset(spec, seed, formats, noise_scale, taken, check, noise_profiles, city) for spec in specs
    ]

    summaries: list[FileSummary] = []
    truth_rows = bad_rows = 0
    coded = [0, 0]  # rows of non-register feeds' parties that have code columns: [with the code, all]
    with (
        open(out_dir / TRUTH_DIR / "truth.csv", "w", encoding="utf-8", newline="") as truth_file,
        open(out_dir / TRUTH_DIR / "bad_rows.csv", "w", encoding="utf-8", newline="") as bad_file,
        AmbiguousWriter(out_dir / TRUTH_DIR / "ambiguous.csv", pop) as ambiguous,
    ):
        truth = csv.writer(truth_file)
        bad = csv.writer(bad_file)
        truth.writerow(TRUTH_HEADER)
        bad.writerow(BAD_HEADER)
        for plan in plans:
            rows = _rows(plan, pop, picker, row_scale)
            name, key, headers = plan.layout.file_name, plan.spec.key, plan.headers
            counted = {c.party for c in plan.columns if c.identity and not is_register(plan.spec.department)}

            def emit(row: GenRow, sheet: str, number: int, name: str = name, key: str = key,
                     headers: list[str] = headers, counted: set[str | None] = counted,
                     plan: DatasetPlan = plan) -> None:  # fmt: skip
                nonlocal truth_rows, bad_rows
                for party, eid, code, noise in row.truth:
                    truth.writerow((name, sheet, number, key, eid, party, code, noise))
                    truth_rows += 1
                    if eid and party in counted:
                        coded[1] += 1
                        coded[0] += "no_code" not in noise and "legacy_code" not in noise
                ambiguous.add(plan, row, name, sheet, number)
                if row.bad is not None:
                    col, value, kind = row.bad
                    bad.writerow((name, sheet, number, headers[col], value, kind))
                    bad_rows += 1

            _keep(summaries, write_table(files_dir, plan, rows, emit), len(plans), progress)

    _write_population(out_dir, pop)
    population = _population_counts(pop)
    seconds = time.perf_counter() - started
    summary = CitySummary(
        out_dir=out_dir,
        seed=seed,
        n_enterprises=n_enterprises,
        files=summaries,
        population=population,
        truth_rows=truth_rows,
        bad_rows=bad_rows,
        hard_negatives=len(pop.hard_negatives),
        seconds=seconds,
        paths={
            name: out_dir / TRUTH_DIR / f"{name}.csv"
            for name in ("truth", "bad_rows", "enterprises", "hard_negatives", "ambiguous")
        }
        | {"manifest": out_dir / TRUTH_DIR / "manifest.json", "files": files_dir},
        profile=city.name,
        shared_core_share=round(shared_core_share(pop), 4),
        coded_share=round(coded[0] / coded[1], 4) if coded[1] else 0.0,
        codeless_mentions=ambiguous.codeless,
        ambiguous_mentions=ambiguous.ambiguous,
    )
    manifest = {
        "generator": "entgraph.synthetic",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "n_enterprises": n_enterprises,
        "formats": formats,
        "noise_scale": noise_scale,
        "noise_profiles": {k: asdict(v) for k, v in (noise_profiles or {}).items()},
        "row_scale": row_scale,
        "profile": asdict(city),
        "shared_core_share": summary.shared_core_share,
        "coded_share_outside_register": summary.coded_share,
        "files_dir": FILES_DIR,
        "population": population,
        "counts": summary.counts,
        "truth_rows": truth_rows,
        "bad_rows": bad_rows,
        "codeless_mentions": summary.codeless_mentions,
        "ambiguous_mentions": summary.ambiguous_mentions,
        "hard_negatives": len(pop.hard_negatives),
        "files": [asdict(f) for f in summaries],
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    (out_dir / TRUTH_DIR / "manifest.json").write_text(text, encoding="utf-8")
    return summary


def _name_check(specs: Sequence[DatasetSpec]) -> Callable[[str, DatasetSpec], bool]:
    """Whether the loader's detection by file name picks this dataset first for a file name."""
    from entgraph.catalog.registry import Catalog, Feed

    catalog = Catalog(Feed(spec) for spec in specs)

    def check(name: str, spec: DatasetSpec) -> bool:
        hits = catalog.by_file_name(Path(name))
        return bool(hits) and hits[0].spec.key == spec.key

    return check


def _rows(plan: DatasetPlan, pop: Population, picker: Picker, row_scale: float) -> list[GenRow]:
    rows = RowBuilder(plan, pop, picker, row_scale).rows()
    plant_malformed(plan, rows)
    assign_sheets(plan, rows)
    return rows


def _population_counts(pop: Population) -> dict[str, int]:
    counts: dict[str, int] = {"total": len(pop.enterprises)}
    for e in pop.enterprises:
        counts[e.kind] = counts.get(e.kind, 0) + 1
        counts[f"status:{e.status}"] = counts.get(f"status:{e.status}", 0) + 1
        if e.former_name:
            counts["renamed"] = counts.get("renamed", 0) + 1
    counts["people"] = len(pop.people)
    return counts


def _write_population(out_dir: Path, pop: Population) -> None:
    with open(out_dir / TRUTH_DIR / "enterprises.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ENTERPRISE_HEADER)
        for e in pop.enterprises:
            w.writerow((
                e.id, e.credit_code, e.name, e.former_name, e.kind, e.parent_id, e.town_name, e.industry.name,
                e.legal_rep.name, e.phone, e.address, e.status, e.division, e.subclass[0],
                e.industry.label, e.chain, e.chain_position, e.park, _number(e.registered_capital),
                e.established.isoformat(), e.status_date.isoformat() if e.status_date else "",
                e.renamed_on.isoformat() if e.renamed_on else "",
            ))  # fmt: skip
    with open(out_dir / TRUTH_DIR / "hard_negatives.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("enterprise_id_a", "enterprise_id_b", "kind", "name_a", "name_b"))
        for a, b, kind in pop.hard_negatives:
            w.writerow((a, b, kind, pop.by_id[a].name, pop.by_id[b].name))


def _number(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")

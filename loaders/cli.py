"""``entgraph load`` and ``entgraph feeds ...``: load department files, list feeds, check timeliness."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from entgraph.display import pad
from entgraph.errors import EntgraphError

if TYPE_CHECKING:
    from entgraph.catalog.registry import Catalog
    from entgraph.loaders.engine import LoadResult
    from entgraph.settings import Settings

feeds_app = typer.Typer(
    help="The catalog of department feeds and their reporting timeliness.", no_args_is_help=True
)

_SPEC_DIR = typer.Option([], "--spec-dir", help="Extra folder of dataset specs (also ENTGRAPH_SPECS).")
_STATUS_ZH = {
    "on_time": "按时",
    "late": "迟报",
    "missing": "缺报",
    "not_due": "未到期",
    "no_deadline": "无时限",
}


def catalog_for(settings: Settings, spec_dirs: list[Path] | None = None) -> Catalog:
    from entgraph.catalog.registry import Catalog

    return Catalog.load([*settings.spec_dirs, *(spec_dirs or [])])


_PATHS = typer.Argument(..., help="Files to load (.xlsx, .xls, .csv, .geojson).")


def load_command(
    ctx: typer.Context,
    paths: list[Path] = _PATHS,
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset key or title (else detected)."),
    spec_dir: list[Path] = _SPEC_DIR,
) -> None:
    """Load department files: validate every row, write records with provenance, report refused rows."""
    from entgraph.graph import open_store
    from entgraph.loaders.engine import Loader

    settings: Settings = ctx.obj
    catalog = catalog_for(settings, spec_dir)
    failures = 0
    with open_store(settings) as store:
        loader = Loader(store, catalog, settings.report_dir, progress=_progress())
        header = (
            f"{'file':<40} {'dataset':<28} {'read':>8} {'loaded':>8} {'refused':>8} {'unchanged':>9} "
            f"{'repeated':>8} {'skipped':>8}"
        )
        typer.echo(header)
        for path in paths:
            if path.is_dir():
                typer.echo(f"{pad(path.name, 40)} skipped: a folder (pass the files in it)", err=True)
                continue
            try:
                result = loader.load(path, dataset)
            except EntgraphError as exc:
                failures += 1
                typer.echo(f"{pad(path.name, 40)} REFUSED: {exc}", err=True)
                continue
            _print_result(result)
    if failures:
        typer.echo(f"{failures} of {len(paths)} files refused whole; nothing from them was loaded", err=True)
        raise typer.Exit(1)


PROGRESS_EVERY_S = 5.0


def _progress() -> Callable[[LoadResult], None]:
    """A large file's rows so far on stderr, at most every few seconds, with the rate."""
    state = {"path": None, "started": 0.0, "said": 0.0}

    def say(result: LoadResult) -> None:
        now = time.monotonic()
        if state["path"] != result.path:
            state.update(path=result.path, started=now, said=now)
            return
        if now - state["said"] >= PROGRESS_EVERY_S:
            state["said"] = now
            rate = result.accounted / max(now - float(state["started"] or now), 1e-9)
            typer.echo(
                f"  {result.path.name}: {result.accounted:,} rows so far ({rate:,.0f}/s) ...", err=True
            )

    return say


def _print_result(r: LoadResult) -> None:
    """One line per file whose counts add up: read = loaded + refused + unchanged + repeated + skipped.

    ``repeated``: rows whose record key a later row of the file repeats (the later row wins);
    ``skipped``: blank rows, 合计 (totals) rows and rows of hidden sheets, itemised after the line.
    """
    why = [
        f"{n} {what}"
        for n, what in (
            (r.skipped_blank, "blank"),
            (r.skipped_totals, "totals"),
            (r.skipped_hidden, f"on hidden sheet{'s' if len(r.sheets_hidden) > 1 else ''}"),
        )
        if n
    ]
    typer.echo(
        f"{pad(r.path.name, 40)} {pad(r.dataset, 28)} {r.rows_read:>8} {r.loaded:>8} "
        f"{r.rejected:>8} {r.unchanged:>9} {r.duplicates:>8} {r.skipped:>8}"
        + (f"  (updated {r.updated}, retired {r.retired})" if r.updated or r.retired else "")
        + (f"  (skipped: {', '.join(why)})" if why else "")
    )
    if r.rejected or r.warnings:
        typer.echo(f"{'':<40} report: {r.report_path}")


@feeds_app.command("list")
def list_feeds(ctx: typer.Context, spec_dir: list[Path] = _SPEC_DIR) -> None:
    """Every dataset the platform can load."""
    for spec in catalog_for(ctx.obj, spec_dir).specs:
        deadline = _duration(spec.deadline) if spec.deadline else "-"
        typer.echo(
            f"{pad(spec.key, 34)} {pad(spec.city, 4)} {pad(spec.department, 16)} {pad(spec.title, 30)} "
            f"{spec.frequency.value:<13} {deadline}"
        )


@feeds_app.command("status")
def status(
    ctx: typer.Context,
    as_of: str | None = typer.Option(None, help="Judge as of this date/time (ISO, China time); default now."),
    department: str | None = typer.Option(None, help="Only this department."),
    spec_dir: list[Path] = _SPEC_DIR,
) -> None:
    """Per department and dataset: the last period received and whether it is on time, late or missing."""
    from entgraph.catalog.timeliness import feed_status
    from entgraph.graph import open_store, upload_queries

    settings: Settings = ctx.obj
    moment = _as_of(as_of)
    catalog = catalog_for(settings, spec_dir)
    with open_store(settings) as store:
        uploads = upload_queries.uploads(store)
    by_dataset: dict[str, list[dict]] = {}
    for upload in uploads:
        by_dataset.setdefault(upload["dataset"], []).append(upload)
    typer.echo(f"as of {moment.isoformat(timespec='minutes')}")
    typer.echo(
        f"{pad('department', 16)} {pad('dataset', 30)} {'frequency':<13} {'last received':<14} "
        f"{'due period':<11} status"
    )
    for spec in sorted(catalog.specs, key=lambda s: (s.city, s.department, s.title)):
        if department and spec.department != department:
            continue
        state = feed_status(spec, by_dataset.get(spec.key, []), moment)
        typer.echo(
            f"{pad(spec.department, 16)} {pad(spec.title, 30)} {spec.frequency.value:<13} "
            f"{state.last_period or '-':<14} {state.current_period or '-':<11} "
            f"{_STATUS_ZH[state.status]} {state.status}"
        )


def _as_of(value: str | None) -> dt.datetime:
    from entgraph.localtime import CST, parse_local

    if not value:
        return dt.datetime.now(CST)
    try:
        return parse_local(value)
    except ValueError:
        raise EntgraphError(f"--as-of {value!r} is not an ISO date or date-time, e.g. 2023-05-16") from None


def _duration(delta: dt.timedelta) -> str:
    hours = delta.seconds // 3600
    minutes = delta.seconds % 3600 // 60
    return (
        (f"{delta.days}d" if delta.days else "")
        + (f"{hours}h" if hours else "")
        + (f"{minutes}m" if minutes else "")
    )

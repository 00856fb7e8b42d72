"""``entgraph resolve``, ``entgraph export links``, ``entgraph evaluate`` and ``entgraph steward ...``."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from entgraph.display import pad

if TYPE_CHECKING:
    from entgraph.catalog.registry import Catalog
    from entgraph.graph.port import GraphStore
    from entgraph.resolution.matching import PairScorer
    from entgraph.resolution.resolver import Resolver
    from entgraph.resolution.steward import BulkOutcome, Outcome, Steward
    from entgraph.settings import Settings

export_app = typer.Typer(help="Export what the platform knows.", no_args_is_help=True)
steward_app = typer.Typer(
    help="Data stewards: review uncertain matches, link, merge, split, undo.", no_args_is_help=True
)


_OUT = typer.Option(..., "--out", "-o", help="CSV file to write.")
_TRUTH = typer.Option(..., "--truth", help="truth.csv (file,sheet,row,...,enterprise_id,party).")
_JSON_OUT = typer.Option(None, "--json", help="Also write the figures as JSON.")
_MENTIONS = typer.Argument(..., help="RECORD_ID|PARTY ...")
_TASK_IDS = typer.Argument(None, help="T-… (several: each takes its best candidate).", show_default=False)


def _catalog(settings: Settings) -> Catalog:
    from entgraph.catalog.registry import Catalog

    return Catalog.load(settings.spec_dirs)


def _resolver(
    settings: Settings,
    store: GraphStore,
    catalog: Catalog,
    link: float | None = None,
    review: float | None = None,
) -> Resolver:
    from entgraph.resolution.resolver import Bands, Resolver

    bands = Bands(link=link or settings.link_threshold, review=review or settings.review_threshold)
    return Resolver(store, catalog, settings.model_path, bands, threads=settings.threads)


def _progress() -> Callable[[str], None]:
    """Each phase on stderr with the seconds since the run began (stdout keeps the summary)."""
    started = time.monotonic()

    def say(phase: str) -> None:
        typer.echo(f"[{time.monotonic() - started:6.1f} s] {phase} ...", err=True)

    return say


@contextmanager
def _scorer(settings: Settings) -> Iterator[PairScorer | None]:
    """The Spark scorer when the engine is spark (started on first use, always stopped), else None."""
    if settings.match_engine != "spark":
        yield None
        return
    from entgraph.resolution.spark_scoring import SparkOptions, SparkScorer

    options = SparkOptions(
        work_dir=settings.spark_dir,
        master=settings.spark_master,
        driver_memory=settings.spark_driver_memory,
        partitions=settings.spark_partitions,
        jaro_winkler=settings.spark_jaro_winkler,
    )
    with SparkScorer(options) as scorer:
        yield scorer


def resolve_command(
    ctx: typer.Context,
    from_scratch: bool = typer.Option(
        False, "--from-scratch", help="Forget every link and enterprise (not judgements) and resolve anew."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train the matcher again from coded records."),
    link_threshold: float | None = typer.Option(None, help="Override ENTGRAPH_LINK_THRESHOLD."),
    review_threshold: float | None = typer.Option(None, help="Override ENTGRAPH_REVIEW_THRESHOLD."),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="Where the matcher scores pairs: duckdb or spark (ENTGRAPH_MATCH_ENGINE; Spark's master "
        "is ENTGRAPH_SPARK_MASTER, local[2] by default).",
        show_default=False,
    ),
) -> None:
    """Link pending records to canonical enterprises (codes first, then Splink, then stewards)."""
    from entgraph.graph import open_store
    from entgraph.resolution.resolver import Bands, Resolver
    from entgraph.resolution.spark_scoring import SparkUnavailable

    settings: Settings = ctx.obj
    if engine is not None:
        if engine not in ("duckdb", "spark"):
            raise typer.BadParameter(f"{engine!r}: choose duckdb or spark", param_hint="--engine")
        settings = settings.model_copy(update={"match_engine": engine})
    try:
        bands = Bands(
            link=link_threshold or settings.link_threshold,
            review=review_threshold or settings.review_threshold,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    catalog = _catalog(settings)
    with open_store(settings) as store, _scorer(settings) as scorer:
        resolver = Resolver(
            store,
            catalog,
            settings.model_path,
            bands,
            threads=settings.threads,
            progress=_progress(),
            scorer=scorer,
        )
        try:
            summary = resolver.run(from_scratch=from_scratch, retrain=retrain)
        except SparkUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if summary.training:
        saved = f"; saved to {settings.model_path}" if summary.trained else ""
        typer.echo(f"{summary.training}{saved}")
    typer.echo(summary.line())


@export_app.command("links")
def export_links_command(
    ctx: typer.Context,
    out: Path = _OUT,
) -> None:
    """Every loaded source row with its enterprise (file, sheet, row, dataset, enterprise_id, method...)."""
    from entgraph.graph import open_store
    from entgraph.resolution.export import export_links

    settings: Settings = ctx.obj
    with open_store(settings) as store:
        count = export_links(store, _catalog(settings), out)
    typer.echo(f"wrote {count} lines to {out}")


def evaluate_command(
    ctx: typer.Context,
    truth: Path = _TRUTH,
    worst: int = typer.Option(5, help="How many worst false merges and misses to show."),
    json_out: Path | None = _JSON_OUT,
) -> None:
    """Pairwise and B-cubed precision/recall of resolution against known truth.

    An ambiguous.csv beside the truth file (the generator writes one) adds recall over the mentions that
    are not genuinely ambiguous."""
    from entgraph.graph import open_store
    from entgraph.resolution.evaluate import ambiguous_beside, evaluate, read_truth
    from entgraph.resolution.export import link_rows

    settings: Settings = ctx.obj
    catalog = _catalog(settings)
    truth_rows = read_truth(truth)
    ambiguous = ambiguous_beside(truth)
    with open_store(settings) as store:
        result = evaluate(
            truth_rows,
            link_rows(store, catalog),
            lambda ids: _describe(store, catalog, ids),
            worst,
            ambiguous,
        )
    for line in result.lines():
        typer.echo(line)
    if json_out:
        json_out.write_text(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def _describe(store: GraphStore, catalog: Catalog, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per record: the name each party is written with, and the explanation of each party's link."""
    from entgraph.graph import mention_queries
    from entgraph.resolution.mentions import mentions_of

    specs = {spec.key: spec for spec in catalog.specs}
    out = {}
    for row in mention_queries.describe_records(store, record_ids):
        record = row["r"]
        spec = specs.get(record.get("dataset"))
        names = {m.party: m.name for m in mentions_of(spec, record)} if spec else {}
        explanations = {party: e for party, e in row["links"] if party and e}
        out[record["id"]] = {"names": names, "explanations": explanations}
    return out


# --- stewardship -------------------------------------------------------------------------------------

_USER = typer.Option(None, "--user", "-u", help="Who you are (recorded with the judgement; ENTGRAPH_USER).")
_REASON = typer.Option("", "--reason", "-r", help="Why: kept with the judgement.")


def _steward(ctx: typer.Context, store: GraphStore, user: str | None) -> Steward:
    from entgraph.resolution.steward import Steward

    settings: Settings = ctx.obj
    catalog = _catalog(settings)
    who = user or settings.user or getpass.getuser()
    return Steward(store, catalog, _resolver(settings, store, catalog), who)


def _report(outcome: Outcome) -> None:
    j = outcome.judgement
    typer.echo(f"judgement {j.id}: {j.kind} {j.subject} -> {j.object} by {j.user}")
    typer.echo(f"  undo with: entgraph steward undo {j.id}")
    typer.echo(f"  {outcome.summary.line()}")


_ORDER = typer.Option("stake", "--order", help="stake (what is at stake, then records) or impact (records).")
_MIN_P = typer.Option(None, "--min-probability", help="Only tasks whose best candidate reaches this.")


def _hint(task: dict[str, Any]) -> str:
    best = json.loads(task.get("candidates") or "[]")[:1]
    return f"best {best[0]['enterprise_id']} p={best[0]['probability']:.3f}" if best else "no candidate"


def _task_line(t: dict[str, Any]) -> str:
    return (
        f"{t['id']}  {pad(t.get('town') or '-', 8)} stake {float(t.get('stake') or 0):>6g}  "
        f"{t['impact']:>4} record{'' if t['impact'] == 1 else 's'}  {t.get('name')}  ({_hint(t)})"
    )


@steward_app.command("tasks")
def tasks_command(
    ctx: typer.Context,
    status: str = typer.Option("open", help="open, unsure or resolved."),
    town: str | None = typer.Option(None, help="Only tasks of this town (镇/街道)."),
    dataset: str | None = typer.Option(None, help="Only tasks with records of this dataset."),
    min_probability: float | None = _MIN_P,
    order: str = _ORDER,
    limit: int = typer.Option(50, help="Show at most this many."),
) -> None:
    """The review queue, most at stake first (records weighed by their datasets: tax, electricity and
    credit records weigh more than a park list; see resolution/stake.toml), then most records."""
    from entgraph.graph import open_store
    from entgraph.resolution.stake import describe
    from entgraph.resolution.steward import stake_lines

    with open_store(ctx.obj) as store:
        rows = _steward(ctx, store, "viewer").tasks(status, town, dataset, min_probability, order)
    typer.echo(f"{len(rows)} {status} task(s), by {order}")
    for t in rows[:limit]:
        typer.echo(_task_line(t))
        if lines := stake_lines(t):
            typer.echo(f"    at stake: {describe(lines)}")


@steward_app.command("towns")
def towns_command(
    ctx: typer.Context, status: str = typer.Option("open", help="open, unsure or resolved.")
) -> None:
    """The queue per town (镇/街道): its tasks, their records and what is at stake, largest first.
    Each town verifies its own (`entgraph steward tasks --town …`)."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        rows = _steward(ctx, store, "viewer").towns(status)
    typer.echo(f"{'town':<10} {'tasks':>6} {'records':>8} {'stake':>8}")
    for row in rows:
        typer.echo(
            f"{pad(row['town'] or '(none)', 10)} {row['tasks']:>6} {row['records']:>8} "
            f"{float(row['stake']):>8g}"
        )
    typer.echo(
        f"{'total':<10} {sum(r['tasks'] for r in rows):>6} {sum(r['records'] for r in rows):>8} "
        f"{sum(float(r['stake']) for r in rows):>8g}"
    )


@steward_app.command("checks")
def checks_command(
    ctx: typer.Context,
    town: str | None = typer.Option(None, help="Only this town's (镇/街道); 未定镇街: items of no town."),
    round_: str | None = typer.Option(None, "--round", help="The month verified (default: this month)."),
    refresh: bool = typer.Option(True, help="Compute the lists from the graph first (as the worker does)."),
) -> None:
    """The towns' monthly cross-checks (核实比对): per town and check, the items open and settled."""
    from collections import Counter

    from entgraph.graph import open_store
    from entgraph.resolution import verification

    with open_store(ctx.obj) as store:
        if refresh:
            typer.echo(verification.refresh(store, _catalog(ctx.obj)).line())
        month = round_ or verification.current_round()
        rows = verification.listing(store, town, month)
    counts = Counter((r.get("town") or verification.UNPLACED, r["check"], r["status"]) for r in rows)
    typer.echo(f"round {month}: {len(rows)} item(s)")
    for (name, check, status), n in sorted(counts.items()):
        typer.echo(f"  {pad(name, 10)} {check:<28} {status:<8} {n:>5}")


@steward_app.command("show")
def show_command(ctx: typer.Context, task_id: str) -> None:
    """Both sides of a task and why the matcher thinks they may be the same (match weight per comparison)."""
    from entgraph.graph import open_store
    from entgraph.resolution.stake import describe

    with open_store(ctx.obj) as store:
        task = _steward(ctx, store, "viewer").task(task_id)
    typer.echo(
        f"task {task['id']} ({task['status']}): {task.get('name')} in {task.get('town') or '-'}; "
        f"{task['impact']} records in {', '.join(task.get('datasets') or [])}"
    )
    if task["stake_lines"]:
        typer.echo(f"  at stake {float(task.get('stake') or 0):g}: {describe(task['stake_lines'])}")
    for record in task["records"][:5]:
        typer.echo(f"  record {record['id']}: {record.get('file_name')} row {record.get('row')}")
    for n, candidate in enumerate(task["candidates"], 1):
        e = candidate.get("enterprise") or {}
        typer.echo(
            f"candidate {n}: {candidate['enterprise_id']} {e.get('name')} "
            f"(p={candidate['probability']:.4f}, weight {candidate['match_weight']:+.2f})"
        )
        typer.echo(
            f"    legal rep {e.get('legal_rep')}, phone {e.get('phone')}, town {e.get('town')}, "
            f"address {e.get('address')}"
        )
        for comparison, level, weight in candidate["explanation"]:
            typer.echo(f"    {pad(comparison, 14)} {pad(level, 40)} {float(weight):+.2f}")


@steward_app.command("accept")
def accept_command(
    ctx: typer.Context,
    task_ids: list[str] | None = _TASK_IDS,
    candidate: int = typer.Option(1, help="Which (1 = best); for one task only."),
    town: str | None = typer.Option(None, help="Bulk: every open task of this town (镇/街道)."),
    dataset: str | None = typer.Option(None, help="Bulk: every open task with records of this dataset."),
    min_probability: float | None = typer.Option(
        None, "--min-probability", help="Bulk: only tasks whose best candidate reaches this."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Bulk by filter: do it (without: only show it)."),
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """The task's name IS candidate N: link every record that writes it.

    Several ids, or a filter (--town, --dataset, --min-probability; shown first, applied with --yes),
    accept each task's best candidate: one judgement per task (undo each on its own), one resolver run.
    """
    from entgraph.graph import open_store

    ids = list(task_ids or [])
    bulk_filter = town is not None or dataset is not None or min_probability is not None
    if ids and bulk_filter:
        raise typer.BadParameter("give task ids or a filter (--town, --dataset, --min-probability), not both")
    if not ids and not bulk_filter:
        raise typer.BadParameter(
            "name a task (T-…), several, or a filter (--town, --dataset, --min-probability)"
        )
    if candidate != 1 and len(ids) != 1:
        raise typer.BadParameter(
            "--candidate is for one task; a bulk accept takes each task's best candidate"
        )
    with open_store(ctx.obj) as store:
        steward = _steward(ctx, store, user)
        if len(ids) == 1:
            _report(steward.accept(ids[0], candidate, reason))
            return
        if bulk_filter:
            rows = steward.tasks("open", town, dataset, min_probability)
            if not rows:
                typer.echo("no open task matches; nothing to accept")
                return
            typer.echo(f"will accept the best candidate of {len(rows)} open task(s):")
            for t in rows:
                typer.echo(f"  {_task_line(t)}")
            if not yes:
                typer.echo("nothing accepted yet: review the list, then run again with --yes")
                return
            ids = [t["id"] for t in rows]
        _report_bulk(steward.accept_many(ids, reason))


def _report_bulk(outcome: BulkOutcome) -> None:
    for o in outcome.outcomes:
        if o.judgement is None:
            typer.echo(f"{o.task_id}: skipped, {o.skipped}")
        else:
            j = o.judgement
            typer.echo(f"{o.task_id}: judgement {j.id}: link {j.subject} -> {j.object}")
    typer.echo(f"accepted {len(outcome.accepted)} of {len(outcome.outcomes)} task(s) by {_user_of(outcome)}")
    if outcome.accepted:
        typer.echo("  undo one with: entgraph steward undo J-…")
    typer.echo(f"  {outcome.summary.line()}")


def _user_of(outcome: BulkOutcome) -> str:
    return next((o.judgement.user for o in outcome.accepted if o.judgement), "-")


@steward_app.command("reject")
def reject_command(
    ctx: typer.Context,
    task_id: str,
    enterprise: str | None = typer.Option(None, help="Only this candidate (default: all)."),
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """The task's name is NOT that candidate: never propose it again."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).reject(task_id, enterprise, reason))


@steward_app.command("unsure")
def unsure_command(ctx: typer.Context, task_id: str, user: str | None = _USER, reason: str = _REASON) -> None:
    """Cannot tell: park the task (listed with --status unsure), link nothing."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).unsure(task_id, reason))


@steward_app.command("link")
def link_command(
    ctx: typer.Context,
    task_or_record: str,
    enterprise_id: str,
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """Link a task's name, or one record (RECORD_ID|PARTY), to an enterprise you choose."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).link(task_or_record, enterprise_id, reason))


@steward_app.command("merge")
def merge_command(
    ctx: typer.Context, loser: str, survivor: str, user: str | None = _USER, reason: str = _REASON
) -> None:
    """LOSER and SURVIVOR are one enterprise; LOSER's id redirects to SURVIVOR forever."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).merge(loser, survivor, reason))


@steward_app.command("split")
def split_command(
    ctx: typer.Context,
    mentions: list[str] = _MENTIONS,
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """These records are not the enterprise they are linked to: each stands on its own."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).split(mentions, reason))


@steward_app.command("undo")
def undo_command(
    ctx: typer.Context, judgement_id: str, user: str | None = _USER, reason: str = _REASON
) -> None:
    """Withdraw a judgement: its records are resolved again as if it had never been made."""
    from entgraph.graph import open_store

    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).undo(judgement_id, reason))


@steward_app.command("judgements")
def judgements_command(ctx: typer.Context) -> None:
    """Every judgement ever made (undone ones marked), oldest first."""
    from entgraph.graph import judgement_queries, open_store

    with open_store(ctx.obj) as store:
        rows = judgement_queries.judgements(store, include_undone=True)
    for j in rows:
        flag = f"  UNDONE by {j.get('undone_by')}" if j.get("undone") else ""
        typer.echo(
            f"{j['id']}  {j['at'][:19]}  {j['user']:<10} {j['kind']:<7} {j['subject']} -> {j['object']}"
            f"  {j.get('reason') or ''}{flag}"
        )

"""``entgraph resolve``, ``entgraph export links``, ``entgraph evaluate`` and ``entgraph steward ...``."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer

from entgraph.graph import open_store
from entgraph.graph import resolution_writer as rw
from entgraph.graph.port import GraphStore
from entgraph.loaders.registry import Catalog
from entgraph.resolution.evaluate import evaluate, read_truth
from entgraph.resolution.export import export_links, link_rows
from entgraph.resolution.mentions import mentions_of
from entgraph.resolution.resolver import Bands, Resolver
from entgraph.resolution.steward import Outcome, Steward
from entgraph.settings import Settings

export_app = typer.Typer(help="Export what the platform knows.", no_args_is_help=True)
steward_app = typer.Typer(
    help="Data stewards: review uncertain matches, link, merge, split, undo.", no_args_is_help=True
)


_OUT = typer.Option(..., "--out", "-o", help="CSV file to write.")
_TRUTH = typer.Option(..., "--truth", help="truth.csv (file,sheet,row,...,enterprise_id,party).")
_JSON_OUT = typer.Option(None, "--json", help="Also write the figures as JSON.")
_MENTIONS = typer.Argument(..., help="RECORD_ID|PARTY ...")


def _catalog(settings: Settings) -> Catalog:
    return Catalog.load(settings.spec_dirs)


def _resolver(
    settings: Settings,
    store: GraphStore,
    catalog: Catalog,
    link: float | None = None,
    review: float | None = None,
) -> Resolver:
    bands = Bands(link=link or settings.link_threshold, review=review or settings.review_threshold)
    return Resolver(store, catalog, settings.model_path, bands, threads=settings.threads)


def resolve_command(
    ctx: typer.Context,
    from_scratch: bool = typer.Option(
        False, "--from-scratch", help="Forget every link and enterprise (not judgements) and resolve anew."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train the matcher again from coded records."),
    link_threshold: float | None = typer.Option(None, help="Override ENTGRAPH_LINK_THRESHOLD."),
    review_threshold: float | None = typer.Option(None, help="Override ENTGRAPH_REVIEW_THRESHOLD."),
) -> None:
    """Link pending records to canonical enterprises (codes first, then Splink, then stewards)."""
    settings: Settings = ctx.obj
    try:
        bands = Bands(
            link=link_threshold or settings.link_threshold,
            review=review_threshold or settings.review_threshold,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    catalog = _catalog(settings)
    with open_store(settings) as store:
        resolver = Resolver(store, catalog, settings.model_path, bands, threads=settings.threads)
        summary = resolver.run(from_scratch=from_scratch, retrain=retrain)
    if summary.trained:
        typer.echo(f"trained the matcher on records with credit codes; saved to {settings.model_path}")
    typer.echo(summary.line())


@export_app.command("links")
def export_links_command(
    ctx: typer.Context,
    out: Path = _OUT,
) -> None:
    """Every loaded source row with its enterprise (file, sheet, row, dataset, enterprise_id, method...)."""
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
    """Pairwise and B-cubed precision/recall of resolution against known truth."""
    settings: Settings = ctx.obj
    catalog = _catalog(settings)
    truth_rows = read_truth(truth)
    with open_store(settings) as store:
        result = evaluate(
            truth_rows, link_rows(store, catalog), lambda ids: _describe(store, catalog, ids), worst
        )
    for line in result.lines():
        typer.echo(line)
    if json_out:
        json_out.write_text(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def _describe(store: GraphStore, catalog: Catalog, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per record: the name each party is written with, and the explanation of each party's link."""
    specs = {spec.key: spec for spec in catalog.specs}
    out = {}
    for row in rw.describe_records(store, record_ids):
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
    settings: Settings = ctx.obj
    catalog = _catalog(settings)
    who = user or settings.user or getpass.getuser()
    return Steward(store, catalog, _resolver(settings, store, catalog), who)


def _report(outcome: Outcome) -> None:
    j = outcome.judgement
    typer.echo(f"judgement {j.id}: {j.kind} {j.subject} -> {j.object} by {j.user}")
    typer.echo(f"  undo with: entgraph steward undo {j.id}")
    typer.echo(f"  {outcome.summary.line()}")


@steward_app.command("tasks")
def tasks_command(
    ctx: typer.Context,
    status: str = typer.Option("open", help="open, unsure or resolved."),
    town: str | None = typer.Option(None, help="Only tasks of this town (镇/街道)."),
    dataset: str | None = typer.Option(None, help="Only tasks with records of this dataset."),
    limit: int = typer.Option(50, help="Show at most this many."),
) -> None:
    """Tasks grouped by town, largest impact (records affected) first."""
    with open_store(ctx.obj) as store:
        rows = rw.tasks(store, status, town, dataset)
    typer.echo(f"{len(rows)} {status} task(s)")
    for t in sorted(rows, key=lambda t: (t.get("town") or "", -t["impact"]))[:limit]:
        best = json.loads(t.get("candidates") or "[]")[:1]
        hint = f"best {best[0]['enterprise_id']} p={best[0]['probability']:.3f}" if best else "no candidate"
        typer.echo(
            f"{t['id']}  {t.get('town') or '-':<8} {t['impact']:>4} records  {t.get('name')}  ({hint})"
        )


@steward_app.command("show")
def show_command(ctx: typer.Context, task_id: str) -> None:
    """Both sides of a task and why the matcher thinks they may be the same (match weight per comparison)."""
    with open_store(ctx.obj) as store:
        task = _steward(ctx, store, "viewer").task(task_id)
    typer.echo(
        f"task {task['id']} ({task['status']}): {task.get('name')} in {task.get('town') or '-'}; "
        f"{task['impact']} records in {', '.join(task.get('datasets') or [])}"
    )
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
            typer.echo(f"    {comparison:<14} {level:<40} {float(weight):+.2f}")


@steward_app.command("accept")
def accept_command(
    ctx: typer.Context,
    task_id: str,
    candidate: int = typer.Option(1, help="Which (1 = best)."),
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """The task's name IS candidate N: link every record that writes it."""
    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).accept(task_id, candidate, reason))


@steward_app.command("reject")
def reject_command(
    ctx: typer.Context,
    task_id: str,
    enterprise: str | None = typer.Option(None, help="Only this candidate (default: all)."),
    user: str | None = _USER,
    reason: str = _REASON,
) -> None:
    """The task's name is NOT that candidate: never propose it again."""
    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).reject(task_id, enterprise, reason))


@steward_app.command("unsure")
def unsure_command(ctx: typer.Context, task_id: str, user: str | None = _USER, reason: str = _REASON) -> None:
    """Cannot tell: park the task (listed with --status unsure), link nothing."""
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
    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).link(task_or_record, enterprise_id, reason))


@steward_app.command("merge")
def merge_command(
    ctx: typer.Context, loser: str, survivor: str, user: str | None = _USER, reason: str = _REASON
) -> None:
    """LOSER and SURVIVOR are one enterprise; LOSER's id redirects to SURVIVOR forever."""
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
    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).split(mentions, reason))


@steward_app.command("undo")
def undo_command(
    ctx: typer.Context, judgement_id: str, user: str | None = _USER, reason: str = _REASON
) -> None:
    """Withdraw a judgement: its records are resolved again as if it had never been made."""
    with open_store(ctx.obj) as store:
        _report(_steward(ctx, store, user).undo(judgement_id, reason))


@steward_app.command("judgements")
def judgements_command(ctx: typer.Context) -> None:
    """Every judgement ever made (undone ones marked), oldest first."""
    with open_store(ctx.obj) as store:
        rows = rw.judgements(store, include_undone=True)
    for j in rows:
        flag = f"  UNDONE by {j.get('undone_by')}" if j.get("undone") else ""
        typer.echo(
            f"{j['id']}  {j['at'][:19]}  {j['user']:<10} {j['kind']:<7} {j['subject']} -> {j['object']}"
            f"  {j.get('reason') or ''}{flag}"
        )

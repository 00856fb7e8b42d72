"""``entgraph worker``: load what departments and enterprises submit, then link it (resolve).

The upload queue (``loaders/intake.py``) is drained one job at a time, one dataset at a time; when it
empties after loading something, the worker runs ``entgraph resolve`` itself (``ENTGRAPH_WORKER_RESOLVE``,
on by default), so records sent from the console are linked to their enterprises, and a published honour
whose enterprise a 失信 record now names comes down, with no one at a shell. It lives at the application
level because it wires two layers: the loaders' queue and resolution.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

import typer

from entgraph.settings import Settings


def worker_command(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="Load what is queued (and resolve), then exit (cron, tests)."
    ),
    poll: float = typer.Option(1.0, min=0.05, help="Seconds between looks at an empty queue."),
) -> None:
    """Load the files and batches submitted over HTTP and in the console, then resolve what was loaded."""
    from entgraph.catalog.registry import Catalog
    from entgraph.graph import open_store
    from entgraph.loaders.intake import Worker, api_activity_mark, busy_aware_batch_size

    settings: Settings = ctx.obj
    stop = threading.Event()
    # SIGTERM (systemd, Kubernetes) ends the wait between jobs; a job cut short is requeued anyway
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    os.nice(settings.worker_nice)  # loads are batch work: the API's answers come first on a shared machine
    batch_size = busy_aware_batch_size(
        api_activity_mark(settings.home), settings.batch_size, settings.worker_busy_batch_size
    )
    catalog = Catalog.load(settings.spec_dirs)
    with open_store(settings) as store:
        worker = Worker(store, catalog, settings.report_dir, batch_size=batch_size)
        resolve = _resolver(settings, store, catalog) if settings.worker_resolve else None
        typer.echo(f"upload worker {worker.id} on {store.backend}", err=True)
        if once:
            loaded = False
            while (job := worker.run_once()) is not None:
                _said(job)
                loaded = loaded or job["status"] == "done"
            if loaded and resolve:
                resolve()
            return
        with contextlib.suppress(KeyboardInterrupt):
            worker.run(stop, poll, on_job=_said, on_idle=resolve)


def _said(job: dict[str, Any]) -> None:
    counts = f": {job.get('new', 0)} new, {job.get('rejected', 0)} refused rows"
    typer.echo(
        f"{job['id']} {job['file_name']} -> {job['status']}{counts if job['status'] == 'done' else ''}",
        err=True,
    )


def _resolver(settings: Settings, store: Any, catalog: Any) -> Any:
    from entgraph.resolution import verification
    from entgraph.resolution.resolver import Bands, ResolveBusy, Resolver

    def resolve() -> None:
        bands = Bands(link=settings.link_threshold, review=settings.review_threshold)
        try:
            summary = Resolver(store, catalog, settings.model_path, bands, threads=settings.threads).run()
        except ResolveBusy as exc:  # someone resolves already: what we loaded is theirs to link
            typer.echo(f"resolve skipped: {exc}", err=True)
            return
        typer.echo(f"resolved: {summary.line()}", err=True)
        # the towns' lists follow what was linked (核实比对): new items reach them, settled ones clear
        typer.echo(f"towns' cross-checks: {verification.refresh(store, catalog).line()}", err=True)

    return resolve

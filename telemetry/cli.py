"""``entgraph telemetry ...``: the commands of the telemetry package.

The broker, the ingester, the simulator, the meter registry, rollups, warnings and the quarantine."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import typer

from entgraph.localtime import CST, DAY_MS, local_ms
from entgraph.settings import Settings

telemetry_app = typer.Typer(help="Meter telemetry over MQTT: broker, ingester, simulator, warnings.",
                            no_args_is_help=True)  # fmt: skip
broker_app = typer.Typer(help="The embedded MQTT broker (mosquitto).", no_args_is_help=True)
meters_app = typer.Typer(
    help="The meter registry: which enterprise each meter measures.", no_args_is_help=True
)
warnings_app = typer.Typer(help="Warnings from electricity, tax and meters.", no_args_is_help=True)
telemetry_app.add_typer(broker_app, name="broker")
telemetry_app.add_typer(meters_app, name="meters")
telemetry_app.add_typer(warnings_app, name="warnings")

_SERIES = typer.Option(None, help="Series store directory (default $ENTGRAPH_HOME/series).")
_PIN_ENTERPRISES = typer.Option(..., "--enterprise", help="Enterprise id (repeat it for a shared meter).")


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


def broker_address(settings: Settings) -> tuple[str, int]:
    """Where the broker listens: the embedded mosquitto (started when it is not running) or
    ``ENTGRAPH_MQTT=mqtt://host:port``."""
    if settings.mqtt.strip() == "embedded":
        from entgraph.telemetry.broker import embedded_broker

        info = embedded_broker(settings).ensure_running()
        return info.host, info.port
    url = urlparse(settings.mqtt)
    if url.scheme not in ("mqtt", "tcp") or not url.hostname:
        raise typer.BadParameter(
            f"ENTGRAPH_MQTT must be 'embedded' or mqtt://HOST:PORT, not {settings.mqtt!r}"
        )
    return url.hostname, url.port or 1883


# --- broker ---------------------------------------------------------------------------------------------


@broker_app.command("start")
def broker_start(ctx: typer.Context) -> None:
    """Start the embedded mosquitto (no-op when it runs)."""
    from entgraph.telemetry.broker import embedded_broker

    settings = _settings(ctx)
    info = embedded_broker(settings).ensure_running()
    typer.echo(f"broker running: pid {info.pid}, {info.url}, data in {settings.home.absolute() / 'mqtt'}")


@broker_app.command("stop")
def broker_stop(ctx: typer.Context) -> None:
    """Stop the embedded mosquitto; it saves its queued messages first."""
    from entgraph.telemetry.broker import embedded_broker

    stopped = embedded_broker(_settings(ctx)).stop()
    typer.echo("broker stopped" if stopped else "broker was not running")


@broker_app.command("status")
def broker_status(ctx: typer.Context) -> None:
    """Say whether the embedded broker runs; exit code 1 when it does not."""
    from entgraph.telemetry.broker import embedded_broker

    state = embedded_broker(_settings(ctx)).status()
    if not state.running or state.info is None:
        typer.echo(f"broker not running{': ' + state.detail if state.detail else ''}; data in {state.dir}")
        raise typer.Exit(1)
    typer.echo(
        f"broker running: pid {state.info.pid}, {state.info.url}, persistence {state.data_bytes:,} bytes"
    )


# --- ingest ---------------------------------------------------------------------------------------------


@telemetry_app.command("ingest")
def ingest(
    ctx: typer.Context,
    client_id: str = typer.Option("entgraph-ingester-1", help="MQTT client id: one persistent session each."),
    series: Path | None = _SERIES,
    batch: int = typer.Option(5000, min=1, help="Messages per durable write."),
    shard: str | None = typer.Option(
        None,
        help="A second (third ...) ingester of the shared group writes its own store shard, "
        "series/shards/SHARD; the API reads all shards.",
    ),
    duration: float | None = typer.Option(
        None, help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM)."
    ),
) -> None:
    """Receive meter readings over MQTT and store them, acknowledging each message only once stored."""
    from entgraph.graph.connect import open_store
    from entgraph.telemetry.ingester import Ingester, IngestSettings, IngestStats
    from entgraph.telemetry.meter_registry import known_meters
    from entgraph.telemetry.series_store import SHARDS, SeriesWriter

    settings = _settings(ctx)
    host, port = broker_address(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if duration is not None:
        # a daemon: a run stopped early by a signal must not wait for the timer to expire
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    status_file = settings.home / "telemetry" / f"{client_id}.json"
    status_file.parent.mkdir(parents=True, exist_ok=True)
    root = series or settings.series_dir
    if shard:
        root = root / SHARDS / shard
    with open_store(settings) as store, SeriesWriter(root) as writer:
        group = settings.mqtt_group or None
        cfg = IngestSettings(
            host,
            port,
            client_id=client_id,
            group=group,
            batch_max=batch,
            receive_maximum=2 * batch,
            hot_days=settings.series_hot_days,
        )
        typer.echo(f"ingesting from mqtt://{host}:{port} as {client_id} (Ctrl-C stops)")
        _write_json(status_file, {"client_id": client_id, "pid": os.getpid(), **IngestStats().as_dict()})
        ingester = Ingester(cfg, writer, lambda: known_meters(store))

        def report() -> None:  # a status file for `entgraph telemetry status` (and the demo), each second
            while not stop.wait(1.0):
                _write_json(
                    status_file, {"client_id": client_id, "pid": os.getpid(), **ingester.stats.as_dict()}
                )

        threading.Thread(target=report, daemon=True).start()
        stats = ingester.run(stop)
        _write_json(status_file, {"client_id": client_id, "pid": None, **stats.as_dict()})
    typer.echo(
        f"stopped: {stats.messages:,} messages, {stats.stored:,} readings stored, {stats.duplicates:,} "
        f"duplicates, {stats.quarantined:,} quarantined"
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


# --- simulate -------------------------------------------------------------------------------------------


@telemetry_app.command("simulate")
def simulate(
    ctx: typer.Context,
    meters: int = typer.Option(50, min=1, help="How many of the registry's meters to simulate."),
    speedup: float = typer.Option(60.0, min=0.001, help="Simulated seconds per wall second (live mode)."),
    batch: int = typer.Option(0, min=0, help="0: one message per reading; N: gateway batches of up to N."),
    days: float | None = typer.Option(
        None, help="Backfill mode: publish the last DAYS days as fast as the broker takes them, then stop."
    ),
    duration: float | None = typer.Option(None, help="Live mode: stop after this many wall seconds."),
    follow: bool = typer.Option(False, help="After the backfill, go on live in real time (--speedup is 1)."),
    seed: int = typer.Option(1, help="Seed of the load profiles."),
) -> None:
    """Publish realistic load profiles (shifts, weekends, holidays, a meter swap, a dead meter) for the
    demo city's registered meters. Backfill (--days), live (sped up, starting in the past so it stays
    behind the clock), or both (--days D --follow: the last D days at once, then live from now, in real
    time: sped up from now, readings would soon be from the future, and ingesters refuse those)."""
    from entgraph.graph.connect import open_store
    from entgraph.graph.meter_queries import known_meters as registered
    from entgraph.telemetry.profiles import make_fleet
    from entgraph.telemetry.simulator import Simulator

    settings = _settings(ctx)
    with open_store(settings) as store:
        found = sorted((r["meter"], r["utility"] or "electricity") for r in registered(store) if r["meter"])
    if not found:
        typer.echo(
            "no meters registered: load the device feeds and run 'entgraph telemetry meters sync'", err=True
        )
        raise typer.Exit(1)
    chosen = found[:meters]
    now = int(time.time() * 1000)
    if days is not None:
        start, end = now - int(days * DAY_MS), now
    else:
        # Live: the simulated clock starts in the past so that, sped up, it stays behind the real one for
        # the run (ingesters refuse readings from more than a day ahead).
        span = (duration or 3600.0) * speedup * 1000
        start, end = now - int(span), now
    fleet = make_fleet(chosen, seed, window=(start, end))
    host, port = broker_address(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if days is not None and follow:
        speedup = 1.0
    began = time.monotonic()
    with Simulator(host, port, fleet, speedup=speedup, batch=batch) as sim:
        if days is not None:
            published = sim.backfill(start, end)
            if follow:
                typer.echo(f"backfilled {published:,} readings; now live in real time (Ctrl-C stops)")
                published += sim.run_live(end, duration, stop)
        else:
            typer.echo(f"simulating {len(fleet)} meters from {_local(start)} at {speedup:g}x (Ctrl-C stops)")
            published = sim.run_live(start, duration, stop)
        stats = sim.stats.snapshot()
    took = time.monotonic() - began
    typer.echo(f"published {published:,} readings of {len(fleet)} meters in {took:.1f} s; {stats}")


def _local(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M")


# --- meters ---------------------------------------------------------------------------------------------


@meters_app.command("sync")
def meters_sync(ctx: typer.Context) -> None:
    """Link meters to enterprises (credit code, utility account, name); rerun after resolving."""
    from entgraph.catalog.registry import Catalog
    from entgraph.graph.connect import open_store
    from entgraph.telemetry import meter_registry as registry

    settings = _settings(ctx)
    with open_store(settings) as store:
        report = registry.sync(store, Catalog.load(settings.spec_dirs))
    typer.echo(report.summary())


@meters_app.command("list")
def meters_list(
    ctx: typer.Context,
    review: str = typer.Option("shared", help="shared (多户一表) or unattached."),
    first: int = typer.Option(50, min=1, max=1000),
) -> None:
    """Meters waiting for a steward."""
    from entgraph.graph.connect import open_store
    from entgraph.graph.meter_queries import meters_for_review

    with open_store(_settings(ctx)) as store:
        rows = meters_for_review(store, review, first, "")
    for r in rows:
        typer.echo(
            f"{r['meter']}\t{r['utility']}\taccount {r['account_no'] or '-'}\t{', '.join(r['enterprises'])}"
        )
    typer.echo(f"{len(rows)} {review} meter(s)")


@meters_app.command("pin")
def meters_pin(
    ctx: typer.Context,
    meter: str,
    enterprise: list[str] = _PIN_ENTERPRISES,
    utility: str = typer.Option(
        "electricity", help="electricity or water (for a meter new to the registry)."
    ),
    reason: str = typer.Option("", help="Why (kept with the judgement)."),
) -> None:
    """A steward's decision: METER measures exactly these enterprises, kept as a judgement."""
    import getpass

    from entgraph.graph.connect import open_store
    from entgraph.telemetry import meter_registry as registry

    settings = _settings(ctx)
    with open_store(settings) as store:
        try:
            linked = registry.pin(
                store, meter, utility, enterprise, settings.user or getpass.getuser(), reason=reason
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{meter} pinned to {', '.join(linked)}")


@meters_app.command("unpin")
def meters_unpin(
    ctx: typer.Context,
    judgement: str = typer.Argument(..., help="The pin's judgement id (`entgraph steward judgements`)."),
    reason: str = typer.Option("", help="Why it is withdrawn."),
) -> None:
    """Withdraw a steward's pin: the meter goes back to its previous pin, or to the registry's evidence."""
    import getpass

    from entgraph.catalog.registry import Catalog
    from entgraph.graph.connect import open_store
    from entgraph.telemetry import meter_registry as registry

    settings = _settings(ctx)
    with open_store(settings) as store:
        try:
            row = registry.undo_pin(
                store, Catalog.load(settings.spec_dirs), judgement, settings.user or getpass.getuser(), reason
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{judgement} undone: meter {row.get('meter')} is the registry's again")


@meters_app.command("event")
def meters_event(
    ctx: typer.Context,
    meter: str,
    event: str = typer.Option(..., help="replacement or recalibration."),
    at: str = typer.Option(..., help="When (ISO, China time when no offset)."),
    old_value: float = typer.Option(..., help="The old register's last value."),
    new_value: float = typer.Option(..., help="The new register's first value."),
) -> None:
    """Record a meter replacement or recalibration (published on the meter's events topic, stored by
    the ingester like a terminal's own event)."""
    import paho.mqtt.client as mqtt

    from entgraph.telemetry.payloads import EVENTS, MeterEvent, encode_event, event_topic

    if event not in EVENTS:
        raise typer.BadParameter(f"--event must be replacement or recalibration, not {event!r}")
    try:
        ms = local_ms(at)
    except ValueError:
        raise typer.BadParameter(f"--at must be ISO 8601, not {at!r}") from None
    host, port = broker_address(_settings(ctx))
    # the broker refuses empty client ids (they would defeat persistent sessions)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"entgraph-cli-{os.getpid()}", protocol=mqtt.MQTTv5
    )
    client.connect(host, port)
    client.loop_start()
    info = client.publish(
        event_topic(meter), encode_event(MeterEvent(meter, ms, event, old_value, new_value)), qos=1
    )
    info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    if not info.is_published():
        typer.echo("the broker did not acknowledge the event; nothing was recorded", err=True)
        raise typer.Exit(1)
    typer.echo(f"{meter}: {event} at {_local(ms)} published ({old_value:g} -> {new_value:g})")


# --- series maintenance, rollup, quarantine -------------------------------------------------------------


@telemetry_app.command("rollup")
def rollup_command(ctx: typer.Context) -> None:
    """Write each attached meter's monthly consumption into the graph as enterprise metrics."""
    from entgraph.catalog.registry import Catalog
    from entgraph.graph.connect import open_store
    from entgraph.telemetry.rollup import rollup
    from entgraph.telemetry.series_store import SeriesReader

    settings = _settings(ctx)
    with open_store(settings) as store, SeriesReader(settings.series_dir) as reader:
        report = rollup(store, reader, Catalog.load(settings.spec_dirs))
    typer.echo(report.summary())


@telemetry_app.command("quarantine")
def quarantine(ctx: typer.Context, limit: int = typer.Option(20, min=0, help="Latest rows to show.")) -> None:
    """What the ingester could not store, by reason (nothing is dropped silently)."""
    from entgraph.telemetry.series_store import SeriesReader

    with SeriesReader(_settings(ctx).series_dir) as reader:
        counts = reader.quarantine_counts()
        rows = reader.quarantined(limit)
    for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        typer.echo(f"{n:>8,}  {reason}")
    for r in rows:
        payload = bytes(r["payload"] or b"")[:80].decode("utf-8", "replace")
        typer.echo(f"#{r['id']} {r['topic']}: {r['reason']} | {payload}")
    if not counts:
        typer.echo("quarantine is empty")


@telemetry_app.command("status")
def status(ctx: typer.Context) -> None:
    """Broker, ingesters (from their status files) and the series store at a glance."""
    settings = _settings(ctx)
    from entgraph.telemetry.broker import embedded_broker
    from entgraph.telemetry.series_store import SeriesReader

    state = embedded_broker(settings).status()
    typer.echo(f"broker: {'running at ' + state.info.url if state.running and state.info else 'not running'}")
    for path in sorted((settings.home / "telemetry").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        typer.echo(
            f"ingester {data['client_id']}: {'running' if data.get('pid') else 'stopped'}, "
            f"{data['messages']:,} messages, {data['stored']:,} stored, {data['duplicates']:,} duplicates, "
            f"{data['quarantined']:,} quarantined"
        )
    with SeriesReader(settings.series_dir) as reader:
        n = reader.query("SELECT count(*), count(DISTINCT meter_id) FROM readings")[0]
    typer.echo(f"series: {n[0]:,} readings of {n[1]:,} meters published")


# --- warnings -------------------------------------------------------------------------------------------


def evaluate_warnings(settings: Settings, now_ms: int | None = None) -> dict[str, int]:
    """Run the warning rules over the graph and the series store; open, refresh or keep warnings."""
    from entgraph.catalog.registry import Catalog
    from entgraph.graph.connect import open_store
    from entgraph.telemetry.series_store import SeriesReader
    from entgraph.telemetry.warnings import evaluate_city, load_rules

    path = settings.warning_rules_path
    rules = load_rules(path if path.exists() or settings.warning_rules else None)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    catalog = Catalog.load(settings.spec_dirs)
    with open_store(settings) as store, SeriesReader(settings.series_dir) as reader:
        return evaluate_city(store, reader, catalog, rules, now_ms)


@warnings_app.command("evaluate")
def warnings_evaluate(
    ctx: typer.Context,
    as_of: str | None = typer.Option(None, help="Judge as of this date (ISO, China time; default now)."),
) -> None:
    """Evaluate the rules (ENTGRAPH_WARNING_RULES or $ENTGRAPH_HOME/warning-rules.toml; defaults else)."""
    when = None
    if as_of:
        try:
            when = local_ms(as_of)
        except ValueError:
            raise typer.BadParameter(f"--as-of must be an ISO date (2023-05-01), not {as_of!r}") from None
    counts = evaluate_warnings(_settings(ctx), when)
    typer.echo(", ".join(f"{k} {v:,}" for k, v in counts.items()))


@warnings_app.command("list")
def warnings_list(
    ctx: typer.Context,
    town: str = typer.Argument(..., help="Town key, as in the graph (e.g. 磁灶镇)."),
    status: str = typer.Option("open", help="open, acknowledged or resolved."),
    first: int = typer.Option(20, min=1, max=500),
) -> None:
    """A town's warnings, newest first."""
    from entgraph.graph import warning_queries as wq
    from entgraph.graph.connect import open_store

    with open_store(_settings(ctx)) as store:
        page = wq.by_town(store, town, [status], None, first, None)
    for w in page["items"]:
        typer.echo(f"{w['id']}\t{w['severity']}\t{w['status']}\t{w['message_zh']}")
    typer.echo(f"{page['total']:,} {status} warning(s) in {town}")


def _transition(ctx: typer.Context, warning_id: str, status: str, note: str | None) -> None:
    import getpass

    from entgraph.graph.connect import open_store
    from entgraph.telemetry import warning_lifecycle

    settings = _settings(ctx)
    with open_store(settings) as store:
        try:
            warning_lifecycle.set_status(store, warning_id, status, note, settings.user or getpass.getuser(),
                                         int(time.time() * 1000))  # fmt: skip
        except warning_lifecycle.WarningError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{warning_id}: {status}")


@warnings_app.command("ack")
def warnings_ack(ctx: typer.Context, warning_id: str, note: str | None = typer.Option(None)) -> None:
    """Acknowledge a warning (someone is looking into it)."""
    _transition(ctx, warning_id, "acknowledged", note)


@warnings_app.command("resolve")
def warnings_resolve(
    ctx: typer.Context, warning_id: str, note: str = typer.Option(..., help="Feedback.")
) -> None:
    """Resolve a warning with a feedback note (what was found, what was done)."""
    _transition(ctx, warning_id, "resolved", note)

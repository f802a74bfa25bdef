"""Command line: worker, broker, replay, ingest-ais, counts, zones, alerts (show, ack, silence, silences,
cap), sql, demo, erase, reload, token, health, cluster-ddl and schema export.

What counts, alerts and sql print is shaped in streams.cli.output.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from schemas.alerts import Alert, AlertKind
from schemas.cap import render_cap
from schemas.errors import BorderwatchError, ConfigFileError, KafkaConfigError
from schemas.problems import first_problem
from streams.analyst.counts import CountsAsked, GroupBy, parse_duration_s
from streams.analyst.window import ResolvedWindow, TimeWindow, describe_window
from streams.cli.config_check import config_cli
from streams.cli.names import UnknownNameError, checked_name, crossing_names, route_names
from streams.cli.output import (
    ALERT_COLUMNS,
    OutputFormat,
    alert_detail,
    alert_lines,
    columns_and_rows,
    counts_table,
    render,
    rich_table,
    silence_lines,
)
from streams.cli.pager import show_table
from streams.cli.status import no_worker, status, worker_api
from streams.cli.zones import zones
from streams.client.worker_api import WorkerApi
from streams.config.settings import CONFIG_VARIABLE, LOCAL, Settings
from streams.kafka.security import KafkaConnection
from streams.kafka.topics import ALL_TOPICS, DLQ, INTERCEPTIONS, KIND_OF_TOPIC, VESSELS

if TYPE_CHECKING:
    from geo.catalogue import Catalogue
    from streams.analyst.session import AnalystSession
    from streams.sinks.clickhouse.alert_ops import ClickHouseAlertOps

cli = typer.Typer(help="borderwatch: border incident reports in, exact counts per crossing out.",
                  no_args_is_help=True, add_completion=True,
                  context_settings={"help_option_names": ["-h", "--help"]})  # fmt: skip
schemas_cli = typer.Typer(help="JSON Schema files for producers.", no_args_is_help=True)
cli.add_typer(schemas_cli, name="schemas")
alerts_cli = typer.Typer(help="Alerts raised by the detectors.", invoke_without_command=True)
cli.add_typer(alerts_cli, name="alerts")
cli.add_typer(config_cli, name="config")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however narrow the terminal
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="table (for people), vertical (one field a line, as psql's \\x), json (an array of row objects) "
        "or csv (spreadsheets)",
    ),
]


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"borderwatch {version('borderwatch')}")
        raise typer.Exit()


@cli.callback()
def _options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML file of settings (as BORDERWATCH_CONFIG); the environment wins"),
    ] = None,
) -> None:
    """borderwatch: border incident reports in, exact counts per crossing out."""
    if config is not None:
        os.environ[CONFIG_VARIABLE] = str(config)  # read by Settings, here and in the workers it starts
    if ctx.invoked_subcommand != "config":  # `config check` lists them itself, with the settings in force
        from streams.config.sources import unknown_names

        for warning in unknown_names(Settings.model_fields, os.environ, {}):
            err.print(f"[bold yellow]warning:[/] {warning}")


def fail(message: str) -> typer.Exit:
    """Print a one-line error and give the exit to raise."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


@cli.command()
def worker() -> None:
    """Run a worker: settings from BORDERWATCH_* (docs/operations/settings.md), in the foreground."""
    from streams.worker.logs import configure_logging
    from streams.worker.start import run_worker

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, settings.log_tables)
    try:
        run_worker(settings)
    except BorderwatchError as error:
        raise fail(str(error)) from None


@cli.command()
def broker(
    action: Annotated[
        str, typer.Argument(help="'run' (the default) or 'stop': stop the data dir's broker")
    ] = "run",
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
) -> None:
    """Run the bundled Tansu broker in the foreground, with borderwatch's topics; `stop` stops the one
    running for the data dir (a worker's, which outlives the worker)."""
    from streams.kafka.admin import ensure_topics
    from streams.kafka.broker import start_local_broker, stop_local_broker

    settings = Settings()
    if action == "stop":
        stopped = stop_local_broker(settings.data_dir)
        console.print(
            f"stopped the broker (pid {stopped}); its topics are gone" if stopped
            else f"no broker runs for data dir {str(settings.data_dir)!r}"
        )  # fmt: skip
        return
    if action != "run":
        raise fail(f"broker takes 'run' or 'stop', not {action!r}")
    with start_local_broker(settings.data_dir, port) as local:
        asyncio.run(ensure_topics(local.url, settings.partitions))
        console.print(f"Tansu broker on [bold]{local.url}[/] with topics {', '.join(ALL_TOPICS)}")
        console.print("Workers and replays in this data dir find it; Ctrl-C stops it.")
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)


@cli.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines, may be .gz")],
    topic: Annotated[str, typer.Option(help="input topic")] = INTERCEPTIONS,
    rate: Annotated[float, typer.Option(help="reports per second, 0 = as fast as possible")] = 0,
) -> None:
    """Send a file of reports to a topic, one line per message, with a progress bar; lines that are no
    JSON object or that belong on the other topic are skipped and counted (streams.sources.line_check)."""
    from streams.sources.line_check import ReplayTally
    from streams.sources.replay import open_lines, open_numbered_lines, replay_lines

    if topic not in KIND_OF_TOPIC:
        raise fail(f"topic {topic!r} is not an input topic; use one of {sorted(KIND_OF_TOPIC)}")
    if not rate >= 0:  # NaN too
        raise fail(f"--rate {rate} is not a rate: give reports per second, or 0 for as fast as possible")
    kafka = _kafka(Settings())
    total = sum(1 for _ in open_lines(file))
    tally = ReplayTally(KIND_OF_TOPIC[topic])
    with _progress() as progress:
        task = progress.add_task(f"{file.name} → {topic}", total=total)

        def admitted() -> Iterator[bytes]:
            for line in open_numbered_lines(file):
                if tally.admit(line.number, line.text):
                    yield line.text
                else:
                    progress.advance(task, 1)

        advance: Callable[[int], None] = lambda n: progress.advance(task, n)  # noqa: E731
        asyncio.run(replay_lines(admitted(), topic, kafka, rate or None, advance))
    other = next(t for t in KIND_OF_TOPIC if t != topic)
    _print_lines(tally.summary(f"{topic} on {kafka.bootstrap}", other))


SINCE_HELP = (
    "an ISO date or time (2025-04-01, 2025-04-01T06:00Z; UTC without an offset) or a duration (15m, 1h, 7d) "
    "back from the newest {what}'s event time, never the clock"
)
UNTIL_HELP = "the window's end, excluded: as --since"


@cli.command()
def counts(
    since: Annotated[str | None, typer.Option(help=SINCE_HELP.format(what="report"))] = None,
    until: Annotated[str | None, typer.Option(help=UNTIL_HELP)] = None,
    route: Annotated[
        str | None, typer.Option(help="only this route ('borderwatch zones' lists them)")
    ] = None,
    crossing: Annotated[
        str | None, typer.Option(help="only this crossing id ('borderwatch zones' lists them)")
    ] = None,
    by: Annotated[GroupBy, typer.Option(help="group rows by")] = GroupBy.CROSSING,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Exact counts of reports and persons from ClickHouse, in an event-time window."""
    settings = Settings()
    window = _time_window(since, until)
    if route is not None or crossing is not None:
        catalogue = _catalogue(settings)
        route = _named(route, lambda: route_names(catalogue), "route")
        crossing = _named(crossing, lambda: crossing_names(catalogue), "crossing")
    params = {"by": by.value, "since": since or "", "until": until or "", "route": route or "",
              "crossing": crossing or "", "window": "1"}  # fmt: skip
    answer = _query(
        settings,
        lambda api: api.get("/counts", params),
        lambda session: session.counts(CountsAsked(by, window, route, crossing)),
    )
    if isinstance(answer, dict) and "error" in answer:
        raise fail(f"query failed: {answer['error']}")
    rows = answer["rows"]
    note = describe_window(window, ResolvedWindow.from_json(answer["window"]), "report")
    if fmt is OutputFormat.TABLE:
        console.print(counts_table(rows, f"counts by {by.value}" + (f"; {note}" if note else "")))
        return
    if note:
        err.print(note, markup=False, highlight=False)
    _emit(fmt, *columns_and_rows(rows), empty="no reports yet")


KIND_HELP = "only this kind of alert: " + ", ".join(k.value for k in AlertKind)


def _named(value: str | None, valid: Callable[[], list[str]], what: str) -> str | None:
    """The valid name a person meant, or a one-line error with the closest ones; None stays None."""
    if value is None:
        return None
    try:
        return checked_name(value, valid(), what)
    except UnknownNameError as error:
        raise fail(str(error)) from None


def _kind(kind: str | None) -> AlertKind | None:
    named = _named(kind, lambda: [k.value for k in AlertKind], "alert kind")
    return AlertKind(named) if named else None


def _catalogue(settings: Settings) -> Catalogue:
    """The geofence catalogue in force (BORDERWATCH_GEOFENCES, else the built-in one)."""
    from geo.catalogue import load_catalogue

    try:
        return load_catalogue(settings.geofences)
    except BorderwatchError as error:
        raise fail(str(error)) from None


def _time_window(since: str | None, until: str | None) -> TimeWindow:
    """--since and --until, or a one-line error."""
    try:
        return TimeWindow.parse(since, until)
    except ValueError as error:
        raise fail(str(error)) from None


@cli.command()
def sql(
    query: Annotated[str, typer.Argument(help="a read-only SQL query")],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Run a read-only SQL query against borderwatch's ClickHouse."""
    settings = Settings()
    result = _query(settings, lambda api: api.sql(query), lambda session: session.sql(query))
    if "error" in result:
        message = str(result["error"]).removeprefix("syntax: ")  # ClickHouse's words say it already
        raise fail(message if message.startswith("Syntax error") else f"query failed: {message}")
    if fmt is OutputFormat.TABLE:
        show_table(console, rich_table(result["columns"], result["rows"]))
        return
    _emit(fmt, result["columns"], result["rows"], empty="no rows")


@cli.command()
def demo(
    data_dir: Annotated[Path | None, typer.Option(help="default: BORDERWATCH_DATA_DIR")] = None,
    interceptions: Annotated[Path | None, typer.Option(help="feed file (default: bundled)")] = None,
    vessels: Annotated[Path | None, typer.Option(help="feed file (default: bundled)")] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="stop at the end instead of serving the live picture")
    ] = False,
) -> None:
    """Start broker, chdb and a worker, replay the sample feed and watch counts per crossing; then, in a
    terminal, serve the live picture until Ctrl-C."""
    from streams.demo.run import run_demo

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    serve = (lambda api: sign_in_link(api)) if sys.stdout.isatty() and not no_serve else None
    try:
        run_demo(settings, console, interceptions, vessels, serve)
    except BorderwatchError as error:
        raise fail(str(error)) from None


@alerts_cli.callback()
def alerts(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help=SINCE_HELP.format(what="alert") + " (its window's end)")
    ] = None,
    until: Annotated[str | None, typer.Option(help=UNTIL_HELP)] = None,
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List the latest state of each alert, most severe first, each with its id and its reason."""
    if ctx.invoked_subcommand is not None:
        return
    window = _time_window(since, until)
    answer = _alerts(Settings(), window, (since, until), _kind(kind), None)
    found = answer["alerts"]
    note = describe_window(window, ResolvedWindow.from_json(answer["window"]), "alert")
    if fmt is OutputFormat.TABLE:
        title = f"{len(found)} alerts" + (f" ({note})" if note else "") + ", most severe first"
        _print_lines(alert_lines(found, title, console.width))
        return
    if note:
        err.print(note, markup=False, highlight=False)
    columns, rows = columns_and_rows(found)
    _emit(fmt, columns or list(ALERT_COLUMNS), rows, empty="no alerts yet")


@alerts_cli.command("cap")
def alerts_cap(alert_id: Annotated[str, typer.Argument(help="an id from 'borderwatch alerts'")]) -> None:
    """Print one alert's latest state as CAP 1.2 XML."""
    settings = Settings()
    found = _alerts(settings, None, (None, None), None, alert_id)["alerts"]
    if not found:
        raise fail(f"no alert with id {alert_id!r}; 'borderwatch alerts' lists them")
    typer.echo(render_cap(Alert.model_validate(found[0]), settings.cap_sender).decode())


@alerts_cli.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(help="an id from 'borderwatch alerts'")],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Print one alert whole: state, reasons, window, evidence, versions, acknowledgements, silence."""
    found = _alerts(Settings(), None, (None, None), None, alert_id)["alerts"]
    if not found:
        raise fail(f"no alert with id {alert_id!r}; 'borderwatch alerts' lists them")
    if fmt is OutputFormat.TABLE:
        _print_lines(alert_detail(found[0]))
        return
    _emit(fmt, *columns_and_rows(found), empty="no alert")


@alerts_cli.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="an id from 'borderwatch alerts'")],
    note: Annotated[str, typer.Option(help="what was done about it")] = "",
) -> None:
    """Acknowledge an alert: who (you) and when are recorded; it shows as acked."""
    from datetime import UTC, datetime

    by = _user()

    def direct(ops: ClickHouseAlertOps) -> dict[str, Any]:
        ack = ops.ack(alert_id, f"local:{by}", note, datetime.now(UTC))
        return {"error": f"no alert {alert_id!r}", "status": 404} if ack is None else {"ack": ack.as_json()}

    body = {"note": note, "by": by}
    answer = _operate(Settings(), lambda api: api.post(f"/alerts/{alert_id}/ack", body), direct)
    ack = answer["ack"]
    console.print(f"acknowledged {alert_id} as {ack['by']} at {ack['at']}", markup=False, highlight=False)


@alerts_cli.command("silence")
def alerts_silence(
    until: Annotated[str, typer.Option(help="a duration from now (4h, 2d) or a time with offset (…T06:00Z)")],
    reason: Annotated[str, typer.Option(help="why, for the others on duty and the audit log")],
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    zone: Annotated[str, typer.Option(help="only alerts of this zone or crossing id")] = "",
) -> None:
    """Silence alerts of a kind, a zone or both until a time: they are stored and shown as silenced,
    but not delivered to the centres."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from streams.delivery.silences import SilenceRequest, new_silence, until_of

    now = datetime.now(UTC)
    try:
        ends = until_of(until, now, parse_duration_s)
        wanted = SilenceRequest(kind=_kind(kind), zone_id=zone, until=ends, reason=reason)
    except ValidationError as error:
        where, message = first_problem(error)
        raise fail(f"{where}: {message}" if where else message) from None
    except ValueError as error:
        raise fail(str(error)) from None
    if ends <= now:
        raise fail(f"until {ends.isoformat()} has passed already")
    body = {**wanted.model_dump(mode="json"), "by": _user()}
    answer = _operate(
        Settings(),
        lambda api: api.post("/silences", body),
        lambda ops: ops.silence(new_silence(wanted, f"local:{_user()}", now)).model_dump(mode="json"),
    )
    _print_lines(silence_lines([answer]))
    err.print("alerts it matches are stored and shown as silenced, and not delivered")


@alerts_cli.command("silences")
def alerts_silences(
    ended: Annotated[bool, typer.Option("--all", help="the ended silences too")] = False,
) -> None:
    """List the silences still running (or all)."""
    answer = _operate(
        Settings(),
        lambda api: api.get("/silences", {"all": "1"} if ended else None),
        lambda ops: [s.model_dump(mode="json") for s in ops.silences(ended)],
    )
    _print_lines(silence_lines(answer))


@cli.command("ingest-ais")
def ingest_ais(
    file: Annotated[str, typer.Argument(help="NMEA file, or - for standard input")],
    authority: Annotated[str, typer.Option(help="authority of the reports")] = "AIS",
) -> None:
    """Decode AIS NMEA sentences and publish vessel reports keyed by MMSI; undecodable lines go to dlq."""
    from datetime import UTC, datetime

    from streams.kafka.admin import ensure_topics
    from streams.kafka.clients import KafkaEventPublisher
    from streams.sources.ais import AisDecoder

    settings = Settings()
    kafka = _kafka(settings)
    if file == "-":
        lines: list[bytes] = sys.stdin.buffer.read().splitlines()
    else:
        try:
            lines = Path(file).read_bytes().splitlines()
        except OSError as error:
            raise fail(f"cannot read {file!r}: {error}") from None
    from streams.stages.dead_letters import publish_dead_letters

    decoder = AisDecoder(authority, "stdin" if file == "-" else Path(file).name)
    reports = list(decoder.decode_lines(lines, datetime.now(UTC)))

    async def publish() -> None:
        await ensure_topics(kafka, settings.partitions)
        publisher = KafkaEventPublisher(kafka)
        await publisher.start()
        try:
            await publisher.publish(VESSELS, reports)
            await publish_dead_letters(publisher, decoder.dead_letters)
        finally:
            await publisher.stop()

    asyncio.run(publish())
    s = decoder.stats
    console.print(
        f"{s.sentences} sentences: {s.reports} vessel reports to {VESSELS}, "
        f"{s.undecodable} undecodable to {DLQ}, {s.without_position} without a position, "
        f"{s.other_types} of other message types"
    )


@schemas_cli.command("export")
def schemas_export(directory: Annotated[Path, typer.Argument(file_okay=False)]) -> None:
    """Write one JSON Schema file per wire model into DIRECTORY."""
    from schemas.export import export_json_schemas

    for path in export_json_schemas(directory):
        console.print(f"wrote {path}")


@cli.command("cluster-ddl")
def cluster_ddl(
    cluster: Annotated[str, typer.Argument(help="the cluster's name in the servers' remote_servers")],
) -> None:
    """Print this release's schema for a ClickHouse cluster: Replicated tables and Distributed ones."""
    import tempfile

    from streams.sinks.clickhouse.cluster_ddl import cluster_ddl as render
    from streams.sinks.clickhouse.connection import connect

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="borderwatch-ddl-") as scratch:
        statements = render(connect(f"chdb://{scratch}"), settings.database, cluster, settings.retention)
    header = (
        f"borderwatch's schema for ClickHouse cluster '{cluster}', made by "
        f"`borderwatch cluster-ddl {cluster}` (docs/operations/clickhouse.md).",
        "Each node's {replica} macro must be unique across the whole cluster, not only in its shard:",
        "the tables without {shard} in their path are replicated to every node.",
    )
    sys.stdout.write("".join(f"-- {line}\n" for line in header) + "\n")
    sys.stdout.write("".join(f"{statement};\n\n" for statement in statements))


@cli.command()
def erase(
    authority: Annotated[str, typer.Option(help="the report's authority, as it sent it")],
    report_id: Annotated[str, typer.Option("--report-id", help="the report's report_id")],
    tombstone: Annotated[
        bool, typer.Option("--tombstone", help="erase an identity never stored: keep it from being stored")
    ] = False,
) -> None:
    """Erase one report and what came of it (correction and erasure requests); its counts follow."""
    from pydantic import ValidationError

    from streams.client.worker_api import running_worker
    from streams.sinks.clickhouse.connection import connect
    from streams.sinks.clickhouse.erase import ErasureRequest, erased_counts
    from streams.sinks.clickhouse.migrations.runner import migrate

    settings = Settings()
    try:
        wanted = ErasureRequest(authority=authority, report_id=report_id, tombstone=tombstone)
    except ValidationError as error:
        raise fail(f"not a report identity: {first_problem(error)[1]}") from None
    never_stored = (
        f"no report {authority}:{report_id} was ever stored: nothing erased; to keep it from"
        " being stored when it comes, add --tombstone"
    )
    api = running_worker(settings.data_dir) if settings.is_local_clickhouse else None
    if api is not None:  # chdb belongs to the running worker
        answer = api.post("/erase", wanted.model_dump())
        if answer.get("status") == 404:
            raise fail(never_stored)
        if "error" in answer:
            raise fail(str(answer["error"]))
        erased = answer["erased"]
    else:
        client = connect(settings.clickhouse_dsn, settings.clickhouse_ca_file)
        migrate(client, settings.database)
        counts = erased_counts(client, settings.database, wanted)
        if counts is None:
            raise fail(never_stored)
        erased = counts
    console.print_json(data={"authority": authority, "report_id": report_id, "erased": erased})


ROLE_HELP = (
    "analyst (counts, alerts, sql), operator (status, metrics, erase, reload, ack, silence), duty_officer "
    "(alerts, ack, silence), centre (sends reports) or scrape (metrics only)"
)


@cli.command()
def token(
    name: Annotated[str, typer.Argument(help="who will hold it, as the audit log will name them")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
) -> None:
    """Make a named API token: its entry for the tokens file on stdout, the token itself once on stderr."""
    from pydantic import ValidationError

    from streams.web.tokens import NamedToken, hash_token, new_token

    secret = new_token()
    try:
        entry = NamedToken(name=name, role=role, sha256=hash_token(secret))
    except ValidationError as error:
        raise fail("{}: {}".format(*first_problem(error))) from None
    # The entry on stdout (`>> tokens.toml`), the secret on stderr: it goes to its holder, not into a file.
    err.print(f"The token for {entry.name!r} (shown once; give it to its holder):", markup=False)
    err.print(secret, markup=False, soft_wrap=True)
    typer.echo(f'[[token]]\nname = "{entry.name}"\nrole = "{entry.role.value}"\nsha256 = "{entry.sha256}"\n')


@cli.command()
def health() -> None:
    """Ask this data dir's worker for /health: exit 0 when it is healthy, 1 otherwise (for healthchecks)."""
    settings = Settings()
    api = worker_api(settings)
    answer = api.get("/health") if api else None
    if answer is None:
        err.print(f"[bold red]unhealthy:[/] {no_worker(settings.data_dir)}")
        raise typer.Exit(code=1)
    if answer.get("healthy") is not True:
        err.print(f"[bold red]unhealthy:[/] {answer.get('error', answer)}")
        raise typer.Exit(code=1)
    console.print_json(data=answer)


@cli.command()
def ui(
    no_browser: Annotated[bool, typer.Option("--no-browser", help="print the link only")] = False,
) -> None:
    """Print a one-time sign-in link to the live picture (and open it in a browser where it can)."""
    from streams.client.worker_api import local_api, running_worker

    settings = Settings()
    api = running_worker(settings.data_dir) or local_api(
        settings.web_port, settings.data_dir, settings.web_tls_cert_file
    )
    link = sign_in_link(api) if api else None
    if link is None:
        raise fail(
            f"no worker answers for {settings.data_dir}: start 'borderwatch worker' or 'borderwatch demo'"
        )
    print(link)
    err.print("One sign-in, within 5 minutes. The page is served by the worker; nothing else is fetched.")
    if not no_browser and sys.stdout.isatty():
        import webbrowser

        webbrowser.open(link)


def sign_in_link(api: WorkerApi) -> str | None:
    """A one-time sign-in link to the worker's live picture, or None when it does not answer."""
    try:
        answer = api.post("/picture/code", {})
    except (OSError, ConnectionError):
        return None
    if "error" in answer:
        raise fail(f"the worker refused a sign-in code: {answer['error']}")
    return f"{api.base_url}{answer['path']}"


@cli.command()
def reload() -> None:
    """Make this data dir's worker read its tokens file and watch list again, without a restart."""
    settings = Settings()
    api = worker_api(settings)
    if api is None:
        raise fail(no_worker(settings.data_dir))
    try:
        answer = api.post("/reload", {})
    except (OSError, ConnectionError):
        raise fail(no_worker(settings.data_dir)) from None
    if "error" in answer:
        raise fail(str(answer["error"]))
    console.print_json(data=answer)


cli.command()(status)
cli.command()(zones)


def _emit(fmt: OutputFormat, columns: list[str], rows: list[list[Any]], empty: str) -> None:
    """Write rows as json or csv to stdout and nothing else; a note on an empty result to stderr.

    UTF-8 bytes, as they are: click's echo would strip escape sequences from values when piped.
    """
    if not rows:
        err.print(f"({empty})")
    sys.stdout.buffer.write(render(fmt, columns, rows).encode())
    sys.stdout.buffer.flush()


def _print_lines(lines: list[str]) -> None:
    """Lines as they are: no markup, no highlighting, never wrapped again by rich."""
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _user() -> str:
    """Who runs this CLI, as acknowledgements and silences record them (`local:<user>`)."""
    import getpass
    import re

    try:
        return re.sub(r"[^A-Za-z0-9._@-]", "-", getpass.getuser())[:64] or "unknown"
    except (OSError, KeyError):
        return "unknown"


def _operate(
    settings: Settings, via_worker: Callable[[WorkerApi], Any], direct: Callable[[ClickHouseAlertOps], Any]
) -> Any:
    """Acknowledge or silence through the worker that owns chdb, else in ClickHouse directly."""
    from streams.client.worker_api import running_worker
    from streams.sinks.clickhouse.alert_ops import ClickHouseAlertOps
    from streams.sinks.clickhouse.connection import connect
    from streams.sinks.clickhouse.migrations.runner import migrate

    api = running_worker(settings.data_dir) if settings.is_local_clickhouse else None
    if api is not None:
        try:
            answer = via_worker(api)
        except (OSError, ConnectionError) as error:
            raise fail(f"the worker at {api.base_url} did not answer: {error}") from None
    else:
        try:
            client = connect(settings.clickhouse_dsn, settings.clickhouse_ca_file)
            migrate(client, settings.database)
        except BorderwatchError as error:
            raise fail(str(error)) from None
        answer = direct(ClickHouseAlertOps(client, settings.database))
    if answer is None:
        raise fail(f"the worker for {settings.data_dir} did not answer; see its log there")
    if isinstance(answer, dict) and "error" in answer:
        raise fail(str(answer["error"]))
    return answer


def _kafka(settings: Settings) -> KafkaConnection:
    """The brokers of these settings, with their TLS and SASL."""
    try:
        return settings.kafka_security.connect(_broker_url(settings))
    except KafkaConfigError as error:
        raise fail(str(error)) from None


def _broker_url(settings: Settings) -> str:
    from streams.kafka.broker import running_local_broker

    if settings.kafka != LOCAL:
        return settings.kafka
    url = running_local_broker(settings.data_dir)
    if url is None:
        raise fail(
            f"no local broker is running for data dir {str(settings.data_dir)!r}: start "
            "'borderwatch worker' or 'borderwatch broker', or set BORDERWATCH_KAFKA"
        )
    return url


def _alerts(
    settings: Settings, window: TimeWindow | None, given: tuple[str | None, str | None], kind: str | None,
    alert_id: str | None,
) -> dict[str, Any]:  # fmt: skip
    """{"window", "alerts"}: the alerts in the window (the --since and --until texts `given`)."""
    since, until = given
    params = {
        "since": since or "",
        "until": until or "",
        "kind": kind or "",
        "id": alert_id or "",
        "window": "1",
    }
    answer = _query(
        settings,
        lambda api: api.get("/alerts", params),
        lambda session: session.alerts(window, kind, alert_id),
    )
    if isinstance(answer, dict) and "error" in answer:
        raise fail(str(answer["error"]))
    return dict(answer)


def _query(
    settings: Settings, via_worker: Callable[[WorkerApi], Any], direct: Callable[[AnalystSession], Any]
) -> Any:
    """Ask the worker that owns chdb over HTTP, else open a caged analyst session directly."""
    from streams.client.worker_api import running_worker

    api = running_worker(settings.data_dir) if settings.is_local_clickhouse else None
    if api is not None:
        answer = via_worker(api)
        if answer is None:
            raise fail(f"the worker at {api.base_url} did not answer; see its log in {settings.data_dir}")
        return answer
    from schemas.errors import QueryRefusedError
    from streams.analyst.session import AnalystSession
    from streams.sinks.clickhouse.connection import connect, redact_dsn

    dsn, ca_file = settings.clickhouse_dsn, settings.clickhouse_ca_file
    try:
        return direct(AnalystSession(lambda: connect(dsn, ca_file), settings.database, settings.analyst))
    except QueryRefusedError as error:
        return {"error": str(error)}
    except Exception as error:
        if "UNKNOWN_DATABASE" in str(error):
            raise fail(
                f"no borderwatch data in {redact_dsn(dsn)!r} yet: run 'borderwatch demo' "
                "or 'borderwatch worker' first"
            ) from None
        raise fail(f"query failed: {str(error).replace(dsn, redact_dsn(dsn))}") from None


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console)  # fmt: skip


def main() -> None:
    """Console entry point: a setting that cannot serve is one clear line, not a traceback."""
    from pydantic import ValidationError

    try:
        code = cli(standalone_mode=False)  # Typer answers a usage error with a boxed page; here, one line
    except _USAGE_ERROR as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `borderwatch` alone: the help
            err.print(error.format_message(), markup=False, highlight=False)
        else:
            command = error.ctx.command_path if error.ctx else "borderwatch"
            err.print(f"[bold red]error:[/] {escape(error.format_message())} (see `{command} -h`)")
        raise SystemExit(error.exit_code) from None
    except _CLICK_ERROR as error:
        err.print(f"[bold red]error:[/] {escape(error.format_message())}")
        raise SystemExit(error.exit_code) from None
    except ConfigFileError as error:
        err.print(f"[bold red]error:[/] {error}")
        raise SystemExit(2) from None
    except ValidationError as error:
        where, message = first_problem(error)
        err.print(f"[bold red]error:[/] settings: {(where + ': ') if where else ''}{message}")
        raise SystemExit(2) from None
    raise SystemExit(code if isinstance(code, int) else 0)


# Typer ships its own click: its exception classes, found from a public one rather than a private module.
_USAGE_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

"""Analyst SQL: a caged ClickHouse session of its own, apart from ingest's, for /sql, /counts and /alerts.

The session is another clickhouse-connect client (with chdb, another engine
handle on the same data: its own settings and its own lock), set to the
limits and then to `readonly=1`, so nothing an analyst sends can change
ingest's session or its settings. Queries run on the session's own thread, so
a slow one never takes a thread that ingest's inserts wait for, and at most
`max_waiting` more queue behind it or send their answers (an answer holds its
slot until it is sent).

ClickHouse checks max_execution_time (and KILL QUERY) between blocks only: a
function that works long on one block (hasAll of two long arrays) runs on
past both. So a watchdog gives each query its limit plus `abandon_after_s`;
past that the query is abandoned: its thread and clients are left to it, the
session goes on with new ones, and at most `max_abandoned` such threads may
run on at once.

The query is parsed on one client and run on another, and a client whose
query failed is replaced: after a query fails mid-result, the chdb backend
can hand that query's leftover rows to the next query on the same client,
which would let one query forge the parse tree of the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client

from schemas.errors import AnalystBusyError, QueryAbandonedError, QueryRefusedError
from streams.analyst.alert_state import ClearTimes
from streams.analyst.answers import encode_within
from streams.analyst.counts import CountsAsked, CountsFilter, newest_minute, run_counts
from streams.analyst.guard import FunctionInfo, Policy, build_policy, check_ast
from streams.analyst.limits import AnalystLimits
from streams.analyst.picture import AlertFilter, Window, alert_detail, pulse, reporting_health, situation
from streams.analyst.syntax import syntax_error_line
from streams.analyst.window import TimeWindow
from streams.detect.thresholds import Thresholds
from streams.sinks.clickhouse.alert_ops import read_alert_view
from streams.sinks.clickhouse.alert_table import newest_alert_end

T = TypeVar("T")
log = logging.getLogger(__name__)


class AnalystSession:
    """Read-only queries for analysts, checked and capped; one at a time."""

    def __init__(
        self, connect: Callable[[], Client], db: str, limits: AnalystLimits, clear: ClearTimes | None = None
    ) -> None:
        self._connect = connect
        self.db = db
        self.limits = limits
        self.clear = clear or ClearTimes.of(
            Thresholds()
        )  # the detectors': an open alert resolves as theirs do
        self.policy = self._policy()
        self.parser = self._open(limited=False)
        self.client = self._open()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyst-sql")
        self._slots = threading.BoundedSemaphore(limits.max_waiting + 1)
        self._turn = asyncio.Lock()  # one query at a time on the session's thread
        self._abandoned = 0
        self._abandoned_lock = threading.Lock()

    def _open(self, limited: bool = True) -> Client:
        """A client of its own, set to the limits (the parser's only to the time limit), read-only."""
        client = self._connect()
        settings = self.limits.clickhouse_settings()
        if not limited:  # EXPLAIN prints a line per node: no result limits, the rest stays
            settings = {k: v for k, v in settings.items() if not k.startswith(("max_result", "result_"))}
        for name, value in settings.items():
            literal = f"'{value}'" if isinstance(value, str) else repr(value)
            client.command(f"SET {name} = {literal}")
        client.database = self.db  # unqualified names are borderwatch's tables
        client.command("SET readonly = 1")
        return client

    def _replace(self, client: Client, limited: bool = True) -> Client:
        with contextlib.suppress(Exception):  # the old handle is dropped either way
            client.close()
        return self._open(limited)

    def _policy(self) -> Policy:
        client = self._connect()
        try:
            functions = [
                FunctionInfo(name, categories, bool(aggregate), bool(insensitive), alias_to)
                for name, categories, aggregate, insensitive, alias_to in client.query(
                    "SELECT name, categories, is_aggregate, case_insensitive, alias_to FROM system.functions"
                ).result_rows
            ]
            tables = [row[0] for row in client.query(f"SHOW TABLES FROM {self.db}").result_rows]
            databases = [row[0] for row in client.query("SHOW DATABASES").result_rows]
        finally:
            client.close()
        return build_policy(functions, self.db, tables, databases)

    def _current_policy(self, parser: Client) -> Policy:
        """The policy, with tables made since the start hidden: a name of theirs is no CTE name."""
        tables = {str(row[0]) for row in parser.query(f"SHOW TABLES FROM {self.db}").result_rows}
        later = tables - self.policy.tables - self.policy.hidden
        if later:
            self.policy = dataclasses.replace(self.policy, hidden=self.policy.hidden | later)
        return self.policy

    def sql(self, query: str) -> dict[str, Any]:
        """An analyst's query: {"columns", "rows"}; raises QueryRefusedError with the reason."""
        if len(query.encode()) > self.limits.max_sql_bytes:
            raise QueryRefusedError("too_long", f"the query is over {self.limits.max_sql_bytes} bytes")
        if not query.strip():
            raise QueryRefusedError("not_a_select", "the query is empty")
        if _longest_space_run(query) > MAX_SPACE_RUN:
            # clickhouse-connect scans query text with a regex that is quadratic in such runs.
            raise QueryRefusedError("too_long", f"a run of over {MAX_SPACE_RUN} spaces")
        parser = self.parser  # this call's own: an abandoned call's clients are replaced under it
        try:
            # One statement, re-written by ClickHouse's own formatter: what is checked is what runs.
            canonical = str(
                parser.query("SELECT formatQuery({q:String})", parameters={"q": query}).result_rows[0][0]
            )
            explained = parser.query(f"EXPLAIN AST {canonical}").result_rows
        except Exception as error:  # ClickHouse's parser says what is wrong with the text
            if self.parser is parser:
                self.parser = self._replace(parser, limited=False)
            raise QueryRefusedError("syntax", syntax_error_line(str(error))) from None
        tree = "\n".join(str(row[0]) for row in explained)
        refused = check_ast(tree, self._current_policy(parser))
        if refused is not None:
            raise QueryRefusedError(refused.code.value, refused.detail)
        # Wrapped, a SELECT without FROM is held to the result limits too.
        runnable = canonical if tree.startswith("DescribeQuery") else f"SELECT * FROM ({canonical})"
        result = self._refusing(lambda client: client.query(runnable))
        if len(result.result_rows) > self.limits.max_result_rows:  # ClickHouse checks per block only
            raise QueryRefusedError("failed", f"the result has over {self.limits.max_result_rows} rows")
        return {
            "columns": list(result.column_names),
            "rows": [[v.isoformat() if hasattr(v, "isoformat") else v for v in row]
                     for row in result.result_rows],
        }  # fmt: skip

    def counts(self, asked: CountsAsked) -> dict[str, Any]:
        """Exact counts (see streams.analyst.counts) under the same limits, with the window they cover:
        {"window": ResolvedWindow.as_json(), "rows": [...]}."""

        def run(client: Client) -> dict[str, Any]:
            newest = newest_minute(client, self.db) if asked.window.needs_newest else None
            window = asked.window.resolve(newest)
            if asked.window.empty_for_lack_of_data(window):
                return {"window": window.as_json(), "rows": []}
            wanted = CountsFilter(asked.by, window.start, window.end, asked.route, asked.crossing)
            return {"window": window.as_json(), "rows": run_counts(client, self.db, wanted)}

        return self._refusing(run)

    def alerts(self, window: TimeWindow | None, kind: str | None, alert_id: str | None) -> dict[str, Any]:
        """The latest alert states with their acknowledgements and silences, resolved by time where
        their clear time passed (streams.sinks.clickhouse.alert_ops), under the same limits, with the
        window they cover: {"window": ResolvedWindow.as_json(), "alerts": [...]}."""
        asked = window or TimeWindow()

        def run(client: Client) -> dict[str, Any]:
            resolved = asked.resolve(newest_alert_end(client, self.db) if asked.needs_newest else None)
            if asked.empty_for_lack_of_data(resolved):
                return {"window": resolved.as_json(), "alerts": []}
            found = read_alert_view(client, self.db, self.clear, resolved, kind, alert_id)
            return {"window": resolved.as_json(), "alerts": found}

        return self._refusing(run)

    def situation(self, window: Window | int, wanted: AlertFilter) -> dict[str, Any]:
        """The live picture in one window (see streams.analyst.picture) under the same limits."""
        return self._refusing(lambda client: situation(client, self.db, window, wanted))

    def alert_detail(self, alert_id: str) -> dict[str, Any] | None:
        """One alert with its versions and evidence, for the picture."""
        return self._refusing(lambda client: alert_detail(client, self.db, alert_id))

    def reporting_health(self) -> dict[str, Any]:
        """Reporting health per authority, for the picture."""
        return self._refusing(lambda client: reporting_health(client, self.db))

    def pulse(self) -> dict[str, Any]:
        """Counts and newest times that change when reports or alerts arrive: the picture's event stream."""
        return self._refusing(lambda client: pulse(client, self.db))

    def _refusing(self, call: Callable[[Client], T]) -> T:
        client = self.client
        try:
            return call(client)
        except Exception as error:  # a limit hit, or bad input ClickHouse refused
            if self.client is client:
                self.client = self._replace(client)
            raise QueryRefusedError("failed", _short(error)) from None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the `max_waiting + 1` places for a query and its answer until sent; AnalystBusyError when
        none is free."""
        if not self._slots.acquire(blocking=False):
            raise AnalystBusyError(
                f"{self.limits.max_waiting + 1} analyst queries are already running, waiting or being sent"
            )
        try:
            yield
        finally:
            self._slots.release()

    async def answer(self, call: Callable[[], Any]) -> bytes:
        """Run one of the calls above on the session's thread and encode its JSON answer there, within
        max_answer_bytes; QueryAbandonedError when it runs past its time limit, AnalystBusyError while
        too many abandoned queries still run."""
        cap = self.limits.max_answer_bytes
        async with self._turn:
            with self._abandoned_lock:
                if self._abandoned >= self.limits.max_abandoned:
                    raise AnalystBusyError(
                        f"abandoned analyst queries still run ({self._abandoned}, past their time limit): "
                        "try again shortly"
                    )
            executor = self._executor
            running = asyncio.get_running_loop().run_in_executor(executor, lambda: encode_within(call(), cap))
            limit_s = self.limits.max_execution_s + self.limits.abandon_after_s
            try:
                return await asyncio.wait_for(asyncio.shield(running), limit_s)
            except TimeoutError:
                await self._abandon(running, executor)
                raise QueryAbandonedError(
                    f"the query ran past its limit of {self.limits.max_execution_s:g} s (ClickHouse checks "
                    "it between blocks only) and was abandoned; it may use a CPU until it ends"
                ) from None

    async def _abandon(self, running: asyncio.Future[bytes], executor: ThreadPoolExecutor) -> None:
        """Leave `running` to its thread and clients; the session goes on with new ones."""
        with self._abandoned_lock:
            self._abandoned += 1
        old = (self.parser, self.client)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyst-sql")
        executor.shutdown(wait=False, cancel_futures=True)
        loop = asyncio.get_running_loop()
        self.parser, self.client = await loop.run_in_executor(
            self._executor, lambda: (self._open(limited=False), self._open())
        )

        def finished(done: asyncio.Future[bytes]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved: its outcome goes to nobody
            with self._abandoned_lock:
                self._abandoned -= 1
            for client in old:
                with contextlib.suppress(Exception):
                    client.close()
            log.warning("an abandoned analyst query has ended")

        running.add_done_callback(finished)
        log.warning("an analyst query ran past its limit and was abandoned")

    def close(self) -> None:
        """Stop the session's thread and close its clients."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        for client in (self.parser, self.client):
            client.close()


MAX_SPACE_RUN = 256


def _longest_space_run(text: str) -> int:
    return max((len(list(run)) for space, run in itertools.groupby(text, str.isspace) if space), default=0)


def _short(error: Exception) -> str:
    text = str(error).replace("\n", " ")
    return text[:600]

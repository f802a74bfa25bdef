"""Sink stage: which report identities are stored already, for HTTP ingest's `duplicate` answer.

One query per request on a client of its own (never the sink's, whose thread inserts), one lookup at a
time; any failure is None, and ingest then answers `accepted` as before: the sink still counts a resend
once, so the answer is a courtesy, never the guarantee.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.key_lookup import key_chunks

log = logging.getLogger(__name__)
LOCK_WAIT_S = 1.0


class ClickHouseReportKeys:
    """Looks up (authority, report_id) pairs in `report_keys`."""

    def __init__(self, connect: Callable[[], Client], db: str) -> None:
        self._connect = connect
        self.db = db
        self._client: Client | None = None
        self._lock = threading.Lock()

    def stored(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]] | None:
        """The pairs among `keys` that are stored; None when that cannot be told now."""
        if not keys:
            return set()
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            return None
        try:
            if self._client is None:  # on first use: ClickHouse need not answer when the worker starts
                self._client = self._connect()
            rows = [
                row
                for chunk in key_chunks(keys)
                for row in self._client.query(
                    f"SELECT authority, report_id FROM {self.db}.report_keys WHERE (authority, report_id) IN "
                    "(SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, String))')))",
                    parameters={"keys": chunk},
                ).result_rows
            ]
            return {(str(authority), str(report_id)) for authority, report_id in rows}
        except Exception as error:  # a courtesy: ingest answers `accepted` instead
            log.warning("ingest could not look up stored report identities: %s", error)
            self._client = None
            return None
        finally:
            self._lock.release()

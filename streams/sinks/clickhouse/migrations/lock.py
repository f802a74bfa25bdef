"""The migration lock: one worker migrates a shared server at a time, and beats so waiters see it live."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas.errors import SinkUnavailableError

log = logging.getLogger(__name__)
Beat = Callable[[], None]  # called by the holder between steps; raises once the lock was taken over


LOCK_STALE_S = 120  # a holder silent this long (no beat, no query running) is taken for dead
LOCK_CONFIRM_S = 3.0  # and seen so for this long: a holder is between two steps for milliseconds


class HeldLock(NamedTuple):
    """Who holds the lock (its table's comment), and the seconds since its table was made."""

    holder: str
    age_s: int


def no_beat() -> None:
    """chdb has one owner and takes no lock: nobody listens for a heartbeat."""


@contextmanager
def migration_lock(client: Client, db: str, wait_s: float) -> Iterator[Beat]:
    """Hold `{db}.migration_lock` while migrating; yields `beat`, which tells waiters the holder lives.

    CREATE TABLE (without IF NOT EXISTS) succeeds for one caller only, so it
    serves as a mutex on any ClickHouse. The holder's queries carry its name in
    `log_comment`, and it beats between steps: a waiter takes the lock over only
    from a holder with no beat for LOCK_STALE_S and no query running, seen so
    for LOCK_CONFIRM_S. `system.processes` is per node: on a cluster, migrate
    through one node. Raises SinkUnavailableError after `wait_s`.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _acquire(client, db, holder, wait_s)
    comment = client.get_client_setting("log_comment") or ""
    client.set_client_setting("log_comment", _lock_comment(holder))

    def beat() -> None:
        if _lock_holder(client, db) != holder:  # taken for dead and taken over: stop before harm
            raise SinkUnavailableError(f"{db}.migration_lock was taken over from this worker ({holder})")
        client.insert(f"{db}.migration_lock", [[holder]], column_names=["holder"])

    try:
        beat()
        yield beat
    finally:
        client.set_client_setting("log_comment", comment)
        if _lock_holder(client, db) == holder:  # never another holder's lock
            client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")


def _acquire(client: Client, db: str, holder: str, wait_s: float) -> None:
    """Make `{db}.migration_lock` as `holder`, waiting for the one who holds it, or taking it over from
    a dead one (see `migration_lock`); raises SinkUnavailableError after `wait_s`."""
    deadline, silent_since = time.monotonic() + wait_s, None
    while True:
        try:
            client.command(
                f"CREATE TABLE {db}.migration_lock (holder String, beat DateTime DEFAULT now()) "
                "ENGINE = Memory COMMENT %(holder)s", parameters={"holder": holder},
            )  # fmt: skip
            return
        except DatabaseError as error:
            if "TABLE_ALREADY_EXISTS" not in str(error):
                raise
        held_by = _silent_holder(client, db)
        if held_by is None:
            silent_since = None
        elif time.monotonic() - (silent_since := silent_since or time.monotonic()) >= LOCK_CONFIRM_S:
            if _silent_holder(client, db) == held_by:  # and not a lock another waiter took just now
                log.warning(
                    "taking over the migration lock of %s, silent for over %s s", held_by, LOCK_STALE_S
                )
                client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")
            silent_since = None
            continue
        if time.monotonic() > deadline:
            raise SinkUnavailableError(
                f"another worker has held {db}.migration_lock for over {wait_s:g} s; if none is migrating "
                f"(one was killed), DROP TABLE {db}.migration_lock"
            )
        time.sleep(0.5)


def _lock_holder(client: Client, db: str) -> str | None:
    """Who holds `{db}.migration_lock` (the table's comment), None when nobody does."""
    held = _lock_table(client, db)
    return held.holder if held else None


def _lock_table(client: Client, db: str) -> HeldLock | None:
    """The lock's holder and its table's age; None when there is no lock."""
    rows = client.query(
        "SELECT comment, dateDiff('second', metadata_modification_time, now()) FROM system.tables "
        "WHERE database = %(db)s AND name = 'migration_lock'", parameters={"db": db},
    ).result_rows  # fmt: skip
    return HeldLock(str(rows[0][0]), int(rows[0][1])) if rows else None


def _lock_comment(holder: str) -> str:
    return f"borderwatch-migration {holder}"


def _silent_holder(client: Client, db: str) -> str | None:
    """The lock's holder when it has neither beat within LOCK_STALE_S nor a query running (on this
    node); None while it lives, or when the lock is gone."""
    held = _lock_table(client, db)
    if held is None:
        return None
    holder, silent_s = held.holder, held.age_s
    try:
        beats = client.query(
            f"SELECT dateDiff('second', max(beat), now()) FROM {db}.migration_lock HAVING count() > 0"
        ).result_rows
    except DatabaseError as error:
        if "UNKNOWN_TABLE" in str(error):
            return None  # released meanwhile
        raise
    if beats:  # else none yet, or the server restarted (Memory): the table's age counts
        silent_s = int(beats[0][0])
    if silent_s <= LOCK_STALE_S:
        return None
    running = client.query(
        "SELECT count() FROM system.processes WHERE Settings['log_comment'] = %(comment)s "
        "AND query_id != queryID()", parameters={"comment": _lock_comment(holder)},
    ).result_rows  # fmt: skip
    return None if int(running[0][0]) else holder

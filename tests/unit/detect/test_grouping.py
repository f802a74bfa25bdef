"""Alert grouping: one alert per episode, with its clear time, its maximum time open and safe ids."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.detect.findings import Finding
from streams.detect.grouping import alert_id, group_findings, is_group
from streams.detect.thresholds import Thresholds

T = Thresholds(clear_after_s=6 * 3600, max_open_s=72 * 3600, repeat_interval_s=24 * 3600)
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
T0 = 1_760_000_400.0
HOUR = 3600.0
SAFE_ID = re.compile(r"^[A-Za-z0-9._:+-]+$")


def surge(ts: float, impact: Impact = Impact.HIGH) -> Finding:
    return Finding(
        AlertKind.SURGE, "IT-LAMPEDUSA", ts=ts, impact=impact, zone_id="IT-LAMPEDUSA",
        start_ts=ts - 6 * HOUR, event_ids=(f"IT:{ts}",), detail="d",
    )  # fmt: skip


class Groups:
    """A group table across batches, as the detect stage keeps it."""

    def __init__(self) -> None:
        self.table: dict[str, Any] = {}

    def run(self, findings: list[Finding], clock_ts: float) -> list[Alert]:
        changed, alerts = group_findings(findings, self.table, clock_ts, T, NOW)
        for key, group in changed.items():
            if group is None:
                self.table.pop(key, None)
            else:
                self.table[key] = dict(group, partition=0)
        return alerts


def test_a_surge_resolves_once_its_condition_has_been_clear_for_the_clear_time() -> None:
    groups = Groups()
    (first,) = groups.run([surge(T0)], T0)
    (again,) = groups.run([surge(T0 + HOUR)], T0 + HOUR)
    assert (first.status, again.status, again.id, again.notify) == (
        AlertStatus.NEW, AlertStatus.UPDATED, first.id, False,
    )  # fmt: skip
    assert groups.run([], T0 + HOUR + T.clear_after_s - 1) == []
    (resolved,) = groups.run([], T0 + HOUR + T.clear_after_s)
    assert (resolved.id, resolved.status, resolved.notify) == (first.id, AlertStatus.RESOLVED, True)
    assert groups.table == {}


def test_a_later_episode_at_the_same_crossing_is_a_new_alert_that_notifies() -> None:
    groups = Groups()
    (first,) = groups.run([surge(T0)], T0)
    groups.run([], T0 + T.clear_after_s)
    week = 7 * 24 * HOUR
    (second,) = groups.run([surge(T0 + week)], T0 + week)
    assert second.id != first.id
    assert (second.status, second.version, second.notify) == (AlertStatus.NEW, 1, True)


def test_a_rise_in_impact_within_an_episode_notifies_again() -> None:
    groups = Groups()
    groups.run([surge(T0, Impact.LOW)], T0)
    (same,) = groups.run([surge(T0 + HOUR, Impact.LOW)], T0 + HOUR)
    (raised,) = groups.run([surge(T0 + 2 * HOUR, Impact.VERY_HIGH)], T0 + 2 * HOUR)
    assert (same.notify, raised.notify, raised.impact) == (False, True, Impact.VERY_HIGH)


def test_no_group_stays_open_past_the_maximum_the_condition_reopens_it_with_a_new_id() -> None:
    groups = Groups()
    (first,) = groups.run([surge(T0)], T0)
    opened_at = first.window_start.timestamp()
    hourly = [groups.run([surge(T0 + h * HOUR)], T0 + h * HOUR) for h in range(1, 66)]
    last_before = T0 + 65 * HOUR
    assert all(a.id == first.id for batch in hourly for a in batch)
    assert opened_at + T.max_open_s - 1 > last_before  # still within the maximum
    at_max = opened_at + T.max_open_s
    closed, reopened = groups.run([surge(at_max)], at_max)
    assert (closed.id, closed.status) == (first.id, AlertStatus.RESOLVED)
    assert "closed after 72 h open" in closed.description
    assert reopened.id != first.id
    assert (reopened.status, reopened.version, reopened.notify) == (AlertStatus.NEW, 1, True)


def test_a_gap_open_past_the_maximum_continues_as_a_new_alert() -> None:
    groups = Groups()
    dark = Finding(
        AlertKind.AIS_GAP, "mmsi:1", ts=T0, start_ts=T0 - 6 * HOUR, vessel_ids=("mmsi:1",), detail="x"
    )
    (first,) = groups.run([dark], T0)
    start = T0 - 6 * HOUR
    assert groups.run([], start + T.max_open_s - 1) == []  # no clear time for kinds their detector ends
    closed, successor = groups.run([], start + T.max_open_s)
    assert (closed.id, closed.status, successor.status, successor.notify) == (
        first.id, AlertStatus.RESOLVED, AlertStatus.NEW, True,
    )  # fmt: skip
    assert successor.id != first.id and "continues the alert" in successor.description
    back = Finding(
        AlertKind.AIS_GAP, "mmsi:1", ts=start + T.max_open_s + HOUR, active=False, vessel_ids=("mmsi:1",)
    )
    (ended,) = groups.run([back], start + T.max_open_s + HOUR)
    assert (ended.id, ended.status) == (successor.id, AlertStatus.RESOLVED)


def test_a_gap_that_ends_past_the_maximum_before_any_look_ends_in_a_successor_not_the_first_id() -> None:
    # The vessel back (or forgotten) long after: the first look past the maximum comes with its end.
    groups = Groups()
    start = T0 - 6 * HOUR
    dark = Finding(AlertKind.AIS_GAP, "mmsi:1", ts=T0, start_ts=start, vessel_ids=("mmsi:1",), detail="x")
    (first,) = groups.run([dark], T0)
    back_at = start + T.max_open_s + 5 * HOUR
    back = Finding(
        AlertKind.AIS_GAP, "mmsi:1", ts=back_at, start_ts=start, active=False, vessel_ids=("mmsi:1",)
    )
    closed, ended = groups.run([back], back_at)
    assert (closed.id, closed.version, closed.status) == (first.id, 2, AlertStatus.RESOLVED)
    assert ended.id == alert_id("ais_gap:mmsi:1", start + T.max_open_s) != first.id  # from the close
    assert (ended.version, ended.status) == (1, AlertStatus.RESOLVED)
    assert groups.table == {}


def test_a_gap_back_past_the_maximum_then_dark_again_at_once_is_two_alerts_with_their_own_ids() -> None:
    # The successor carrying the end starts when its predecessor closed: were it the end's time, it
    # would be the next gap's start, and so its id (one id, version 1, published twice).
    start = T0 - 6 * HOUR
    back_at = start + T.max_open_s + 3 * HOUR

    def gap(ts: float, start_ts: float, active: bool) -> Finding:
        return Finding(
            AlertKind.AIS_GAP, "mmsi:1", ts=ts, start_ts=start_ts, active=active, vessel_ids=("mmsi:1",)
        )

    for batches in (
        [[gap(T0, start, True)], [gap(back_at, start, False), gap(back_at + 6 * HOUR, back_at, True)]],
        [[gap(T0, start, True)], [gap(back_at, start, False)], [gap(back_at + 6 * HOUR, back_at, True)]],
    ):
        groups = Groups()
        states = [(a.id, a.version) for batch in batches for a in groups.run(batch, batch[-1].ts)]
        assert len(set(states)) == len(states), states
        assert len({alert_id for alert_id, _ in states}) == 3  # the first gap, its successor, the next gap


def test_alert_ids_need_no_shell_quoting_and_stay_distinct() -> None:
    ids = {
        alert_id("encounter:mmsi:224000101|mmsi:224000102", T0),
        alert_id("ais_gap:track:boat $(rm -rf ~) 'x'", T0),
        alert_id("ais_gap:track:boat $(rm -rf ~) 'y'", T0),
        alert_id("surge:IT-LAMPEDUSA", T0),
    }
    assert len(ids) == 4
    assert all(SAFE_ID.match(i) for i in ids), ids
    assert alert_id("surge:IT-LAMPEDUSA", T0) == f"surge:IT-LAMPEDUSA:{int(T0)}"


def test_a_stored_group_without_its_key_is_refused() -> None:
    groups = Groups()
    groups.run([surge(T0)], T0)
    (stored,) = groups.table.values()
    assert is_group(stored)
    assert not is_group({k: v for k, v in stored.items() if k != "key"})


def test_a_finding_already_clear_on_its_clock_is_resolved_in_the_same_step_whatever_comes_next() -> None:
    # A late report raises a surge whose window ended longer ago than the clear time: resolved at once,
    # so a second finding of the same window gives the same states with a look between them (a live
    # worker's batches) or without (a backfill's batch).
    clock = T0 + T.clear_after_s + HOUR
    with_look, without = Groups(), Groups()
    first = with_look.run([surge(T0)], clock) + with_look.run([], clock) + with_look.run([surge(T0)], clock)
    second = without.run([surge(T0)], clock) + without.run([surge(T0)], clock)
    assert [(a.id, a.version, a.status) for a in first] == [(a.id, a.version, a.status) for a in second]
    assert all(a.status is AlertStatus.RESOLVED and a.notify for a in first)
    assert with_look.table == without.table == {}


def encounter(ts: float, start_ts: float, active: bool = True) -> Finding:
    return Finding(
        AlertKind.ENCOUNTER, "a|b", ts=ts, active=active, impact=Impact.HIGH, start_ts=start_ts,
        vessel_ids=("a", "b"), event_ids=(f"A:{ts}",), detail="met" if active else "separated",
    )  # fmt: skip


def test_an_episode_that_ends_and_starts_again_in_one_batch_is_two_alerts_as_in_two_batches() -> None:
    first, ended, again = (
        encounter(T0, T0 - 600),
        encounter(T0 + HOUR, T0 - 600, False),
        encounter(T0 + 2 * HOUR, T0 + HOUR + 60),
    )
    apart = Groups()
    one_by_one = [a for f in (first, ended, again) for a in apart.run([f], f.ts)]
    together = Groups().run([first, ended, again], again.ts)
    assert [(a.id, a.status) for a in one_by_one] == [
        (alert_id("encounter:a|b", T0 - 600), AlertStatus.NEW),
        (alert_id("encounter:a|b", T0 - 600), AlertStatus.RESOLVED),
        (alert_id("encounter:a|b", T0 + HOUR + 60), AlertStatus.NEW),
    ]
    # In one batch each alert id publishes its last state only: the first resolved, the second new.
    assert [(a.id, a.status, a.window_end) for a in together] == [
        (a.id, a.status, a.window_end) for a in one_by_one[1:]
    ]


def test_news_of_an_ended_meeting_from_another_partition_joins_it_and_raises_no_second_alert() -> None:
    # A backfill on several partitions: the partition of the meeting's last cell ends it before the
    # partition of a middle cell reads its older news.
    groups = Groups()
    (opened,) = groups.run([encounter(T0, T0 - 600)], T0)
    (ended,) = groups.run([encounter(T0 + 5 * HOUR, T0 - 600, False)], T0 + 5 * HOUR)
    middle = encounter(T0 + 2 * HOUR, T0 + HOUR)
    assert groups.run([middle], T0 + 5 * HOUR) == []
    assert ended.id == opened.id and ended.status is AlertStatus.RESOLVED
    # Raised by it, the ended alert is published again at the impact it would have had in time.
    very = dataclasses.replace(middle, impact=Impact.VERY_HIGH)
    (raised,) = groups.run([very], T0 + 5 * HOUR)
    assert (raised.id, raised.status, raised.impact, raised.version) == (
        opened.id, AlertStatus.RESOLVED, Impact.VERY_HIGH, ended.version + 1,
    )  # fmt: skip
    assert groups.run([very], T0 + 5 * HOUR) == []


def test_after_an_ended_meeting_a_later_or_an_earlier_one_is_an_alert_of_its_own() -> None:
    groups = Groups()
    groups.run([encounter(T0, T0 - 600), encounter(T0 + HOUR, T0 - 600, False)], T0 + HOUR)
    (later,) = groups.run([encounter(T0 + 3 * HOUR, T0 + 2 * HOUR)], T0 + 3 * HOUR)
    assert (later.id, later.status) == (alert_id("encounter:a|b", T0 + 2 * HOUR), AlertStatus.NEW)
    other = Groups()
    other.run([encounter(T0 + 3 * HOUR, T0 + 2 * HOUR), encounter(T0 + 4 * HOUR, T0 + 2 * HOUR, False)], T0)
    (earlier,) = other.run([encounter(T0, T0 - 600)], T0 + 4 * HOUR)
    assert (earlier.id, earlier.status) == (alert_id("encounter:a|b", T0 - 600), AlertStatus.NEW)


def test_an_ended_meeting_kept_for_late_news_is_a_valid_stored_group_and_ends_nothing_again() -> None:
    groups = Groups()
    groups.run([encounter(T0, T0 - 600), encounter(T0 + HOUR, T0 - 600, False)], T0 + HOUR)
    (kept,) = groups.table.values()
    assert is_group(kept) and kept["closed"] is True
    assert not is_group({**kept, "closed": "yes"})
    assert groups.run([encounter(T0 + 2 * HOUR, T0 - 600, False)], T0 + 2 * HOUR) == []
    assert groups.run([], T0 + 100 * HOUR) == []  # no look closes or resolves it again


def test_news_that_raises_an_ended_meeting_notifies_as_its_rise_would_have_in_time() -> None:
    # The rise reaches a centre that only wants very high alerts only if its state notifies, as it
    # does when the news comes before the end (a rise notifies) or in the end's batch.
    opened, ended = encounter(T0, T0 - 600), encounter(T0 + 5 * HOUR, T0 - 600, False)
    very = dataclasses.replace(encounter(T0 + 2 * HOUR, T0 + HOUR), impact=Impact.VERY_HIGH)
    in_time = Groups()
    states = [a for f in (opened, very, ended) for a in in_time.run([f], f.ts)]
    assert [(a.impact, a.notify) for a in states[1:]] == [(Impact.VERY_HIGH, True)] * 2
    resolved_very_high = (Impact.VERY_HIGH, AlertStatus.RESOLVED, True)
    (together,) = Groups().run([opened, ended, very], ended.ts)
    assert (together.impact, together.status, together.notify) == resolved_very_high
    late = Groups()  # the news from a partition behind, after the end
    late.run([opened], T0)
    late.run([ended], ended.ts)
    (raised,) = late.run([very], ended.ts)
    assert (raised.impact, raised.status, raised.notify) == resolved_very_high


def test_news_of_an_ended_meeting_that_outlasted_the_maximum_joins_it_and_raises_no_second_alert() -> None:
    # Kept closed is the successor (its start moved to when its predecessor closed): news from a
    # partition behind, from the predecessor's time, is still news of the meeting, as it was in time.
    first, end = encounter(T0, T0 - 600), encounter(T0 + 80 * HOUR, T0 - 600, False)
    middle = encounter(T0 + 2 * HOUR, T0 + HOUR)
    in_time = Groups()
    in_time_ids = {a.id for f in (first, middle, end) for a in in_time.run([f], f.ts)}
    late = Groups()
    assert {a.id for f in (first, end) for a in late.run([f], f.ts)} == in_time_ids
    assert late.run([middle], end.ts) == []
    assert [g["closed"] for g in late.table.values()] == [True]


def test_a_meeting_that_outlasts_the_maximum_has_the_same_successor_read_in_time_or_in_one_batch() -> None:
    first, news, end = (
        encounter(T0, T0 - 600),
        encounter(T0 + 70 * HOUR, T0 + 69 * HOUR),
        encounter(T0 + 80 * HOUR, T0 - 600, False),
    )
    in_time = Groups()
    live = {a.id: a.status for f in (first, news, end) for a in in_time.run([f], f.ts)}
    assert {a.id: a.status for a in Groups().run([first, news, end], end.ts)} == live


def test_news_two_maximums_after_a_meeting_began_continues_it_in_the_alert_of_its_own_period() -> None:
    first, news = encounter(T0, T0 - 600), encounter(T0 + 150 * HOUR, T0 + 149 * HOUR)
    in_time = Groups()
    live = {a.id: a.status for f in (first, news) for a in in_time.run([f], f.ts)}
    starts = [T0 - 600, T0 - 600 + T.max_open_s, T0 - 600 + 2 * T.max_open_s]
    assert live == {
        alert_id("encounter:a|b", starts[0]): AlertStatus.RESOLVED,
        alert_id("encounter:a|b", starts[1]): AlertStatus.RESOLVED,  # closed in its turn, never left open
        alert_id("encounter:a|b", starts[2]): AlertStatus.NEW,
    }
    assert {a.id: a.status for a in Groups().run([first, news], news.ts)} == live


def test_a_new_episode_dated_from_an_ended_ones_start_gets_an_id_of_its_own() -> None:
    # A cell that has kept the pair since the start, after another cell saw them separate: a new alert,
    # not a second version 1 of the ended one's id (a consumer keeping the newest version drops it).
    groups = Groups()
    ended = groups.run([encounter(T0, T0 - 600), encounter(T0 + HOUR, T0 - 600, False)], T0 + HOUR)
    (again,) = groups.run([encounter(T0 + 2 * HOUR, T0 - 600)], T0 + 2 * HOUR)
    assert again.id != ended[-1].id and (again.status, again.version) == (AlertStatus.NEW, 1)


def test_news_dated_from_a_meetings_start_after_two_ends_never_takes_an_earlier_alerts_id_again() -> None:
    start = T0 - 600
    cells_in_turn = [  # three cells that kept the pair since its start, each seeing it part in turn
        encounter(T0, start), encounter(T0 + HOUR, start, False),
        encounter(T0 + 2 * HOUR, start), encounter(T0 + 3 * HOUR, start, False),
        encounter(T0 + 4 * HOUR, start),
    ]  # fmt: skip
    after_a_successor = [
        encounter(T0, start),
        encounter(T0 + 80 * HOUR, start, False),
        encounter(T0 + 90 * HOUR, start),
    ]
    for findings in (cells_in_turn, after_a_successor):
        groups = Groups()
        states = [(a.id, a.version) for f in findings for a in groups.run([f], f.ts)]
        assert len(set(states)) == len(states), states  # no id at one version twice
        firsts = [alert_id for alert_id, version in states if version == 1]
        assert len(set(firsts)) == len(firsts), states  # no id opened twice


def test_a_meeting_that_moved_across_cells_says_how_long_it_lasted_in_all() -> None:
    # The last cell saw the pair for its last 90 minutes only; the alert began 6 h before its end.
    later_cell = dataclasses.replace(
        encounter(T0 + 6 * HOUR, T0 + 4.5 * HOUR, False), detail="a and b separated after 90 min"
    )
    (opened,) = Groups().run([encounter(T0, T0 - 600)], T0)
    groups = Groups()
    groups.run([encounter(T0, T0)], T0)
    (ended,) = groups.run([later_cell], T0 + 6 * HOUR)
    assert ended.description == "a and b separated after 90 min; together 6.0 h in all, across grid cells"
    assert "in all" not in opened.description  # a finding from the cell where it began: its own words


def test_news_of_a_kind_that_clears_read_73_h_before_its_batchs_clock_closes_its_alert_once() -> None:
    def speed(ts: float) -> Finding:
        return Finding(
            AlertKind.IMPLAUSIBLE_SPEED, "mmsi:1", ts=ts, impact=Impact.LOW, start_ts=ts - 60,
            vessel_ids=("mmsi:1",), detail="moved",
        )  # fmt: skip

    alerts = Groups().run([speed(T0 + HOUR), speed(T0 + 2 * HOUR)], T0 + 75 * HOUR)
    assert len({a.id for a in alerts}) <= 2, len(alerts)  # the first alert, and at most one successor

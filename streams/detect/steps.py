"""Detect stage: a batch judged as if its reports had come one by one, on event-time clocks.

A worker catching up after an outage, a restart or a backfill reads batches of
thousands of reports; a live worker reads them one or a few at a time. The
alerts must not depend on which (docs/detectors.md, "Event time, not
arrival"). So a crossing takes its sightings one at a time, in the order they
arrived, each judged against the crossing's own event clock: the newest
observed_at among its own reports (advanced by wall time while live). What
other crossings on the same partition report never moves it, so the result is
the same on 1 partition or 4. Its surge and mass-attempt groups are updated
and resolved on that clock at every step, and a batch publishes the latest
state of each alert it touched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.alerts import Alert
from streams.detect.clock import EventClock
from streams.detect.crossings import (
    CrossingContext,
    CrossingHistory,
    CrossingState,
    Sighting,
    detect_crossing,
)
from streams.detect.grouping import Group, group_findings
from streams.detect.inhibit import firing_of_group, inhibit


@dataclass(frozen=True)
class CrossingPlace:
    """A crossing as the catalogue describes it."""

    crossing: str
    kind: str  # sea_sector, land_crossing, fence_section
    route: str


@dataclass
class CrossingRun:
    """A crossing after one batch: its state and history, its alert groups and the states published."""

    state: CrossingState
    history: CrossingHistory
    groups: dict[str, Group]  # the crossing's open alert groups, by group id
    alerts: list[Alert] = field(default_factory=list)
    changed: bool = False
    history_changed: bool = False
    too_late: int = 0


def run_crossing(
    where: CrossingPlace,
    sightings: list[Sighting],
    state: CrossingState | None,
    history: CrossingHistory | None,
    groups: Mapping[str, Group],
    partition_clock: EventClock,
    wall_now: float,
    ctx: CrossingContext,
    sent_at: datetime | None = None,
) -> CrossingRun:
    """The crossing's sightings one at a time, in arrival order (none: one look at its clock now).

    `partition_clock` (the partition's clock of reports before this batch)
    stands in for a crossing whose state predates clocks of its own. `state`
    must be given when there are no sightings. The alerts are sent at `sent_at`
    (by default `wall_now`, the time the batch was sent; a worker behind its
    input publishes them later).
    """
    t = ctx.thresholds
    if state is not None and state.clock is not None:
        clock = state.clock
    elif state is not None:
        clock = EventClock(partition_clock.newest_ts, partition_clock.wall_at_newest)
    else:
        clock = EventClock()
    sent_at = sent_at or datetime.fromtimestamp(wall_now, UTC)
    open_groups = dict(groups)
    alerts: list[Alert] = []
    changed = history_changed = False
    too_late = 0
    for step in ([s] for s in sightings) if sightings else [[]]:
        watermark = clock.watermark(wall_now, t.live_within_s, t.allowed_lateness_s)
        for s in step:
            clock.observe(s.ts, wall_now)
        if clock.newest_ts == -math.inf:
            break
        now_ts = clock.now(wall_now, t.live_within_s)
        outcome = detect_crossing(
            where.crossing, where.kind, where.route, step, state, history, watermark, now_ts, ctx
        )
        state, history = outcome.state, outcome.history
        changed = changed or outcome.changed
        history_changed = history_changed or outcome.history_changed
        too_late += outcome.too_late
        if outcome.findings or open_groups:
            moved, published = group_findings(outcome.findings, open_groups, now_ts, t, sent_at, now_ts)
            for group_id, group in moved.items():
                if group is None:
                    open_groups.pop(group_id, None)
                else:
                    open_groups[group_id] = group
            sources = filter(None, map(firing_of_group, open_groups.values()))
            alerts += inhibit(published, sources, ctx.inhibit_rules)
    if state is None or history is None:
        raise ValueError(f"crossing {where.crossing!r}: no state and no sightings to start one")
    state.clock = clock
    return CrossingRun(state, history, open_groups, alerts, changed, history_changed, too_late)

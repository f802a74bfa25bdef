"""Detect stage: one incident, one notification: inhibition rules as Alertmanager has them.

Alertmanager mutes a target alert while a source alert fires whose labels in
`equal` have the same values (its `inhibit_rules`: source matchers, target
matchers, equal). Here a rule names the source and target kinds and the alert
fields that must agree; the target must also overlap the source in event time.
A muted state is still published and stored, with `notify` off and the
source's id in its description: it is evidence of the source's incident, and
only the source tells the centres. A mass attempt at the Ceuta fence is one
incident; the surge its hundreds of persons make at the same crossing, over
the same hours, is part of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from schemas.alerts import Alert, AlertKind, AlertStatus
from streams.detect.grouping import Group

# The alert fields a rule may compare (the labels of an alert, in Alertmanager's terms).
LABELS = ("zone_id", "route", "kind")


class InhibitRule(NamedTuple):
    """While a `source_kind` alert is open, a `target_kind` alert that agrees on `same` does not notify."""

    source_kind: AlertKind
    target_kind: AlertKind
    same: tuple[str, ...] = ("zone_id",)


class Firing(NamedTuple):
    """An open alert as a rule sees it: its id, kind, labels and event-time window (epoch seconds)."""

    id: str
    kind: AlertKind
    labels: Mapping[str, str]
    start_ts: float
    end_ts: float


DEFAULT_INHIBIT_RULES: tuple[InhibitRule, ...] = (InhibitRule(AlertKind.MASS_ATTEMPT, AlertKind.SURGE),)


def check_rules(rules: Iterable[InhibitRule]) -> tuple[InhibitRule, ...]:
    """The rules, or ValueError naming the first that is not one.

    A crossing's alerts are judged on the crossing's own partition and clock
    (steps.py), so a rule compares alerts of one crossing: `same` holds zone_id.
    """
    checked = tuple(rules)
    for rule in checked:
        unknown = [name for name in rule.same if name not in LABELS]
        if "zone_id" not in rule.same or unknown or rule.source_kind == rule.target_kind:
            raise ValueError(f"inhibit rule {rule!r}: two kinds, compared on zone_id and any of {LABELS}")
    return checked


def firing_of_group(group: Group) -> Firing | None:
    """An open alert group as a source; None when it is resolved."""
    if group.get("resolved"):
        return None
    labels = {"zone_id": group["zone_id"], "route": group["route"], "kind": group["kind"]}
    return Firing(group["id"], AlertKind(group["kind"]), labels, group["start_ts"], group["end_ts"])


def inhibit(alerts: Sequence[Alert], sources: Iterable[Firing], rules: Iterable[InhibitRule]) -> list[Alert]:
    """The alerts to publish, each target of a rule whose source is open muted and linked to it.

    A resolved target is left as it is: the end of a condition is news to whoever heard of it.
    """
    sources = list(sources)
    rules = tuple(rules)
    out = []
    for alert in alerts:
        source = _inhibitor(alert, sources, rules)
        if source is None or alert.status is AlertStatus.RESOLVED:
            out.append(alert)
            continue
        note = f"part of the incident {source.id} ({source.kind.value}), which notifies for it"
        out.append(alert.model_copy(update={"notify": False, "description": f"{alert.description}; {note}"}))
    return out


def _inhibitor(alert: Alert, sources: Sequence[Firing], rules: tuple[InhibitRule, ...]) -> Firing | None:
    start, end = _ts(alert.window_start), _ts(alert.window_end)
    for rule in rules:
        if alert.kind is not rule.target_kind:
            continue
        for source in sources:
            if (
                source.kind is rule.source_kind
                and source.id != alert.id
                and all(source.labels.get(name) == str(getattr(alert, name)) for name in rule.same)
                and source.start_ts <= end
                and start <= source.end_ts
            ):
                return source
    return None


def _ts(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()

"""Detect stage: which geofence transitions become alerts, read from a TOML rules file.

Every transition is stored as data; a transition raises a GEOFENCE_* finding
only when a rule asks for it: by zone, by vessel type and/or for watch-listed
vessels, in the directions the rule names. No rules, no transition alerts.
The file is input like any other: bounded, parsed with tomllib, every entry
checked by a pydantic model that refuses unknown keys.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)

from schemas.alerts import AlertKind, Impact
from schemas.errors import TransitionRulesError
from schemas.problems import first_problem
from schemas.reports import no_control_characters
from schemas.transitions import Direction, Transition
from streams.detect.findings import Finding
from streams.detect.watchlist import WatchList

MAX_FILE_BYTES = 1024 * 1024
MAX_RULES = 1000
KIND = {
    Direction.ENTER: AlertKind.GEOFENCE_ENTER,
    Direction.EXIT: AlertKind.GEOFENCE_EXIT,
    Direction.CROSS: AlertKind.GEOFENCE_CROSS,
}
_VERB = {Direction.ENTER: "entered", Direction.EXIT: "left", Direction.CROSS: "crossed"}

Name = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(no_control_characters)]
VesselType = Annotated[Name, AfterValidator(lambda v: v.strip().upper())]


class TransitionRule(BaseModel):
    """One `[[rule]]`: a transition matches when it passes every selector the rule gives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name = Field(description="unique; names the rule in alerts and errors")
    zones: list[Name] = Field([], max_length=1000, description="crossing ids; any crossing when empty")
    vessel_types: list[VesselType] = Field(
        [], max_length=1000, description="vessel_type of the fix, case-insensitive; any type when empty"
    )
    watch_listed: StrictBool = Field(False, description="only vessels on the watch list")
    directions: list[Direction] = Field(
        list(Direction), min_length=1, max_length=3, description="enter, exit, cross; all three by default"
    )

    @model_validator(mode="after")
    def _selects_something(self) -> TransitionRule:
        if not (self.zones or self.vessel_types or self.watch_listed):
            raise ValueError(
                "a rule must select transitions: give zones, vessel_types or watch_listed = true"
            )
        return self

    def matches(self, t: Transition, watched: bool) -> bool:
        """Does this transition pass the rule? `watched`: its vessel is on the watch list."""
        return (
            t.direction in self.directions
            and (not self.zones or t.zone_id in self.zones)
            and (not self.vessel_types or t.vessel_type.strip().upper() in self.vessel_types)
            and (not self.watch_listed or watched)
        )


@dataclass(frozen=True)
class TransitionRules:
    """The rules of one file, in file order; empty: no transition raises an alert."""

    rules: tuple[TransitionRule, ...] = ()

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, t: Transition, watch: WatchList) -> TransitionRule | None:
        """The first rule the transition passes, or None."""
        if not self.rules:
            return None
        watched = bool(len(watch)) and watch.match(t.mmsi, t.imo, t.name, t.callsign) is not None
        return next((rule for rule in self.rules if rule.matches(t, watched)), None)

    def findings(self, transitions: Iterable[Transition], watch: WatchList) -> list[Finding]:
        """A GEOFENCE_* finding for each transition some rule asks for."""
        found = []
        for t in transitions:
            rule = self.first_match(t, watch)
            if rule is not None:
                found.append(transition_finding(t, rule.name))
        return found


NO_RULES = TransitionRules()


def transition_finding(t: Transition, rule: str) -> Finding:
    """The alert finding of a transition: one group per vessel and zone, as before rules existed."""
    key = t.vessel_key
    return Finding(
        KIND[t.direction], f"{key}@{t.zone_id}", ts=t.observed_at.timestamp(), impact=Impact.LOW,
        confidence=0.9, zone_id=t.zone_id, route=t.route, vessel_ids=(key,), event_ids=(t.event_id,),
        lat=t.lat, lon=t.lon, detail=f"{key} {_VERB[t.direction]} {t.zone_id} (rule {rule!r})",
    )  # fmt: skip


def load_transition_rules(path: Path, zone_ids: Collection[str] | None = None) -> TransitionRules:
    """Every `[[rule]]` of a TOML file; raises TransitionRulesError naming the rule, field and problem.

    `zone_ids`, when given, are the catalogue's crossings: a rule naming another zone is refused.
    """
    where = f"transition rules {str(path)!r}"
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise TransitionRulesError(f"{where} cannot be read: {error}") from error
    if len(raw) > MAX_FILE_BYTES:
        raise TransitionRulesError(f"{where} is over {MAX_FILE_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise TransitionRulesError(f"{where} is not valid TOML: {reason}") from None
    unknown = set(data) - {"rule"}
    if unknown:
        raise TransitionRulesError(f"{where}: unknown sections {sorted(unknown)!r}; only [[rule]]")
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise TransitionRulesError(f"{where}: 'rule' must be an array of tables, written [[rule]]")
    if len(entries) > MAX_RULES:
        raise TransitionRulesError(f"{where}: {len(entries)} rules, at most {MAX_RULES}")
    rules: list[TransitionRule] = []
    for n, entry in enumerate(entries, start=1):
        try:
            rule = TransitionRule.model_validate(entry)
        except ValidationError as error:
            field, message = first_problem(error)
            name = entry.get("name", "?") if isinstance(entry, dict) else "?"
            raise TransitionRulesError(
                f"{where}, rule {n} ({name!r}): {field or 'entry'}: {message}"
            ) from None
        if zone_ids is not None:
            missing = sorted(set(rule.zones) - set(zone_ids))
            if missing:
                raise TransitionRulesError(
                    f"{where}, rule {n} ({rule.name!r}): zones: {missing!r} are no crossing of the catalogue"
                )
        rules.append(rule)
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TransitionRulesError(f"{where}: rule names {twice!r} are used more than once")
    return TransitionRules(tuple(rules))

"""Detect stage: every detector threshold, defaults from the anomaly definitions (docs/detectors.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

SURGE_MAX_SCALE_H = 168


class Thresholds(BaseModel):
    """Detector configuration; env vars are BORDERWATCH_DETECT__<FIELD>, e.g. BORDERWATCH_DETECT__GAP_S."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed_lateness_s: float = Field(
        24 * 3600.0,
        ge=0,
        description="reports this late still land in their window (EUROSUR's 24 h deadline)",
    )
    live_within_s: float = Field(
        900.0, ge=0, description="a partition whose newest report is this close to now runs on wall time"
    )
    clear_after_s: float = Field(
        12 * 3600.0, gt=0, description="an alert group resolves when its condition has been clear this long"
    )
    max_open_s: float = Field(
        72 * 3600.0, gt=0, description="an alert group open this long closes; the condition reopens it anew"
    )
    late_alert_s: float = Field(
        3600.0,
        ge=0,
        description="an alert raised this long (wall time) after its evidence arrived says it was found late",
    )
    repeat_interval_s: float = Field(
        24 * 3600.0, ge=0, description="an open alert notifies again after this long without a rise in impact"
    )

    surge_scales_h: tuple[int, ...] = Field(
        (6, 24, 168), min_length=1, description="surge windows per crossing, hours (at most 7 days)"
    )
    surge_p: tuple[float, float, float, float] = Field(
        (1e-4, 1e-5, 1e-6, 1e-8),
        description="tail probability a window's count must be at or below for impact low, medium, high, "
        "very high",
    )
    surge_gate_p_by_size: tuple[float, float] = Field(
        (1e-4, 1e-4),
        description="a window high, or very high, by size is a surge at this tail probability already "
        "(surge_p's first level for the rest); the default loosens nothing: (1e-3, 1e-2) catches the sea "
        "episodes' largest waves earlier but cries wolf at Lampedusa (docs/detectors.md, Surges)",
    )
    surge_gate_p_joint: float = Field(
        2e-3,
        gt=0,
        le=0.01,
        description="a window of at most 24 h, very high by size, whose persons and boats are both at or "
        "below this tail probability is a surge (two counts rising together, not one big boat or one busy "
        "metric); "
        "set it to surge_p's first level to turn it off",
    )
    surge_size_ratio: tuple[float, float, float] = Field(
        (2.0, 3.0, 5.0),
        description="times the expected count (persons or boats) a surge must reach for impact medium, high, "
        "very high; rarity (surge_p's first level) decides whether it is a surge at all",
    )
    surge_size_persons: tuple[int, int, int] = Field(
        (100, 250, 500),
        description="persons above the expected a surge must also reach for impact medium, high, very high",
    )
    surge_size_boats: tuple[int, int, int] = Field(
        (5, 10, 25),
        description="boats (reports) above the expected a surge must also reach for medium, high, very high "
        "(with surge_size_ratio times the expected boats)",
    )
    large_boat_ratio: tuple[float, float] = Field(
        (3.0, 4.0),
        description="a boat this many times the crossing's typical size (its persons per boat over the "
        "recent days) is large: impact medium, high",
    )
    large_boat_excess: int = Field(
        100, ge=0, description="and at least this many persons more than the typical boat carries"
    )
    large_boat_p: tuple[float, float] = Field(
        (1e-3, 1e-4),
        description="and this rare for the route's spread of boat sizes (gamma, scaled to the typical "
        "size): impact medium, high",
    )
    surge_min_persons: int = Field(50, ge=1, description="no surge below this many persons in a window")
    surge_min_reports: int = Field(
        3, ge=1, description="no surge below this many reports (boats) in a window"
    )
    surge_years: int = Field(3, ge=0, le=10, description="past years in the seasonal baseline (Farrington b)")
    surge_weeks_around: int = Field(
        3, ge=0, le=8, description="weeks either side of the same date in past years (Farrington w)"
    )
    surge_recent_days: int = Field(28, ge=1, le=90, description="past days in the recent baseline (EARS)")
    surge_guard_days: int = Field(2, ge=0, le=14, description="days before today the recent baseline skips")
    surge_boat_dispersion: float = Field(
        2.0, ge=1, description="least variance/mean of reports (boats) per day: departures cluster"
    )
    surge_level_cv: float = Field(0.25, ge=0, description="relative uncertainty of the expected level itself")
    surge_prior_per_day: float = Field(
        5.0, ge=0, description="expected persons a day at a crossing no seed or history covers"
    )
    surge_history: Path | None = Field(
        None,
        description="CSV of daily counts per crossing (date,crossing_id,persons[,reports]) before the seed",
    )

    @field_validator("surge_p")
    @classmethod
    def _levels_rise(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < p <= 0.02 for p in value) or list(value) != sorted(value, reverse=True):
            raise ValueError("surge_p must fall from low to very high, each in (0, 0.02]")
        return value

    @field_validator("surge_gate_p_by_size")
    @classmethod
    def _gate_loosens(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < p <= 0.05 for p in value) or list(value) != sorted(value):
            raise ValueError("surge_gate_p_by_size must rise from high to very high, each in (0, 0.05]")
        return value

    @field_validator("surge_size_ratio", "large_boat_ratio")
    @classmethod
    def _ratios_rise(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(r >= 1 for r in value) or list(value) != sorted(value):
            raise ValueError("ratios must be at least 1 and rise from the lowest level to the highest")
        return value

    @field_validator("surge_size_persons", "surge_size_boats")
    @classmethod
    def _excess_rises(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not all(e >= 0 for e in value) or list(value) != sorted(value):
            raise ValueError("excess counts must be at least 0 and rise from medium to very high")
        return value

    @field_validator("large_boat_p")
    @classmethod
    def _boat_p_falls(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < p < 1 for p in value) or list(value) != sorted(value, reverse=True):
            raise ValueError("large_boat_p must fall from medium to high, each in (0, 1)")
        return value

    @field_validator("surge_scales_h")
    @classmethod
    def _scales_fit(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not all(1 <= h <= SURGE_MAX_SCALE_H for h in value):
            raise ValueError(f"surge_scales_h must lie in 1..{SURGE_MAX_SCALE_H}")
        return tuple(sorted(set(value)))

    mass_window_s: float = Field(600.0, gt=0, description="mass attempt window at land crossings and fences")
    mass_min_persons: int = Field(100, ge=1, description="persons in the window that make a mass attempt")

    gap_s: float = Field(6 * 3600.0, gt=0, description="AIS silence that counts as going dark")
    gap_check_s: float = Field(
        300.0, gt=0, description="how often (clock time) silent vessels are looked for"
    )
    vessel_forget_s: float = Field(
        30 * 86400.0,
        gt=0,
        description="a vessel silent this long is forgotten: its open AIS gap resolves (no longer tracked), "
        "and its next fix starts a new track; keeps the vessels table to the vessels seen within it",
    )

    @field_validator("vessel_forget_s")
    @classmethod
    def _forget_after_gap(cls, value: float, info: ValidationInfo) -> float:
        if value <= info.data.get("gap_s", 0.0):
            raise ValueError("vessel_forget_s must be longer than gap_s")
        return value

    max_speed_kn: float = Field(40.0, gt=0, description="faster implied speed is implausible")
    speed_min_distance_m: float = Field(200.0, ge=0, description="position noise below this is not a speed")
    loiter_max_kn: float = Field(2.0, gt=0, description="loitering is slower than this on average")
    loiter_min_s: float = Field(3600.0, gt=0, description="for at least this long")
    port_radius_m: float = Field(
        3000.0, ge=0, description="loitering and encounters this close to a port are normal"
    )

    encounter_distance_m: float = Field(500.0, gt=0, description="two vessels this close meet")
    encounter_min_s: float = Field(
        600.0, gt=0, description="for at least this long (short for go-fast transfers)"
    )
    encounter_max_kn: float = Field(2.0, gt=0, description="median speed of both during the meeting")
    encounter_max_dt_s: float = Field(600.0, gt=0, description="fixes further apart in time are not compared")
    encounter_dark_max_s: float = Field(
        12 * 3600.0,
        gt=0,
        description="a meeting pair that goes dark together and reappears together within this time "
        "is one encounter, flagged as a dark meeting",
    )

"""Detect stage: every detector threshold, defaults from DESIGN.md's anomaly table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """Detector configuration; env vars are BORDERWATCH_DETECT__<FIELD>, e.g. BORDERWATCH_DETECT__GAP_S."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed_lateness_s: float = Field(
        24 * 3600.0, ge=0, description="reports this late still land in their window (EUROSUR's 24 h deadline)"
    )
    live_within_s: float = Field(
        900.0, ge=0, description="a partition whose newest report is this close to now runs on wall time"
    )
    resolve_after_s: float = Field(3600.0, gt=0, description="one-off alerts resolve after this quiet time")
    repeat_interval_s: float = Field(3600.0, ge=0, description="repeats within this update without notifying")

    surge_window_s: float = Field(3600.0, gt=0, description="surge window per crossing")
    surge_min_persons: int = Field(50, ge=1, description="no surge below this many persons in a window")
    surge_z: tuple[float, float, float, float] = Field(
        (3.0, 5.0, 8.0, 12.0), description="z-scores for impact low, medium, high, very high"
    )
    surge_alpha: float = Field(0.1, gt=0, le=1, description="EWMA weight of a new window in the baseline")
    surge_prior_mean: float = Field(2.0, ge=0, description="baseline persons per window before history")
    surge_prior_var: float = Field(25.0, gt=0, description="baseline variance before history")

    mass_window_s: float = Field(600.0, gt=0, description="mass attempt window at land crossings and fences")
    mass_min_persons: int = Field(100, ge=1, description="persons in the window that make a mass attempt")

    gap_s: float = Field(6 * 3600.0, gt=0, description="AIS silence that counts as going dark")
    gap_check_s: float = Field(
        300.0, gt=0, description="how often (clock time) silent vessels are looked for"
    )
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

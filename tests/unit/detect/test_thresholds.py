"""Thresholds: the settings of the detectors, checked where one depends on another."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.detect.thresholds import Thresholds


def test_a_vessel_is_forgotten_only_after_its_gap_could_open() -> None:
    assert Thresholds(gap_s=3600, vessel_forget_s=7200).vessel_forget_s == 7200
    with pytest.raises(ValidationError, match="vessel_forget_s must be longer than gap_s"):
        Thresholds(gap_s=3600, vessel_forget_s=3600)

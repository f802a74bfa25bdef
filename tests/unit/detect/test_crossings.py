"""The size-graded rarity gate of surges: off by default, one setting to loosen it for large windows."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.alerts import Impact
from streams.detect.crossings import _gated_by_size
from streams.detect.surge import window_tests
from streams.detect.thresholds import Thresholds

# Lampedusa's 24 h persons window on 11 Sep 2023 in the evaluation: 356 expected, dispersion 358.6.
(DAY,) = window_tests([356.0], [358.6], 0.25, Thresholds().surge_p, [50])
LOOSE = Thresholds(surge_gate_p_by_size=(1e-3, 1e-2))


def test_the_default_gate_is_rarity_alone() -> None:
    assert DAY.impact(1900) is None  # 1,900 persons (tail 5.8e-3): not rare at 1e-4
    assert not _gated_by_size(DAY, 1900, Impact.VERY_HIGH, Thresholds())


def test_a_looser_gate_opens_for_very_high_windows_only_down_to_its_probability() -> None:
    assert 1e-3 < DAY.probability(1900) <= 1e-2
    assert _gated_by_size(DAY, 1900, Impact.VERY_HIGH, LOOSE)
    assert not _gated_by_size(DAY, 1900, Impact.HIGH, LOOSE)  # high needs 1e-3
    assert not _gated_by_size(DAY, 1900, Impact.MEDIUM, LOOSE)
    assert not _gated_by_size(DAY, 1000, Impact.VERY_HIGH, LOOSE)  # tail 6.4e-2


@pytest.mark.parametrize("gate", [(1e-2, 1e-3), (0.0, 1e-2), (1e-3, 0.1)])
def test_the_gate_must_loosen_from_high_to_very_high_within_reason(gate: tuple[float, float]) -> None:
    with pytest.raises(ValidationError, match="surge_gate_p_by_size"):
        Thresholds(surge_gate_p_by_size=gate)

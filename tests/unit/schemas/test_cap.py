"""CAP 1.2 rendering of alert states, checked against the official schema."""

from __future__ import annotations

import pytest

from schemas.alerts import AlertKind, Impact
from schemas.cap import render_cap
from streams.detect.findings import Finding
from streams.detect.grouping import group_findings
from tests.helpers.cap import CAP_SCHEMA
from tests.helpers.findings import NOW, T0, T, surge


@pytest.mark.parametrize("status_findings", [[True], [True, True], [True, False]])
def test_every_alert_state_renders_as_valid_cap_1_2(status_findings: list[bool]) -> None:
    groups: dict = {}
    for n, active in enumerate(status_findings):
        finding = Finding(
            AlertKind.ENCOUNTER, "a|b", ts=T0 + n, active=active, impact=Impact.VERY_HIGH, lat=35.9, lon=-3.5,
            zone_id="ES-ALBORAN", vessel_ids=("mmsi:1", "mmsi:2"), event_ids=("ES:1",), detail="a <&> b, c",
        )  # fmt: skip
        changed, (alert,) = group_findings([finding], groups, T0, T, NOW)
        groups = {k: v for k, v in {**groups, **changed}.items() if v}
    xml = render_cap(alert, "borderwatch@example.eu")
    CAP_SCHEMA.validate(xml.decode())
    assert b"<severity>Extreme</severity>" in xml
    expected = {1: b"<msgType>Alert</msgType>", 2: b"<msgType>Update</msgType>"}
    assert (
        b"<msgType>Cancel</msgType>" if not status_findings[-1] else expected[len(status_findings)]
    ) in xml


def test_cap_schema_rejects_what_cap_forbids() -> None:
    _, (alert,) = group_findings([surge(T0)], {}, T0, T, NOW)
    xml = render_cap(alert, "borderwatch").replace(b"+00:00</sent>", b"Z</sent>")
    assert not CAP_SCHEMA.is_valid(xml.decode())

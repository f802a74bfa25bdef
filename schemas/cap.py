"""Deliver stage: an alert as a CAP 1.2 message (OASIS Common Alerting Protocol, version 1.2).

Element order and value lists follow the CAP 1.2 XML schema; the tests
validate every rendering against the official schema.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from schemas.alerts import Alert, AlertStatus, Impact

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SEVERITY = {
    Impact.LOW: "Minor",
    Impact.MEDIUM: "Moderate",
    Impact.HIGH: "Severe",
    Impact.VERY_HIGH: "Extreme",
}
MSG_TYPE = {AlertStatus.NEW: "Alert", AlertStatus.UPDATED: "Update", AlertStatus.RESOLVED: "Cancel"}
# A circle needs a radius; CAP gives kilometres. Alerts about a point use this one.
POINT_RADIUS_KM = 1.0


def cap_identifier(alert: Alert) -> str:
    """One CAP identifier per alert state (CAP forbids spaces, commas, '<' and '&')."""
    return f"{alert.id}:v{alert.version}".replace(" ", "_").replace(",", ";")


def cap_time(moment: datetime) -> str:
    """CAP's dateTime: seconds precision and an explicit offset ('+00:00', never 'Z')."""
    return moment.replace(microsecond=0).isoformat()


def certainty(confidence: float) -> str:
    """CAP certainty from a detector's confidence."""
    if confidence >= 0.9:
        return "Observed"
    if confidence >= 0.5:
        return "Likely"
    return "Possible"


def render_cap(alert: Alert, sender: str) -> bytes:
    """CAP 1.2 XML of one alert state, UTF-8 with an XML declaration."""
    root = ET.Element("alert", xmlns=CAP_NS)
    _text(root, "identifier", cap_identifier(alert))
    _text(root, "sender", sender)
    _text(root, "sent", cap_time(alert.sent_at))
    _text(root, "status", "Actual")
    _text(root, "msgType", MSG_TYPE[alert.status])
    _text(root, "scope", "Restricted")
    _text(root, "restriction", "border coordination centres subscribed to borderwatch")
    if alert.version > 1:
        first = f"{alert.id}:v1".replace(" ", "_").replace(",", ";")
        _text(root, "references", f"{sender},{first},{cap_time(alert.opened_at)}")

    info = ET.SubElement(root, "info")
    _text(info, "language", "en")
    _text(info, "category", "Security")
    _text(info, "event", alert.kind.value.replace("_", " "))
    _text(info, "responseType", "Monitor" if alert.status is not AlertStatus.RESOLVED else "AllClear")
    _text(info, "urgency", "Past" if alert.status is AlertStatus.RESOLVED else "Immediate")
    _text(info, "severity", SEVERITY[alert.impact])
    _text(info, "certainty", certainty(alert.confidence))
    _text(info, "onset", cap_time(alert.window_start))
    _text(info, "senderName", "borderwatch")
    _text(info, "headline", alert.headline[:160])
    _text(info, "description", alert.description or alert.headline)
    for name, value in (
        ("alert_id", alert.id),
        ("impact", alert.impact.value),
        ("confidence", f"{alert.confidence:.2f}"),
        ("route", alert.route),
        ("window_end", cap_time(alert.window_end)),
        ("vessel_ids", " ".join(alert.vessel_ids)),
        ("event_ids", " ".join(alert.event_ids)),
    ):
        if value:
            parameter = ET.SubElement(info, "parameter")
            _text(parameter, "valueName", name)
            _text(parameter, "value", value)
    if alert.zone_id or alert.lat is not None:
        area = ET.SubElement(info, "area")
        _text(area, "areaDesc", alert.zone_id or "at sea")
        if alert.lat is not None and alert.lon is not None:
            _text(area, "circle", f"{alert.lat:.5f},{alert.lon:.5f} {POINT_RADIUS_KM}")
        if alert.zone_id:
            geocode = ET.SubElement(area, "geocode")
            _text(geocode, "valueName", "borderwatch_zone")
            _text(geocode, "value", alert.zone_id)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text

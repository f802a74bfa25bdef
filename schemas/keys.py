"""Identity: the one rule for when two reports are the same report, and two vessel reports the same vessel."""

from __future__ import annotations


def report_identity(authority: str, report_id: str) -> str:
    """`authority:report_id`: the same pair is the same report, however often it arrives."""
    return f"{authority}:{report_id}"


def vessel_key(mmsi: object, imo: object, track_id: object) -> str | None:
    """The vessel's identity: its MMSI, else its IMO number, else the reporting centre's track id."""
    if mmsi is not None:
        return f"mmsi:{mmsi}"
    if imo is not None:
        return f"imo:{imo}"
    if track_id is not None:
        return f"track:{track_id}"
    return None

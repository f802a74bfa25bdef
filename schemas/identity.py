"""Validate stage: which vessel identities are real enough to key a track, and the track key itself.

A transponder left at its factory setting, or a form filled in with zeros,
sends an MMSI such as 0, 123456789 or 999999999 (or an IMO of 0): used as a
track key, every such report would join one fictitious vessel that jumps
across the sea. Such identities are kept on the report but key nothing: the
report is tracked alone, under `unidentified:<authority>:<report_id>`.

Facts used (ITU-R M.585-9, Annex 1, "Assignment and use of identities in the
maritime mobile service"; IMO resolution A.1117(30) for the IMO number):
- ship station MIDXXXXXX; the Maritime Identification Digits run 201-775;
- SAR aircraft 111MIDXXX; craft associated with a parent ship 98MIDXXXX;
  aid to navigation 99MIDXXXX; handheld VHF with DSC and GNSS 8MIDXXXXX;
- AIS-SART 970XXYYYY, man overboard 972XXYYYY, EPIRB-AIS 974XXYYYY (no MID);
- group calls 0MIDXXXXX and coast stations 00MIDXXXX name no single vessel;
- an IMO number has 7 digits; the first six weighted 7, 6, 5, 4, 3, 2 sum to a
  number whose last digit is the seventh.
"""

from __future__ import annotations

from schemas.keys import report_identity, vessel_key

MID_MIN, MID_MAX = 201, 775
UNIDENTIFIED_PREFIX = "unidentified:"
"""Track keys of vessel reports with no usable identity start with this (events.vessel_key)."""

# Valid by the ranges above, yet typed by people and factory defaults rather than assigned.
_PLACEHOLDER_MMSIS = frozenset({123_456_789, 987_654_321} | {int(str(d) * 9) for d in range(1, 10)})
_PLACEHOLDER_IMOS = frozenset({1_234_567})  # its check digit is right, by chance
_DEVICE_PREFIXES = frozenset({970, 972, 974})  # SART, MOB, EPIRB-AIS: serial numbers, no MID


def _mid_ok(mid: int) -> bool:
    return MID_MIN <= mid <= MID_MAX


def is_trackable_mmsi(mmsi: int) -> bool:
    """Does this MMSI name one station that sends positions (a ship, aircraft, craft, AtoN or device)?"""
    if mmsi in _PLACEHOLDER_MMSIS or not 100_000_000 <= mmsi <= 999_999_999:
        return False  # 0, and every group or coast station (leading zeros)
    if _mid_ok(mmsi // 1_000_000):
        return True  # ship station
    head2, head3 = mmsi // 10_000_000, mmsi // 1_000_000
    if head3 == 111:
        return _mid_ok(mmsi // 1_000 % 1_000)  # SAR aircraft
    if head2 in (98, 99):
        return _mid_ok(mmsi // 10_000 % 1_000)  # craft associated with a parent ship, AtoN
    if mmsi // 100_000_000 == 8:
        return _mid_ok(mmsi // 100_000 % 1_000)  # handheld VHF
    return head3 in _DEVICE_PREFIXES


def is_valid_imo(imo: int) -> bool:
    """Seven digits whose last is the check digit of the first six (and not 1234567)."""
    if imo in _PLACEHOLDER_IMOS or not 1_000_000 <= imo <= 9_999_999:
        return False
    digits = [int(c) for c in str(imo)]
    return sum(d * w for d, w in zip(digits, range(7, 1, -1))) % 10 == digits[6]


def vessel_track_key(
    mmsi: int | None, imo: int | None, track_id: str | None, authority: str, report_id: str
) -> str:
    """The key of the vessel's track: a usable MMSI, else IMO, else the reporter's track id.

    A report with none of these is tracked alone (`unidentified:<authority>:<report_id>`),
    never merged with another report into one track.
    """
    usable_mmsi = mmsi if mmsi is not None and is_trackable_mmsi(mmsi) else None
    usable_imo = imo if imo is not None and is_valid_imo(imo) else None
    key = vessel_key(usable_mmsi, usable_imo, track_id)
    return key if key is not None else f"{UNIDENTIFIED_PREFIX}{report_identity(authority, report_id)}"


def is_unidentified(track_key: str) -> bool:
    """Is this the key of a vessel report that had no usable identity?"""
    return track_key.startswith(UNIDENTIFIED_PREFIX)

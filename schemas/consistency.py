"""Validate stage: an interception report agrees with itself (breakdown within persons, real countries).

Nationality codes are ISO 3166-1 alpha-2, as pycountry lists them (its data
is the Debian iso-codes database), plus `XK`: Kosovo has no ISO code yet, and
the EU, Frontex and EUROSTAT use the user-assigned XK for it. A person whose
nationality is not known is left out of `nationalities` (their sum may be less
than `persons`), never given a made-up code.
"""

from __future__ import annotations

import pycountry

from schemas.rejection import Rejected, RejectReason
from schemas.reports import InterceptionReport, PersonsDetail

NATIONALITY_CODES = frozenset(country.alpha_2 for country in pycountry.countries) | {"XK"}
"""Every code `persons_detail.nationalities` accepts."""


def inconsistent_report(report: InterceptionReport) -> Rejected | None:
    """Refuse a breakdown that names an unknown country or counts more people than the report."""
    detail = report.persons_detail
    if detail is None:
        return None
    return _unknown_nationality(detail) or _breakdown_over_persons(detail, report.persons)


def _unknown_nationality(detail: PersonsDetail) -> Rejected | None:
    for code in detail.nationalities or {}:
        if code not in NATIONALITY_CODES:
            return Rejected(
                reason=RejectReason.UNKNOWN_NATIONALITY,
                field=f"persons_detail.nationalities.{code}",
                detail=f"nationality {code!r} is not an ISO 3166-1 alpha-2 country code"
                " (leave out persons whose nationality is not known)",
            )
    return None


def _breakdown_over_persons(detail: PersonsDetail, persons: int) -> Rejected | None:
    parts = [("minors", detail.minors), ("women", detail.women)]
    if detail.nationalities is not None:
        parts.append(("nationalities", sum(detail.nationalities.values())))
    for name, count in parts:
        if count is not None and count > persons:
            what = "the persons of all nationalities" if name == "nationalities" else name
            return Rejected(
                reason=RejectReason.BREAKDOWN_EXCEEDS_PERSONS,
                field=f"persons_detail.{name}",
                detail=f"{what} ({count}) outnumber the report's persons ({persons})",
            )
    return None

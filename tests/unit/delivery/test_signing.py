"""Webhook signing and the receiver's check: accepted once, and refused with a reason otherwise."""

from __future__ import annotations

import pytest

from streams.delivery.signing import (
    IDEMPOTENCY_KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    Verdict,
    idempotency_key,
    sign,
    verify_delivery,
)

SECRET = "s3cret-shared-with-es-ncc"
NOW = 1_760_000_000
BODY = b'{"id":"surge:IT-LAMPEDUSA","version":2}'
KEY = "surge:IT-LAMPEDUSA:2"


def headers(
    timestamp: int | str = NOW, key: str = KEY, body: bytes = BODY, secret: str = SECRET
) -> dict[str, str]:
    """What the deliverer sends with one attempt."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        IDEMPOTENCY_KEY_HEADER: key,
        SIGNATURE_HEADER: sign(secret, timestamp, key, body),
    }


def test_a_valid_delivery_is_accepted_once_and_its_replay_refused() -> None:
    guard = ReplayGuard()
    assert verify_delivery(SECRET, headers(), BODY, NOW, guard) is Verdict.ACCEPTED
    assert verify_delivery(SECRET, headers(), BODY, NOW + 1, guard) is Verdict.REPLAYED


def test_a_retry_signed_later_under_the_same_key_is_a_repeat() -> None:
    guard = ReplayGuard()
    assert verify_delivery(SECRET, headers(NOW), BODY, NOW, guard) is Verdict.ACCEPTED
    assert verify_delivery(SECRET, headers(NOW + 30), BODY, NOW + 30, guard) is Verdict.REPLAYED
    # The retry stays replayable until it turns stale itself, so the guard remembers it that long.
    assert verify_delivery(SECRET, headers(NOW + 30), BODY, NOW + 320, guard) is Verdict.REPLAYED
    assert verify_delivery(SECRET, headers(NOW + 30), BODY, NOW + 331, guard) is Verdict.STALE


def test_another_alert_state_has_its_own_key() -> None:
    guard = ReplayGuard()
    assert verify_delivery(SECRET, headers(), BODY, NOW, guard) is Verdict.ACCEPTED
    other = idempotency_key("surge:IT-LAMPEDUSA", 3)
    assert verify_delivery(SECRET, headers(key=other), BODY, NOW, guard) is Verdict.ACCEPTED


@pytest.mark.parametrize(
    ("signed_at", "verdict"),
    [
        (NOW - 360, Verdict.STALE),
        (NOW + 360, Verdict.FUTURE),
        (NOW - 300, Verdict.ACCEPTED),
        (NOW + 300, Verdict.ACCEPTED),
    ],
)
def test_the_timestamp_must_be_within_five_minutes(signed_at: int, verdict: Verdict) -> None:
    assert verify_delivery(SECRET, headers(signed_at), BODY, NOW, ReplayGuard()) is verdict


def test_a_tampered_body_is_refused() -> None:
    tampered = BODY.replace(b"2", b"3")
    assert verify_delivery(SECRET, headers(), tampered, NOW, ReplayGuard()) is Verdict.BAD_SIGNATURE


def test_a_swapped_idempotency_key_is_refused() -> None:
    swapped = headers() | {IDEMPOTENCY_KEY_HEADER: "surge:IT-LAMPEDUSA:3"}
    assert verify_delivery(SECRET, swapped, BODY, NOW, ReplayGuard()) is Verdict.BAD_SIGNATURE


def test_a_key_cannot_borrow_bytes_from_the_body() -> None:
    """`<ts>.<key>.<body>` splits one way only: a key with a '.' never verifies."""
    shifted = headers(body=b"x.rest") | {IDEMPOTENCY_KEY_HEADER: f"{KEY}.x"}
    assert sign(SECRET, NOW, f"{KEY}.x", b"rest") == shifted[SIGNATURE_HEADER]
    assert verify_delivery(SECRET, shifted, b"rest", NOW, ReplayGuard()) is Verdict.MALFORMED


def test_a_wrong_secret_is_refused() -> None:
    assert verify_delivery("wrong", headers(), BODY, NOW, ReplayGuard()) is Verdict.BAD_SIGNATURE
    forged = headers(secret="wrong")
    assert verify_delivery(SECRET, forged, BODY, NOW, ReplayGuard()) is Verdict.BAD_SIGNATURE


def test_a_refused_delivery_does_not_burn_its_key() -> None:
    guard = ReplayGuard()
    assert verify_delivery("wrong", headers(), BODY, NOW, guard) is Verdict.BAD_SIGNATURE
    assert verify_delivery(SECRET, headers(NOW - 400), BODY, NOW, guard) is Verdict.STALE
    assert len(guard) == 0
    assert verify_delivery(SECRET, headers(), BODY, NOW, guard) is Verdict.ACCEPTED


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        " 1760000000",
        "1760000000 ",
        "+1760000000",
        "-1",
        "1760000000.0",
        "1e9",
        "0x68e",
        "١٧٦٠",
        "²",
        "9" * 5000,
    ],
)
def test_a_timestamp_that_is_not_plain_digits_is_malformed_without_raising(timestamp: str) -> None:
    signed = headers() | {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(SECRET, timestamp, KEY, BODY),
    }
    assert verify_delivery(SECRET, signed, BODY, NOW, ReplayGuard()) is Verdict.MALFORMED


def test_a_huge_timestamp_of_digits_is_refused_without_raising() -> None:
    huge = "9" * 12
    assert verify_delivery(SECRET, headers(huge), BODY, NOW, ReplayGuard()) is Verdict.FUTURE
    assert verify_delivery(SECRET, headers("9" * 13), BODY, NOW, ReplayGuard()) is Verdict.MALFORMED


@pytest.mark.parametrize(
    "signature",
    ["", "z" * 64, "é" * 64, sign(SECRET, NOW, KEY, BODY)[:-1], sign(SECRET, NOW, KEY, BODY) + "0"],
)
def test_a_signature_that_is_not_64_hex_digits_is_malformed(signature: str) -> None:
    bad = headers() | {SIGNATURE_HEADER: signature}
    assert verify_delivery(SECRET, bad, BODY, NOW, ReplayGuard()) is Verdict.MALFORMED


def test_missing_headers_are_malformed_and_header_names_are_case_insensitive() -> None:
    for name in (TIMESTAMP_HEADER, IDEMPOTENCY_KEY_HEADER, SIGNATURE_HEADER):
        missing = {k: v for k, v in headers().items() if k != name}
        assert verify_delivery(SECRET, missing, BODY, NOW, ReplayGuard()) is Verdict.MALFORMED
    lowered = {k.lower(): v.upper() for k, v in headers().items() if k == SIGNATURE_HEADER} | {
        k.lower(): v for k, v in headers().items() if k != SIGNATURE_HEADER
    }
    assert verify_delivery(SECRET, lowered, BODY, NOW, ReplayGuard()) is Verdict.ACCEPTED


def test_the_guard_forgets_keys_once_their_requests_are_stale() -> None:
    guard = ReplayGuard()
    for n in range(100):
        key = idempotency_key("surge:IT-LAMPEDUSA", n + 1)
        assert verify_delivery(SECRET, headers(NOW + n, key), BODY, NOW + n, guard) is Verdict.ACCEPTED
    assert len(guard) == 100
    later = NOW + 1_000
    last = idempotency_key("ais_gap:247000001", 1)
    assert verify_delivery(SECRET, headers(later, last), BODY, later, guard) is Verdict.ACCEPTED
    assert len(guard) == 1


def test_forget_lets_a_retry_in() -> None:
    guard = ReplayGuard()
    assert verify_delivery(SECRET, headers(), BODY, NOW, guard) is Verdict.ACCEPTED
    guard.forget(KEY)  # the receiver's handling failed after accepting: it wants our retry
    assert verify_delivery(SECRET, headers(NOW + 5), BODY, NOW + 5, guard) is Verdict.ACCEPTED


@pytest.mark.parametrize(
    ("alert_id", "version", "key"),
    [
        ("surge:IT-LAMPEDUSA", 2, "surge:IT-LAMPEDUSA:2"),
        ("encounter:3740:-110", 1, "encounter:3740:-110:1"),
        ("geofence_enter:zone.a b%", 4, "geofence_enter:zone%2Ea%20b%25:4"),
        ("surge:ES-CEUTA–TARAJAL", 1, "surge:ES-CEUTA%E2%80%93TARAJAL:1"),
    ],
)
def test_idempotency_keys_are_alert_id_and_version_in_safe_characters(
    alert_id: str, version: int, key: str
) -> None:
    assert idempotency_key(alert_id, version) == key
    assert verify_delivery(SECRET, headers(key=key), BODY, NOW, ReplayGuard()) is Verdict.ACCEPTED

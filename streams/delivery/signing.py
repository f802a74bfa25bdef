"""Deliver stage: webhook signatures (sign here) and the receiver's complete check (verify there).

Every webhook POST carries three headers:

- `X-Borderwatch-Timestamp`: Unix seconds when this attempt was signed;
- `X-Borderwatch-Idempotency-Key`: `<alert id>:<version>`, the same on every
  retry of one alert state (see `idempotency_key` for its characters);
- `X-Borderwatch-Signature`: hex HMAC-SHA256, with the centre's shared secret,
  of `<timestamp>.<idempotency key>.<body>`.

A receiver accepts a delivery once: the signature matches, the timestamp is
within ±5 minutes of its clock, and the key was not accepted before within
that window (`verify_delivery` with one `ReplayGuard` per endpoint). A repeat
is either an attacker's replay or our retry after a lost answer: answer it 2xx
and do not act on it again.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import threading
from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import quote

SIGNATURE_HEADER = "X-Borderwatch-Signature"
TIMESTAMP_HEADER = "X-Borderwatch-Timestamp"
IDEMPOTENCY_KEY_HEADER = "X-Borderwatch-Idempotency-Key"
TOLERANCE_S = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # plain ASCII digits; 12 of them reach the year 33658
_KEY = re.compile(r"[A-Za-z0-9:_~%-]{1,1024}")  # no '.', so the signed message splits one way only
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class Verdict(StrEnum):
    """What a receiver decided about one delivery; stable codes to log."""

    ACCEPTED = "accepted"
    MALFORMED = "malformed"  # a header is missing or not in its format
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"  # signed more than the tolerance ago
    FUTURE = "future"  # signed more than the tolerance ahead of the receiver's clock
    REPLAYED = "replayed"  # this idempotency key was accepted already


def idempotency_key(alert_id: str, version: int) -> str:
    """`<alert id>:<version>`, percent-encoding every character but letters, digits and `:_~-`."""
    return quote(f"{alert_id}:{version}", safe=":~").replace(".", "%2E")


def sign(secret: str, timestamp: int | str, key: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<key>.<body>`: changing any of the three breaks it."""
    message = f"{timestamp}.{key}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class ReplayGuard:
    """The idempotency keys a receiver accepted, each kept until its request turns stale.

    A key is forgotten `tolerance_s` after the latest accepted timestamp it was
    seen with; a replay after that is refused as stale, so memory holds only the
    deliveries of the last window. Safe to share between threads.
    """

    def __init__(self, tolerance_s: int = TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s
        self._expiry: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def admit(self, key: str, timestamp: int, now: float) -> bool:
        """True the first time a key comes within the window, False for a repeat."""
        with self._lock:
            self._prune(now)
            expiry = timestamp + self.tolerance_s
            known = self._expiry.get(key)
            if known is None or expiry > known:
                # A repeat signed later (our retry) stays replayable for longer: remember it longer.
                self._expiry[key] = expiry
                heapq.heappush(self._heap, (expiry, key))
            return known is None

    def forget(self, key: str) -> None:
        """Drop a key, so that a retry is accepted: for a receiver whose handling failed after accepting."""
        with self._lock:
            self._expiry.pop(key, None)

    def _prune(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            expiry, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expiry:
                del self._expiry[key]


def verify_delivery(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, guard: ReplayGuard
) -> Verdict:
    """The receiver's whole check of one webhook POST; it never raises on what the request holds.

    Args:
        secret: the centre's shared secret.
        headers: the request's headers, names in any case.
        body: the raw request body, exactly as received.
        now: the receiver's clock, Unix seconds.
        guard: the endpoint's ReplayGuard; its tolerance is the timestamp tolerance.

    Returns:
        Verdict.ACCEPTED exactly once per idempotency key within the window, else why not.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    key = lowered.get(IDEMPOTENCY_KEY_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not (_TIMESTAMP.fullmatch(timestamp) and _KEY.fullmatch(key) and _SIGNATURE.fullmatch(signature)):
        return Verdict.MALFORMED
    expected = sign(secret, timestamp, key, body)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        return Verdict.BAD_SIGNATURE
    signed_at = int(timestamp)
    if now - signed_at > guard.tolerance_s:
        return Verdict.STALE
    if signed_at - now > guard.tolerance_s:
        return Verdict.FUTURE
    if not guard.admit(key, signed_at, now):
        return Verdict.REPLAYED
    return Verdict.ACCEPTED

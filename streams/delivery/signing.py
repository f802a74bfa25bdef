"""Deliver stage: the HMAC-SHA256 signature of a webhook (sign here, verify at the receiver)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Borderwatch-Signature"
TIMESTAMP_HEADER = "X-Borderwatch-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over '<timestamp>.<body>': a replayed body with another timestamp fails."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)

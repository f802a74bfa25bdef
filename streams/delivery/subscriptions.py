"""Deliver stage: coordination-centre subscriptions, read from a TOML file, and which alerts they want."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError, model_validator

from schemas.alerts import Alert, AlertKind, Impact
from schemas.errors import SubscriptionError
from schemas.problems import first_problem

DAY_S = 24 * 3600.0
MAX_AGE_S = 6 * DAY_S  # `alerts` keeps a week: an alert must still be there when its retries end


class Subscription(BaseModel):
    """One centre's filters and channel: a signed webhook or a Kafka topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    centre: str = Field(min_length=1)
    routes: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    kinds: frozenset[AlertKind] = frozenset()
    min_impact: Impact = Impact.LOW
    webhook: HttpUrl | None = Field(
        None, description="https:// URL; plain http:// only to a loopback host or with allow_http = true"
    )
    allow_http: bool = Field(
        False,
        description="accept a plain http:// webhook to a host that is not loopback (a network you trust);"
        " the alert then travels unencrypted and its signed request can be read and replayed on the way",
    )
    secret: SecretStr | None = None
    topic: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    format: Literal["json", "cap"] = "json"
    max_age_s: float = Field(
        DAY_S, gt=0, le=MAX_AGE_S,
        description="retries go on until the alert is this old (from when it was raised), then alerts.dlq",
    )  # fmt: skip
    max_attempts: int | None = Field(None, ge=1, description="also stop after this many tries")
    backoff_s: float = Field(0.5, gt=0, description="first retry waits about this long, then doubles")
    backoff_max_s: float = Field(60.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _one_channel(self) -> Subscription:
        if (self.webhook is None) == (self.topic is None):
            raise ValueError("give exactly one channel: webhook or topic")
        if self.webhook is not None and not self.secret:
            raise ValueError("a webhook needs a shared secret")
        return self

    @model_validator(mode="after")
    def _https_webhook(self) -> Subscription:
        url = self.webhook  # runs after _one_channel, so a missing secret is reported first
        if url is None or url.scheme == "https" or self.allow_http or is_loopback_host(url.host):
            return self
        raise ValueError(
            f"webhook {str(url)!r} is plain http:// to {url.host!r}: use https://,"
            " or set allow_http = true for a network you trust"
        )

    def wants(self, alert: Alert) -> bool:
        """Does this alert pass the centre's filters?"""
        return (
            (not self.routes or alert.route in self.routes)
            and (not self.zones or alert.zone_id in self.zones)
            and (not self.kinds or alert.kind in self.kinds)
            and alert.impact.rank >= self.min_impact.rank
        )


def is_loopback_host(host: str | None) -> bool:
    """Is a parsed URL host this machine: `localhost`, 127.0.0.0/8 or [::1]?

    Decided on the host the URL parser found (lower-cased, IPv4 forms such as
    `127.1` normalised, IPv6 in brackets), never on a prefix of the URL text.
    """
    if host is None:
        return False
    if host == "localhost":
        return True
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_subscriptions(path: Path) -> list[Subscription]:
    """Every `[[subscription]]` of a TOML file; raises SubscriptionError naming the entry and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SubscriptionError(f"subscriptions {str(path)!r} cannot be read: {error}") from error
    unknown = set(data) - {"subscription"}
    if unknown:
        raise SubscriptionError(f"subscriptions {str(path)!r}: unknown sections {sorted(unknown)!r}")
    subscriptions = []
    for n, entry in enumerate(data.get("subscription", []), start=1):
        try:
            subscriptions.append(Subscription.model_validate(entry))
        except ValidationError as error:
            where, message = first_problem(error)
            centre = entry.get("centre", "?") if isinstance(entry, dict) else "?"
            raise SubscriptionError(
                f"subscriptions {str(path)!r}, subscription {n} ({centre!r}): {where or 'entry'}: {message}"
            ) from error
    centres = [s.centre for s in subscriptions]
    if len(set(centres)) != len(centres):
        raise SubscriptionError(f"subscriptions {str(path)!r}: a centre is listed twice in {centres!r}")
    return subscriptions

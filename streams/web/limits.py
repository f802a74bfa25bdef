"""Worker HTTP API: the limits on its connections (settings group `web_limits`) and the descriptor budget."""

from __future__ import annotations

import resource

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.errors import ApiConfigError


class WebLimits(BaseModel):
    """Caps on the API's connections; env BORDERWATCH_WEB_LIMITS__<NAME>."""

    model_config = ConfigDict(frozen=True)

    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="a connection must send a request's headers within this many seconds of opening or of "
        "its previous answer; else it is closed",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="a request's body must have arrived this many seconds after its headers"
    )
    max_connections: int = Field(
        1024,
        ge=2,
        description="open API connections at most; past it a new one takes the place of the longest idle "
        "one (no request under way), or gets a 503 when none is idle",
    )
    max_connections_per_address: int = Field(
        256, ge=1, description="open API connections from one client address at most (same rule)"
    )
    reserved_descriptors: int = Field(
        1024,
        ge=256,
        description="file descriptors kept beyond max_connections for chdb, Kafka and files; the worker "
        "refuses to start when the open-files limit cannot hold both",
    )

    @model_validator(mode="after")
    def _per_address_within_total(self) -> WebLimits:
        if self.max_connections_per_address > self.max_connections:
            raise ValueError("max_connections_per_address cannot exceed max_connections")
        return self


def reserve_descriptors(limits: WebLimits) -> int:
    """Raise the soft open-files limit to the hard one; ApiConfigError when the API's connections and the
    reserve do not fit. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # keep the soft limit; the check below decides
    needed = limits.max_connections + limits.reserved_descriptors
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise ApiConfigError(
            f"the open-files limit is {soft}, below web_limits.max_connections ({limits.max_connections}) + "
            f"reserved_descriptors ({limits.reserved_descriptors}) = {needed}: raise `ulimit -n` or lower "
            "BORDERWATCH_WEB_LIMITS__MAX_CONNECTIONS"
        )
    return int(soft)

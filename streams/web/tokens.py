"""Who a bearer token is: the data dir's own token (every endpoint), or a named token from the tokens
file, stored as its SHA-256 only, with one role: `analyst` (counts, alerts, read-only SQL),
`operator` (status, metrics, erasure, reload, acknowledging and silencing alerts), `duty_officer`
(alerts: reading, acknowledging and silencing them), `centre` (send its reports: the token's name is its
authority) or `scrape` (GET /metrics only: Prometheus)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.problems import first_problem


class ApiRole(StrEnum):
    ANALYST = "analyst"
    OPERATOR = "operator"
    DUTY_OFFICER = "duty_officer"  # watches the alerts, acknowledges and silences them; no SQL, no erasure
    CENTRE = "centre"  # a border centre sending its reports: the token's name is its authority
    SCRAPE = "scrape"  # Prometheus: /metrics only


# The live picture (streams/web/picture.py): analysts and operators see it; only operators act on it.
PICTURE_ENDPOINTS = frozenset({
    "/picture/me", "/picture/map", "/picture/situation", "/picture/alert", "/picture/cap", "/picture/health",
    "/picture/code", "/events", "/signout",
})  # fmt: skip
ROLE_ENDPOINTS: Mapping[ApiRole, frozenset[str]] = {
    ApiRole.ANALYST: frozenset({"/counts", "/alerts", "/sql"}) | PICTURE_ENDPOINTS,
    ApiRole.OPERATOR: frozenset({"/status", "/metrics", "/erase", "/reload", "/alerts/{id}/ack", "/silences"})
    | PICTURE_ENDPOINTS,
    ApiRole.DUTY_OFFICER: frozenset({"/alerts", "/alerts/{id}/ack", "/silences"}) | PICTURE_ENDPOINTS,
    ApiRole.CENTRE: frozenset({"/reports"}),
    ApiRole.SCRAPE: frozenset({"/metrics"}),
}


class NamedToken(BaseModel):
    """One `[[token]]` of the tokens file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="who holds it, as the audit log names them"
    )
    role: ApiRole
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="the token's hex SHA-256 (`borderwatch token`)"
    )
    rate_per_s: float = Field(50.0, gt=0, le=100_000, description="a centre's reports per second, sustained")


class TokensFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: list[NamedToken] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TokensFile:
        for field in ("name", "sha256"):
            values = [getattr(t, field) for t in self.token]
            if len(set(values)) != len(values):
                raise ValueError(f"two tokens have the same {field}")
        return self


@dataclass(frozen=True)
class Caller:
    """Who asked, and what they may ask."""

    name: str
    roles: frozenset[ApiRole]
    rate_per_s: float = 0.0
    # the SHA-256 of the token it came from ("": the data dir's), to tell when that token stops being valid
    credential: str = dataclasses.field(default="", compare=False, repr=False)

    def may(self, path: str) -> bool:
        return any(path in ROLE_ENDPOINTS[role] for role in self.roles)

    def describe(self) -> str:
        return f"token {self.name!r} ({', '.join(sorted(self.roles)) or 'no role'})"


LOCAL = Caller("local", frozenset(ApiRole) - {ApiRole.CENTRE})  # the data dir's token: this machine's CLI
ANONYMOUS = Caller("anonymous", frozenset())


class Callers:
    """Bearer tokens to callers."""

    def __init__(self, local_token: str, named: list[NamedToken] | None = None) -> None:
        self._local = local_token.encode()
        self.reload(named or [])

    def reload(self, named: list[NamedToken]) -> None:
        """Serve these named tokens from now on (a token taken out of the file stops working)."""
        self._by_hash = {t.sha256: Caller(t.name, frozenset({t.role}), t.rate_per_s, t.sha256) for t in named}

    def of(self, token: str) -> Caller | None:
        """The caller a token names, or None. Only its hash is compared with the named ones."""
        if hmac.compare_digest(token.encode(), self._local):
            return LOCAL
        return self._by_hash.get(hash_token(token))

    def still(self, caller: Caller) -> bool:
        """Whether the token `caller` came from still names the same caller with the same roles: a browser
        session signed in with a token taken out of the file, or whose role changed, ends at once."""
        if not caller.credential:
            return caller == LOCAL  # the data dir's token lives as long as the worker
        current = self._by_hash.get(caller.credential)
        return current is not None and (current.name, current.roles) == (caller.name, caller.roles)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def load_tokens(path: Path) -> list[NamedToken]:
    """The named tokens of a TOML file; a bad file is refused with where it is wrong."""
    try:
        data = tomllib.loads(path.read_text())
        return TokensFile.model_validate(data).token
    except OSError as error:
        raise ValueError(f"cannot read the tokens file {str(path)!r}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"the tokens file {str(path)!r} is not TOML: {error}") from None
    except ValidationError as error:
        where, message = first_problem(error)
        raise ValueError(f"the tokens file {str(path)!r}: {where}: {message}") from None

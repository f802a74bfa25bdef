"""Worker health: each part is starting, ok, degraded or failed, and /health says which and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """How one part of the worker is doing."""

    STARTING = "starting"
    OK = "ok"
    DEGRADED = "degraded"  # a fault is being retried; the part goes on if it clears within the limit
    FAILED = "failed"  # the part stopped, and with it the worker


@dataclass(frozen=True, slots=True)
class PartHealth:
    """A part's state and, when it is not ok, what is wrong."""

    state: State
    detail: str = ""

    def __str__(self) -> str:
        """The /health wire form: `ok`, `starting`, or `degraded: <detail>` and `failed: <detail>`."""
        return f"{self.state}: {self.detail}" if self.detail else str(self.state)


class Health:
    """The health of every part of one worker, as its supervisor and /health see it."""

    def __init__(self, *starting: str) -> None:
        self._parts: dict[str, PartHealth] = {part: PartHealth(State.STARTING) for part in starting}
        self.retries: dict[str, int] = {}  # faults retried, per part (/metrics)

    def starting(self, part: str) -> None:
        self._parts[part] = PartHealth(State.STARTING)

    def ok(self, part: str) -> None:
        self._parts[part] = PartHealth(State.OK)

    def degraded(self, part: str, detail: str) -> None:
        self._parts[part] = PartHealth(State.DEGRADED, detail)

    def retried(self, part: str, detail: str) -> None:
        """A fault of `part` is being retried: degraded, and counted."""
        self.retries[part] = self.retries.get(part, 0) + 1
        self.degraded(part, detail)

    def failed(self, part: str, detail: str) -> None:
        self._parts[part] = PartHealth(State.FAILED, detail)

    def of(self, part: str) -> PartHealth:
        """A part's health; a part never registered is ok (it has nothing to report)."""
        return self._parts.get(part, PartHealth(State.OK))

    @property
    def healthy(self) -> bool:
        return all(p.state is State.OK for p in self._parts.values())

    def parts(self) -> dict[str, PartHealth]:
        """Every registered part's health."""
        return dict(self._parts)

    def as_dict(self) -> dict[str, str]:
        """Part name to its wire form, for /health and /status."""
        return {part: str(health) for part, health in self._parts.items()}

"""Faults (not bad input): the exception hierarchy shared by every stage."""


class BorderwatchError(Exception):
    """Root of every fault raised by borderwatch."""


class CatalogueError(BorderwatchError, ValueError):
    """A geofence catalogue cannot be used; the message names the feature."""


class BrokerStartError(BorderwatchError, RuntimeError):
    """The bundled local broker did not start or did not answer."""


class SinkUnavailableError(BorderwatchError, ConnectionError):
    """ClickHouse could not be reached or refused a write."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WorkerNotRunningError(BorderwatchError, RuntimeError):
    """A command needed a running local worker and found none."""

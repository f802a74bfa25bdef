"""Faults (not bad input): the exception hierarchy shared by every stage."""


class BorderwatchError(Exception):
    """Root of every fault raised by borderwatch."""


class CatalogueError(BorderwatchError, ValueError):
    """A geofence catalogue cannot be used; the message names the feature."""


class BrokerStartError(BorderwatchError, RuntimeError):
    """The bundled local broker did not start or did not answer."""


class BrokerUnavailableError(BorderwatchError, ConnectionError):
    """The Kafka broker could not be reached."""


class BrokerResetError(BorderwatchError, ConnectionError):
    """The broker came back as a new cluster: its log, and every offset in it, began again."""


class SinkUnavailableError(BorderwatchError, ConnectionError):
    """ClickHouse could not be reached or refused a write."""


class WorkerNotRunningError(BorderwatchError, RuntimeError):
    """A command needed a running local worker and found none."""


class WatchListError(BorderwatchError, ValueError):
    """A watch list file cannot be used; the message names the file and line."""


class SubscriptionError(BorderwatchError, ValueError):
    """A subscriptions file cannot be used; the message names the file and entry."""


class TransitionRulesError(BorderwatchError, ValueError):
    """A transition rules file cannot be used; the message names the file, rule and problem."""


class KafkaConfigError(BorderwatchError, ValueError):
    """The Kafka TLS or SASL files cannot serve."""


class KafkaAuthError(BorderwatchError, PermissionError):
    """The broker refused the SASL credentials: retrying them cannot help."""


class ApiConfigError(BorderwatchError, ValueError):
    """The worker's API settings (tokens file, TLS files) cannot serve."""


class QueryRefusedError(BorderwatchError, ValueError):
    """An analyst query was refused or failed; `code` is a stable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class AnalystBusyError(BorderwatchError, RuntimeError):
    """Too many analyst queries are waiting; try again shortly."""


class QueryAbandonedError(BorderwatchError, TimeoutError):
    """An analyst query ran past its time limit and was left to finish alone; its slot is free."""


class DataDirInUseError(BorderwatchError, RuntimeError):
    """Another worker holds this data dir's ClickHouse files."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


class ConfigFileError(BorderwatchError, ValueError):
    """The settings file (BORDERWATCH_CONFIG, --config) cannot be read as TOML."""

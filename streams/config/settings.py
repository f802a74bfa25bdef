"""Settings: the one place that reads the environment (BORDERWATCH_*), built once in main."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, IPvAnyAddress, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from schemas.limits import ReportLimits
from streams.analyst.limits import AnalystLimits
from streams.config.secret_files import read_secret
from streams.detect.thresholds import Thresholds
from streams.kafka.security import KafkaSecurity
from streams.sinks.clickhouse.retention import Retention
from streams.web.limits import WebLimits

LOCAL = "local"
CONFIG_VARIABLE = "BORDERWATCH_CONFIG"  # a TOML file of the same settings; the environment wins over it


class Role(StrEnum):
    """What one worker process runs (docs/operations, "Roles")."""

    ALL = "all"  # everything: the demo, or each of N workers on a ClickHouse server
    PROCESS = "process"  # ingest and detect, without ClickHouse: N of them beside one sink
    SINK = "sink"  # the one ClickHouse writer with chdb: store, the table sinks, the analyst API


class LogFormat(StrEnum):
    """How the worker writes its log lines (its own and Faust's)."""

    TEXT = "text"
    JSON = "json"  # one JSON object a line, for a log shipper


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Settings(BaseSettings):
    """Every knob of a borderwatch process; env var = BORDERWATCH_ + the field name."""

    model_config = SettingsConfigDict(
        env_prefix="BORDERWATCH_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka: str = Field(
        LOCAL,
        description="bootstrap servers, e.g. kafka://10.0.0.5:9092; 'local' starts the bundled broker",
    )
    kafka_security: KafkaSecurity = Field(
        default_factory=KafkaSecurity,
        description="TLS and SASL of every Kafka client, e.g. BORDERWATCH_KAFKA_SECURITY__PROTOCOL=SASL_SSL "
        "(docs/security.md)",
    )
    kafka_session_timeout_s: float = Field(
        10.0,
        ge=3,
        le=300,
        description="a consumer silent this long leaves its group and its partitions move to the others; "
        "the bundled broker also waits half of it for more members before a group's first assignment",
    )
    clickhouse: str = Field(
        "",
        description="clickhouse-connect DSN (chdb:///path or http://user:pass@host:8123/borderwatch); "
        "empty means chdb under the data dir",
    )
    clickhouse_password_file: Path | None = Field(
        None,
        description="a file holding the ClickHouse password (a Docker or systemd secret); it takes the "
        "place of any password in the DSN, so the DSN and the environment need not carry one",
    )
    clickhouse_ca_file: Path | None = Field(
        None, description="PEM bundle the ClickHouse server's certificate is checked against (https:// DSN)"
    )
    data_dir: Path = Field(
        Path("borderwatch-data"), description="where local state lives (chdb, broker, Faust)"
    )
    geofences: Path | None = Field(None, description="a GeoJSON catalogue to use instead of the built-in one")
    database: str = Field("borderwatch", description="ClickHouse database of the tables")
    partitions: int = Field(4, ge=1, description="partitions of each topic borderwatch creates")
    batch_size: int = Field(2000, ge=1, description="most reports handled in one batch")
    batch_within_s: float = Field(0.2, gt=0, description="longest wait to fill a batch, seconds")
    fetch_wait_s: float = Field(
        0.05, gt=0, le=0.5, description="longest the broker may hold a stage's fetch open when it has no "
        "new records, seconds (a broker that holds it the whole time, as the bundled one does, adds it "
        "to every report's latency)",
    )  # fmt: skip
    max_message_bytes: int = Field(1_048_576, ge=1, description="larger reports are rejected")
    fault_limit_s: float = Field(
        60.0, gt=0, description="how long a broker or ClickHouse fault is retried before the worker exits"
    )
    limits: ReportLimits = Field(
        default_factory=ReportLimits,
        description="plausible maxima and time range of a report, e.g. BORDERWATCH_LIMITS__MAX_PERSONS",
    )
    web_port: int = Field(6066, ge=0, le=65535, description="worker HTTP port (0 picks a free one)")
    web_bind: IPvAnyAddress = Field(
        IPv4Address("127.0.0.1"),
        description="the address the worker's API listens on; beyond loopback it needs TLS and named tokens",
    )
    web_hosts: list[str] = Field(
        default_factory=list, description="the host names clients reach the API by (checked against Host)"
    )
    web_tls_cert_file: Path | None = Field(None, description="the API's TLS certificate chain (PEM)")
    web_tls_key_file: Path | None = Field(None, description="the API's TLS private key (PEM)")
    web_tokens_file: Path | None = Field(
        None, description="TOML of named API tokens, stored hashed, each with a role (docs/security.md)"
    )
    web_limits: WebLimits = Field(
        default_factory=WebLimits,
        description="read deadlines and connection caps of the API, e.g. "
        "BORDERWATCH_WEB_LIMITS__MAX_CONNECTIONS (docs/security.md)",
    )
    role: Role = Field(Role.ALL, description="all, process or sink (docs/operations, Roles)")
    worker_id: str = Field("borderwatch", description="Faust app id, also the consumer group")
    detectors: bool = Field(True, description="run the detectors and alert delivery in this worker")
    detect: Thresholds = Field(default_factory=Thresholds, description="detector thresholds")
    watch_list: Path | None = Field(
        None, description="CSV of vessels of interest (mmsi, imo, name, callsign, reason); re-read on change"
    )
    subscriptions: Path | None = Field(None, description="TOML file of coordination-centre subscriptions")
    transition_rules: Path | None = Field(
        None,
        description="TOML file of the transition rules: which geofence transitions raise alerts; "
        "none: transitions are data only",
    )
    retention: Retention = Field(
        default_factory=Retention, description="days ClickHouse keeps personal data (docs/data-protection.md)"
    )
    share_notes: bool = Field(
        False, description="put reports' free-text notes on events.enriched (they may name people)"
    )
    cap_sender: str = Field("borderwatch", description="the CAP <sender> of every alert")
    tick_s: float = Field(30.0, gt=0, description="wall-clock seconds between detector ticks")
    log_format: LogFormat = Field(LogFormat.TEXT, description="text, or json (one object a line)")
    log_level: LogLevel = Field(
        LogLevel.INFO, description="debug, info, warning or error: the worker's and Faust's lines"
    )
    log_tables: bool = Field(
        False, description="let Faust write its partition and subscription tables (text format only)"
    )
    analyst: AnalystLimits = Field(
        default_factory=AnalystLimits, description="limits on analyst queries (/sql, /counts, /alerts)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the TOML file in BORDERWATCH_CONFIG, then the defaults."""
        config = config_file()
        toml = (TomlConfigSettingsSource(settings_cls, config),) if config is not None else ()
        return (init_settings, env_settings, *toml)

    @property
    def chdb_dir(self) -> Path:
        """Where the embedded ClickHouse keeps its files."""
        return self.data_dir / "chdb"

    @model_validator(mode="after")
    def _api_beyond_loopback_is_secured(self) -> Settings:
        if (self.web_tls_cert_file is None) != (self.web_tls_key_file is None):
            raise ValueError("web_tls_cert_file and web_tls_key_file go together")
        if not self.web_bind.is_loopback and (self.web_tls_cert_file is None or self.web_tokens_file is None):
            raise ValueError(
                f"web_bind {self.web_bind} is not loopback: set web_tls_cert_file, web_tls_key_file "
                "and web_tokens_file too (docs/security.md)"
            )
        return self

    @model_validator(mode="after")
    def _bundled_broker_is_plaintext(self) -> Settings:
        if self.kafka == LOCAL and self.kafka_security.protocol != "PLAINTEXT":
            raise ValueError(
                "the bundled broker (kafka=local) speaks plaintext only: set kafka to your brokers to use "
                f"{self.kafka_security.protocol}"
            )
        return self

    @model_validator(mode="after")
    def _ca_file_needs_https(self) -> Settings:
        if self.clickhouse_ca_file is not None:
            if not self.clickhouse.startswith("https://"):
                raise ValueError("clickhouse_ca_file needs an https:// ClickHouse DSN")
            if not self.clickhouse_ca_file.is_file():
                raise ValueError(f"clickhouse_ca_file {str(self.clickhouse_ca_file)!r} is not a file")
        return self

    @model_validator(mode="after")
    def _password_file_is_usable(self) -> Settings:
        if self.clickhouse_password_file is not None:
            if not self.clickhouse.startswith(("http://", "https://")):
                raise ValueError(
                    "clickhouse_password_file needs an http(s):// ClickHouse DSN (chdb has no password)"
                )
            read_secret(self.clickhouse_password_file)
        return self

    @property
    def clickhouse_dsn(self) -> str:
        """The DSN to connect with, the data dir's chdb when none is set."""
        if self.clickhouse_password_file is not None:
            return with_password(self.clickhouse, read_secret(self.clickhouse_password_file))
        return self.clickhouse or f"chdb://{self.chdb_dir.resolve()}"

    @property
    def is_local_clickhouse(self) -> bool:
        """chdb is in-process and single-owner: readers must go through the owning worker."""
        return self.clickhouse_dsn.startswith("chdb:")


def config_file() -> Path | None:
    """The TOML settings file named by BORDERWATCH_CONFIG; one that cannot be read stops the start."""
    import os
    import tomllib

    from schemas.errors import ConfigFileError

    named = os.environ.get(CONFIG_VARIABLE)
    if not named:
        return None
    path = Path(named)
    try:
        tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigFileError(f"cannot read the settings file {named!r}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"the settings file {named!r} is not TOML: {error}") from None
    return path


def with_password(dsn: str, password: str) -> str:
    """The DSN with `password` in place of its own (quoted, so any character is safe)."""
    parts = urlsplit(dsn)
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0] or "default"  # as written: already quoted where it must be
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))

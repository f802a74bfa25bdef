"""How every Kafka client of borderwatch reaches the brokers: the servers, TLS and SASL.

`KafkaSecurity` is the setting (BORDERWATCH_KAFKA_SECURITY__<FIELD>); `connect`
reads its files once and gives the `KafkaConnection` that the worker, `replay`,
`ingest-ais`, the topic set-up and the deliverer's Kafka channel all build
their clients from, so no client can be left on plaintext by mistake.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.errors import KafkaAuthError, KafkaConfigError
from streams.config.secret_files import read_secret

if TYPE_CHECKING:  # Faust is imported where its credentials are built: the CLI reads settings without it
    import faust


class SecurityProtocol(StrEnum):
    """Kafka's `security.protocol`."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class KafkaSecurity(BaseModel):
    """TLS and SASL of the Kafka clients; every secret comes from a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT, description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    ca_file: Path | None = Field(
        None, description="PEM bundle the brokers' certificates are checked against; none: the system's"
    )
    cert_file: Path | None = Field(None, description="client certificate chain (PEM), for brokers that ask")
    key_file: Path | None = Field(None, description="the client certificate's private key (PEM)")
    key_password_file: Path | None = Field(None, description="a file holding the private key's passphrase")
    sasl_mechanism: SaslMechanism = Field(
        SaslMechanism.SCRAM_SHA_512, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    sasl_username: str | None = Field(None, min_length=1, max_length=256, description="the SASL user")
    sasl_password_file: Path | None = Field(None, description="a file holding the SASL password")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        tls_files = (self.ca_file, self.cert_file, self.key_file, self.key_password_file)
        if not self.protocol.tls and any(tls_files):
            raise ValueError(f"TLS files are set but the protocol is {self.protocol}: use SSL or SASL_SSL")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.key_password_file is not None and self.key_file is None:
            raise ValueError("key_password_file needs key_file")
        sasl_fields = (self.sasl_username, self.sasl_password_file)
        if self.protocol.sasl and not all(sasl_fields):
            raise ValueError(f"{self.protocol} needs sasl_username and sasl_password_file")
        if not self.protocol.sasl and any(sasl_fields):
            raise ValueError(f"SASL credentials are set but the protocol is {self.protocol}")
        if self.protocol is SecurityProtocol.SASL_PLAINTEXT and self.sasl_mechanism is SaslMechanism.PLAIN:
            raise ValueError("SASL PLAIN without TLS sends the password in clear: use SASL_SSL or SCRAM")
        return self

    def connect(self, bootstrap: str) -> KafkaConnection:
        """The connection to `bootstrap`, files read; raises KafkaConfigError if one cannot serve."""
        tls = None
        try:
            if self.protocol.tls:
                tls = client_context(self.ca_file, self.cert_file, self.key_file, self.key_password_file)
            password = read_secret(self.sasl_password_file) if self.sasl_password_file else None
        except ValueError as error:
            raise KafkaConfigError(f"Kafka security: {error}") from None
        mechanism = self.sasl_mechanism if self.protocol.sasl else None
        return KafkaConnection(bootstrap, self.protocol, tls, mechanism, self.sasl_username, password)
def client_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None, key_password_file: Path | None
) -> ssl.SSLContext:
    """A TLS client context that checks the broker's certificate and name, TLS 1.2 or newer."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file and key_file:
            password = read_secret(key_password_file) if key_password_file else None
            context.load_cert_chain(str(cert_file), str(key_file), password)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"the TLS files cannot be used: {error}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def bootstrap_servers(url: str) -> str:
    """'kafka://h1:9092;kafka://h2:9092' or 'h1:9092,h2:9092' to aiokafka's 'h1:9092,h2:9092'."""
    hosts = [part.strip().removeprefix("kafka://") for part in url.replace(";", ",").split(",")]
    return ",".join(host for host in hosts if host)


@dataclass(frozen=True)
class KafkaConnection:
    """The brokers and how to reach them, secrets read; its repr never shows the password."""

    bootstrap: str
    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    tls: ssl.SSLContext | None = None
    mechanism: SaslMechanism | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    session_timeout_s: float = 10.0  # how long a silent group member keeps its partitions

    def group_kwargs(self) -> dict[str, Any]:
        """A consumer-group member's timings: heartbeats well within the session, a short rebalance."""
        session_ms = int(self.session_timeout_s * 1000)
        return {
            "session_timeout_ms": session_ms,
            "heartbeat_interval_ms": min(1_000, session_ms // 4),
            "rebalance_timeout_ms": 4_000,
        }

    def client_kwargs(self) -> dict[str, Any]:
        """The arguments every aiokafka producer, consumer and admin client is made with."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers(self.bootstrap),
            "security_protocol": self.protocol.value,
        }
        if self.tls is not None:
            kwargs["ssl_context"] = self.tls
        if self.mechanism is not None:
            kwargs |= {
                "sasl_mechanism": self.mechanism.value,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return kwargs

    def faust_group_settings(self) -> dict[str, float]:
        """The same timings as Faust's settings, in seconds."""
        timing = self.group_kwargs()
        return {
            "broker_session_timeout": timing["session_timeout_ms"] / 1000,
            "broker_heartbeat_interval": timing["heartbeat_interval_ms"] / 1000,
            "broker_rebalance_timeout": timing["rebalance_timeout_ms"] / 1000,
        }

    @property
    def faust_broker(self) -> str:
        """The brokers as Faust's `broker` setting."""
        return ";".join(f"kafka://{host}" for host in bootstrap_servers(self.bootstrap).split(","))

    def faust_credentials(self) -> faust.SASLCredentials | faust.SSLCredentials | None:
        """Faust's `broker_credentials` for the same protocol (Faust passes them on to aiokafka)."""
        import faust

        if self.mechanism is not None:
            return faust.SASLCredentials(
                username=self.username, password=self.password, ssl_context=self.tls,
                mechanism=self.mechanism.value,
            )  # fmt: skip
        if self.tls is not None:
            return faust.SSLCredentials(self.tls)
        return None


Brokers = str | KafkaConnection
"""Where a client connects: a bootstrap string means plaintext (the bundled broker, the tests)."""


def as_connection(brokers: Brokers) -> KafkaConnection:
    return brokers if isinstance(brokers, KafkaConnection) else KafkaConnection(brokers)


async def tls_problem(connection: KafkaConnection, timeout_s: float = 5.0) -> str | None:
    """Why a TLS handshake with the first broker fails, or None if it holds.

    aiokafka reports only "Unable to bootstrap"; the operator needs the reason
    (an unknown CA, a wrong name, a client certificate the broker wants).
    A TLS 1.3 server refuses a client certificate after the handshake, so the
    probe also waits briefly for that refusal.
    """
    if connection.tls is None:
        return None
    host, _, port = bootstrap_servers(connection.bootstrap).split(",")[0].rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port), ssl=connection.tls, server_hostname=host), timeout_s
        )
    except (OSError, TimeoutError, ValueError) as error:
        return str(error) or type(error).__name__
    try:
        await asyncio.wait_for(reader.read(1), min(timeout_s, 1.0))
    except TimeoutError:
        return None  # the broker waits for a request: the handshake holds
    except OSError as error:
        return str(error)
    finally:
        writer.close()
    return "the broker closed the connection after the TLS handshake (does it want a client certificate?)"


class _Startable(Protocol):
    async def start(self) -> None: ...


async def start_client(client: _Startable, connection: KafkaConnection) -> None:
    """Start an aiokafka client; a refusal of its SASL credentials becomes a KafkaAuthError.

    aiokafka 0.12 reads a SCRAM server's final message without looking for its
    error ("e=..."), so a wrong user or password surfaces as KeyError('v'); the
    operator must read which credentials were refused instead.
    """
    try:
        await client.start()
    except (KeyError, ValueError) as error:
        if connection.mechanism is None:
            raise
        raise KafkaAuthError(
            f"the broker at {connection.bootstrap} refused SASL {connection.mechanism} for user "
            f"{connection.username!r}: unknown user or wrong password ({type(error).__name__}: {error})"
        ) from None

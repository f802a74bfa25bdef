"""Kafka security settings: refused when inconsistent, secrets from files only and never shown, and one
set of client arguments that aiokafka and Faust (through its own translation) both receive."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from schemas.errors import KafkaAuthError, KafkaConfigError
from streams.config.settings import Settings
from streams.kafka.security import (
    KafkaConnection,
    KafkaSecurity,
    SaslMechanism,
    SecurityProtocol,
    as_connection,
    bootstrap_servers,
    start_client,
)

PASSWORD = "s3cr3t-scram-password"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "sasl-password"
    path.write_text(PASSWORD + "\n")
    return path


@pytest.fixture
def client_pair(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=centre",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ca_file": "/ca.pem"}, "TLS files are set but the protocol is PLAINTEXT"),
        (
            {
                "protocol": "SASL_PLAINTEXT",
                "sasl_username": "u",
                "sasl_password_file": "/pw",
                "ca_file": "/ca.pem",
            },
            "TLS files are set",
        ),
        ({"protocol": "SSL", "cert_file": "/c.pem"}, "cert_file and key_file go together"),
        ({"protocol": "SSL", "key_file": "/k.pem"}, "cert_file and key_file go together"),
        ({"protocol": "SASL_SSL", "sasl_username": "u"}, "needs sasl_username and sasl_password_file"),
        ({"protocol": "SASL_SSL", "sasl_password_file": "/pw"}, "needs sasl_username"),
        ({"protocol": "SSL", "sasl_username": "u"}, "SASL credentials are set but the protocol is SSL"),
        (
            {
                "protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "u",
                "sasl_password_file": "/pw",
            },
            "sends the password in clear",
        ),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        ({"protocol": "TLS"}, "protocol"),
        ({"sasl_password": "inline"}, "Extra inputs are not permitted"),  # a secret only from a file
    ],
)
def test_inconsistent_security_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity.model_validate(fields)


def test_the_bundled_broker_takes_no_tls_setting() -> None:
    with pytest.raises(ValueError, match="speaks plaintext only"):
        Settings(kafka_security=KafkaSecurity(protocol=SecurityProtocol.SSL))
    assert Settings(kafka="kafka://k1:9093", kafka_security=KafkaSecurity(protocol=SecurityProtocol.SSL))


def test_settings_read_the_security_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, password_file: Path
) -> None:
    for name, value in {
        "KAFKA": "kafka://k1:9093;kafka://k2:9093", "KAFKA_SECURITY__PROTOCOL": "SASL_SSL",
        "KAFKA_SECURITY__SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SECURITY__SASL_USERNAME": "centre-es",
        "KAFKA_SECURITY__SASL_PASSWORD_FILE": str(password_file),
    }.items():  # fmt: skip
        monkeypatch.setenv(f"BORDERWATCH_{name}", value)
    settings = Settings()
    connection = settings.kafka_security.connect(settings.kafka)
    assert connection.mechanism is SaslMechanism.SCRAM_SHA_256 and connection.password == PASSWORD
    assert connection.tls is not None and connection.tls.verify_mode is ssl.CERT_REQUIRED
    assert connection.tls.check_hostname
    assert PASSWORD not in repr(settings) and PASSWORD not in repr(connection)


def test_client_arguments_for_each_protocol(password_file: Path, client_pair: tuple[Path, Path]) -> None:
    cert, key = client_pair
    plain = KafkaSecurity().connect("kafka://k1:9092;kafka://k2:9092").client_kwargs()
    assert plain == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}

    mtls = KafkaSecurity(protocol=SecurityProtocol.SSL, cert_file=cert, key_file=key).connect("k1:9093")
    kwargs = mtls.client_kwargs()
    assert kwargs["security_protocol"] == "SSL" and kwargs["ssl_context"] is mtls.tls
    assert "sasl_mechanism" not in kwargs

    scram = KafkaSecurity(
        protocol=SecurityProtocol.SASL_PLAINTEXT, sasl_username="centre-es", sasl_password_file=password_file
    ).connect("k1:9094")
    assert scram.client_kwargs() == {
        "bootstrap_servers": "k1:9094", "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "centre-es",
        "sasl_plain_password": PASSWORD,
    }  # fmt: skip


@pytest.mark.parametrize("protocol", list(SecurityProtocol))
def test_faust_receives_the_same_security_as_every_other_client(
    protocol: SecurityProtocol, password_file: Path
) -> None:
    sasl = {"sasl_username": "centre-es", "sasl_password_file": password_file} if protocol.sasl else {}
    connection = KafkaSecurity(protocol=protocol, **sasl).connect("kafka://k1:9093")  # type: ignore[arg-type]
    ours = {k: v for k, v in connection.client_kwargs().items() if k != "bootstrap_servers"}
    faust_side = dict(credentials_to_aiokafka_auth(connection.faust_credentials()))
    assert {k: v for k, v in faust_side.items() if v is not None} == ours
    assert connection.faust_broker == "kafka://k1:9093"


def test_aiokafka_takes_the_arguments(password_file: Path) -> None:
    connection = KafkaSecurity(
        protocol=SecurityProtocol.SASL_SSL, sasl_mechanism=SaslMechanism.SCRAM_SHA_512,
        sasl_username="centre-es", sasl_password_file=password_file,
    ).connect("k1:9093")  # fmt: skip

    async def built() -> tuple[str, str]:
        producer = AIOKafkaProducer(**connection.client_kwargs())
        try:
            return producer.client._security_protocol, producer.client._sasl_mechanism
        finally:
            await producer.stop()

    assert asyncio.run(built()) == ("SASL_SSL", "SCRAM-SHA-512")


def test_files_that_cannot_serve_are_refused_with_the_reason(tmp_path: Path, client_pair: Path) -> None:
    cert, key = client_pair  # type: ignore[misc]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (KafkaSecurity(protocol=SecurityProtocol.SSL, ca_file=tmp_path / "missing.pem"), "TLS files"),
        (KafkaSecurity(protocol=SecurityProtocol.SSL, ca_file=garbage), "TLS files"),
        (KafkaSecurity(protocol=SecurityProtocol.SSL, cert_file=key, key_file=cert), "TLS files"),
        (
            KafkaSecurity(
                protocol=SecurityProtocol.SASL_SSL, sasl_username="u", sasl_password_file=tmp_path / "none"
            ),
            "cannot read the secret file",
        ),
    ]
    for security, message in cases:
        with pytest.raises(KafkaConfigError, match=message):
            security.connect("k1:9093")


def test_bootstrap_forms() -> None:
    assert bootstrap_servers("kafka://a:1; kafka://b:2") == "a:1,b:2"
    assert bootstrap_servers("a:1,b:2,") == "a:1,b:2"
    assert as_connection("a:1") == KafkaConnection("a:1")
    connection = KafkaConnection("a:1", SecurityProtocol.SSL)
    assert as_connection(connection) is connection


class _Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def start(self) -> None:
        raise self.error


def test_a_refused_scram_exchange_names_the_user_and_never_the_password() -> None:
    scram = KafkaConnection("k1:9094", SecurityProtocol.SASL_SSL, None, SaslMechanism.SCRAM_SHA_256,
                            "centre-es", PASSWORD)  # fmt: skip
    with pytest.raises(KafkaAuthError, match="refused SASL SCRAM-SHA-256 for user 'centre-es'") as refused:
        asyncio.run(start_client(_Refusing(KeyError("v")), scram))
    assert PASSWORD not in str(refused.value)
    # Without SASL the same error is not about credentials: it goes on as it was.
    with pytest.raises(KeyError):
        asyncio.run(start_client(_Refusing(KeyError("v")), KafkaConnection("k1:9092")))


def test_group_timings_follow_the_session_timeout_and_faust_gets_the_same_in_seconds() -> None:
    default = KafkaConnection("kafka://b:9092").group_kwargs()
    assert default == {
        "session_timeout_ms": 10_000, "heartbeat_interval_ms": 1_000, "rebalance_timeout_ms": 4_000,
    }  # fmt: skip
    short = KafkaConnection("kafka://b:9092", session_timeout_s=3)
    assert short.group_kwargs()["heartbeat_interval_ms"] == 750  # a quarter: three beats may be missed
    assert short.faust_group_settings() == {
        "broker_session_timeout": 3.0, "broker_heartbeat_interval": 0.75, "broker_rebalance_timeout": 4.0,
    }  # fmt: skip


def test_the_session_timeout_setting_refuses_values_a_busy_worker_could_not_keep() -> None:
    assert Settings.model_fields["kafka_session_timeout_s"].default == 10.0  # the tests run with 4 s
    with pytest.raises(ValidationError):
        Settings(kafka_session_timeout_s=1)

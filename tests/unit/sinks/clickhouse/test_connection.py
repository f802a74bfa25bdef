"""The ClickHouse connection: TLS checked against the CA file, secrets kept out of the DSN, clear passwords
warned of."""

from __future__ import annotations

import base64
import http.server
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from schemas.errors import SinkUnavailableError
from streams.config.settings import Settings
from streams.sinks.clickhouse.connection import connect, password_in_clear, shared_server
from tests.helpers.pki import TestCA


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Stands where a ClickHouse server would, over TLS: it records each request and refuses it."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.seen.append(dict(self.headers))
        body = b"Code: 516. DB::Exception: recorded, not served. (AUTHENTICATION_FAILED)\n"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.do_POST()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def https_recorder(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS endpoint whose certificate a test CA signed: (port, that CA's PEM)."""
    ca = TestCA(tmp_path / "ca")
    server_cert = ca.issue("clickhouse.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(server_cert.cert), str(server_cert.key))
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ca.cert
    server.shutdown()
    server.server_close()


def test_over_https_the_server_certificate_is_checked_and_the_password_comes_from_its_file(
    https_recorder: tuple[int, Path], tmp_path: Path
) -> None:
    port, ca = https_recorder
    secret = tmp_path / "writer_password"
    secret.write_text("pw-from-file-7c1d\n")
    settings = Settings(
        clickhouse=f"https://borderwatch_writer@127.0.0.1:{port}/borderwatch",
        clickhouse_password_file=secret, clickhouse_ca_file=ca,
    )  # fmt: skip
    # The test CA: the handshake holds, and the request carries the password from the file.
    with pytest.raises(SinkUnavailableError, match="AUTHENTICATION_FAILED") as refused:
        connect(settings.clickhouse_dsn, settings.clickhouse_ca_file)
    assert "pw-from-file-7c1d" not in str(refused.value)
    assert _Recorder.seen, "the client never reached the server"
    auth = _Recorder.seen[0].get("Authorization", "")
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "borderwatch_writer:pw-from-file-7c1d"

    # The system's CAs do not know the test CA: refused before any request, so no password is sent.
    _Recorder.seen.clear()
    with pytest.raises(SinkUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(settings.clickhouse_dsn)
    stranger = TestCA(tmp_path / "other", "another CA").cert
    with pytest.raises(SinkUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(settings.clickhouse_dsn, stranger)
    assert _Recorder.seen == []
    # The DSN's query would win over the check and the CA file: refused before any connection.
    for query in ("?verify=false", f"?ca_cert={stranger}", "?interface=http", "?Secure=false"):
        with pytest.raises(SinkUnavailableError, match="may not set"):
            connect(settings.clickhouse_dsn + query, ca)
    for query in ("?password=hunter2", "?compress=1&ACCESS_TOKEN=t0k"):
        with pytest.raises(SinkUnavailableError, match="may not carry a secret") as refused:
            connect(settings.clickhouse_dsn + query, ca)
        assert "hunter2" not in str(refused.value) and "t0k" not in str(refused.value)
    assert _Recorder.seen == []


@pytest.mark.parametrize(
    ("dsn", "warned"),
    [("http://u:pw@ch.example:8123/bw", True), ("http://u:pw@10.0.0.7:8123/bw", True),
     ("https://u:pw@ch.example:8443/bw", False), ("http://u@ch.example:8123/bw", False),
     ("http://u:pw@localhost:8123/bw", False), ("http://u:pw@127.0.0.1:8123/bw", False),
     ("http://u:pw@[::1]:8123/bw", False), ("chdb:///var/lib/bw", False)],
)  # fmt: skip
def test_a_password_over_plain_http_to_another_machine_is_warned_of(dsn: str, warned: bool) -> None:
    assert password_in_clear(dsn) is warned


@pytest.mark.parametrize(
    ("dsn", "message"),
    [("http://u@ch:8123/borderwatch", "needs an https://"), ("", "needs an https://")],
)
def test_a_ca_file_needs_https(tmp_path: Path, dsn: str, message: str) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValueError, match=message):
        Settings(clickhouse=dsn, clickhouse_ca_file=ca)
    with pytest.raises(ValueError, match="is not a file"):
        Settings(clickhouse="https://u@ch:8443/borderwatch", clickhouse_ca_file=tmp_path / "missing.pem")


def test_chdb_is_not_a_shared_server(engine_dir: Path) -> None:
    """chdb is in-process with one owner: no migration lock, no waiting for other workers' views."""
    assert shared_server(connect(f"chdb://{engine_dir}")) is False


INSERT_WITHOUT_PANDAS = """
import sys
from streams.sinks.clickhouse.connection import connect
client = connect("chdb://" + sys.argv[1])
client.command("CREATE TABLE t (n UInt32) ENGINE = Memory")
client.insert("t", [[1], [2]], column_names=["n"])
client.insert("t", [[3, 4]], column_names=["n"], column_oriented=True)
assert client.query("SELECT sum(n) FROM t").result_rows == [(10,)]
print("pandas" in sys.modules)
"""


def test_inserting_and_reading_rows_never_imports_pandas(tmp_path: Path) -> None:
    """A third of a second of CPU per worker start, for a library borderwatch does not use."""
    done = subprocess.run(
        [sys.executable, "-c", INSERT_WITHOUT_PANDAS, str(tmp_path / "chdb")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False"

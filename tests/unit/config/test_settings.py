"""Settings from the environment: the ClickHouse password from a file (a Docker or systemd secret)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from streams.config.settings import Settings
from streams.sinks.clickhouse.connection import redact_dsn


def test_a_clickhouse_password_file_takes_the_place_of_the_dsns_password_and_never_shows(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "writer_password"
    secret.write_text("p@ss:w/rd#%1\n")
    settings = Settings(clickhouse="https://borderwatch_writer:old@ch.example:8443/borderwatch",
                        clickhouse_password_file=secret)  # fmt: skip
    parts = urlsplit(settings.clickhouse_dsn)  # as clickhouse-connect reads a DSN: split, then unquoted
    assert (unquote(parts.username or ""), unquote(parts.password or "")) == (
        "borderwatch_writer",
        "p@ss:w/rd#%1",
    )
    assert (parts.hostname, parts.port, parts.path) == ("ch.example", 8443, "/borderwatch")
    assert "p%40ss" not in redact_dsn(settings.clickhouse_dsn) and "***" in redact_dsn(
        settings.clickhouse_dsn
    )
    assert "p@ss" not in repr(settings) and "old" not in redact_dsn(settings.clickhouse_dsn)


@pytest.mark.parametrize(
    ("dsn", "content", "message"),
    [
        ("", b"pw", r"needs an http\(s\):// ClickHouse DSN"),
        ("http://u@ch:8123", b"", "must hold one line"),
        ("http://u@ch:8123", b"one\ntwo\n", "must hold one line"),
        ("http://u@ch:8123", b"x" * 5000, "must hold one line"),
        ("http://u@ch:8123", None, "cannot read the secret file"),
    ],
)
def test_a_password_file_that_cannot_serve_is_refused_at_start(
    tmp_path: Path, dsn: str, content: bytes | None, message: str
) -> None:
    secret = tmp_path / "pw"
    if content is not None:
        secret.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        Settings(clickhouse=dsn, clickhouse_password_file=secret)

"""ClickHouse connection: a client for a chdb:// or http(s):// DSN, its checks, TLS and redaction."""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver import options as driver_options
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.httpclient import HttpClient

from schemas.errors import SinkUnavailableError

log = logging.getLogger(__name__)

# borderwatch inserts lists and reads rows, never DataFrames. Left unset, clickhouse-connect imports
# pandas on the first insert only to ask whether the data is one: a third of a second of CPU in every
# worker start and CLI call that writes.
driver_options.pd = None
driver_options.pd_time_test = None

TLS_OPTIONS = frozenset({"interface", "secure", "verify", "ca_cert", "client_cert", "client_cert_key"})


def connect(dsn: str, ca_file: Path | None = None) -> Client:
    """A clickhouse-connect client for a chdb:// or http(s):// DSN; over https the server's certificate
    and name are checked, against `ca_file` (a PEM bundle) when given, else the system's CAs."""
    scheme = urlsplit(dsn).scheme
    given = {name.lower() for name in parse_qs(urlsplit(dsn).query)}
    if given & {"password", "access_token"}:
        raise SinkUnavailableError(
            "the ClickHouse DSN may not carry a secret in its query: put the password in "
            "BORDERWATCH_CLICKHOUSE_PASSWORD_FILE"
        )
    overrides = sorted(TLS_OPTIONS & given)
    if overrides:  # clickhouse-connect lets the DSN's query win over the arguments below
        raise SinkUnavailableError(
            f"the ClickHouse DSN may not set {', '.join(overrides)}: TLS follows its scheme, and the CA "
            "file is BORDERWATCH_CLICKHOUSE_CA_FILE"
        )
    if password_in_clear(dsn):
        log.warning("the ClickHouse password goes in clear over http:// to %s: use https://", redact_dsn(dsn))
    try:
        if scheme not in ("http", "https"):
            return clickhouse_connect.get_client(dsn=dsn)
        # clickhouse-connect 1.12 takes TLS from the port (443, 8443), not from the DSN's scheme:
        # https:// on any other port would go out as plain http, password and all.
        return clickhouse_connect.get_client(
            dsn=dsn, interface=scheme, verify=True, ca_cert=str(ca_file) if ca_file else None
        )
    except Exception as error:
        raise SinkUnavailableError(
            f"cannot connect to ClickHouse at {redact_dsn(dsn)!r}: {error}".replace(dsn, redact_dsn(dsn))
        ) from error


def password_in_clear(dsn: str) -> bool:
    """Whether the DSN sends a password over plain http:// to another machine."""
    parts = urlsplit(dsn)
    if parts.scheme != "http" or not parts.password:
        return False
    try:
        return not ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.hostname != "localhost"


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ***, for messages and logs."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = re.sub(r"(?i)(^|&)(password|access_token)=[^&]*", r"\1\2=***", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return dsn  # as given: urlunsplit would drop chdb:///'s empty host
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def shared_server(client: Client) -> bool:
    """Whether `client` talks to a server other workers write to; chdb is in-process with one owner."""
    return isinstance(client, HttpClient)

"""The worker's API over TLS with named tokens: each role reaches only its endpoints, every request is
audited without its token, and a bind beyond loopback without TLS and tokens is refused."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streams.web.tokens import hash_token
from streams.worker.datadir import AUDIT_FILE

ANALYST, OPERATOR = "tok-analyst-maria-0123456789", "tok-operator-jon-0123456789"


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for bw.test and 127.0.0.1."""
    cert, key = directory / "api.pem", directory / "api.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bw.test",
         "-addext", "subjectAltName=DNS:bw.test,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def call(
    worker: Any, path: str, token: str | None, body: dict[str, Any] | None, trust: ssl.SSLContext
) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = orjson.dumps(body) if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(worker.base_url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=trust) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_over_tls_each_role_reaches_its_endpoints_and_every_request_is_audited(
    start_worker: Any, tmp_path: Path
) -> None:
    cert, key = certificate(tmp_path)
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[token]]\nname = "maria"\nrole = "analyst"\nsha256 = "{hash_token(ANALYST)}"\n\n'
        f'[[token]]\nname = "jon"\nrole = "operator"\nsha256 = "{hash_token(OPERATOR)}"\n'
    )
    worker = start_worker(web_tls_cert_file=str(cert), web_tls_key_file=str(key), web_tokens_file=str(tokens),
                          web_hosts='["bw.test"]')  # fmt: skip
    assert worker.base_url.startswith("https://")
    trust = ssl.create_default_context(cafile=str(cert))
    sql, erase = {"sql": "SELECT 1"}, {"authority": "ES-GC", "report_id": "r-1", "tombstone": True}

    assert call(worker, "/counts", ANALYST, None, trust) == 200
    assert call(worker, "/sql", ANALYST, sql, trust) == 200
    assert call(worker, "/status", ANALYST, None, trust) == 403
    assert call(worker, "/erase", ANALYST, erase, trust) == 403
    assert call(worker, "/status", OPERATOR, None, trust) == 200
    assert call(worker, "/erase", OPERATOR, erase, trust) == 200
    assert call(worker, "/sql", OPERATOR, sql, trust) == 403
    assert call(worker, "/counts", None, None, trust) == 401
    assert call(worker, "/counts", ANALYST + "x", None, trust) == 401
    plain = urllib.request.Request(worker.base_url.replace("https://", "http://") + "/health")
    try:
        urllib.request.urlopen(plain, timeout=10)
        raise AssertionError("the API answered without TLS")
    except (urllib.error.URLError, ConnectionError):
        pass

    # The CLI on this machine uses the data dir's token, pinned to the worker's certificate.
    worker.wait_until(lambda s: all(state == "ok" for state in s["health"].values()))
    env = {**os.environ, "BORDERWATCH_DATA_DIR": str(tmp_path / "data")}
    for command in (["counts", "--format", "json"], ["health"], ["reload"]):
        done = subprocess.run([sys.executable, "-m", "streams.cli", *command], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)

    # A new analyst in, maria out, without a restart; only an operator may reload, and a broken file
    # keeps the tokens in use.
    ines = "tok-analyst-ines-0123456789"
    tokens.write_text(
        f'[[token]]\nname = "ines"\nrole = "analyst"\nsha256 = "{hash_token(ines)}"\n\n'
        f'[[token]]\nname = "jon"\nrole = "operator"\nsha256 = "{hash_token(OPERATOR)}"\n'
    )
    assert call(worker, "/reload", ANALYST, {}, trust) == 403
    assert call(worker, "/counts", ines, None, trust) == 401  # not before the reload
    assert call(worker, "/reload", OPERATOR, {}, trust) == 200
    assert call(worker, "/counts", ines, None, trust) == 200
    assert call(worker, "/counts", ANALYST, None, trust) == 401
    tokens.write_text('[[token]]\nname = "ines"\nrole = "root"\nsha256 = "00"\n')
    assert call(worker, "/reload", OPERATOR, {}, trust) == 400
    assert call(worker, "/counts", ines, None, trust) == 200
    assert call(worker, "/reload", OPERATOR, {"tokens": "all"}, trust) == 400

    lines = (tmp_path / "data" / AUDIT_FILE).read_text().splitlines()
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    seen = {(e["caller"], e["path"], e["status"]) for e in entries}
    wanted = {("maria", "/sql", 200), ("maria", "/erase", 403), ("jon", "/erase", 200),
              ("anonymous", "/counts", 401), ("local", "/counts", 200), ("jon", "/reload", 200),
              ("maria", "/reload", 403), ("ines", "/counts", 200)}  # fmt: skip
    assert wanted <= seen, seen
    assert any(e["caller"] == "maria" and e["body"] == '{"sql":"SELECT 1"}' for e in entries)
    text = "\n".join(lines)
    assert ANALYST not in text and OPERATOR not in text and ines not in text and "Bearer" not in text


def test_a_bind_beyond_loopback_without_tls_and_named_tokens_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "BORDERWATCH_DATA_DIR": str(tmp_path / "data"), "BORDERWATCH_WEB_BIND": "0.0.0.0"}
    command = [sys.executable, "-m", "streams.cli", "worker"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "web_bind 0.0.0.0 is not loopback" in done.stderr + done.stdout

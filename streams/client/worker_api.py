"""Worker control: start `borderwatch worker` as a process, talk to its HTTP endpoints, stop it.

With chdb the worker is the only process that may open ClickHouse, so the
demo, the CLI, the tests and the benchmarks all reach it through here.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from schemas.codec import decode_obj, encode_obj
from schemas.errors import WorkerNotRunningError
from streams.web.tls import pinned_client_context
from streams.worker.datadir import read_token, running_worker_process, worker_tls_cert


def start_worker_process(log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """`borderwatch worker` as a child in its own session; settings are BORDERWATCH_<NAME> values.

    Its own session: a Ctrl-C meant for the parent reaches only the parent,
    which then stops the worker before anything it depends on.
    """
    env = {**os.environ, **{f"BORDERWATCH_{name.upper()}": value for name, value in settings.items()}}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env,
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


class WorkerApi:
    """The HTTP API of one running worker, with the bearer token from its data dir."""

    def __init__(self, base_url: str, token: str, tls: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._tls = tls

    @classmethod
    def of(cls, base_url: str, data_dir: Path, tls: ssl.SSLContext | None = None) -> WorkerApi | None:
        """The API at base_url, once the worker has written its token; None before."""
        token = read_token(data_dir)
        return cls(base_url, token, tls) if token else None

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET an endpoint's JSON; None while the worker does not answer yet."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        request = urllib.request.Request(self.base_url + path + query, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=self._tls) as response:
                return decode_obj(response.read())
        except urllib.error.HTTPError as error:
            return _refusal(error)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def get_text(self, path: str) -> str | None:
        """GET an endpoint's text (/metrics); None when the worker does not answer or refuses."""
        request = urllib.request.Request(self.base_url + path, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=self._tls) as response:
                return bytes(response.read()).decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def sql(self, sql: str) -> dict[str, Any]:
        """Run a read-only query in the worker: {"columns", "rows"}, or {"error"} when refused."""
        return self.post("/sql", {"sql": sql})

    def post(self, path: str, body: dict[str, Any], timeout_s: float = 60) -> dict[str, Any]:
        """POST a JSON body to an endpoint: its JSON answer, or {"error", "status"} when refused."""
        request = urllib.request.Request(
            self.base_url + path, data=encode_obj(body), method="POST",
            headers={**self._headers, "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=timeout_s, context=self._tls) as response:
                return dict(decode_obj(response.read()))
        except urllib.error.HTTPError as error:
            return _refusal(error)


def local_api(port: int, data_dir: Path, cert: Path | None) -> WorkerApi | None:
    """The API of the worker on this machine at `port`: over TLS, trusting exactly `cert`, if it has one."""
    if cert is None:
        return WorkerApi.of(f"http://127.0.0.1:{port}", data_dir)
    return WorkerApi.of(f"https://127.0.0.1:{port}", data_dir, pinned_client_context(cert))


def _refusal(error: urllib.error.HTTPError) -> dict[str, Any]:
    """The worker's {"error": ...} answer, with the HTTP status."""
    body = error.read()
    try:
        answer = decode_obj(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "error" in answer:
        return {"error": answer["error"], "status": error.code}
    return {"error": body.decode(errors="replace"), "status": error.code}


def wait_for_worker(
    process: subprocess.Popen[bytes],
    base_url: str,
    data_dir: Path,
    log: Path,
    timeout_s: float = 120,
    tls: ssl.SSLContext | None = None,
) -> WorkerApi:
    """Block until the worker answers /status; a dead worker raises with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while True:
        api = WorkerApi.of(base_url, data_dir, tls)
        status = api.get("/status") if api else None
        if api is not None and status is not None and "error" not in status:
            return api
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise WorkerNotRunningError(f"the worker did not start; end of {log}:\n{tail}")
        time.sleep(0.3)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def running_worker(data_dir: Path) -> WorkerApi | None:
    """The API of the worker that owns this data dir, if one is running."""
    found = running_worker_process(data_dir)
    if found is None:
        return None
    return local_api(found[1], data_dir, worker_tls_cert(data_dir))

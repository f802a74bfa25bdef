"""Local state: the data dir's files (API token, running worker), private to the user who runs borderwatch."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

TOKEN_FILE = "api-token"
STATE_FILE = "worker.json"
AUDIT_FILE = "audit.log"
PRIVATE_UMASK = 0o077  # new files 0600, new dirs 0700


def secure_data_dir(data_dir: Path) -> None:
    """Create the data dir 0700, tighten what is already in it, and keep new files private.

    The umask is process-wide on purpose: chdb, Faust and the bundled broker
    (a child process) all create files under the data dir.
    """
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _chmod(Path(root) / name, 0o700)
        for name in files:
            _chmod(Path(root) / name, 0o600)


def ensure_token(data_dir: Path) -> str:
    """The worker's API token, made on first start (random, 256 bits) in a 0600 file."""
    path = data_dir / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = read_token(data_dir)
        if token:
            return token
        path.unlink()
        return ensure_token(data_dir)
    with os.fdopen(fd, "w") as out:
        token = secrets.token_urlsafe(32)
        out.write(token + "\n")
    return token


def read_token(data_dir: Path) -> str | None:
    """The API token of this data dir's worker, or None before its first start."""
    try:
        return (data_dir / TOKEN_FILE).read_text().strip() or None
    except (FileNotFoundError, PermissionError):
        return None


def running_worker_process(data_dir: Path) -> tuple[int, int] | None:
    """(pid, HTTP port) of the worker that owns this data dir, if its process is alive."""
    return recorded_process(data_dir / STATE_FILE)


def worker_tls_cert(data_dir: Path) -> Path | None:
    """The TLS certificate the worker of this data dir serves its API with, if it uses TLS."""
    try:
        cert = json.loads((data_dir / STATE_FILE).read_bytes()).get("tls_cert")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(cert) if isinstance(cert, str) and cert else None


def recorded_process(state_file: Path) -> tuple[int, int] | None:
    """(pid, port) from a process's state file (`{"pid": …, "port": …}`), if that process is alive.

    A file that no borderwatch process wrote (garbage, another shape) is no process.
    """
    try:
        state = json.loads(state_file.read_bytes())
        pid, port = int(state["pid"]), int(state["port"])
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid, port


def holder_of(path: Path) -> int | None:
    """The pid of a process that has `path` open (chdb's lock file), if one can be seen."""
    import psutil

    target = str(path.resolve())
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if any(f.path == target for f in process.open_files()):
                return int(process.pid)
    return None


def _chmod(path: Path, mode: int) -> None:
    if path.is_symlink():
        return
    with contextlib.suppress(OSError):  # a file that vanished meanwhile (chdb renames parts as it merges)
        path.chmod(mode)

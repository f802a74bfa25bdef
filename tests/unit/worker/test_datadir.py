"""Local state: the data dir and its token file are private to the user who runs borderwatch."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.worker.datadir import (
    STATE_FILE,
    TOKEN_FILE,
    ensure_token,
    read_token,
    running_worker_process,
    secure_data_dir,
)


@pytest.fixture(autouse=True)
def restore_umask() -> Iterator[None]:
    """secure_data_dir sets the process umask on purpose; give the rest of the run its own back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secure_data_dir_makes_a_new_dir_0700(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "data"
    secure_data_dir(data_dir)
    assert data_dir.is_dir()
    assert mode(data_dir) == 0o700


def test_secure_data_dir_tightens_what_is_already_there(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "chdb" / "store").mkdir(parents=True)
    data_dir.chmod(0o755)
    (data_dir / "chdb").chmod(0o755)
    loose = data_dir / "worker.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    deep = data_dir / "chdb" / "store" / "part.bin"
    deep.write_bytes(b"x")
    deep.chmod(0o666)

    secure_data_dir(data_dir)

    assert mode(data_dir) == 0o700
    assert mode(data_dir / "chdb") == 0o700
    assert mode(data_dir / "chdb" / "store") == 0o700
    assert mode(loose) == 0o600
    assert mode(deep) == 0o600


def test_files_made_after_securing_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secure_data_dir(data_dir)
    later = data_dir / "later.log"
    later.write_text("x")
    (data_dir / "sub").mkdir()
    assert mode(later) == 0o600
    assert mode(data_dir / "sub") == 0o700


def test_secure_data_dir_leaves_a_symlink_target_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "link").symlink_to(outside)
    secure_data_dir(data_dir)
    assert mode(outside) == 0o644


def test_read_token_is_none_before_the_first_start(tmp_path: Path) -> None:
    assert read_token(tmp_path) is None
    assert read_token(tmp_path / "missing") is None


def test_ensure_token_makes_a_0600_file_and_keeps_its_token(tmp_path: Path) -> None:
    os.umask(0o000)  # the file is 0600 even without secure_data_dir's umask
    token = ensure_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert mode(path) == 0o600
    assert len(token) >= 43  # 256 bits, url-safe base64
    assert read_token(tmp_path) == token
    assert ensure_token(tmp_path) == token
    assert path.read_text() == token + "\n"


def test_two_data_dirs_get_different_tokens(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert ensure_token(tmp_path / "a") != ensure_token(tmp_path / "b")


def test_an_empty_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / TOKEN_FILE).write_text("\n")
    assert read_token(tmp_path) is None
    token = ensure_token(tmp_path)
    assert token
    assert read_token(tmp_path) == token
    assert mode(tmp_path / TOKEN_FILE) == 0o600


@pytest.mark.parametrize(
    "content", [b"", b"\xff garbage", b"[1, 2]", b'{"pid": "x", "port": 1}', b'{"port": 1}']
)
def test_a_state_file_that_no_worker_wrote_is_no_running_worker(tmp_path: Path, content: bytes) -> None:
    (tmp_path / STATE_FILE).write_bytes(content)
    assert running_worker_process(tmp_path) is None


def test_a_state_file_of_a_live_process_is_its_worker_and_a_dead_one_is_none(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"pid": os.getpid(), "port": 8123}))
    assert running_worker_process(tmp_path) == (os.getpid(), 8123)
    assert running_worker_process(tmp_path / "nowhere") is None

"""Secret files: every password and key borderwatch takes is read from a file, never from the environment
or a command line, so neither `ps` nor a settings dump can show it."""

from __future__ import annotations

from pathlib import Path

MAX_SECRET_BYTES = 4096


def read_secret(path: Path) -> str:
    """A secret file's text without its final line break; refuses a missing, empty or oversized file."""
    try:
        raw = path.read_bytes()[: MAX_SECRET_BYTES + 1]
    except OSError as error:
        raise ValueError(f"cannot read the secret file {str(path)!r}: {error.strerror}") from None
    secret = raw.decode("utf-8", errors="strict").removesuffix("\n").removesuffix("\r")
    if not secret or len(raw) > MAX_SECRET_BYTES or "\n" in secret:
        raise ValueError(f"the secret file {str(path)!r} must hold one line of 1 to {MAX_SECRET_BYTES} bytes")
    return secret

"""Raw HTTP requests to a worker's API, for the answers a client library would hide."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any


def request(worker: Any, path: str, headers: dict[str, str], data: bytes | None = None) -> int:
    """The HTTP status of a raw request to the worker."""
    req = urllib.request.Request(worker.base_url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code

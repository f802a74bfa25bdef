"""Worker API test helpers: POST /reports as a centre does, the status and the JSON answer back."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def post_reports(
    base_url: str, token: str, body: bytes, content_type: str = "application/x-ndjson", kind: str = ""
) -> tuple[int, Any]:
    """POST body to /reports with a centre's token: (status, the JSON answer or the text of a refusal)."""
    request = urllib.request.Request(
        base_url + "/reports" + (f"?kind={kind}" if kind else ""),
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = error.read()
        try:
            return error.code, json.loads(answer)
        except ValueError:
            return error.code, answer.decode(errors="replace")

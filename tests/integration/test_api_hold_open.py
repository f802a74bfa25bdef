"""Issue 21, point 1: connections that send half a request and then nothing cannot hold the API open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.attack import CENTRE, health, hold_open, post_reports, still_open, tokens_file

HELD = 600  # above both caps below: past them, the longest idle connections make room


def test_half_requests_are_dropped_and_the_api_keeps_answering(start_worker: Any, tmp_path: Path) -> None:
    worker = start_worker(
        web_tokens_file=tokens_file(tmp_path / "tokens.toml"),
        web_limits__header_timeout_s="3", web_limits__max_connections="400",
        web_limits__max_connections_per_address="200",
    )  # fmt: skip
    # From four loopback addresses, so the total cap is reached too.
    held = [sock for n in range(2, 6) for sock in hold_open(worker.base_url, HELD // 4, f"127.0.0.{n}")]
    try:
        # Other clients are still served meanwhile.
        assert "healthy" in health(worker.base_url)
        assert post_reports(worker.base_url, CENTRE, "held", 20)["results"][0]["result"] == "accepted"
        # Every held connection is closed by the worker: no header deadline, no close.
        assert still_open(held, timeout_s=30) == 0
        assert "healthy" in health(worker.base_url)
    finally:
        for sock in held:
            sock.close()
    worker.wait_until(lambda s: s["events"] >= 20)
    rows = worker.sql(
        "SELECT count(), uniqExact(report_id) FROM borderwatch.events WHERE report_id LIKE 'held-%'"
    )
    assert rows == [[20, 20]]

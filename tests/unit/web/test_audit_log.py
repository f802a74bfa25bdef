"""Probe: the audit log holds who asked what with ids and counts, never a report, and only for raw_days."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.web.audit_log import AuditFileHandler, line_time, lines_to_keep
from streams.web.auth import AUDIT_SUMMARY, audit, auth_middleware, local_hosts
from streams.web.tokens import ApiRole, Callers, NamedToken, hash_token

TOKEN = "s3cr3t-token-of-this-data-dir"
CENTRE = "token-of-the-es-gc-centre"
CALLERS = Callers(TOKEN, [NamedToken(name="ES-GC", role=ApiRole.CENTRE, sha256=hash_token(CENTRE))])
PORT = 6066
NOTES = "Ahmed B., born 2001, brother of the skipper"
REPORT = json.dumps({"report_id": "r-1", "authority": "ES-GC", "notes": NOTES, "persons": 3})


def day(n: int) -> str:
    return (datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(days=n)).strftime("%Y-%m-%d %H:%M:%S,000")


def test_lines_older_than_the_cutoff_go_and_a_line_with_no_time_goes_with_the_one_before() -> None:
    lines = [f"{day(0)} old\n", "continued\n", f"{day(5)} new\n", "continued too\n"]
    assert lines_to_keep(lines, datetime(2026, 11, 3, tzinfo=UTC)) == lines[2:]
    assert line_time(lines[0]) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC) and line_time("x") is None


def test_the_file_is_pruned_at_start_and_later_and_goes_on_being_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S,000")
    recent = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S,000")
    path.write_text(f'{old} {{"body": "{NOTES}"}}\n{recent} {{"status": 200}}\n')
    handler = AuditFileHandler(path, keep_days=30, every_s=3600)
    try:
        assert path.read_text() == f'{recent} {{"status": 200}}\n'  # pruned at start
        logger = logging.getLogger("test.audit.prune")
        logger.addHandler(handler)
        logger.propagate = False
        logger.warning("one")
        assert handler.prune(datetime.now(UTC) + timedelta(days=29, hours=12)) == 1  # `recent` only
        logger.warning("two")  # written to the file that replaced the old one
        lines = path.read_text().splitlines()
        assert [line.split(" ", 2)[2] for line in lines] == ["one", "two"]
        assert abs(line_time(lines[0]) - datetime.now(UTC)) < timedelta(minutes=5)  # type: ignore[operator]
    finally:
        handler.close()


def test_zero_days_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text("2001-01-01 00:00:00,000 x\n")
    handler = AuditFileHandler(path, keep_days=0)
    handler.close()
    assert path.read_text() == "2001-01-01 00:00:00,000 x\n"


def test_a_reports_request_is_audited_with_counts_and_never_its_body(tmp_path: Path) -> None:
    async def reports(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"results": [{"line": 1, "result": "accepted"}]}, status=202)

    async def summarised(request: web.Request) -> web.Response:
        await request.read()
        request[AUDIT_SUMMARY] = {"reports": 1, "accepted": 1}
        return web.json_response({}, status=202)

    async def scenario() -> None:
        app = web.Application(middlewares=[auth_middleware(CALLERS, local_hosts(PORT))])
        app.router.add_post("/reports", reports)
        app.router.add_post("/erase", summarised)
        async with TestClient(TestServer(app)) as client:
            for path, token in (("/reports", CENTRE), ("/erase", TOKEN)):
                headers = {"Host": f"127.0.0.1:{PORT}", "Authorization": f"Bearer {token}",
                           "Content-Type": "application/json"}  # fmt: skip
                assert (await client.post(path, data=REPORT, headers=headers)).status == 202

    handler = AuditFileHandler(tmp_path / "audit.log", keep_days=90)
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    try:
        asyncio.run(scenario())
    finally:
        audit.removeHandler(handler)
        handler.close()
    text = (tmp_path / "audit.log").read_text()
    assert NOTES not in text and "persons" not in text
    entries = [json.loads(line.split(" ", 2)[2]) for line in text.splitlines()]
    assert [(e["path"], e["body"], e.get("summary")) for e in entries] == [
        ("/reports", "", None),
        ("/erase", "", {"reports": 1, "accepted": 1}),
    ]

"""Acknowledging and silencing alerts through a real worker: over the API by role (an analyst is refused,
an operator is not), through the CLI, audited; a silenced alert is stored and shown as silenced but never
reaches a subscribed webhook, while another alert does; `borderwatch alerts` fits 80 columns in a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.codec import decode_obj, encode
from streams.client.worker_api import WorkerApi
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import ALERTS
from streams.web.tokens import hash_token
from tests.helpers.kafka_io import send
from tests.helpers.webhooks import SECRET, Endpoint

CLI = [sys.executable, "-m", "streams.cli"]
REASON = "40 reports in 24 h, expected 3 (99% upper bound 12); tail probability 3.5e-09"
SILENCED_ID = "surge:ES-CEUTA-LAND:1764000000"
DELIVERED_ID = "encounter:mmsi:224000101+mmsi:224000102:1764000000"


def alert(alert_id: str, kind: AlertKind, zone: str) -> Alert:
    now = datetime.now(UTC)
    end = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return Alert(
        id=alert_id, version=1, kind=kind, status=AlertStatus.NEW, impact=Impact.HIGH, confidence=0.99,
        zone_id=zone, window_start=end - timedelta(hours=6), window_end=end, event_ids=["ES-GC:1"],
        headline="h", description=REASON,
        opened_at=now, sent_at=now,
    )  # fmt: skip


def cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a pipe (stdout is not a terminal) at 80 columns."""
    env = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir), "COLUMNS": "80"}
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_ack_and_silence_by_role_and_cli_and_a_silenced_alert_is_stored_but_not_delivered(
    tmp_path: Path, broker: LocalBroker, start_worker: Any
) -> None:
    endpoint = Endpoint()
    endpoint.up()
    subscriptions = tmp_path / "subscriptions.toml"
    subscriptions.write_text(
        f'[[subscription]]\ncentre = "ES-NCC"\nwebhook = "http://127.0.0.1:{endpoint.port}/hook"\n'
        f'secret = "{SECRET}"\n'
    )
    tokens = tmp_path / "tokens.toml"
    tokens.write_text("".join(
        f'[[token]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(name + "-secret")}"\n'
        for name, role in (("ana", "analyst"), ("ops", "operator"), ("duty", "duty_officer"))
    ))  # fmt: skip
    worker = start_worker(subscriptions=str(subscriptions), web_tokens_file=str(tokens))
    data_dir = tmp_path / "data"
    analyst, operator, duty = (WorkerApi(worker.base_url, f"{n}-secret") for n in ("ana", "ops", "duty"))
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    # Silences: an analyst may not, an operator may; the CLI's silence is the one that matches.
    request = {"kind": "mass_attempt", "zone_id": "ES-MELILLA-FENCE", "until": until, "reason": "fence drill"}
    assert analyst.post("/silences", request)["status"] == 403
    assert analyst.get("/silences")["status"] == 403
    made = operator.post("/silences", request)
    assert made["created_by"] == "ops" and made["id"].startswith("s-"), made
    assert operator.post("/silences", {**request, "kind": None, "zone_id": ""})["status"] == 400
    silenced = cli(["alerts", "silence", "--kind", "surge", "--zone", "ES-CEUTA-LAND", "--until", "1h",
                    "--reason", "exercise at Ceuta"], data_dir)  # fmt: skip
    assert silenced.returncode == 0, silenced.stderr
    running = duty.get("/silences")
    assert {s["reason"] for s in running} == {"fence drill", "exercise at Ceuta"}
    assert next(s for s in running if s["kind"] == "surge")["created_by"].startswith("local:")

    send(broker, ALERTS, [encode(alert(SILENCED_ID, AlertKind.SURGE, "ES-CEUTA-LAND")),
                          encode(alert(DELIVERED_ID, AlertKind.ENCOUNTER, ""))])  # fmt: skip
    status = worker.wait_until(
        lambda s: (
            s.get("delivery", {}).get("delivered", {}).get("ES-NCC") == 1
            and s["delivery"]["silenced"].get("ES-NCC") == 1
            and len(worker.api.get("/alerts") or []) == 2
        )  # type: ignore[union-attr]
    )
    assert status["delivery"]["failed"] == {"ES-NCC": 0}
    received = [decode_obj(body)["id"] for _, body in endpoint.received]
    assert received == [DELIVERED_ID]  # the silenced one is stored, never sent

    # Acknowledgements: an analyst may not, an operator may, and so may the CLI.
    assert analyst.post(f"/alerts/{DELIVERED_ID}/ack", {})["status"] == 403
    assert operator.post("/alerts/no-such-alert:1/ack", {})["status"] == 404
    acked = operator.post(f"/alerts/{DELIVERED_ID}/ack", {"note": "patrol boat sent"})
    assert acked["ack"]["by"] == "ops", acked
    assert operator.post(f"/alerts/{DELIVERED_ID}/ack", {"by": "someone-else"})["status"] == 400
    by_cli = cli(["alerts", "ack", SILENCED_ID, "--note", "seen"], data_dir)
    assert by_cli.returncode == 0 and f"acknowledged {SILENCED_ID} as local:" in by_cli.stdout, by_cli.stderr

    shown = {a["id"]: a for a in analyst.get("/alerts")}
    assert shown[SILENCED_ID]["silenced_by"]["reason"] == "exercise at Ceuta"
    assert shown[DELIVERED_ID]["silenced_by"] is None
    assert [a["by"] for a in shown[DELIVERED_ID]["acks"]] == ["ops"]
    assert shown[DELIVERED_ID]["confidence"] == 0.99

    listed = cli(["alerts"], data_dir)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), listed.stdout
    assert any(line.split()[1:] == ["silenced", SILENCED_ID] for line in lines), listed.stdout
    assert any(line.split()[1:] == ["acked", DELIVERED_ID] for line in lines), listed.stdout
    assert any(line.startswith("  surge, ES-CEUTA-LAND: 40 reports in 24 h") for line in lines), listed.stdout

    page = cli(["alerts", "show", SILENCED_ID], data_dir)
    assert page.returncode == 0, page.stderr
    assert "impact      high, confidence 0.99\n" in page.stdout
    assert "  - tail probability 3.5e-09" in page.stdout
    print(page.stdout)  # what a person reads, in the test's output
    assert "exercise at Ceuta" in page.stdout and ": seen" in page.stdout and "  v1  new" in page.stdout

    audit_lines = (data_dir / "audit.log").read_text().splitlines()
    audit = [decode_obj(line.split(" ", 2)[2]) for line in audit_lines]  # after the date and time
    asked = {(e["caller"], e["method"], e["path"], e["status"]) for e in audit}
    assert ("ana", "POST", "/silences", 403) in asked and ("ops", "POST", "/silences", 201) in asked
    assert ("ops", "POST", f"/alerts/{DELIVERED_ID}/ack", 200) in asked
    assert any(e["path"] == "/silences" and "fence drill" in e["body"] for e in audit)

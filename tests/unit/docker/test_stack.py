"""docker/ with every feature on, checked without a Docker engine: the worker's settings load as the worker
loads them, each documented feature has its settings in compose, the secrets script's subscription and
token entries load as the worker reads them, Prometheus and the proxy reach the workers by the name and port
they serve, Grafana's image is pinned with its plugin baked in, and every metric a panel queries is real."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config.settings import Settings
from streams.delivery.deliver import DeliveryStats
from streams.delivery.subscriptions import load_subscriptions
from streams.web.tokens import ApiRole, load_tokens
from streams.worker.health import Health
from streams.worker.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"
SCRIPT = (DOCKER / "make-secrets.sh").read_text()
PUBLIC_HOST = "bw.example.org"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def worker_env() -> dict[str, str]:
    """The workers' environment as compose gives it, with BW_PUBLIC_HOST set as docker/.env sets it."""
    env = compose()["services"]["worker"]["environment"]
    return {k: re.sub(r"\$\{BW_PUBLIC_HOST:\?[^}]*\}", PUBLIC_HOST, str(v)) for k, v in env.items()}


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def shell_function(name: str) -> str:
    """One function of make-secrets.sh, as its text."""
    found = re.search(rf"^{name}\(\) \{{.*?^\}}$", SCRIPT, re.M | re.S)
    assert found, name
    return found.group(0)


def bash(script: str) -> str:
    command = ["bash", "-euo", "pipefail", "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_new_dockerfile_and_scripts_lint_clean() -> None:
    for command in (
        [tool("hadolint"), "docker/grafana/Dockerfile"],
        [tool("shellcheck"), "docker/kafka/scram-users.sh", "docker/config/worker.sh"],
    ):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_image_is_pinned_to_a_version_and_grafana_bakes_its_plugin_in() -> None:
    for name, service in compose()["services"].items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository and re.fullmatch(r"v?[0-9]+(\.[0-9]+)+[-.\w]*", tag), (name, service["image"])
    grafana = compose()["services"]["grafana"]
    assert not any(k.startswith("GF_PLUGINS_PREINSTALL") for k in grafana["environment"])  # no start download
    text = (DOCKER / grafana["build"]["context"] / "Dockerfile").read_text()
    assert re.search(r"^FROM grafana/grafana:11\.6\.[0-9]+$", text, re.M)
    plugin = re.search(r"grafana cli .*plugins install grafana-clickhouse-datasource ([0-9.]+)\b", text)
    assert plugin, text
    assert re.search(r"^USER [1-9][0-9]*$", text, re.M)  # back to Grafana's own user
    # The ClickHouse dashboards were written for the plugin the image installs.
    board = json.loads((DOCKER / "grafana" / "dashboards" / "borderwatch.json").read_text())
    assert {t["pluginVersion"] for p in board["panels"] for t in p["targets"]} == {plugin.group(1)}


def test_the_workers_settings_load_as_the_worker_loads_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = worker_env()
    secrets = set(compose()["services"]["worker"]["secrets"])
    for name in ("WEB_TLS_CERT_FILE", "WEB_TLS_KEY_FILE", "WEB_TOKENS_FILE", "SUBSCRIPTIONS",
                 "CLICKHOUSE_PASSWORD_FILE", "KAFKA_SECURITY__SASL_PASSWORD_FILE"):  # fmt: skip
        path = Path(env[f"BORDERWATCH_{name}"])
        assert path.parent == Path("/run/secrets") and path.name in secrets, path
    for name in [n for n in os.environ if n.startswith("BORDERWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():  # the secret files the settings read at once, here with stand-ins
        if value.startswith("/run/secrets/"):
            value = str(tmp_path / Path(value).name)
            Path(value).write_text("stand-in\n")
        monkeypatch.setenv(name, value)
    settings = Settings()  # the API beyond loopback is refused without TLS and a tokens file
    assert not settings.web_bind.is_loopback and settings.web_hosts == [PUBLIC_HOST]
    assert settings.web_tls_cert_file and settings.web_tokens_file and settings.subscriptions
    assert settings.watch_list is not None
    mounts = [v.split(":") for v in compose()["services"]["worker"]["volumes"]]
    (host,) = [h for h, inside, *_ in mounts if settings.watch_list.parent == Path(inside)]
    assert (DOCKER / host / settings.watch_list.name).is_file()


def documented_features() -> dict[str, list[str]]:
    """The feature table of docs/operations/docker.md: feature to its settings."""
    text = (ROOT / "docs" / "operations" / "docker.md").read_text()
    section = text[text.index("## Features and their settings") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ") and "`" in line]
    return {feature.strip(): re.findall(r"`(BORDERWATCH_\w+)`", settings) for feature, settings in rows}


def test_every_documented_feature_has_its_settings_in_compose() -> None:
    features = documented_features()
    wanted = {"HTTP ingest", "analyst API", "TLS", "tokens", "subscriptions", "watch list", "metrics",
              "logs format"}  # fmt: skip
    assert wanted <= set(features), set(features)
    env = worker_env()
    for feature, names in features.items():
        assert names, feature
        for name in names:
            assert env.get(name), (feature, name)
    assert env["BORDERWATCH_LOG_FORMAT"] == "json"  # for a log shipper


def test_a_centre_added_then_removed_leaves_subscriptions_the_worker_reads(tmp_path: Path) -> None:
    subscription = shell_function("subscription")
    toml = tmp_path / "subscriptions.toml"
    toml.write_text("# Coordination-centre subscriptions\n" + bash(
        f"{subscription}\nsubscription ES-NCC\nsubscription IT-NCC\nsubscription GR-NCC"
    ))  # fmt: skip
    subscriptions = load_subscriptions(toml)
    assert [(s.centre, s.topic) for s in subscriptions] == [
        ("ES-NCC", "alerts.ES-NCC"), ("IT-NCC", "alerts.IT-NCC"), ("GR-NCC", "alerts.GR-NCC"),
    ]  # fmt: skip
    # remove-centre's awk, as the script runs it: the middle centre goes, the others stay whole.
    awk = re.search(r"awk -v start=\"([^\"]*)\" \\\n\s*'([^']*)'", SCRIPT)
    assert awk
    start = awk.group(1).replace("$centre", "IT-NCC")
    left = bash(f"awk -v start={json.dumps(start)} '{awk.group(2)}' {toml}")
    toml.write_text(left)
    assert [s.centre for s in load_subscriptions(toml)] == ["ES-NCC", "GR-NCC"]
    assert "IT-NCC" not in left


def test_the_token_entries_the_script_writes_are_a_tokens_file_of_the_tokens_hashes(tmp_path: Path) -> None:
    first = re.search(r"printf '(# Named API tokens[^']*)' \\\n\s*\"\$\(openssl", SCRIPT)
    added = re.search(r"printf '(\\n\[\[token\]\][^']*)' \"\$name\" \"\$role\" \"\$sha\"", SCRIPT)
    assert first and added
    token = bash("openssl rand 32 | openssl base64 -A | tr '+/' '-_' | tr -d '='")
    sha = hashlib.sha256(token.encode()).hexdigest()
    assert bash(f"printf %s {token} | openssl dgst -sha256 -r | cut -d' ' -f1").strip() == sha
    tokens = tmp_path / "tokens.toml"
    entries = f"printf '{first.group(1)}' {sha}; printf '{added.group(1)}' ana analyst {sha[::-1]}"
    tokens.write_text(bash(entries))
    named = load_tokens(tokens)
    assert [(t.name, t.role, t.sha256) for t in named] == [
        ("prometheus", ApiRole.SCRAPE, sha), ("ana", ApiRole.ANALYST, sha[::-1]),
    ]  # fmt: skip
    assert len(token) == 43  # 256 bits, base64url without padding, as `borderwatch token` makes them


def worker_port() -> int:
    port = re.search(r"BORDERWATCH_WEB_PORT=([0-9]+)", (DOCKER / "Dockerfile").read_text())
    assert port
    return int(port.group(1))


def test_prometheus_scrapes_every_replica_with_the_scrape_token_and_the_workers_certificate_name() -> None:
    spec = compose()
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and sd["port"] == worker_port()
    assert job["scheme"] == "https" and job["metrics_path"] == "/metrics"
    assert job["tls_config"]["server_name"] == "worker" and 'certificate worker "DNS:worker"' in SCRIPT
    prometheus = spec["services"]["prometheus"]
    for path in (job["authorization"]["credentials_file"], job["tls_config"]["ca_file"]):
        name = Path(path).name
        assert Path(path).parent == Path("/run/secrets") and name in prometheus["secrets"], path
    token_file = Path(spec["secrets"][Path(job["authorization"]["credentials_file"]).name]["file"]).name
    assert token_file == "token_prometheus" and 'name = "prometheus"\\nrole = "scrape"' in SCRIPT
    assert set(prometheus["networks"]) & set(spec["services"]["worker"]["networks"])


def test_the_proxy_reaches_every_replica_over_tls_on_the_port_clients_use() -> None:
    spec = compose()
    caddy = (DOCKER / "proxy" / "Caddyfile").read_text()
    port = worker_port()
    assert f"{{$BW_PUBLIC_HOST}}:{port} {{" in caddy and f"dynamic a worker {port}" in caddy
    assert re.search(r"^\s*tls_server_name worker$", caddy, re.M)
    proxy = spec["services"]["proxy"]
    assert f"{port}:{port}" in proxy["ports"]  # Host and Origin reach the workers as they check them
    for path in re.findall(r"/run/secrets/(\w+)", caddy):
        assert path in proxy["secrets"], path
    assert "BW_PUBLIC_HOST" in proxy["environment"]
    # The analysts' ClickHouse: by an alias that exists on the analysts' network alone.
    assert "reverse_proxy clickhouse-analysts:8123" in caddy
    clickhouse_networks = spec["services"]["clickhouse"]["networks"]
    assert clickhouse_networks["analysts"]["aliases"] == ["clickhouse-analysts"]
    assert "analysts" in proxy["networks"]


def test_the_caddyfile_is_valid_for_the_caddy_compose_runs(tmp_path: Path) -> None:
    """`caddy validate` of the pinned version, with stand-in certificate files where the secrets go."""
    caddy = tool("caddy")
    version = subprocess.run([caddy, "version"], capture_output=True, text=True, timeout=30).stdout
    image_tag = compose()["services"]["proxy"]["image"].removeprefix("caddy:")
    assert version.startswith(f"v{image_tag} "), (version, image_tag)
    key, cert = tmp_path / "proxy_key", tmp_path / "proxy_cert"
    stand_in = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=stand-in -days 1"
    bash(f"{stand_in} -keyout {key} -out {cert} 2>&1")
    (tmp_path / "ca").write_bytes(cert.read_bytes())
    config = tmp_path / "Caddyfile"
    config.write_text((DOCKER / "proxy" / "Caddyfile").read_text().replace("/run/secrets/", f"{tmp_path}/"))
    done = subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "BW_PUBLIC_HOST": PUBLIC_HOST},
    )  # fmt: skip
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, done.stderr[-2000:]
    assert "deprecated" not in done.stderr, done.stderr[-2000:]


def test_clickhouse_lets_the_writer_and_grafana_in_from_the_backend_alone() -> None:
    (subnet,) = [c["subnet"] for c in compose()["networks"]["backend"]["ipam"]["config"]]
    users = ET.parse(DOCKER / "clickhouse" / "users.d" / "borderwatch.xml").getroot().find("users")
    assert users is not None
    for name in ("borderwatch_writer", "borderwatch_grafana"):
        assert [ip.text for ip in users.iterfind(f"{name}/networks/ip")] == [subnet], name


def registry_names() -> set[str]:
    """Every series name the worker's registry can expose, with the suffixes of its types."""
    metrics = WorkerMetrics(Health("ingest"))
    metrics.live.connections = lambda: (0, 0, 0)
    metrics.live.delivery = DeliveryStats()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in suffixes.get(family.type, [""])
    }


def test_every_metric_a_workers_panel_queries_is_in_the_workers_registry() -> None:
    provisioned = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    (source,) = provisioned["datasources"]
    assert source["url"] == "http://prometheus:9090"
    board = json.loads((DOCKER / "grafana" / "dashboards" / "prometheus" / "workers.json").read_text())
    known = registry_names()
    assert "borderwatch_batch_seconds_bucket" in known and "borderwatch_consumer_lag" in known
    queried: set[str] = set()
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
            names = set(re.findall(r"\bborderwatch_\w+", target["expr"]))
            assert names or "up{" in target["expr"], panel["title"]
            assert names <= known, (panel["title"], names - known)
            queried |= names
    # The workers' health as the issue names it: lag, stored and rejected rates, health, batch latency.
    for name in ("borderwatch_consumer_lag", "borderwatch_reports_stored_total", "borderwatch_healthy",
                 "borderwatch_reports_rejected_total", "borderwatch_batch_seconds_bucket"):  # fmt: skip
        assert name in queried, name

#!/usr/bin/env bash
# docker/secrets/ for the production stack, made once before the first `docker compose up`, then kept up:
#   BW_PUBLIC_HOST=bw.example.org docker/make-secrets.sh   # once, then `docker compose up`
#   docker/make-secrets.sh add-centre CENTRE      # SCRAM user, ACLs, alert topic subscription
#   docker/make-secrets.sh remove-centre CENTRE
#   docker/make-secrets.sh add-token NAME ROLE    # an API token (analyst, operator, duty_officer, centre, scrape)
# Everything is made with openssl on this host: a CA (kept in docker/ca/, never mounted) signs the
# certificates of Kafka and the proxy (both name BW_PUBLIC_HOST) and of the workers' API (`worker`).
# Each file a container reads is then given to that container's user, read-only (compose mounts
# secret files as they are on the host), which needs root: the script uses sudo when not run as root.
set -euo pipefail
cd "$(dirname "$0")"
KAFKA_IMAGE=apache/kafka:3.9.1
GRAFANA_IMAGE=grafana/grafana:11.6.0
WORKER_UID=10001      # docker/Dockerfile
PROMETHEUS_UID=65534  # prom/prometheus runs as nobody
out=secrets
umask 077
compose=(docker compose -f compose.yaml)
password() { openssl rand -hex 24; }  # hex: nothing kafka-configs or TOML would read as syntax
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
centre_name() {
    [[ $1 =~ ^[A-Za-z0-9._-]{1,64}$ ]] || { echo "a centre's name is letters, digits, . _ - only" >&2; exit 2; }
    [ "$1" != borderwatch ] || { echo "borderwatch is the workers' own Kafka user" >&2; exit 2; }
}
acls() {  # acls --add|--remove CENTRE: its writes on the input topics, reads of its alert topic and group
    local kafka_acls=("${compose[@]}" exec -T kafka /opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:19092)
    local force=(); [ "$1" = "--remove" ] && force=(--force)
    "${kafka_acls[@]}" "$1" "${force[@]}" --allow-principal "User:$2" --operation Write --operation Describe \
        --topic reports.interceptions --topic reports.vessels
    "${kafka_acls[@]}" "$1" "${force[@]}" --allow-principal "User:$2" --operation Read --operation Describe \
        --topic "alerts.$2"
    "${kafka_acls[@]}" "$1" "${force[@]}" --allow-principal "User:$2" --operation Read --group "$2"
}
subscription() {  # a centre's alerts on its own topic; narrow it with routes, zones, kinds, min_impact
    printf '\n# centre %s (make-secrets.sh add-centre)\n[[subscription]]\ncentre = "%s"\ntopic = "alerts.%s"\n' \
        "$1" "$1" "$1"
}
restart_note="then restart the workers, which read the subscriptions at start and create the topic:
  docker compose -f docker/compose.yaml restart worker"

case "${1:-}" in
add-centre)
    centre=${2:?usage: docker/make-secrets.sh add-centre CENTRE}
    centre_name "$centre"
    [ -e "$out/kafka_password_$centre" ] && { echo "$centre has a password already" >&2; exit 1; }
    password > "$out/kafka_password_$centre"
    # Every user's SCRAM-SHA-512 credential from its password file, live: no broker restart.
    "${compose[@]}" run --rm kafka-users
    acls --add "$centre"
    subscription "$centre" | as_root tee -a "$out/subscriptions.toml" > /dev/null
    echo "added $centre: give it docker/secrets/ca.pem and docker/secrets/kafka_password_$centre;"
    echo "$restart_note"
    exit 0
    ;;
remove-centre)
    centre=${2:?usage: docker/make-secrets.sh remove-centre CENTRE}
    centre_name "$centre"
    "${compose[@]}" exec -T kafka /opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:19092 --alter \
        --delete-config SCRAM-SHA-512 --entity-type users --entity-name "$centre"
    acls --remove "$centre"
    rm -f "$out/kafka_password_$centre"
    # In place (tee, not mv): the workers' mount is of this file, not of a name.
    # shellcheck disable=SC2016  # awk's own $0
    as_root awk -v start="# centre $centre (make-secrets.sh add-centre)" \
        '$0 == start {skip = 4} skip > 0 {skip--; next} {print}' "$out/subscriptions.toml" > subscriptions.new
    as_root tee "$out/subscriptions.toml" < subscriptions.new > /dev/null
    rm subscriptions.new
    echo "removed $centre: its SCRAM user, ACLs, password and subscription; $restart_note"
    exit 0
    ;;
add-token)
    name=${2:?usage: docker/make-secrets.sh add-token NAME ROLE}
    role=${3:?usage: docker/make-secrets.sh add-token NAME ROLE}
    [[ $name =~ ^[A-Za-z0-9._@-]{1,64}$ ]] || { echo "a token's name is letters, digits, . _ @ - only" >&2; exit 2; }
    [[ $role =~ ^(analyst|operator|duty_officer|centre|scrape)$ ]] \
        || { echo "a role is analyst, operator, duty_officer, centre or scrape" >&2; exit 2; }
    [ -e "$out/token_$name" ] && { echo "a token named $name exists already" >&2; exit 1; }
    openssl rand 32 | openssl base64 -A | tr '+/' '-_' | tr -d '=' > "$out/token_$name"
    sha=$(openssl dgst -sha256 -r < "$out/token_$name" | cut -d' ' -f1)
    printf '\n[[token]]\nname = "%s"\nrole = "%s"\nsha256 = "%s"\n' "$name" "$role" "$sha" \
        | as_root tee -a "$out/tokens.toml" > /dev/null
    # The workers read the tokens file again on /reload: each replica, no restart.
    for id in $("${compose[@]}" ps -q worker); do docker exec "$id" borderwatch reload > /dev/null; done
    echo "token $name ($role) in docker/secrets/token_$name; the workers serve it now"
    exit 0
    ;;
esac

if [ -e "$out/tokens.toml" ]; then
    echo "docker/secrets/ exists already; move it (and docker/ca/) away to make new secrets" >&2
    exit 1
fi
# A centre needs ACLs from the running broker: add-centre, once the stack is up.
[ $# -eq 0 ] || { echo "usage: BW_PUBLIC_HOST=NAME docker/make-secrets.sh; then add-centre CENTRE once the stack is up" >&2; exit 2; }
public_host=${BW_PUBLIC_HOST:?set BW_PUBLIC_HOST to the DNS name or IP address centres and analysts reach this machine at}
mkdir -p "$out" ca
echo "BW_PUBLIC_HOST=$public_host" > .env  # compose reads docker/.env
if [[ $public_host =~ ^[0-9.]+$|: ]]; then san="IP:$public_host"; else san="DNS:$public_host"; fi

for user in writer analyst grafana; do password > "$out/clickhouse_${user}_password"; done
password > "$out/grafana_admin_password"
{
    echo "BW_CLICKHOUSE_WRITER_PASSWORD=$(cat "$out/clickhouse_writer_password")"
    echo "BW_CLICKHOUSE_ANALYST_PASSWORD=$(cat "$out/clickhouse_analyst_password")"
    echo "BW_CLICKHOUSE_GRAFANA_PASSWORD=$(cat "$out/clickhouse_grafana_password")"
} > "$out/clickhouse.env"

# Kafka's SASL users are SCRAM-SHA-512 credentials in the cluster's metadata, upserted from these
# files by the kafka-users service (docker/kafka/scram-users.sh); the JAAS file names no user.
password > "$out/kafka_password_borderwatch"  # the workers' own SASL user
printf 'KafkaServer {\n    org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n' \
    > "$out/kafka_server_jaas.conf"
# A KRaft cluster id is 16 random bytes, base64url without padding.
echo "CLUSTER_ID=$(openssl rand 16 | openssl base64 -A | tr '+/' '-_' | tr -d '=')" > "$out/kafka.env"

# The CA, its key encrypted and kept in docker/ca/; then one key and certificate per server.
password > ca/ca_key_password
openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -subj /CN=borderwatch-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout ca/ca.key -passout file:ca/ca_key_password -out "$out/ca.pem" 2> /dev/null
certificate() {  # certificate NAME SAN: NAME.key (PKCS#8, unencrypted: only its reader may open it) and NAME.pem
    openssl req -new -newkey rsa:3072 -nodes -subj "/CN=$1" -keyout "$out/$1.key" 2> /dev/null \
        | openssl x509 -req -sha256 -days 825 -CA "$out/ca.pem" -CAkey ca/ca.key -passin file:ca/ca_key_password \
            -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2") -out "$out/$1.pem" 2> /dev/null
}
certificate kafka "DNS:kafka,$san"   # the workers reach kafka:9095, the centres BW_PUBLIC_HOST:9094
certificate proxy "$san"             # the one entry point of the API and ingest
certificate worker "DNS:worker"      # the workers' API behind the proxy (the compose service's name)
# Kafka reads a PEM keystore (ssl.keystore.type=PEM): its key, then its chain.
cat "$out/kafka.key" "$out/kafka.pem" "$out/ca.pem" > "$out/kafka.keystore.pem"
rm "$out/kafka.key" "$out/kafka.pem"

# The workers' API tokens: Prometheus's scrape token to begin with (add-token for the rest).
openssl rand 32 | openssl base64 -A | tr '+/' '-_' | tr -d '=' > "$out/token_prometheus"
printf '# Named API tokens, hashed (docker/make-secrets.sh add-token NAME ROLE).\n[[token]]\nname = "prometheus"\nrole = "scrape"\nsha256 = "%s"\n' \
    "$(openssl dgst -sha256 -r < "$out/token_prometheus" | cut -d' ' -f1)" > "$out/tokens.toml"
echo "# Coordination-centre subscriptions (docs/centres/alerts.md); webhook secrets may go here." \
    > "$out/subscriptions.toml"

# Each container's files to its user, read-only; the rest (centres' passwords and tokens, the env
# files compose reads on this host) stay the operator's. The proxy (caddy) and the one-shot
# kafka-users run as root.
kafka_uid=$(docker run --rm --entrypoint id "$KAFKA_IMAGE" -u)
grafana_uid=$(docker run --rm --entrypoint id "$GRAFANA_IMAGE" -u)
(
    cd "$out"
    chmod 0400 ./*
    chmod 0444 ca.pem
    chmod 0600 kafka_password_* token_* 2> /dev/null || true
    as_root chown "$kafka_uid" kafka.keystore.pem kafka_server_jaas.conf
    as_root chown "$WORKER_UID" clickhouse_writer_password kafka_password_borderwatch worker.key worker.pem \
        tokens.toml subscriptions.toml
    as_root chmod 0400 kafka_password_borderwatch
    as_root chown "$PROMETHEUS_UID" token_prometheus
    as_root chmod 0400 token_prometheus
    as_root chown "$grafana_uid" clickhouse_grafana_password grafana_admin_password
    as_root chown 0 proxy.key
)
chmod 0755 "$out"
echo "docker/secrets/ made. Centres reach Kafka at $public_host:9094 (SASL_SSL, SCRAM-SHA-512) and the API"
echo "at https://$public_host:6066 with docker/secrets/ca.pem; docs/operations/docker.md has the next steps."

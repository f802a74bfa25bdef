#!/usr/bin/env bash
# docker/secrets/ for the production stack, made once before the first `docker compose up`:
#   BW_KAFKA_PUBLIC_HOST=kafka.example.org docker/make-secrets.sh [CENTRE ...]
# the ClickHouse and Grafana passwords, Kafka's SASL users (an admin, one per centre), a CA
# (kept in docker/ca/, never mounted) and the broker's TLS keystore for the name centres use.
# Later, one more centre:  docker/make-secrets.sh add-centre CENTRE
# Kafka's stores are made with keytool inside the apache/kafka image compose runs. Each file
# a container reads is then given to that container's user, read-only (compose mounts
# secret files as they are on the host).
set -euo pipefail
cd "$(dirname "$0")"
KAFKA_IMAGE=apache/kafka:3.9.1
GRAFANA_IMAGE=grafana/grafana:11.6.0
WORKER_UID=10001  # docker/Dockerfile
out=secrets
umask 077
password() { openssl rand -hex 24; }
as_root() { docker run --rm --user 0 -v "$PWD/$out:/out" -w /out --entrypoint /bin/sh "$KAFKA_IMAGE" -c "$1"; }

if [ "${1:-}" = "add-centre" ]; then
    centre=${2:?usage: docker/make-secrets.sh add-centre CENTRE}
    [[ $centre =~ ^[A-Za-z0-9._-]{1,64}$ ]] || { echo "a centre's name is letters, digits, . _ - only" >&2; exit 2; }
    [ -e "$out/kafka_password_$centre" ] && { echo "$centre has a password already" >&2; exit 1; }
    password > "$out/kafka_password_$centre"
    line="    user_$centre=\"$(cat "$out/kafka_password_$centre")\""
    kafka_uid=$(docker run --rm --entrypoint id "$KAFKA_IMAGE" -u)
    as_root "awk -v line='$line' '/^    ;\$/ {print line} {print}' kafka_server_jaas.conf > jaas.new \
        && mv jaas.new kafka_server_jaas.conf && chown $kafka_uid kafka_server_jaas.conf \
        && chmod 0400 kafka_server_jaas.conf"
    echo "added $centre: restart kafka, then grant its ACLs (README, Production)"
    exit 0
fi

if [ -e "$out/kafka_server_jaas.conf" ]; then
    echo "docker/secrets/ exists already; move it (and docker/ca/) away to make new secrets" >&2
    exit 1
fi
public_host=${BW_KAFKA_PUBLIC_HOST:?set BW_KAFKA_PUBLIC_HOST to the DNS name or IP address centres reach Kafka at}
for centre in "$@"; do
    [[ $centre =~ ^[A-Za-z0-9._-]{1,64}$ ]] || { echo "a centre's name is letters, digits, . _ - only" >&2; exit 2; }
done
mkdir -p "$out" ca
echo "BW_KAFKA_PUBLIC_HOST=$public_host" > .env  # compose reads docker/.env
if [[ $public_host =~ ^[0-9.]+$|: ]]; then san="ip:$public_host"; else san="dns:$public_host"; fi

for user in writer analyst grafana; do password > "$out/clickhouse_${user}_password"; done
password > "$out/grafana_admin_password"
{
    echo "BW_CLICKHOUSE_WRITER_PASSWORD=$(cat "$out/clickhouse_writer_password")"
    echo "BW_CLICKHOUSE_ANALYST_PASSWORD=$(cat "$out/clickhouse_analyst_password")"
    echo "BW_CLICKHOUSE_GRAFANA_PASSWORD=$(cat "$out/clickhouse_grafana_password")"
} > "$out/clickhouse.env"

admin=$(password)
password > "$out/kafka_password_borderwatch"  # the workers' own SASL user
{
    echo "KafkaServer {"
    echo "    org.apache.kafka.common.security.plain.PlainLoginModule required"
    echo "    username=\"admin\" password=\"$admin\""
    echo "    user_admin=\"$admin\""
    echo "    user_borderwatch=\"$(cat "$out/kafka_password_borderwatch")\""
    for centre in "$@"; do
        password > "$out/kafka_password_$centre"
        echo "    user_$centre=\"$(cat "$out/kafka_password_$centre")\""
    done
    echo "    ;"
    echo "};"
} > "$out/kafka_server_jaas.conf"

store=$(password)
ca_store=$(password)
echo "$store" > "$out/kafka_keystore_creds"
echo "$store" > "$out/kafka_ssl_key_creds"
echo "$store" > "$out/kafka_truststore_creds"
echo "$ca_store" > ca/ca_store_password
docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/$out:/out" -v "$PWD/ca:/ca" -w /out \
    -e STORE="$store" -e CA_STORE="$ca_store" -e SAN="dns:kafka,$san" --entrypoint /bin/sh "$KAFKA_IMAGE" -c '
    set -eu
    keytool -genkeypair -alias ca -dname CN=borderwatch-ca -keyalg RSA -keysize 3072 -validity 825 \
        -ext bc:c -keystore /ca/ca.p12 -storetype PKCS12 -storepass "$CA_STORE"
    keytool -exportcert -rfc -alias ca -keystore /ca/ca.p12 -storepass "$CA_STORE" > ca.pem
    keytool -genkeypair -alias kafka -dname CN=kafka -keyalg RSA -keysize 3072 -validity 825 \
        -keystore kafka.keystore.jks -storetype JKS -storepass "$STORE" -keypass "$STORE"
    keytool -certreq -alias kafka -keystore kafka.keystore.jks -storepass "$STORE" \
        | keytool -gencert -alias ca -keystore /ca/ca.p12 -storepass "$CA_STORE" -validity 825 -rfc \
            -ext "SAN=$SAN" > kafka.pem
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore kafka.keystore.jks -storepass "$STORE"
    keytool -importcert -noprompt -alias kafka -file kafka.pem -keystore kafka.keystore.jks -storepass "$STORE"
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore kafka.truststore.jks -storetype JKS \
        -storepass "$STORE"'
echo "CLUSTER_ID=$(docker run --rm --entrypoint /opt/kafka/bin/kafka-storage.sh "$KAFKA_IMAGE" random-uuid)" \
    > "$out/kafka.env"

# Each container's files to its user, read-only; the rest (centres' passwords, the env files
# compose reads on this host) stay the operator's.
kafka_uid=$(docker run --rm --entrypoint id "$KAFKA_IMAGE" -u)
grafana_uid=$(docker run --rm --entrypoint id "$GRAFANA_IMAGE" -u)
as_root "chown $kafka_uid kafka.keystore.jks kafka.truststore.jks kafka_keystore_creds kafka_ssl_key_creds \
    kafka_truststore_creds kafka_server_jaas.conf && chown $WORKER_UID clickhouse_writer_password kafka_password_borderwatch \
    && chown $grafana_uid clickhouse_grafana_password grafana_admin_password \
    && chmod 0400 kafka.* kafka_* clickhouse_*_password grafana_admin_password && chmod 0444 ca.pem \
    && chmod 0600 kafka_password_* 2>/dev/null; chmod 0400 kafka_password_borderwatch; chmod 0755 /out"
echo "docker/secrets/ made. A centre connects to $public_host:9094 with docker/secrets/ca.pem and"
echo "the password in docker/secrets/kafka_password_<CENTRE>; grant its ACLs (README, Production)."

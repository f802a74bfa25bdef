#!/usr/bin/env bash
# Makes docker/secrets/ once, before the first `docker compose up`: the passwords of the
# ClickHouse users and of Kafka's SASL users, the CA and the broker's TLS keystore.
# Kafka's keystores are made with keytool inside the same apache/kafka image compose runs.
# Centres: pass their names, e.g. `docker/make-secrets.sh ES-NCC IT-NCC` (see README, Production).
set -euo pipefail
cd "$(dirname "$0")"
KAFKA_IMAGE=apache/kafka:3.9.1
out=secrets
if [ -e "$out/kafka_server_jaas.conf" ]; then
    echo "docker/secrets/ exists already; move it away to make new secrets" >&2
    exit 1
fi
umask 077
mkdir -p "$out"
password() { openssl rand -hex 24; }

for user in writer analyst grafana; do password > "$out/clickhouse_${user}_password"; done
password > "$out/grafana_admin_password"
{
    echo "BW_CLICKHOUSE_WRITER_PASSWORD=$(cat "$out/clickhouse_writer_password")"
    echo "BW_CLICKHOUSE_ANALYST_PASSWORD=$(cat "$out/clickhouse_analyst_password")"
    echo "BW_CLICKHOUSE_GRAFANA_PASSWORD=$(cat "$out/clickhouse_grafana_password")"
} > "$out/clickhouse.env"

# SASL/PLAIN users of the broker's SASL_SSL listener: an admin and one user per centre.
admin=$(password)
{
    echo "KafkaServer {"
    echo "    org.apache.kafka.common.security.plain.PlainLoginModule required"
    echo "    username=\"admin\" password=\"$admin\""
    echo "    user_admin=\"$admin\""
    for centre in "$@"; do
        pw=$(password)
        echo "$pw" > "$out/kafka_password_$centre"
        echo "    user_$centre=\"$pw\""
    done
    echo "    ;"
    echo "};"
} > "$out/kafka_server_jaas.conf"

# The CA, and the broker's certificate for the names clients use (kafka inside compose,
# BW_KAFKA_PUBLIC_HOST outside), in the JKS stores the apache/kafka image reads.
store=$(password)
public_host=${BW_KAFKA_PUBLIC_HOST:-localhost}
echo "$store" > "$out/kafka_keystore_creds"
echo "$store" > "$out/kafka_ssl_key_creds"
echo "$store" > "$out/kafka_truststore_creds"
docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/$out:/out" -w /out -e STORE="$store" \
    -e PUBLIC_HOST="$public_host" --entrypoint /bin/sh "$KAFKA_IMAGE" -c '
    set -eu
    keytool -genkeypair -alias ca -dname CN=borderwatch-ca -keyalg RSA -keysize 3072 -validity 825 \
        -ext bc:c -keystore ca.p12 -storetype PKCS12 -storepass "$STORE"
    keytool -exportcert -rfc -alias ca -keystore ca.p12 -storepass "$STORE" > ca.pem
    keytool -genkeypair -alias kafka -dname CN=kafka -keyalg RSA -keysize 3072 -validity 825 \
        -keystore kafka.keystore.jks -storetype JKS -storepass "$STORE" -keypass "$STORE"
    keytool -certreq -alias kafka -keystore kafka.keystore.jks -storepass "$STORE" \
        | keytool -gencert -alias ca -keystore ca.p12 -storepass "$STORE" -validity 825 -rfc \
            -ext "SAN=dns:kafka,dns:$PUBLIC_HOST" > kafka.pem
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore kafka.keystore.jks -storepass "$STORE"
    keytool -importcert -noprompt -alias kafka -file kafka.pem -keystore kafka.keystore.jks -storepass "$STORE"
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore kafka.truststore.jks -storetype JKS \
        -storepass "$STORE"'
echo "CLUSTER_ID=$(docker run --rm --entrypoint /opt/kafka/bin/kafka-storage.sh "$KAFKA_IMAGE" random-uuid)" \
    > "$out/kafka.env"
echo "docker/secrets/ made; centres connect with docker/secrets/ca.pem and docker/secrets/kafka_password_<centre>"

#!/usr/bin/env bash
# The kafka-users service (docker/compose.yaml): every Kafka user's SCRAM-SHA-512 credential, from its
# password file docker/secrets/kafka_password_<USER>, set in the running cluster with kafka-configs over
# the broker's own INTERNAL listener. No restart: the broker reads credentials from its metadata.
# Run at each `up` (the workers wait for it) and by `make-secrets.sh add-centre`.
set -euo pipefail
shopt -s nullglob
files=(/secrets/kafka_password_*)
[ ${#files[@]} -gt 0 ] || { echo "no /secrets/kafka_password_* files: run docker/make-secrets.sh" >&2; exit 1; }
for file in "${files[@]}"; do
    user=${file#/secrets/kafka_password_}
    # Passwords are hex (make-secrets.sh): nothing in them kafka-configs reads as syntax.
    /opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:19092 --alter --entity-type users \
        --entity-name "$user" --add-config "SCRAM-SHA-512=[iterations=8192,password=$(cat "$file")]" > /dev/null
    echo "SCRAM-SHA-512 credential of $user set"
done

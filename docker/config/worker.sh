#!/bin/sh
# The worker's entry point in docker/compose.yaml. Its API answers to the Host names in
# BORDERWATCH_WEB_HOSTS: the public name (through the proxy), and, added here, this replica's own
# address, by which Prometheus scrapes each replica (dns_sd_configs give addresses, not names).
set -eu
BORDERWATCH_WEB_HOSTS=$(python -c 'import json, os, socket
names = json.loads(os.environ.get("BORDERWATCH_WEB_HOSTS") or "[]")
print(json.dumps([*names, socket.gethostbyname(socket.gethostname())]))')
export BORDERWATCH_WEB_HOSTS
exec borderwatch worker "$@"

"""The worker's API as the CLI uses it: no Faust, no Kafka, no ClickHouse imports."""

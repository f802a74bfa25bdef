"""The stages of the flow: ingest (validate and enrich) and store (ClickHouse once, then on)."""

"""Sinks: ClickHouse tables for events, rejects and alerts, and checked internal-topic sinks."""

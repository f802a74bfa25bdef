"""Worker metrics: the batch histogram agrees with prometheus_client's own, and the exposition parses."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.worker.health import Health
from streams.worker.metrics import STORE_BUCKETS_S, BatchHistogram, WorkerMetrics


def buckets(text: str, name: str) -> dict[str, float]:
    return {
        s.labels["le"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == f"{name}_bucket"
    }


def test_the_batch_histogram_counts_as_one_observation_at_a_time_would() -> None:
    values = np.array([0.0, 0.1, 0.1000001, 0.5, 3.0, 3600.0, 86400.0, 90000.0, 7.5])
    registry = CollectorRegistry()
    scalar = Histogram("lat_seconds", "x", buckets=STORE_BUCKETS_S, registry=registry)
    for value in values:
        scalar.observe(float(value))
    batched = BatchHistogram("lat_seconds", "x", STORE_BUCKETS_S)
    batched.observe_many(values[:4])
    batched.observe_many(values[4:])
    other = CollectorRegistry()
    other.register(_Only(batched))
    assert buckets(generate_latest(other).decode(), "lat_seconds") == buckets(
        generate_latest(registry).decode(), "lat_seconds"
    )
    assert batched.sum_s == float(values.sum())


class _Only:
    def __init__(self, histogram: BatchHistogram) -> None:
        self.histogram = histogram

    def collect(self):  # type: ignore[no-untyped-def]
        yield self.histogram.collect()


def test_a_fresh_worker_exposition_parses_and_names_each_part() -> None:
    health = Health("ingest", "broker")
    health.ok("ingest")
    health.retried("broker", "no answer")
    metrics = WorkerMetrics(health)
    metrics.analyst_answered("/sql", "syntax")
    metrics.analyst_answered("/counts", None)
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }
    assert found[("borderwatch_part_state", (("part", "broker"), ("state", "degraded")))] == 1
    assert found[("borderwatch_fault_retries_total", (("part", "broker"),))] == 1
    assert found[("borderwatch_healthy", ())] == 0
    assert found[("borderwatch_analyst_queries_total", (("endpoint", "/sql"),))] == 1
    assert found[("borderwatch_analyst_refusals_total", (("code", "syntax"), ("endpoint", "/sql")))] == 1

"""Worker metrics: one Prometheus registry per worker, served at /metrics (docs/operations/metrics.md).

Counters are bumped in memory where the work happens (a batch, a store, an
alert, a query); what the parts already count (health, deliveries, open
connections, consumer positions) is read when Prometheus scrapes. A scrape
never asks ClickHouse or the broker anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.alerts import Alert
from schemas.rejection import DeadLetter
from streams.delivery.deliver import DeliveryStats
from streams.kafka.clients import KafkaBatchConsumer
from streams.stages.enrich import Enriched
from streams.worker.health import Health, State

PREFIX = "borderwatch"
BATCH_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# From the broker's (or the worker's) receipt to the row in ClickHouse: seconds in the live case,
# hours to days for a backfill.
STORE_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)


class BatchHistogram:
    """A histogram fed a whole batch at once (numpy), read at scrape time: no per-report call."""

    def __init__(self, name: str, documentation: str, buckets_s: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = np.asarray(buckets_s, dtype=np.float64)
        self.counts = np.zeros(len(self.bounds) + 1, dtype=np.int64)  # the last: above every bound
        self.sum_s = 0.0

    def observe_many(self, values_s: np.typing.NDArray[np.float64]) -> None:
        if len(values_s):
            slots = np.searchsorted(self.bounds, values_s, side="left")  # le: a value on a bound is in it
            self.counts += np.bincount(slots, minlength=len(self.counts))
            self.sum_s += float(values_s.sum())

    def collect(self) -> HistogramMetricFamily:
        cumulative = np.cumsum(self.counts)
        buckets = [(repr(float(b)), int(c)) for b, c in zip(self.bounds, cumulative[:-1])]
        buckets.append(("+Inf", int(cumulative[-1])))
        return HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=self.sum_s)


@dataclass
class LiveParts:
    """What the scrape reads from the running parts: none of it is copied ahead of time."""

    health: Health
    consumers: dict[str, KafkaBatchConsumer] = field(default_factory=dict)
    delivery: DeliveryStats | None = None
    connections: Callable[[], tuple[int, int, int]] | None = None  # open, refused, evicted


class WorkerMetrics:
    """The metrics of one worker process, in a registry of its own (never the global default)."""

    def __init__(self, health: Health) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.live = LiveParts(health)
        r = self.registry
        self.reports_in = Counter(
            f"{PREFIX}_reports_in", "records read by a batch stage", ["stage"], registry=r
        )
        self.stored = Counter(f"{PREFIX}_reports_stored", "new reports written to ClickHouse", registry=r)
        self.rejected = Counter(
            f"{PREFIX}_reports_rejected", "records sent to dlq, by reason", ["stage", "reason"], registry=r
        )
        self.resends = Counter(
            f"{PREFIX}_report_resends", "reports already stored or repeated in a batch", ["stage"], registry=r
        )
        self.batch_seconds = Histogram(
            f"{PREFIX}_batch_seconds", "time to forward one batch (ClickHouse, topics, dead letters)",
            ["stage"], buckets=BATCH_BUCKETS_S, registry=r,
        )  # fmt: skip
        self.alerts = Counter(
            f"{PREFIX}_alerts", "alert states published, by kind and impact", ["kind", "impact"], registry=r
        )
        self.analyst_queries = Counter(
            f"{PREFIX}_analyst_queries", "analyst requests answered", ["endpoint"], registry=r
        )
        self.analyst_refusals = Counter(
            f"{PREFIX}_analyst_refusals", "analyst requests refused, by code", ["endpoint", "code"],
            registry=r,
        )
        self.to_clickhouse = BatchHistogram(
            f"{PREFIX}_report_to_clickhouse_seconds",
            "from a report's arrival on its topic (else the worker's receipt) to its row in ClickHouse",
            STORE_BUCKETS_S,
        )
        r.register(_LiveCollector(self))

    def watch_consumer(self, part: str, consumer: KafkaBatchConsumer) -> None:
        """Report this part's consumer lag from now on."""
        self.live.consumers[part] = consumer

    def stage(self, name: str) -> StageMetrics:
        return StageMetrics(self, name)

    def reports_stored(self, events: Sequence[Enriched]) -> None:
        """Count new rows in ClickHouse, and how long after their arrival they got there."""
        if not events:
            return
        self.stored.inc(len(events))
        now = datetime.now(UTC).timestamp()
        arrived = np.fromiter(
            ((e.published_at or e.received_at).timestamp() for e in events), np.float64, len(events)
        )
        self.to_clickhouse.observe_many(np.maximum(now - arrived, 0.0))

    def alerts_published(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.alerts.labels(alert.kind.value, alert.impact.value).inc()

    def analyst_answered(self, endpoint: str, refused_code: str | None) -> None:
        self.analyst_queries.labels(endpoint).inc()
        if refused_code is not None:
            self.analyst_refusals.labels(endpoint, refused_code).inc()

    def lag(self) -> dict[str, dict[str, int]]:
        """Consumer lag per part, as "topic[partition]": records, for /status."""
        return {
            part: {f"{p.topic}[{p.partition}]": p.lag for p in consumer.lag()}
            for part, consumer in sorted(self.live.consumers.items())
        }

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class StageMetrics:
    """One batch stage's view of the metrics (streams/stages/runner.py calls `batch_done`)."""

    metrics: WorkerMetrics
    stage: str

    def batch_done(self, records: int, rejected: Sequence[DeadLetter], resends: int, seconds: float) -> None:
        m = self.metrics
        m.reports_in.labels(self.stage).inc(records)
        m.resends.labels(self.stage).inc(resends)
        m.batch_seconds.labels(self.stage).observe(seconds)
        reasons: dict[str, int] = {}
        for letter in rejected:
            reasons[letter.reason] = reasons.get(letter.reason, 0) + 1
        for reason, n in reasons.items():
            m.rejected.labels(self.stage, reason).inc(n)


class _LiveCollector(Collector):
    """Read at each scrape from the parts' own in-memory state."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        live = self.metrics.live
        yield self.metrics.to_clickhouse.collect()
        lag = GaugeMetricFamily(
            f"{PREFIX}_consumer_lag", "records on the topic not yet read by the part",
            labels=["part", "topic", "partition"],
        )  # fmt: skip
        for part, consumer in sorted(live.consumers.items()):
            for p in consumer.lag():
                lag.add_metric([part, p.topic, str(p.partition)], p.lag)
        yield lag
        state = GaugeMetricFamily(
            f"{PREFIX}_part_state", "1 for each part's current state", labels=["part", "state"]
        )
        for part, health in live.health.parts().items():
            for s in State:
                state.add_metric([part, s.value], 1.0 if health.state is s else 0.0)
        yield state
        yield GaugeMetricFamily(f"{PREFIX}_healthy", "1 when every part is ok", value=live.health.healthy)
        retries = CounterMetricFamily(
            f"{PREFIX}_fault_retries", "broker or ClickHouse faults retried, by part", labels=["part"]
        )
        for part, n in sorted(live.health.retries.items()):
            retries.add_metric([part], n)
        yield retries
        yield from _delivery(live.delivery)
        if live.connections is not None:
            open_, refused, evicted = live.connections()
            yield GaugeMetricFamily(f"{PREFIX}_http_connections_open", "open API connections", value=open_)
            yield CounterMetricFamily(
                f"{PREFIX}_http_connections_refused", "connections refused past a cap", value=refused
            )
            yield CounterMetricFamily(
                f"{PREFIX}_http_connections_evicted", "idle connections closed for new ones", value=evicted
            )


def _delivery(stats: DeliveryStats | None) -> Iterable[Metric]:
    if stats is None:
        return
    names = {
        "delivered": ("alerts_delivered", "alerts delivered to the centre"),
        "retries": ("delivery_retries", "delivery attempts that failed and were retried"),
        "dead_lettered": ("alerts_dead_lettered", "alerts given up on and sent to alerts.dlq"),
    }
    for attribute, (name, documentation) in names.items():
        family = CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=["centre"])
        for centre, s in sorted(stats.centres.items()):
            family.add_metric([centre], getattr(s, attribute))
        yield family

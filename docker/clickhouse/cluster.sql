-- borderwatch's schema for ClickHouse cluster 'borderwatch', made by `borderwatch cluster-ddl borderwatch` (docs/operations/clickhouse.md).
-- Each node's {replica} macro must be unique across the whole cluster, not only in its shard:
-- the tables without {shard} in their path are replicated to every node.

CREATE DATABASE IF NOT EXISTS borderwatch ON CLUSTER borderwatch;

CREATE TABLE IF NOT EXISTS borderwatch.alert_acks ON CLUSTER borderwatch
(
    `alert_id` String,
    `acked_by` String,
    `acked_at` DateTime64(3, 'UTC'),
    `note` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/alert_acks', '{replica}')
ORDER BY (alert_id, acked_by, acked_at)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.alert_history ON CLUSTER borderwatch
(
    `id` String,
    `version` UInt32,
    `status` LowCardinality(String),
    `impact` LowCardinality(String),
    `confidence` Float32,
    `notify` Bool,
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `description` String,
    `sent_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/alert_history', '{replica}')
ORDER BY (id, version)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.alert_silences ON CLUSTER borderwatch
(
    `id` String,
    `version` UInt32,
    `kind` LowCardinality(String),
    `zone_id` String,
    `until` DateTime64(3, 'UTC'),
    `reason` String,
    `created_by` String,
    `created_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/alert_silences', '{replica}', version)
ORDER BY id
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.alerts ON CLUSTER borderwatch
(
    `id` String,
    `version` UInt32,
    `kind` LowCardinality(String),
    `status` LowCardinality(String),
    `impact` LowCardinality(String),
    `confidence` Float32,
    `zone_id` LowCardinality(String),
    `route` LowCardinality(String),
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `event_ids` Array(String),
    `vessel_ids` Array(String),
    `lat_deg` Nullable(Float64),
    `lon_deg` Nullable(Float64),
    `headline` String,
    `description` String,
    `notify` Bool,
    `opened_at` DateTime64(3, 'UTC'),
    `sent_at` DateTime64(3, 'UTC'),
    `inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/alerts', '{replica}', version)
ORDER BY id
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.broker_clusters ON CLUSTER borderwatch
(
    `cluster_id` String,
    `first_seen` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/broker_clusters', '{replica}')
ORDER BY cluster_id
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.crossing_counts_local ON CLUSTER borderwatch
(
    `minute` DateTime('UTC'),
    `crossing_id` LowCardinality(String),
    `route` LowCardinality(String),
    `incident_type` LowCardinality(String),
    `reports` Int64,
    `persons` Int64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/crossing_counts_local', '{replica}')
ORDER BY (minute, crossing_id, route, incident_type)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.crossing_counts ON CLUSTER borderwatch AS borderwatch.crossing_counts_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'crossing_counts_local', rand());

CREATE TABLE IF NOT EXISTS borderwatch.erased ON CLUSTER borderwatch
(
    `authority` String,
    `report_id` String,
    `erased_at` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/erased', '{replica}')
ORDER BY (authority, report_id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.events_local ON CLUSTER borderwatch
(
    `authority` LowCardinality(String),
    `report_id` String,
    `kind` LowCardinality(String),
    `observed_at` DateTime64(3, 'UTC'),
    `reported_at` Nullable(DateTime64(3, 'UTC')),
    `received_at` DateTime64(3, 'UTC'),
    `published_at` Nullable(DateTime64(3, 'UTC')),
    `inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3),
    `lat_deg` Nullable(Float64),
    `lon_deg` Nullable(Float64),
    `crossing_id` LowCardinality(String),
    `country` LowCardinality(String),
    `route` LowCardinality(String),
    `incident_type` LowCardinality(String),
    `persons` UInt32,
    `nationalities` Map(LowCardinality(String), UInt32) TTL toDateTime(received_at) + toIntervalDay(90),
    `vessel_key` String,
    `source_topic` LowCardinality(String),
    `source_partition` UInt32,
    `source_offset` UInt64,
    `source_cluster` LowCardinality(String) DEFAULT '',
    `report` String TTL toDateTime(received_at) + toIntervalDay(90)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}')
PARTITION BY toYYYYMM(observed_at)
ORDER BY (crossing_id, observed_at, authority, report_id)
SETTINGS replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.events ON CLUSTER borderwatch AS borderwatch.events_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'events_local', cityHash64(authority, report_id));

CREATE TABLE IF NOT EXISTS borderwatch.rejects_local ON CLUSTER borderwatch
(
    `source_topic` LowCardinality(String),
    `source_partition` UInt32,
    `source_offset` UInt64,
    `source_cluster` LowCardinality(String),
    `reason` LowCardinality(String),
    `field` String,
    `detail` String,
    `received_at` DateTime64(3, 'UTC'),
    `raw` String TTL toDateTime(received_at) + toIntervalDay(90)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/rejects_local', '{replica}')
ORDER BY (source_cluster, source_topic, source_partition, source_offset)
SETTINGS replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.rejects ON CLUSTER borderwatch AS borderwatch.rejects_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'rejects_local', cityHash64(source_cluster, source_topic, source_partition, source_offset));

CREATE TABLE IF NOT EXISTS borderwatch.report_keys_local ON CLUSTER borderwatch
(
    `authority` LowCardinality(String),
    `report_id` String,
    `source_topic` LowCardinality(String),
    `source_partition` UInt32,
    `source_offset` UInt64,
    `source_cluster` LowCardinality(String),
    `observed_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/report_keys_local', '{replica}')
ORDER BY (authority, report_id)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS borderwatch.report_keys ON CLUSTER borderwatch AS borderwatch.report_keys_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'report_keys_local', cityHash64(authority, report_id));

CREATE TABLE IF NOT EXISTS borderwatch.retention_applied ON CLUSTER borderwatch
(
    `name` String,
    `statement` String,
    `applied_at` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/retention_applied', '{replica}')
ORDER BY name
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.schema_migrations ON CLUSTER borderwatch
(
    `version` UInt32,
    `applied_at` DateTime DEFAULT now()
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/schema_migrations', '{replica}')
ORDER BY version
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.transitions_local ON CLUSTER borderwatch
(
    `vessel_key` String,
    `mmsi` String,
    `imo` String,
    `name` String,
    `callsign` String,
    `vessel_type` LowCardinality(String),
    `zone_id` LowCardinality(String),
    `route` LowCardinality(String),
    `direction` LowCardinality(String),
    `observed_at` DateTime64(3, 'UTC'),
    `event_id` String,
    `lat_deg` Float64,
    `lon_deg` Float64,
    `received_at` Nullable(DateTime64(3, 'UTC')),
    `inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/transitions_local', '{replica}')
ORDER BY (zone_id, vessel_key, event_id, direction)
TTL toDateTime(ifNull(received_at, inserted_at)) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.transitions ON CLUSTER borderwatch AS borderwatch.transitions_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'transitions_local', cityHash64(vessel_key));

CREATE TABLE IF NOT EXISTS borderwatch.vessel_positions_local ON CLUSTER borderwatch
(
    `vessel_key` String,
    `observed_at` DateTime64(3, 'UTC'),
    `lat_deg` Float64,
    `lon_deg` Float64,
    `crossing_id` LowCardinality(String),
    `route` LowCardinality(String),
    `authority` LowCardinality(String),
    `report_id` String,
    `received_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/vessel_positions_local', '{replica}')
PARTITION BY toYYYYMM(observed_at)
ORDER BY (vessel_key, observed_at, authority, report_id)
TTL toDateTime(received_at) + toIntervalDay(90)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS borderwatch.vessel_positions ON CLUSTER borderwatch AS borderwatch.vessel_positions_local
ENGINE = Distributed('borderwatch', 'borderwatch', 'vessel_positions_local', cityHash64(authority, report_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS borderwatch.alert_history_mv ON CLUSTER borderwatch TO borderwatch.alert_history
(
    `id` String,
    `version` UInt32,
    `status` LowCardinality(String),
    `impact` LowCardinality(String),
    `confidence` Float32,
    `notify` Bool,
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `description` String,
    `sent_at` DateTime64(3, 'UTC')
)
AS SELECT
    id,
    version,
    status,
    impact,
    confidence,
    notify,
    window_start,
    window_end,
    description,
    sent_at
FROM borderwatch.alerts;

CREATE MATERIALIZED VIEW IF NOT EXISTS borderwatch.crossing_counts_mv ON CLUSTER borderwatch TO borderwatch.crossing_counts_local
(
    `minute` DateTime('UTC'),
    `crossing_id` LowCardinality(String),
    `route` LowCardinality(String),
    `incident_type` LowCardinality(String),
    `reports` UInt64,
    `persons` UInt64
)
AS SELECT
    toStartOfMinute(observed_at) AS minute,
    crossing_id,
    route,
    incident_type,
    count() AS reports,
    sum(persons) AS persons
FROM borderwatch.events_local
WHERE kind = 'interception'
GROUP BY
    minute,
    crossing_id,
    route,
    incident_type;

CREATE MATERIALIZED VIEW IF NOT EXISTS borderwatch.report_keys_mv ON CLUSTER borderwatch TO borderwatch.report_keys_local
(
    `authority` LowCardinality(String),
    `report_id` String,
    `source_topic` LowCardinality(String),
    `source_partition` UInt32,
    `source_offset` UInt64,
    `source_cluster` LowCardinality(String),
    `observed_at` DateTime64(3, 'UTC')
)
AS SELECT
    authority,
    report_id,
    source_topic,
    source_partition,
    source_offset,
    source_cluster,
    observed_at
FROM borderwatch.events_local;

CREATE MATERIALIZED VIEW IF NOT EXISTS borderwatch.vessel_positions_mv ON CLUSTER borderwatch TO borderwatch.vessel_positions_local
(
    `vessel_key` String,
    `observed_at` DateTime64(3, 'UTC'),
    `lat_deg` Float64,
    `lon_deg` Float64,
    `crossing_id` LowCardinality(String),
    `route` LowCardinality(String),
    `authority` LowCardinality(String),
    `report_id` String,
    `received_at` DateTime64(3, 'UTC')
)
AS SELECT
    vessel_key,
    observed_at,
    assumeNotNull(lat_deg) AS lat_deg,
    assumeNotNull(lon_deg) AS lon_deg,
    crossing_id,
    route,
    authority,
    report_id,
    received_at
FROM borderwatch.events_local
WHERE (kind = 'vessel') AND (lat_deg IS NOT NULL) AND (lon_deg IS NOT NULL);

INSERT INTO borderwatch.schema_migrations (version) SELECT number + 1
FROM numbers(14);

INSERT INTO borderwatch.retention_applied (name, statement) SELECT
    'events.report',
    'ALTER TABLE borderwatch.events MODIFY COLUMN report String TTL toDateTime(received_at) + INTERVAL 90 DAY';

INSERT INTO borderwatch.retention_applied (name, statement) SELECT
    'events.nationalities',
    'ALTER TABLE borderwatch.events MODIFY COLUMN nationalities Map(LowCardinality(String), UInt32) TTL toDateTime(received_at) + INTERVAL 90 DAY';

INSERT INTO borderwatch.retention_applied (name, statement) SELECT
    'rejects.raw',
    'ALTER TABLE borderwatch.rejects MODIFY COLUMN raw String TTL toDateTime(received_at) + INTERVAL 90 DAY';

INSERT INTO borderwatch.retention_applied (name, statement) SELECT
    'vessel_positions',
    'ALTER TABLE borderwatch.vessel_positions MODIFY TTL toDateTime(received_at) + INTERVAL 90 DAY';

INSERT INTO borderwatch.retention_applied (name, statement) SELECT
    'transitions',
    'ALTER TABLE borderwatch.transitions MODIFY TTL toDateTime(ifNull(received_at, inserted_at)) + INTERVAL 365 DAY';


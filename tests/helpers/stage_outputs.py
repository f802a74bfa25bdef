"""Every byte the ingest and store stages make of a fixed feed, digested: a faster path must match.

The feed is the bundled sample (interceptions and AIS tracks, with their
malformed lines and resends) plus lines for the paths it misses: notes, a
crossing hint with no position, nationalities, vessels by IMO or track id, a
fix without speed. It is read as input records with a fixed clock, in batches
of BATCH, and each output is hashed in order: the events' insert block, the
rejects' insert block, the `dlq` messages, the `events.enriched` messages
(with and without notes), the `events.validated` hand-off, and the detect
tracks and cells messages. Run `python -m tests.helpers.stage_outputs` to
write the digests of the code as it stands (only ever from a commit whose
outputs are the reference).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from geo.catalogue import builtin_path, load_catalogue
from schemas.codec import encode_columns
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES
from scripts.bench_stages import Record
from streams.detect.columns import split_for_detection
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sinks.clickhouse.columns import EVENT_COLUMNS, event_columns, reject_columns
from streams.sources.replay import open_lines
from streams.stages.dead_letters import dead_letter_messages
from streams.stages.handoff import encode_validated
from streams.stages.ingest import Ingest

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = ROOT / "tests" / "data" / "stage_outputs" / "digests.json"
NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)
PUBLISHED_MS = int(datetime(2025, 5, 1, 11, 59, 30, 250000, tzinfo=UTC).timestamp() * 1000)
BATCH = 500
PARTITIONS = 4
REACH_M = 500.0
OUTPUTS = ("events", "rejects", "dlq", "enriched", "enriched_notes", "validated", "tracks", "cells")


def extra_interceptions() -> list[bytes]:
    """Interception lines for the paths the sample misses."""
    base = {
        "authority": "ES-GC",
        "observed_at": "2025-04-19T03:14:00+02:00",
        "incident_type": "other",
        "persons": 3,
    }
    lines = [
        {**base, "report_id": "X-NOTES", "lat": 35.889, "lon": -5.317, "notes": "free text",
         "persons_detail": {"minors": 1, "nationalities": {"MA": 2, "GN": 1}}},
        {**base, "report_id": "X-HINT", "crossing_id": "ES-CEUTA-LAND",
         "reported_at": "2025-04-19T04:00:00Z"},
        {**base, "report_id": "X-NOWHERE", "lat": 10.0, "lon": 10.0},
        {**base, "report_id": "X-NOTES", "lat": 35.889, "lon": -5.317},  # a resend in the same batch
    ]  # fmt: skip
    return [orjson.dumps(line) for line in lines] + [b"not json", b'{"report_id": "X-BAD"}']


def extra_vessels() -> list[bytes]:
    """Vessel lines for the identities and fields the sample misses."""
    base = {
        "authority": "EMSA-AIS",
        "source": "ais",
        "observed_at": "2025-04-19T03:14:00Z",
        "lat": 36.0,
        "lon": -5.4,
    }
    lines = [
        {**base, "report_id": "V-IMO", "imo": 9074729, "name": "NAME", "callsign": "EAAA",
         "vessel_type": "cargo", "sog": 0.4, "reported_at": "2025-04-19T03:15:00Z"},
        {**base, "report_id": "V-TRACK", "track_id": "radar-7", "source": "radar", "sog": 25.0},
        {**base, "report_id": "V-NONE", "source": "patrol"},
        {**base, "report_id": "V-PLACEHOLDER", "mmsi": 123456789, "sog": 1.0},  # tracked alone, no cells
        {**base, "report_id": "V-COAST", "mmsi": 2240123, "imo": 7654, "track_id": "t-9"},  # short numbers
        {**base, "report_id": "V-MMSI", "mmsi": 224000001, "imo": 9074729, "lat": 35.95, "lon": -5.6},
    ]  # fmt: skip
    return [orjson.dumps(line) for line in lines]


def records() -> list[Record]:
    """The feed as input records: interceptions, then vessels, on PARTITIONS partitions."""
    data = ROOT / "streams" / "data"
    feeds = (
        (INTERCEPTIONS, list(open_lines(data / "sample_interceptions.jsonl.gz")) + extra_interceptions()),
        (VESSELS, list(open_lines(data / "sample_vessels.jsonl.gz")) + extra_vessels()),
    )
    out = []
    for topic, lines in feeds:
        for i, line in enumerate(lines):
            out.append(Record(topic, i % PARTITIONS, i // PARTITIONS, line, PUBLISHED_MS + i))
    return out


def stage_digests() -> dict[str, str]:
    """The sha256 of each output over the feed, batch by batch."""
    catalogue = load_catalogue(builtin_path())
    kinds = {c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)}
    ingest = Ingest(catalogue, MAX_MESSAGE_BYTES, DEFAULT_LIMITS)
    digests = {name: hashlib.sha256() for name in OUTPUTS}
    feed = records()
    for start in range(0, len(feed), BATCH):
        batch = ingest.prepare(feed[start : start + BATCH], NOW)
        events = list(batch.events)
        tracks, cells = split_for_detection(events, kinds, PARTITIONS, REACH_M)
        parts: dict[str, Iterable[bytes]] = {
            "events": [encode_columns(dict(zip(EVENT_COLUMNS, event_columns(events, "c"))))],
            "rejects": [repr(reject_columns(batch.dead_letters, "c")).encode()],
            "dlq": [key + b"\0" + value for key, value in dead_letter_messages(batch.dead_letters)],
            "enriched": [e.key.encode() + b"\0" + e.to_wire() for e in events],
            "enriched_notes": [e.to_wire(with_notes=True) for e in events],
            "validated": [encode_validated(e) for e in events],
            "tracks": [str(p).encode() + b"\0" + raw for p, raw in tracks],
            "cells": [str(p).encode() + b"\0" + raw for p, raw in cells],
        }
        for name, chunks in parts.items():
            for chunk in chunks:
                digests[name].update(len(chunk).to_bytes(8, "big") + chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


if __name__ == "__main__":
    DIGESTS.write_text(json.dumps(stage_digests(), indent=1) + "\n")
    print(f"wrote {DIGESTS}")

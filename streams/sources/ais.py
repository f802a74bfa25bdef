"""AIS adapter: NMEA 0183 sentences to vessel reports, decoded with pyais.

Multi-sentence messages are assembled before decoding. A position's time is
its tag block's receiver timestamp (`c:`), else the last Gatehouse `$PGHP`
wrapper's time, else the time it was read (a live feed). Static reports (types
5 and 24) teach the vessel's name, call sign and IMO for its later positions.
A sentence that cannot be decoded becomes a dead letter; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyais.exceptions import InvalidNMEAMessageException, UnknownMessageException
from pyais.messages import AISSentence, GatehouseSentence, NMEAMessage, NMEASentenceFactory

from schemas.codec import encode_obj
from schemas.rejection import DeadLetter, Rejected, RejectReason

POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES = frozenset({5, 24})
NO_HEADING = 511
NO_SPEED = 102.3


@dataclass
class AisStats:
    """What a decode run met."""

    sentences: int = 0
    reports: int = 0
    undecodable: int = 0
    without_position: int = 0
    other_types: int = 0


@dataclass
class AisDecoder:
    """Turns NMEA lines into (mmsi key, vessel report JSON) pairs and dead letters."""

    authority: str
    source_name: str
    stats: AisStats = field(default_factory=AisStats)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    _fragments: dict[tuple[Any, ...], tuple[int, list[AISSentence]]] = field(default_factory=dict)
    _statics: dict[int, dict[str, Any]] = field(default_factory=dict)
    _wrapper_time: datetime | None = None

    def decode_lines(self, lines: Iterable[bytes], now: datetime) -> Iterator[tuple[bytes, bytes]]:
        """Vessel reports, keyed by MMSI, in input order."""
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            self.stats.sentences += 1
            try:
                yield from self._decode_line(line, number, now)
            except (InvalidNMEAMessageException, UnknownMessageException, ValueError, KeyError) as error:
                self._reject(line, number, now, f"{type(error).__name__}: {error}")
        for slot in list(self._fragments):
            self._drop_fragments(slot, now, "the input ended before the message's last sentence")

    def _decode_line(self, line: bytes, number: int, now: datetime) -> Iterator[tuple[bytes, bytes]]:
        sentence = NMEASentenceFactory.produce(line)
        if isinstance(sentence, GatehouseSentence):
            self._wrapper_time = sentence.timestamp.replace(tzinfo=UTC)
            return
        if not isinstance(sentence, AISSentence):
            self.stats.other_types += 1
            return
        if sentence.tag_block:
            sentence.tag_block.init()
        message = self._assemble(sentence, number, now)
        if message is None:
            return
        if not message.payload:
            raise ValueError("empty payload")
        decoded: dict[str, Any] = message.decode().asdict()
        msg_type = int(decoded["msg_type"])
        mmsi = int(decoded["mmsi"])
        if msg_type in STATIC_TYPES:
            self._learn(mmsi, decoded)
            return
        if msg_type not in POSITION_TYPES:
            self.stats.other_types += 1
            return
        lat, lon = decoded.get("lat"), decoded.get("lon")
        if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
            self.stats.without_position += 1
            return
        observed_at = self._time_of(sentence, now)
        report: dict[str, Any] = {
            "report_id": f"AIS-{mmsi}-{int(observed_at.timestamp() * 1000)}-{number}",
            "authority": self.authority, "source": "ais", "observed_at": observed_at,
            "lat": round(float(lat), 6), "lon": round(float(lon), 6), "mmsi": mmsi,
        }  # fmt: skip
        speed, course, heading = decoded.get("speed"), decoded.get("course"), decoded.get("heading")
        if speed is not None and float(speed) < NO_SPEED:
            report["sog"] = float(speed)
        if course is not None and 0 <= float(course) < 360:
            report["cog"] = float(course)
        if heading is not None and int(heading) != NO_HEADING and 0 <= int(heading) < 360:
            report["heading"] = float(heading)
        report.update(self._statics.get(mmsi, {}))
        self.stats.reports += 1
        yield f"mmsi:{mmsi}".encode(), encode_obj(report)

    def _assemble(self, sentence: AISSentence, number: int, now: datetime) -> NMEAMessage | None:
        if sentence.is_single:
            return sentence
        slot = (sentence.seq_id, sentence.channel, sentence.frag_cnt)
        if sentence.frag_num == 1:
            if slot in self._fragments:
                self._drop_fragments(slot, now, "a new message began before this one's last sentence")
            self._fragments[slot] = (number, [sentence])
            return None
        _, parts = self._fragments.get(slot, (number, []))
        if len(parts) != sentence.frag_num - 1:
            raise ValueError(
                f"fragment {sentence.frag_num} of {sentence.frag_cnt} without the ones before it"
            )
        parts.append(sentence)
        if len(parts) < sentence.frag_cnt:
            return None
        del self._fragments[slot]
        return NMEAMessage.assemble_from_iterable(parts)

    def _learn(self, mmsi: int, decoded: dict[str, Any]) -> None:
        known = self._statics.setdefault(mmsi, {})
        name = str(decoded.get("shipname") or "").strip(" @")
        callsign = str(decoded.get("callsign") or "").strip(" @")
        imo = decoded.get("imo")
        if name:
            known["name"] = name[:200]
        if callsign:
            known["callsign"] = callsign[:200]
        if isinstance(imo, int) and 0 < imo <= 9_999_999:
            known["imo"] = imo

    def _time_of(self, sentence: AISSentence, now: datetime) -> datetime:
        stamp = sentence.tag_block.receiver_timestamp if sentence.tag_block else None
        if stamp:
            seconds = int(stamp)
            return datetime.fromtimestamp(seconds / 1000 if seconds > 10**11 else seconds, UTC)
        return self._wrapper_time or now

    def _drop_fragments(self, slot: tuple[Any, ...], now: datetime, why: str) -> None:
        number, parts = self._fragments.pop(slot)
        raw = b"\n".join(p.raw for p in parts)
        self._reject(raw, number, now, f"incomplete multi-sentence message: {why}")

    def _reject(self, line: bytes, number: int, now: datetime, detail: str) -> None:
        self.stats.undecodable += 1
        rejected = Rejected(reason=RejectReason.UNDECODABLE_NMEA, field="", detail=detail)
        self.dead_letters.append(DeadLetter.of(rejected, line, f"ais:{self.source_name}", 0, number, now))

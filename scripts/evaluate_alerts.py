"""Evaluation: surge alerts of a real worker against a year of background reports and real episodes.

What it replays (seeded, so every run with the same --seed sends the same bytes):

1. Background. The interception reports of one year (default 2023) at Frontex's
   monthly detections per route (streams/data/sources/frontex_ibc_monthly_by_route.csv),
   spread over the crossings with the shares of crossing_shares.csv (what a
   route's shares leave over is not placed in any crossing, and the Western
   Balkan and other routes have none), in boats (or groups on foot at land
   borders) whose sizes are drawn from a gamma distribution with the route's
   mean and sd in boat_sizes.csv (rounded, at least 1; the last boat of a
   crossing's month takes what remains, so each month totals its figure
   exactly). Departures cluster with the weather: each route gets a daily rate
   multiplier drawn from a gamma distribution with mean 1 and shape
   WEATHER_SHAPE (1.5), and each boat of a month falls on a day with
   probability proportional to that day's multiplier (a Poisson-gamma, i.e.
   negative binomial, day count); many days have no boat, some several.
   Within the day, times follow the night-heavy HOUR_WEIGHTS (assumption:
   departures at night, interceptions towards dawn), minute and second uniform.
2. Episodes. Real episodes from public reporting (EPISODES below, each with its
   sources, the figures used and the assumptions), moved to the same calendar
   day and time of the background year (29 February becomes 1 March) and sent
   as extra reports on top of the background. An episode of the background
   year itself is already inside Frontex's month, so its persons are taken out
   of that crossing's background month. Each wave of an episode spreads its
   boats or groups uniformly over its hours (assumption: the sources give day
   totals, not hourly profiles).
3. Reporting. Each report is an interception report as on the wire (docs/centres/reports.md):
   `interception_at_sea` at sea sectors, `irregular_crossing_attempt` at land
   and fence crossings, with `reported_at` = `observed_at` + a delay: 90% from a
   log-normal with median 2.5 h and sigma 0.5 (5-95%: 1.1-5.7 h), 10% uniform
   in 6-20 h (assumption; EUROSUR's deadline is 24 h). Reports are sent in order
   of `reported_at`, on one partition, so the worker sees them in exactly that
   order (several partitions replayed in bulk interleave by batch, and reports
   would reach the detector days "late").
4. Batching. The worker reads the reports in its default batches (up to 2,000
   reports: a bulk replay hands the detectors weeks at once), or with
   --batch-size 1 one report per batch, as a live worker at these volumes (a
   report every hour or so) would. Detection judges each crossing's reports one
   at a time on the crossing's own event clock whatever the batch
   (streams/detect/steps.py), so both give the same alerts; alerts raised from
   the bulk replay say they were found late.

How it scores, with the alert states the worker published (its `alerts` topic,
every version, as a coordination centre subscribed to Kafka receives them) and
its `alerts` table (through the worker's SQL API, every version still stored):

- The time of an alert state is the latest `reported_at` among its evidence
  (event ids): the earliest moment a live worker could have raised it, since
  the detector raises on the batch (one report) that brings the evidence. A
  state that a report elsewhere raised (by moving the clock), or whose evidence
  was cut to the newest 50 ids, reads early by the gap. Latencies are that time
  minus the episode's onset (observed time of its first wave).
- An episode is matched by the `surge` and `mass_attempt` alerts at its crossing
  whose event-time window overlaps the episode's span; its first alert and its
  first state at high or very high are the earliest of their states at or after
  the onset. Caught: at least medium within 6 h (TARGET_S) of the onset of its
  first wave, and high or very high within 6 h of the onset of its largest wave
  (the wave with the most persons; a high state before that onset meets it).
- A false alert is a `surge` or `mass_attempt` alert id (one id is one alert,
  whatever its versions) whose window overlaps no episode at its crossing, each
  span widened by MARGIN_S (24 h) either side: the sources give days, not hours.
  False alerts per month are those ids over the year's 12 months.

Run: python scripts/evaluate_alerts.py [--seed 2023] [--year 2023] [--batch-size N] [--data-dir D] [--keep]
     [--in-process] (the detection step alone, in this process: seconds, for trying a setting)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "streams" / "data" / "sources"
FRONTEX_CSV = SOURCES / "frontex_ibc_monthly_by_route.csv"
SHARES_CSV = SOURCES / "crossing_shares.csv"
BOAT_SIZES_CSV = SOURCES / "boat_sizes.csv"

WEATHER_SHAPE = 1.5  # gamma shape of the daily rate multiplier (mean 1, variance 1/shape)
# Night-heavy hour-of-day weights (UTC; the theatre is within UTC+0..+3), an assumption.
HOUR_WEIGHTS = (6, 7, 7, 8, 8, 7, 5, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6)
DELAY_MEDIAN_H, DELAY_SIGMA = 2.5, 0.5  # most reports: log-normal delay
LATE_SHARE, LATE_RANGE_H = 0.10, (6.0, 20.0)  # some: uniform in this range
DELAY_CLIP_H = (0.25, 20.0)
TARGET_S = 6 * 3600.0
MARGIN_S = 24 * 3600.0
SURGE_KINDS = frozenset({"surge", "mass_attempt", "large_boat"})
IMPACTS = ("low", "medium", "high", "very_high")
HIGH = IMPACTS.index("high")
MEDIUM = IMPACTS.index("medium")
AUTHORITIES = {"ESP": "ES-GC", "MAR": "MA-FAR", "ITA": "IT-GDF", "MLT": "MT-AFM", "GRC": "GR-HCG"}
LAND_AUTHORITIES = {"GRC": "GR-HP"}  # the Hellenic Police guards the land border, the coast guard the sea
BOAT_TYPES = {
    "Western African Route": "cayuco", "Western Mediterranean Route": "patera",
    "Central Mediterranean Route": "metal_boat", "Eastern Mediterranean Route": "rubber_dinghy",
}  # fmt: skip


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossing:
    """A crossing of the catalogue with its share of a Frontex route."""

    crossing_id: str
    route: str  # Frontex route name, e.g. "Central Mediterranean Route"
    share: float
    land: bool  # land crossing or fence section (else a sea sector)
    authority: str


def monthly_detections(year: int, path: Path = FRONTEX_CSV) -> dict[tuple[str, int], int]:
    """Frontex detections per (route, month number) of one year."""
    with path.open(newline="") as handle:
        return {
            (row["route"], int(row["month"][5:])): int(row["n"])
            for row in csv.DictReader(handle)
            if row["month"].startswith(f"{year}-")
        }


def boat_sizes(path: Path = BOAT_SIZES_CSV) -> dict[str, tuple[float, float]]:
    """(persons mean, persons sd) per boat or group, per Frontex route."""
    with path.open(newline="") as handle:
        rows = csv.DictReader(handle)
        return {r["frontex_route"]: (float(r["persons_mean"]), float(r["persons_sd"])) for r in rows}


def crossings(path: Path = SHARES_CSV) -> list[Crossing]:
    """The crossings with a share, their kind and authority from the built-in catalogue."""
    from geo.catalogue import load_catalogue

    zones = load_catalogue().crossings
    out = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            props = zones.props[zones.index_of(row["crossing_id"])]
            land = props["kind"] != "sea_sector"
            authority = (LAND_AUTHORITIES if land else {}).get(
                props["country"], AUTHORITIES[props["country"]]
            )
            out.append(
                Crossing(row["crossing_id"], row["frontex_route"], float(row["share"]), land, authority)
            )
    return out


# --- episodes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wave:
    """Persons observed at an episode's crossing over some hours (UTC), as the sources give them."""

    start: datetime
    hours: float
    persons: int
    boats: int | None = None  # reported number of boats or groups; else sizes from `group`
    sizes: tuple[int, ...] = ()  # reported persons per boat, when the sources give each
    group: tuple[float, float] | None = None  # (mean, sd) persons per group; else the route's boats


@dataclass(frozen=True)
class Episode:
    """A real episode: where, when, how many, and where the figures come from."""

    key: str
    name: str
    crossing_id: str
    sources: tuple[str, ...]
    assumptions: str
    waves: tuple[Wave, ...]

    @property
    def onset(self) -> datetime:
        """Start of the first wave (in the episode's own year)."""
        return min(w.start for w in self.waves)

    @property
    def largest_onset(self) -> datetime:
        """Start of the wave with the most persons (the first of equals)."""
        return max(self.waves, key=lambda w: (w.persons, -w.start.timestamp())).start

    @property
    def end(self) -> datetime:
        """End of the last wave."""
        return max(w.start + timedelta(hours=w.hours) for w in self.waves)

    @property
    def persons(self) -> int:
        """Persons over all waves."""
        return sum(w.persons for w in self.waves)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EPISODES: tuple[Episode, ...] = (
    Episode(
        "lampedusa-2023-09", "Lampedusa 11-13 Sep 2023", "IT-LAMPEDUSA",
        ("ANSA via 20 Minuten, 12 Sep 2023: Monday 11 Sep about 1,900 migrants on 51 boats "
         "(https://www.20min.ch/story/italien-ansturm-auf-lampedusa-fluechtlingsboote-bilden-schlange-796818325130)",
         "EFE, 13 Sep 2023: 5,112 people in 24 hours, 110 boats on Tuesday 12 Sep; since midnight another 23 "
         "boats with about a thousand (https://efe.com/en/latest-news/2023-09-13/"
         "more-than-5000-immigrants-arrive-in-italys-lampedusa-in-24-hours/)"),
        "days in local time (CEST, UTC+2); the 5,112 in 24 h taken as 12 Sep; 13 Sep's 23 boats over "
        "00:00-08:00 local",
        (Wave(_utc("2023-09-10T22:00"), 24, 1900, boats=51),
         Wave(_utc("2023-09-11T22:00"), 24, 5112, boats=110),
         Wave(_utc("2023-09-12T22:00"), 8, 1000, boats=23)),
    ),
    Episode(
        "melilla-2022-06", "Melilla fence 24 Jun 2022", "ES-MELILLA-LAND",
        ("Spanish government via AFP/Radio Pakistan, 24 Jun 2022: some 2,000 approached Melilla at dawn, "
         "over 500 entered a border control area (https://www.radio.gov.pk/24-06-2022/"
         "five-migrants-die-in-mass-attempt-to-enter-spains-melilla)",
         "Spanish government delegation via Ticinonline, Jun 2022: about 1,500 of the 2,000 pushed on to "
         "force a gate; 133 entered (https://www.tio.ch/dal-mondo/cronaca/1591881/"
         "asilo-richiedenti-melilla-ong-inchiesta-chiedono-dramma)"),
        "dawn taken as 06:45 CEST (04:45 UTC); the 1,500 at the gate within 45 min, the other 500 over the "
        "next 90 min; groups of 50 +- 30 persons per report",
        (Wave(_utc("2022-06-24T04:45"), 0.75, 1500, group=(50, 30)),
         Wave(_utc("2022-06-24T05:30"), 1.5, 500, group=(50, 30))),
    ),
    Episode(
        "melilla-2022-03", "Melilla fence 2-3 Mar 2022", "ES-MELILLA-LAND",
        ("Government Delegation in Melilla via The Limited Times (El País), 2 Mar 2022: some 2,500 people, "
         "groups seen approaching the fence around 09:00, the bulk of the 491 entries between 09:30 and "
         "09:40 (https://newsrnd.com/news/2022-03-02-some-2-500-people-try-to-access-melilla-by-jumping-"
         "over-the-fence.BkeS16dpgc.html)",
         "AP via The Washington Post, 8 Mar 2022: 2,500 tried, 491 got across; a day later another push by "
         "some 1,200 people, 380 crossings (https://www.washingtonpost.com/world/1000-migrants-fail-in-"
         "attempt-to-reach-spanish-enclave/2022/03/08/2a475c26-9eca-11ec-9438-255709b6cddc_story.html)"),
        "09:00 CET taken as 08:00 UTC, the 2,500 attempting over the next hour; the next day's 1,200 at the "
        "same time of day (the sources give no hour), also over an hour; groups of 50 +- 30 persons per "
        "report, as for Melilla in June",
        (Wave(_utc("2022-03-02T08:00"), 1, 2500, group=(50, 30)),
         Wave(_utc("2022-03-03T08:00"), 1, 1200, group=(50, 30))),
    ),
    Episode(
        "ceuta-2021-05", "Ceuta 17-18 May 2021", "ES-CEUTA-LAND",
        ("laSexta via bcfocus, 18 May 2021: more than 5,000 in less than 24 hours, swimming to Tarajal "
         "(https://bcfocus.com/the-austere-images-of-the-incessant-net-of-migrants-towards-the-coast-of-ceuta/)",
         "bcfocus, 18 May 2021: some 8,000 arrived over the past two days, most swimming around the "
         "breakwaters at Benzu and El Tarajal (https://bcfocus.com/the-moroccans-let-us-pass-easily/)"),
        "onset in the early hours of Monday 17 May, taken as 02:00 CEST (00:00 UTC); 5,000 in the first "
        "24 h, the other 3,000 in the next 12 h (about 36 h in all); swimmers alone or in small groups, "
        "10 +- 8 persons per report",
        (Wave(_utc("2021-05-17T00:00"), 24, 5000, group=(10, 8)),
         Wave(_utc("2021-05-18T00:00"), 12, 3000, group=(10, 8))),
    ),
    Episode(
        "evros-2020-02", "Evros 29 Feb-3 Mar 2020", "GR-EVROS-LAND",
        ("Greek police via The National Herald, 3 Mar 2020: 26,532 denied entry at the Evros border from "
         "06:00 Saturday 29 Feb to 18:00 Tuesday 3 Mar (https://www.thenationalherald.com/289473/"
         "26532-refugees-denied-greek-border-entry-since-sarurday/)",),
        "the 84 h in local time (EET, UTC+2), attempts uniform over them; groups of the route's size "
        "(30 +- 15, boat_sizes.csv); 29 Feb becomes 1 Mar in a year without it",
        (Wave(_utc("2020-02-29T04:00"), 84, 26532),),
    ),
    Episode(
        "gran-canaria-2020-11", "Gran Canaria (Arguineguin) 7-8 Nov 2020", "ES-GRAN-CANARIA",
        ("Canary Islands president Torres via The Guardian, 10 Nov 2020: 2,188 people reached the islands "
         "over the weekend, housed on the Arguineguin dock (https://www.theguardian.com/world/2020/nov/10/"
         "canary-islands-plead-for-help-as-2200-migrants-arrive-over-weekend)",),
        "all 2,188 counted at the Gran Canaria sector (they were brought to Arguineguin); the weekend "
        "Sat 00:00 to Mon 00:00 (WET, UTC+0); boats of the route's size (65 +- 40)",
        (Wave(_utc("2020-11-07T00:00"), 48, 2188),),
    ),
    Episode(
        "el-hierro-2023-10-03", "El Hierro 3 Oct 2023", "ES-EL-HIERRO",
        ("EFE via La Prensa Latina, 3 Oct 2023: three cayucos at La Restinga, of 127, 91 and 271 (Red Cross; "
         "280 by Maritime Rescue) persons, the largest since 1994 (https://www.laprensalatina.com/"
         "largest-cayuco-since-1994-arrived-in-canary-islands-with-over-280-people-on-board/)",),
        "the three arrivals spread over 06:00-18:00 local (WEST, UTC+1)",
        (Wave(_utc("2023-10-03T05:00"), 12, 489, sizes=(127, 91, 271)),),
    ),
    Episode(
        "el-hierro-2023-10-21", "El Hierro 21 Oct 2023", "ES-EL-HIERRO",
        ("El Mundo via dailynewsen, 21 Oct 2023: four cayucos of 160, 121, 212 and 320 persons at La "
         "Restinga in the early hours of Saturday, 813 at El Hierro that day (https://dailynewsen.com/breaking/"
         "immigration-a-cayuco-arrives-in-el-hierro-with-320-immigrants-the-largest.html)",
         "Antena 3 Noticias, 21-22 Oct 2023: the cayuco of 320, a record on the route "
         "(https://antena3.com/noticias/sociedad/llega-hierro-cayuco-mas-1000-personas-jornada-mas-rescates-"
         "ano_202310226535048032dc750001b3187b.html)"),
        "the early hours taken as 00:00-07:00 local (WEST, UTC+1)",
        (Wave(_utc("2023-10-20T23:00"), 7, 813, sizes=(160, 121, 212, 320)),),
    ),
)  # fmt: skip


def transplant(episode: Episode, year: int) -> Episode:
    """The episode moved to the same month, day and time of `year` (29 February becomes 1 March)."""
    onset = episode.onset
    try:
        day = date(year, onset.month, onset.day)
    except ValueError:  # 29 February in a year without it
        day = date(year, 3, 1)
    shift = datetime.combine(day, onset.timetz()) - onset
    waves = tuple(Wave(w.start + shift, w.hours, w.persons, w.boats, w.sizes, w.group) for w in episode.waves)
    return Episode(
        episode.key, episode.name, episode.crossing_id, episode.sources, episode.assumptions, waves
    )


# --- generation (pure, seeded) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """One boat or group observed at a crossing; `source` is "background" or an episode key."""

    crossing_id: str
    observed_at: datetime
    persons: int
    source: str


def draw_sizes(total: int, mean: float, sd: float, rng: np.random.Generator) -> list[int]:
    """Gamma-distributed sizes (rounded, >= 1) until they reach `total`; the last takes what remains."""
    shape, scale = (mean / sd) ** 2, sd * sd / mean
    sizes: list[int] = []
    remaining = total
    while remaining > 0:
        for size in np.maximum(1, np.rint(rng.gamma(shape, scale, size=max(8, int(remaining / mean) + 1)))):
            take = min(int(size), remaining)
            sizes.append(take)
            remaining -= take
            if remaining == 0:
                break
    return sizes


def split_persons(total: int, boats: int, mean: float, sd: float, rng: np.random.Generator) -> list[int]:
    """`total` persons over exactly `boats` boats, with gamma weights of the route's spread; each >= 1."""
    weights = rng.gamma((mean / sd) ** 2, 1.0, size=boats)
    return [int(n) + 1 for n in rng.multinomial(total - boats, weights / weights.sum())]


def _day_time(day: date, rng: np.random.Generator) -> datetime:
    weights = np.asarray(HOUR_WEIGHTS, dtype=float)
    hour = int(rng.choice(24, p=weights / weights.sum()))
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return start + timedelta(seconds=int(rng.integers(3600)))


def background(
    year: int,
    detections: Mapping[tuple[str, int], int],
    places: Sequence[Crossing],
    sizes: Mapping[str, tuple[float, float]],
    rng: np.random.Generator,
    taken_out: Mapping[tuple[str, int], int] | None = None,
    weather_shape: float = WEATHER_SHAPE,
) -> list[Incident]:
    """A year of boats per crossing at the monthly volumes, on weather-clustered days.

    `taken_out` persons per (crossing, month) are removed from that month first
    (an episode of this year is already inside Frontex's figure).
    """
    taken_out = taken_out or {}
    days = [
        date(year, 1, 1) + timedelta(days=i) for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)
    ]
    routes = sorted({c.route for c in places})
    weather = {r: rng.gamma(weather_shape, 1.0 / weather_shape, size=len(days)) for r in routes}
    out: list[Incident] = []
    for c in places:
        mean, sd = sizes[c.route]
        for month in range(1, 13):
            persons = round(detections.get((c.route, month), 0) * c.share)
            persons = max(0, persons - taken_out.get((c.crossing_id, month), 0))
            if persons == 0:
                continue
            in_month = [i for i, d in enumerate(days) if d.month == month]
            p = weather[c.route][in_month] / weather[c.route][in_month].sum()
            boats = draw_sizes(persons, mean, sd, rng)
            for size, i in zip(boats, rng.choice(in_month, size=len(boats), p=p)):
                out.append(Incident(c.crossing_id, _day_time(days[int(i)], rng), size, "background"))
    return out


def episode_incidents(
    episode: Episode, route: str, sizes: Mapping[str, tuple[float, float]], rng: np.random.Generator
) -> list[Incident]:
    """Each wave's boats or groups, their times uniform over the wave."""
    out = []
    for wave in episode.waves:
        mean, sd = wave.group or sizes[route]
        if wave.sizes:
            persons = list(wave.sizes)
        elif wave.boats:
            persons = split_persons(wave.persons, wave.boats, mean, sd, rng)
        else:
            persons = draw_sizes(wave.persons, mean, sd, rng)
        offsets = np.sort(rng.uniform(0, wave.hours * 3600, size=len(persons)))
        for size, offset in zip(persons, offsets):
            at = wave.start + timedelta(seconds=int(offset))
            out.append(Incident(episode.crossing_id, at, size, episode.key))
    return out


def reporting_delays_s(n: int, rng: np.random.Generator) -> np.ndarray:
    """Delays from observation to report: mostly log-normal around 2.5 h, some 6-20 h."""
    delays = rng.lognormal(math.log(DELAY_MEDIAN_H), DELAY_SIGMA, size=n)
    late = rng.random(n) < LATE_SHARE
    delays[late] = rng.uniform(*LATE_RANGE_H, size=int(late.sum()))
    return np.clip(delays, *DELAY_CLIP_H) * 3600.0


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def to_reports(
    incidents: Iterable[Incident], places: Mapping[str, Crossing], year: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Interception reports on the wire, in order of arrival (reported_at, then report id)."""
    ordered = sorted(incidents, key=lambda i: (i.observed_at, i.crossing_id, i.source, i.persons))
    delays = reporting_delays_s(len(ordered), rng)
    serial: dict[str, int] = defaultdict(int)
    reports = []
    for incident, delay in zip(ordered, delays):
        c = places[incident.crossing_id]
        serial[c.authority] += 1
        tag = "BG" if incident.source == "background" else "EP"
        report: dict[str, Any] = {
            "report_id": f"{c.authority}-{year}-{tag}{serial[c.authority]:06d}",
            "authority": c.authority,
            "observed_at": _stamp(incident.observed_at),
            "reported_at": _stamp(incident.observed_at + timedelta(seconds=int(delay))),
            "crossing_id": c.crossing_id,
            "incident_type": "irregular_crossing_attempt" if c.land else "interception_at_sea",
            "persons": incident.persons,
        }
        if not c.land:
            report["boat_type"] = BOAT_TYPES.get(c.route, "boat")
        reports.append(report)
    reports.sort(key=lambda r: (r["reported_at"], r["report_id"]))
    return reports


@dataclass(frozen=True)
class Feed:
    """The reports to send, in order, and the episodes as placed in the background year."""

    reports: list[dict[str, Any]]
    episodes: list[Episode]
    places: list[Crossing]
    background_persons: int


def build_feed(year: int, seed: int, episodes: Sequence[Episode] = EPISODES) -> Feed:
    """Background plus transplanted episodes as wire reports in arrival order; same seed, same reports."""
    rng = np.random.default_rng(seed)
    places = crossings()
    sizes = boat_sizes()
    by_id = {c.crossing_id: c for c in places}
    taken_out: dict[tuple[str, int], int] = defaultdict(int)
    for e in episodes:
        if e.onset.year == year:
            taken_out[(e.crossing_id, e.onset.month)] += e.persons
    incidents = background(year, monthly_detections(year), places, sizes, rng, taken_out)
    placed = [transplant(e, year) for e in episodes]
    extra = [i for e in placed for i in episode_incidents(e, by_id[e.crossing_id].route, sizes, rng)]
    reports = to_reports(incidents + extra, by_id, year, rng)
    return Feed(reports, placed, places, sum(i.persons for i in incidents))


def arrival_s(report: Mapping[str, Any]) -> float:
    """A report's reported_at in Unix seconds."""
    return datetime.fromisoformat(report["reported_at"]).timestamp()


# --- scoring (pure) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertState:
    """One state (version) of an alert, as the worker published or stored it; times in Unix seconds."""

    id: str
    version: int
    kind: str
    impact: str
    zone_id: str
    window_start: float
    window_end: float
    event_ids: tuple[str, ...] = ()


@dataclass
class EpisodeResult:
    """How the alerts met one episode; latencies in seconds from its onset, None when never."""

    episode: Episode
    alert_ids: list[str] = field(default_factory=list)
    impact: str | None = None
    first_alert_s: float | None = None
    first_medium_s: float | None = None  # at least medium, from the onset of the first wave
    first_high_s: float | None = None  # high or very high, from the onset of the first wave

    @property
    def high_after_largest_s(self) -> float | None:
        """High or very high, from the onset of the largest wave (negative: before it began)."""
        if self.first_high_s is None:
            return None
        return self.first_high_s - (self.episode.largest_onset - self.episode.onset).total_seconds()

    @property
    def medium_met(self) -> bool:
        """At least medium within TARGET_S of the onset of the first wave."""
        return self.first_medium_s is not None and self.first_medium_s <= TARGET_S

    @property
    def high_met(self) -> bool:
        """High or very high within TARGET_S of the onset of the largest wave."""
        after = self.high_after_largest_s
        return after is not None and after <= TARGET_S

    @property
    def caught(self) -> bool:
        """Both targets: at least medium within 6 h of the first wave, high within 6 h of the largest."""
        return self.medium_met and self.high_met


@dataclass(frozen=True)
class Score:
    """Per-episode results and the false alert ids per crossing."""

    episodes: list[EpisodeResult]
    false_ids: dict[str, list[str]]
    months: int

    @property
    def caught(self) -> int:
        """Episodes caught."""
        return sum(r.caught for r in self.episodes)

    @property
    def false_per_month(self) -> float:
        """False surge and mass-attempt alerts per month, across the theatre."""
        return sum(len(v) for v in self.false_ids.values()) / self.months


def state_time(state: AlertState, arrival_s: Mapping[str, float]) -> float:
    """When a live worker could first have raised this state: the latest arrival among its evidence."""
    known = [arrival_s[e] for e in state.event_ids if e in arrival_s]
    return max(known) if known else state.window_end


def score_alerts(
    states: Iterable[AlertState],
    episodes: Sequence[Episode],
    arrival_s: Mapping[str, float],
    months: int = 12,
    margin_s: float = MARGIN_S,
) -> Score:
    """Match surge and mass-attempt alerts to episodes at their crossing; the rest are false."""
    by_id: dict[str, list[AlertState]] = defaultdict(list)
    for s in states:
        if s.kind in SURGE_KINDS:
            by_id[s.id].append(s)
    windows = {i: (min(s.window_start for s in v), max(s.window_end for s in v)) for i, v in by_id.items()}
    results = [EpisodeResult(e) for e in episodes]
    false_ids: dict[str, list[str]] = defaultdict(list)
    for alert_id, versions in sorted(by_id.items()):
        zone = versions[0].zone_id
        start, end = windows[alert_id]
        near = False
        for result in results:
            e = result.episode
            if e.crossing_id != zone:
                continue
            onset, finish = e.onset.timestamp(), e.end.timestamp()
            near = near or (start <= finish + margin_s and end >= onset - margin_s)
            if start <= finish and end >= onset:
                _match(result, alert_id, versions, onset, arrival_s)
        if not near:
            false_ids[zone].append(alert_id)
    return Score(results, dict(false_ids), months)


def _match(
    result: EpisodeResult,
    alert_id: str,
    versions: list[AlertState],
    onset: float,
    arrival_s: Mapping[str, float],
) -> None:
    result.alert_ids.append(alert_id)
    for s in versions:
        rank = IMPACTS.index(s.impact)
        if result.impact is None or rank > IMPACTS.index(result.impact):
            result.impact = s.impact
        after = state_time(s, arrival_s) - onset
        if after < 0:
            continue
        if result.first_alert_s is None or after < result.first_alert_s:
            result.first_alert_s = after
        if rank >= MEDIUM and (result.first_medium_s is None or after < result.first_medium_s):
            result.first_medium_s = after
        if rank >= HIGH and (result.first_high_s is None or after < result.first_high_s):
            result.first_high_s = after


def arrivals(reports: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Event id (authority:report_id) to its reported_at in Unix seconds."""
    return {f"{r['authority']}:{r['report_id']}": arrival_s(r) for r in reports}


def render(score: Score, places: Sequence[str]) -> list[str]:
    """The report: per crossing, its episodes and false alerts; the summary last."""

    def minutes(s: float | None) -> str:
        return "never" if s is None else f"+{s / 60:.0f} min"

    lines = []
    for crossing_id in places:
        results = [r for r in score.episodes if r.episode.crossing_id == crossing_id]
        false = score.false_ids.get(crossing_id, [])
        caught = sum(r.caught for r in results)
        head = f"{crossing_id}: false alerts {len(false)} ({len(false) / score.months:.1f} a month)"
        lines.append(head + (f", episodes caught {caught}/{len(results)}" if results else ""))
        for r in results:
            target = "met" if r.caught else "missed"
            lines.append(
                f"  {r.episode.name} (onset {_stamp(r.episode.onset)}, {r.episode.persons:,} persons): "
                f"impact {r.impact or 'none'}, first alert {minutes(r.first_alert_s)}, medium "
                f"{minutes(r.first_medium_s)}, high or very high {minutes(r.first_high_s)}; "
                f"6 h target {target} ({len(r.alert_ids)} alerts)"
            )
    lines += episode_table(score)
    lines.append(
        f"episodes caught: {score.caught}/{len(score.episodes)}, "
        f"false surges per month: {score.false_per_month:.1f}"
    )
    return lines


def episode_table(score: Score) -> list[str]:
    """The targets per episode as a Markdown table: at least medium within 6 h of the first wave's
    onset, high or very high within 6 h of the largest wave's onset (times from each onset)."""

    def minutes(s: float | None) -> str:
        return "never" if s is None else f"{s / 60:+.0f} min"

    lines = [
        "",
        "| episode | first wave | largest wave | >= medium from first | >= high from largest "
        "| impact | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in score.episodes:
        e = r.episode
        met = "yes" if r.caught else "no (" + ", ".join(
            what for what, ok in (("medium", r.medium_met), ("high", r.high_met)) if not ok
        ) + ")"  # fmt: skip
        lines.append(
            f"| {e.name} | {_stamp(e.onset)} | {_stamp(e.largest_onset)} | {minutes(r.first_medium_s)} | "
            f"{minutes(r.high_after_largest_s)} | {r.impact or 'none'} | {met} |"
        )
    lines.append("")
    return lines


# --- the run (I/O) ------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _state(obj: Mapping[str, Any]) -> AlertState:
    def ts(value: Any) -> float:
        return value / 1000 if isinstance(value, int | float) else datetime.fromisoformat(value).timestamp()

    return AlertState(
        str(obj["id"]), int(obj["version"]), str(obj["kind"]), str(obj["impact"]), str(obj["zone_id"]),
        ts(obj["window_start"]), ts(obj["window_end"]), tuple(obj.get("event_ids") or ()),
    )  # fmt: skip


async def read_alert_topic(broker_url: str, expected: int, timeout_s: float = 60.0) -> list[AlertState]:
    """Every alert state on the `alerts` topic, until `expected` are in and the topic is quiet."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.kafka.security import as_connection
    from streams.kafka.topics import ALERTS

    consumer = AIOKafkaConsumer(
        **as_connection(broker_url).client_kwargs(), enable_auto_commit=False, group_id=None,
        auto_offset_reset="earliest", max_partition_fetch_bytes=16 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    states: list[AlertState] = []
    try:
        partition = TopicPartition(ALERTS, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline, quiet = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline and (len(states) < expected or quiet < 2):
            fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
            records = [r for batch in fetched.values() for r in batch]
            quiet = 0 if records else quiet + 1
            states.extend(_state(orjson.loads(r.value)) for r in records if r.value)
    finally:
        await consumer.stop()
    return states


def read_alert_table(api: Any) -> list[AlertState]:
    """Every alert state still in the `alerts` table (older versions go when parts merge)."""
    answer = api.sql(
        "SELECT id, version, kind, impact, zone_id, toUnixTimestamp64Milli(window_start) AS window_start, "
        "toUnixTimestamp64Milli(window_end) AS window_end, event_ids FROM borderwatch.alerts "
        "WHERE kind IN ('surge', 'mass_attempt', 'large_boat')"
    )
    if "error" in answer:
        raise RuntimeError(f"the worker refused the alerts query: {answer['error']}")
    return [_state(dict(zip(answer["columns"], row))) for row in answer["rows"]]


def wait_until_handled(api: Any, sent: int, timeout_s: float = 900.0) -> dict[str, Any]:
    """Until every report is stored or rejected, detection has seen each, and alerts stop coming."""
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    last_log, last_alerts, steady_since = 0.0, -1, time.monotonic()
    while time.monotonic() < deadline:
        status = api.get("/status") or status
        handled = status.get("events", 0) + status.get("rejects", 0) + status.get("duplicates", 0)
        detect = status.get("detect", {})
        if time.monotonic() - last_log > 5:
            log(f"worker: {handled:,}/{sent:,} handled, {detect.get('sightings', 0):,} seen by detection, "
                f"{detect.get('alerts', 0):,} alert states")  # fmt: skip
            last_log = time.monotonic()
        if handled >= sent and detect.get("sightings", 0) >= status.get("events", 0):
            if detect.get("alerts", 0) != last_alerts:
                last_alerts, steady_since = detect.get("alerts", 0), time.monotonic()
            elif time.monotonic() - steady_since > 3:
                return status
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not handle {sent} reports in {timeout_s:.0f} s: {status}")


def replay_through_worker(
    feed: Feed, data_dir: Path, batch_size: int | None = None
) -> tuple[list[AlertState], dict[str, Any]]:
    """Bundled broker and a real worker on chdb in `data_dir`; the reports in; alert states out.

    `batch_size` None: the worker's default batches.
    """
    from streams.client.worker_api import start_worker_process, stop_process, wait_for_worker
    from streams.kafka.admin import ensure_topics
    from streams.kafka.broker import free_port, start_local_broker
    from streams.kafka.topics import INTERCEPTIONS
    from streams.sources.replay import replay_lines
    from streams.worker.datadir import secure_data_dir

    secure_data_dir(data_dir)
    lines = [orjson.dumps(r) for r in feed.reports]
    with start_local_broker(data_dir) as broker:
        asyncio.run(ensure_topics(broker.url, 1))
        asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
        log(f"sent {len(lines):,} reports to {INTERCEPTIONS} (Tansu at {broker.url}, one partition)")
        port = free_port()
        worker_log = data_dir / "worker.log"
        batching = {} if batch_size is None else {"batch_size": str(batch_size)}
        worker = start_worker_process(
            worker_log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), partitions="1",
            worker_id="evaluate-alerts", **batching,
        )  # fmt: skip
        try:
            api = wait_for_worker(worker, f"http://127.0.0.1:{port}", data_dir, worker_log)
            per_batch = "default batches" if batch_size is None else f"batches of {batch_size}"
            log(f"worker: pid {worker.pid}, {per_batch}, log {worker_log}")
            status = wait_until_handled(api, len(lines))
            published = int(status["detect"]["alerts"])
            topic_states = asyncio.run(read_alert_topic(broker.url, published))
            table_states = read_alert_table(api)
        finally:
            stop_process(worker)
    states = {(s.id, s.version): s for s in table_states + topic_states}
    topic_ids, table_ids = {s.id for s in topic_states}, {s.id for s in table_states}
    if topic_ids != table_ids:
        log(f"warning: {len(topic_ids - table_ids)} alert ids only on the topic, "
            f"{len(table_ids - topic_ids)} only in the table")  # fmt: skip
    log(f"alert states: {len(topic_states):,} on the alerts topic ({published:,} published), "
        f"{len(table_states):,} in the alerts table; {len(states):,} distinct (id, version)")  # fmt: skip
    return list(states.values()), status


def replay_in_process(feed: Feed, batch_size: int | None = None) -> tuple[list[AlertState], dict[str, Any]]:
    """The reports through the worker's own crossing detector (TrackDetector) in this process.

    No broker, no ClickHouse: the detection step alone, fed as the ingest stage
    feeds it (one partition, arrival order, `batch_size` reports per batch,
    default 2,000 as the worker's batches). Seconds instead of minutes, for
    trying a setting; the figures of record come from the worker.
    """
    from geo.catalogue import builtin_path, load_catalogue
    from geo.ports import load_ports
    from streams.config.settings import Settings
    from streams.detect.columns import SIGHTING_COLUMNS, DetectBatch, SightingRow
    from streams.detect.runtime import TrackDetector
    from streams.detect.watchlist import WatchListFile

    zones = load_catalogue(builtin_path()).crossings
    rows = [
        SightingRow(
            event_id=f"{r['authority']}:{r['report_id']}", crossing=r["crossing_id"],
            crossing_kind=str(zones.props[zones.position[r["crossing_id"]]]["kind"]),
            route=str(zones.props[zones.position[r["crossing_id"]]]["route"]),
            ts=datetime.fromisoformat(r["observed_at"]).timestamp(), persons=r["persons"], lat=None, lon=None,
            reported=arrival_s(r),
        )
        for r in feed.reports
    ]  # fmt: skip
    detector = TrackDetector(
        Settings().detect, load_catalogue(builtin_path()), load_ports(), WatchListFile(None), partitions=1
    )
    tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    states, wall, size = [], time.time(), batch_size or 2000
    for start in range(0, len(rows), size):
        batch = DetectBatch()
        for name, values in zip(SIGHTING_COLUMNS, zip(*rows[start : start + size])):
            batch.sightings[name] = list(values)
        wall += 0.05
        for a in detector.on_batch(0, batch, wall, *tables).alerts:
            window = (a.window_start.timestamp(), a.window_end.timestamp())
            kind, impact = a.kind.value, a.impact.value
            states.append(AlertState(a.id, a.version, kind, impact, a.zone_id, *window, tuple(a.event_ids)))
    status = {"events": len(rows), "detect": {"too_late": detector.stats.too_late}}
    return states, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2023, help="seed of every random draw")
    parser.add_argument("--year", type=int, default=2023, help="background year (Frontex monthly figures)")
    parser.add_argument(
        "--data-dir", type=Path, help="where the broker log and chdb go (kept); default a temp dir"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    parser.add_argument(
        "--batch-size", type=int, help="reports per worker batch (1: as live); default the worker's own"
    )
    parser.add_argument(
        "--in-process", action="store_true",
        help="only the detection step, in this process (seconds; settings from BORDERWATCH_DETECT__*)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.data_dir is not None and args.data_dir.exists() and any(args.data_dir.iterdir()):
        parser.error(f"--data-dir {str(args.data_dir)!r} is not empty: an evaluation needs a fresh one")
    if not monthly_detections(args.year):
        parser.error(f"--year {args.year}: no Frontex figures for that year in {FRONTEX_CSV.name}")
    started = time.monotonic()
    feed = build_feed(args.year, args.seed)
    persons = sum(r["persons"] for r in feed.reports)
    log(f"feed: {len(feed.reports):,} reports, {persons:,} persons ({feed.background_persons:,} background, "
        f"{len(feed.episodes)} episodes), year {args.year}, seed {args.seed}")  # fmt: skip
    if args.in_process:
        states, status = replay_in_process(feed, args.batch_size)
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="evaluate-alerts-"))
        try:
            states, status = replay_through_worker(feed, data_dir, args.batch_size)
        finally:
            if args.data_dir is None and not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
            else:
                log(f"data kept in {data_dir}")
    if status.get("rejects"):
        log(f"warning: the worker rejected {status['rejects']} reports")
    too_late = status.get("detect", {}).get("too_late", 0)
    score = score_alerts(states, feed.episodes, arrivals(feed.reports))
    batching = "default batches" if args.batch_size is None else f"batch size {args.batch_size}"
    if args.in_process:
        batching += ", detection in process"
    print(f"year {args.year}, seed {args.seed}, {batching}: {len(feed.reports):,} reports "
          f"({persons:,} persons), "
          f"{status.get('events', 0):,} stored, {too_late:,} too late for detection; "
          f"{len({s.id for s in states}):,} surge/mass-attempt alerts")  # fmt: skip
    log(f"done in {time.monotonic() - started:.0f} s")
    for line in render(score, [c.crossing_id for c in feed.places]):
        print(line)


if __name__ == "__main__":
    main()

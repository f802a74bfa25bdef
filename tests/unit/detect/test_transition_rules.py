"""Transition rules: which geofence transitions become alerts, and the TOML file they come from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.alerts import AlertKind, Impact
from schemas.errors import TransitionRulesError
from schemas.transitions import Direction, Transition
from streams.detect.transition_rules import (
    MAX_FILE_BYTES,
    MAX_RULES,
    NO_RULES,
    TransitionRule,
    TransitionRules,
    load_transition_rules,
)
from streams.detect.watchlist import WatchList

ZONES = ("ES-GIB-STRAIT-N", "ES-CEUTA-LAND", "IT-LAMPEDUSA")
AT = datetime(2026, 11, 22, 3, 14, 0, 123000, tzinfo=UTC)


def transition(**changes: Any) -> Transition:
    values: dict[str, Any] = {
        "vessel_key": "mmsi:224000001", "mmsi": "224000001", "name": "BLUE STAR", "vessel_type": "Fishing",
        "zone_id": "ES-GIB-STRAIT-N", "route": "Western Mediterranean", "direction": Direction.ENTER,
        "observed_at": AT, "event_id": "EMSA:AIS-1", "lat": 35.99, "lon": -5.45,
    }  # fmt: skip
    return Transition(**(values | changes))


def rules_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "transition-rules.toml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str) -> str:
    path = rules_file(tmp_path, text)
    with pytest.raises(TransitionRulesError) as error:
        load_transition_rules(path, ZONES)
    message = str(error.value)
    assert repr(str(path)) in message  # every error names the file
    return message


# Matching


def test_no_rules_no_alerts() -> None:
    assert NO_RULES.findings([transition(), transition(direction=Direction.EXIT)], WatchList()) == []


def test_a_zone_rule_matches_its_zones_in_its_directions_only() -> None:
    rule = TransitionRule(
        name="strait", zones=["ES-GIB-STRAIT-N"], directions=[Direction.ENTER, Direction.CROSS]
    )
    assert rule.matches(transition(), watched=False)
    assert rule.matches(transition(direction=Direction.CROSS), watched=False)
    assert not rule.matches(transition(direction=Direction.EXIT), watched=False)
    assert not rule.matches(transition(zone_id="IT-LAMPEDUSA"), watched=False)


def test_directions_default_to_all_three() -> None:
    rule = TransitionRule(name="any", zones=["ES-GIB-STRAIT-N"])
    assert all(rule.matches(transition(direction=d), watched=False) for d in Direction)


def test_vessel_types_compare_case_insensitively_and_an_unknown_type_never_matches() -> None:
    rule = TransitionRule(name="fishers", vessel_types=[" fishing "])
    assert rule.vessel_types == ["FISHING"]
    assert rule.matches(transition(vessel_type="FISHING"), watched=False)
    assert rule.matches(transition(vessel_type="fishing", zone_id="IT-LAMPEDUSA"), watched=False)  # any zone
    assert not rule.matches(transition(vessel_type="Cargo"), watched=False)
    assert not rule.matches(transition(vessel_type=""), watched=False)


def test_watch_listed_rule_asks_the_watch_list() -> None:
    rules = TransitionRules((TransitionRule(name="watched", watch_listed=True),))
    watch = WatchList(mmsi={"224000001": "smuggling"})
    assert len(rules.findings([transition()], watch)) == 1
    assert rules.findings([transition(mmsi="224000002", name="OTHER")], watch) == []
    assert rules.findings([transition()], WatchList()) == []
    by_name = WatchList(name={"BLUE STAR": ""})
    assert len(rules.findings([transition(mmsi="")], by_name)) == 1


def test_selectors_of_one_rule_all_apply_and_any_rule_may_match() -> None:
    both = TransitionRule(name="fishers in strait", zones=["ES-GIB-STRAIT-N"], vessel_types=["fishing"])
    lampedusa = TransitionRule(name="lampedusa", zones=["IT-LAMPEDUSA"])
    rules = TransitionRules((both, lampedusa))
    cases = [
        transition(),  # both selectors of the first rule
        transition(vessel_type="cargo"),  # the first rule's type does not match
        transition(vessel_type="cargo", zone_id="IT-LAMPEDUSA"),  # the second rule
    ]
    assert [f.zone_id for f in rules.findings(cases, WatchList())] == ["ES-GIB-STRAIT-N", "IT-LAMPEDUSA"]


def test_a_matching_transition_is_the_geofence_finding_of_before() -> None:
    rules = TransitionRules((TransitionRule(name="strait", zones=["ES-GIB-STRAIT-N"]),))
    kinds = {
        Direction.ENTER: AlertKind.GEOFENCE_ENTER,
        Direction.EXIT: AlertKind.GEOFENCE_EXIT,
        Direction.CROSS: AlertKind.GEOFENCE_CROSS,
    }
    for direction, kind in kinds.items():
        (f,) = rules.findings([transition(direction=direction)], WatchList())
        assert (f.kind, f.group, f.group_id) == (
            kind,
            "mmsi:224000001@ES-GIB-STRAIT-N",
            f"{kind}:mmsi:224000001@ES-GIB-STRAIT-N",
        )
        assert (f.ts, f.impact, f.confidence, f.active) == (AT.timestamp(), Impact.LOW, 0.9, True)
        assert (f.zone_id, f.route, f.event_ids, f.vessel_ids) == (
            "ES-GIB-STRAIT-N", "Western Mediterranean", ("EMSA:AIS-1",), ("mmsi:224000001",),
        )  # fmt: skip
        assert (f.lat, f.lon) == (35.99, -5.45) and "rule 'strait'" in f.detail


def test_transition_time_round_trips_exactly() -> None:
    ts = 1_760_000_000.123
    t = transition(observed_at=datetime.fromtimestamp(ts, UTC))
    assert t.observed_at.timestamp() == ts
    assert Transition.model_validate_json(t.model_dump_json()) == t


# The file


def test_a_good_file_loads_in_order(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        """
# Entering the Strait or crossing the Ceuta strip, any vessel.
[[rule]]
name = "strait and ceuta"
zones = ["ES-GIB-STRAIT-N", "ES-CEUTA-LAND"]
directions = ["enter", "cross"]

[[rule]]
name = "watched vessels"
watch_listed = true

[[rule]]
name = "fishing boats at Lampedusa"
zones = ["IT-LAMPEDUSA"]
vessel_types = ["Fishing"]
directions = ["exit"]
""",
    )
    rules = load_transition_rules(path, ZONES)
    assert [r.name for r in rules.rules] == [
        "strait and ceuta",
        "watched vessels",
        "fishing boats at Lampedusa",
    ]
    assert rules.rules[0].directions == [Direction.ENTER, Direction.CROSS]
    assert rules.rules[1].watch_listed and rules.rules[1].directions == list(Direction)
    assert rules.rules[2].vessel_types == ["FISHING"]


def test_an_empty_file_is_no_rules(tmp_path: Path) -> None:
    assert len(load_transition_rules(rules_file(tmp_path, "# nothing yet\n"), ZONES)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[rule]]\nname = "a"\nzones = ["ES-CEUTA-LAND"]\nseverity = "high"\n',
            "rule 1 ('a'): severity: Extra inputs",
        ),
        ('[[rules]]\nname = "a"\n', "unknown sections ['rules']"),
        ('[rule]\nname = "a"\nzones = ["ES-CEUTA-LAND"]\n', "array of tables"),
        ("rule = [1, 2]\n", "rule 1 ('?'): entry: Input should be a valid dictionary"),
        (
            '[[rule]]\nname = "a"\nzones = "ES-CEUTA-LAND"\n',
            "rule 1 ('a'): zones: Input should be a valid list",
        ),
        ('[[rule]]\nname = "a"\nzones = [1]\n', "rule 1 ('a'): zones.0: Input should be a valid string"),
        ('[[rule]]\nname = "a"\nzones = [""]\n', "zones.0: String should have at least 1 character"),
        ('[[rule]]\nname = "a"\nwatch_listed = "yes"\n', "watch_listed: Input should be a valid boolean"),
        ('[[rule]]\nname = "a"\nwatch_listed = 1\n', "watch_listed: Input should be a valid boolean"),
        ("[[rule]]\nname = 7\nwatch_listed = true\n", "rule 1 (7): name: Input should be a valid string"),
        ("[[rule]]\nwatch_listed = true\n", "rule 1 ('?'): name: Field required"),
        (
            '[[rule]]\nname = "a"\nzones = ["ES-CEUTA-LAND"]\ndirections = ["in"]\n',
            "directions.0: Input should be",
        ),
        ('[[rule]]\nname = "a"\nzones = ["ES-CEUTA-LAND"]\ndirections = ["ENTER"]\n', "directions.0"),
        (
            '[[rule]]\nname = "a"\nzones = ["ES-CEUTA-LAND"]\ndirections = []\n',
            "directions: List should have at least 1",
        ),
        (
            '[[rule]]\nname = "a"\n',
            "a rule must select transitions: give zones, vessel_types or watch_listed",
        ),
        ('[[rule]]\nname = "a"\nwatch_listed = false\n', "a rule must select transitions"),
        (
            '[[rule]]\nname = "a"\nzones = ["ES-NOWHERE"]\n',
            "zones: ['ES-NOWHERE'] are no crossing of the catalogue",
        ),
        (
            '[[rule]]\nname = "a\\u0007"\nwatch_listed = true\n',
            "name: control character '\\x07' at position 1",
        ),
        (
            '[[rule]]\nname = "a"\nwatch_listed = true\n[[rule]]\nname = "a"\nzones = ["IT-LAMPEDUSA"]\n',
            "rule names ['a'] are used more than once",
        ),
        ('[[rule]\nname = "a"\n', "is not valid TOML"),
        ('name = "a"\nname = "b"\n', "is not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_rule_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in refused(tmp_path, text)


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    padding = "# " + "x" * 78 + "\n"
    message = refused(tmp_path, padding * (MAX_FILE_BYTES // len(padding) + 1))
    assert f"is over {MAX_FILE_BYTES} bytes" in message


def test_too_many_rules_are_refused(tmp_path: Path) -> None:
    one = '[[rule]]\nname = "r{n}"\nwatch_listed = true\n'
    message = refused(tmp_path, "".join(one.format(n=n) for n in range(MAX_RULES + 1)))
    assert f"{MAX_RULES + 1} rules, at most {MAX_RULES}" in message


def test_a_huge_list_in_a_rule_is_refused(tmp_path: Path) -> None:
    zones = ", ".join('"ES-CEUTA-LAND"' for _ in range(1001))
    assert "zones: List should have at most 1000 items" in refused(
        tmp_path, f'[[rule]]\nname = "a"\nzones = [{zones}]\n'
    )


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    depth = 100_000
    assert "is not valid TOML" in refused(tmp_path, "x = " + "[" * depth + "]" * depth + "\n")


def test_binary_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_bytes(b"\xff\xfe\x00rule")
    with pytest.raises(TransitionRulesError, match="is not valid TOML"):
        load_transition_rules(path)
    with pytest.raises(TransitionRulesError, match="cannot be read"):
        load_transition_rules(tmp_path / "missing.toml")
    with pytest.raises(TransitionRulesError, match="cannot be read"):
        load_transition_rules(tmp_path)  # a directory


def test_without_a_catalogue_zone_ids_are_not_checked(tmp_path: Path) -> None:
    rules = load_transition_rules(rules_file(tmp_path, '[[rule]]\nname = "a"\nzones = ["ES-NOWHERE"]\n'))
    assert rules.rules[0].zones == ["ES-NOWHERE"]


def test_the_transition_record_refuses_what_it_does_not_hold() -> None:
    for bad in ({"mmsi": "12"}, {"zone_id": ""}, {"lat": 91.0}, {"direction": "sideways"}, {"extra": 1},
                {"observed_at": datetime(2026, 1, 1)}, {"name": "x" * 201}):  # fmt: skip
        with pytest.raises(ValueError):
            transition(**bad)

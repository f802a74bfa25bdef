"""The evaluation's in-process replay: the worker's crossing detector alone, the same in any batching."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from scripts.evaluate_alerts import arrivals, build_feed, replay_in_process, score_alerts


def test_the_ceuta_episode_replayed_in_process_is_caught_the_same_in_any_batching() -> None:
    feed = build_feed(2023, 2023)
    ceuta = [r for r in feed.reports if r["crossing_id"] == "ES-CEUTA-LAND"]
    small = dataclasses.replace(feed, reports=ceuta)
    (episode,) = [e for e in feed.episodes if e.crossing_id == "ES-CEUTA-LAND"]
    one, status = replay_in_process(small, batch_size=1)
    bulk, _ = replay_in_process(small)
    assert one == bulk and status["events"] == len(ceuta)
    (result,) = score_alerts(one, [episode], arrivals(ceuta)).episodes
    assert result.caught and result.impact == "very_high"


ORDER_OF_LAST_STATES = """
import dataclasses
from scripts.evaluate_alerts import build_feed, replay_in_process
feed = build_feed(2023, 2023)
ceuta = [r for r in feed.reports if r["crossing_id"] == "ES-CEUTA-LAND"]
one, _ = replay_in_process(dataclasses.replace(feed, reports=ceuta), batch_size=1)
print([(a.id, a.version) for a in one[-3:]])
"""


def test_the_order_of_alerts_does_not_follow_the_hash_seed() -> None:
    """Two groups of one crossing changing in one step come out in the same order in every process."""
    root = Path(__file__).resolve().parents[3]
    runs = {last_states_with_hash_seed(seed, root) for seed in ("0", "1")}
    assert len(runs) == 1, runs


def last_states_with_hash_seed(seed: str, root: Path) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    command = [sys.executable, "-c", ORDER_OF_LAST_STATES]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True).stdout

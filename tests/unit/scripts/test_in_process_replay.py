"""The evaluation's in-process replay: the worker's crossing detector alone, the same in any batching."""

from __future__ import annotations

import dataclasses

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

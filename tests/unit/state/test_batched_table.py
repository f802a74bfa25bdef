"""BatchedTable: a batch's view of a Faust table's store."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streams.state.batched_table import BatchedTable


def table() -> Any:
    """What BatchedTable reads of a Faust table: its store and its changelog topic's name."""
    return SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: "changelog"))


def test_iterating_a_view_survives_the_store_changing_meanwhile() -> None:
    # Detection runs on a thread of its own while Faust may write standby records to the same store.
    store = table()
    store.data.update({"a": 1, "b": 2})
    view = BatchedTable(store)
    view["c"] = 3
    for iterate in (view.items, view.__iter__):
        walk = iterate()
        first = next(walk)
        store.data["standby"] = 0
        assert [first, *walk] in ([("a", 1), ("b", 2), ("c", 3)], ["a", "b", "c"])  # as when the walk began
        del store.data["standby"]

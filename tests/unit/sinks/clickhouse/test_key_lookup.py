from __future__ import annotations

import orjson

from streams.sinks.clickhouse.key_lookup import LOOKUP_KEYS_BYTES, key_chunks


def test_chunks_hold_every_key_in_order_and_stay_under_the_limit() -> None:
    keys = [(f"authority-{n % 7}", "x" * (n % 300), n) for n in range(5000)]
    chunks = list(key_chunks(keys, most_bytes=10_000))
    assert len(chunks) > 1
    assert all(len(chunk.encode()) <= 10_000 for chunk in chunks)
    assert [tuple(k) for chunk in chunks for k in orjson.loads(chunk)] == keys


def test_a_key_longer_than_the_limit_travels_alone_and_no_keys_make_no_chunk() -> None:
    long = ("a" * 50, "é" * 5000)
    chunks = list(key_chunks([("b", "1"), long, ("c", "2")], most_bytes=1000))
    assert [orjson.loads(c) for c in chunks] == [[["b", "1"]], [list(long)], [["c", "2"]]]
    assert list(key_chunks([])) == []


def test_a_batch_of_ordinary_identities_is_one_lookup() -> None:
    # 2,000 identities of the sample feed's shape: one query, as before the chunks.
    keys = [("ES-GC", f"ES-GC-2025-{n:06d}") for n in range(2000)]
    assert len(list(key_chunks(keys))) == 1
    assert LOOKUP_KEYS_BYTES * 2 < 256 * 1024

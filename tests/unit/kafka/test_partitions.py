"""Kafka's murmur2 partitions for a batch of keys: the same as aiokafka's partitioner (and the Java
client's) for every key, whatever its length."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from streams.kafka.partitions import murmur2_many, partitions_of


def keys() -> list[bytes]:
    rng = random.Random(24)
    drawn = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 41))) for _ in range(3000)]
    # Keys as the worker sends them, and the edge lengths (0 to 7 bytes: every tail).
    sent = [f"ES-GC|GC-ALM-2026-{n:06d}".encode() for n in range(500)]
    return drawn + sent + [b"abcdefg"[:n] for n in range(8)]


def test_the_hash_of_each_key_is_kafkas_murmur2() -> None:
    batch = keys()
    expected = [murmur2(key) & 0xFFFFFFFF for key in batch]
    assert murmur2_many(batch).tolist() == expected


def test_each_key_goes_to_the_partition_aiokafka_and_the_java_client_pick() -> None:
    batch = keys()
    for count in (1, 2, 3, 8, 12):
        every = list(range(count))
        assert partitions_of(batch, count).tolist() == [DefaultPartitioner()(k, every, every) for k in batch]


def test_known_values_of_the_java_client() -> None:
    # Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829, b"abc": 479470107,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971}  # fmt: skip
    hashed = murmur2_many(list(cases)).astype("int32").tolist()
    assert hashed == list(cases.values())
    assert partitions_of([], 4).tolist() == []

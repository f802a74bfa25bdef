"""Partitions of keyed messages: Kafka's murmur2 rule, computed for a whole batch of keys with numpy.

The Java client, aiokafka's `DefaultPartitioner` and this module put a key on
partition `(murmur2(key) & 0x7FFFFFFF) % partitions` (Kafka's
`Utils.murmur2`, seed 0x9747b28c). aiokafka computes it in pure Python, one key
at a time, which cost 2.6% of the spine worker's busy samples (docs/figures.md);
here keys of one length are hashed together, a column of 4-byte blocks at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

SEED = 0x9747B28C
M = np.uint32(0x5BD1E995)
R = np.uint32(24)


def murmur2_many(keys: Sequence[bytes]) -> NDArray[np.uint32]:
    """Kafka's murmur2 hash of each key (as an unsigned 32-bit value)."""
    hashes = np.zeros(len(keys), dtype=np.uint32)
    by_length: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(i)
    for length, indexes in by_length.items():
        rows = np.frombuffer(b"".join(keys[i] for i in indexes), dtype=np.uint8).reshape(len(indexes), length)
        hashes[indexes] = _murmur2_rows(rows, length)
    return hashes


def _murmur2_rows(rows: NDArray[np.uint8], length: int) -> NDArray[np.uint32]:
    """murmur2 of equal-length keys, one per row (uint32 arithmetic wraps as Java's int does)."""
    h = np.full(len(rows), SEED ^ length, dtype=np.uint32)
    whole = length // 4 * 4
    blocks = np.ascontiguousarray(rows[:, :whole]).view("<u4")
    for column in range(whole // 4):
        k = blocks[:, column] * M
        k ^= k >> R
        k *= M
        h *= M
        h ^= k
    tail = length - whole
    if tail:
        for shift, offset in ((16, 2), (8, 1), (0, 0)):
            if tail > offset:
                h ^= rows[:, whole + offset].astype(np.uint32) << np.uint32(shift)
        h *= M
    h ^= h >> np.uint32(13)
    h *= M
    h ^= h >> np.uint32(15)
    return h


def partitions_of(keys: Sequence[bytes], partitions: int) -> NDArray[np.int64]:
    """The partition of each key among `partitions` (0 to partitions - 1), as the Java client picks it."""
    return (murmur2_many(keys) & np.uint32(0x7FFFFFFF)).astype(np.int64) % partitions

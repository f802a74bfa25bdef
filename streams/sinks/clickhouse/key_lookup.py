"""Keys of a lookup as JSON text in the query, in chunks that ClickHouse will parse.

A lookup of many keys sends them as one JSON string parameter (binding thousands
of tuples costs more), and the parameter is part of the query's text, which
ClickHouse refuses beyond `max_query_size` (256 KiB by default). Escaped for the
query, a string can double in size, so each chunk stays under half of that,
with room for the rest of the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas.codec import encode_obj

LOOKUP_KEYS_BYTES = 96 * 1024


def key_chunks(keys: Iterable[tuple[object, ...]], most_bytes: int = LOOKUP_KEYS_BYTES) -> Iterator[str]:
    """The keys as JSON arrays of arrays, in order, each at most `most_bytes` long unless one key
    alone is longer; nothing for no keys."""
    chunk: list[bytes] = []
    size = 1
    for key in keys:
        encoded = encode_obj(list(key))
        if chunk and size + len(encoded) + 1 > most_bytes:
            yield _json_array(chunk)
            chunk, size = [], 1
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        yield _json_array(chunk)


def _json_array(encoded: list[bytes]) -> str:
    return (b"[" + b",".join(encoded) + b"]").decode()

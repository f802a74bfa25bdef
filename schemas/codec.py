"""Wire codec: the one place that turns models into JSON bytes and back."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel


def encode(model: BaseModel) -> bytes:
    """JSON bytes of a model, omitting unset optional fields."""
    return model.model_dump_json(exclude_none=True).encode()


def encode_obj(obj: Any) -> bytes:
    """JSON bytes of plain data (dicts, lists, numbers, strings, datetimes)."""
    return orjson.dumps(obj)


def encode_columns(columns: dict[str, Any]) -> bytes:
    """A JSONColumns block: {"column": [values...], ...}; datetimes as RFC 3339."""
    return orjson.dumps(columns)


def json_fragment(raw: bytes) -> Any:
    """Already-serialised JSON to embed verbatim in `encode_obj`'s output."""
    return orjson.Fragment(raw)


def decode_obj(raw: bytes | str) -> Any:
    """Plain data from JSON bytes; raises `orjson.JSONDecodeError` on bad input."""
    return orjson.loads(raw)

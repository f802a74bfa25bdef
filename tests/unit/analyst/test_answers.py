"""Issue 21, point 3: analyst answers are encoded within their cap (streams.analyst.answers)."""

from __future__ import annotations

import pytest

from schemas.codec import encode_obj
from schemas.errors import QueryRefusedError
from streams.analyst.answers import encode_within

ANSWERS = [
    {"columns": ["s", "n"], "rows": [["a", 1], ["\u0001" * 10, 2], [None, 3]]},
    {"columns": [], "rows": []},
    [{"crossing_id": "x", "persons": 3}, {"crossing_id": "y", "persons": 4}],
    [],
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_an_answer_within_its_cap_is_the_plain_json(answer: object) -> None:
    plain = encode_obj(answer)
    assert encode_within(answer, len(plain)) == plain


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a and (a["rows"] if isinstance(a, dict) else a)])
def test_an_answer_over_its_cap_is_refused_naming_the_cap(answer: object) -> None:
    cap = len(encode_obj(answer)) - 1
    with pytest.raises(QueryRefusedError, match=f"cap of {cap} bytes") as refused:
        encode_within(answer, cap)
    assert refused.value.code == "answer_too_large"

"""The stages' outputs on a fixed feed are byte for byte those of the reference commit (see the helper)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.stage_outputs import DIGESTS, OUTPUTS, stage_digests


@pytest.fixture(scope="module")
def digests() -> dict[str, str]:
    return stage_digests()


@pytest.mark.parametrize("output", OUTPUTS)
def test_every_output_byte_is_the_reference_commits(digests: dict[str, str], output: str) -> None:
    assert digests[output] == json.loads(DIGESTS.read_text())[output]

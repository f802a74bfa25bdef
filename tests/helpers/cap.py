"""The official CAP 1.2 schema (tests/data/cap, see PROVENANCE.md), loaded once."""

from __future__ import annotations

import xmlschema

from tests.helpers.paths import TEST_DATA

CAP_SCHEMA = xmlschema.XMLSchema(TEST_DATA / "cap" / "CAP-v1.2.xsd")

"""Moved to tests/helpers/pki.py; this name stays for tests/unit/test_sink_clickhouse.py until its split."""

from tests.helpers.pki import Issued, TestCA

__all__ = ["Issued", "TestCA"]

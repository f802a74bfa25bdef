"""The data shipped with borderwatch: the sample feed, the seed history's sources and the licences."""

from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent
SAMPLE_INTERCEPTIONS = BUNDLED_DIR / "sample_interceptions.jsonl.gz"
SAMPLE_VESSELS = BUNDLED_DIR / "sample_vessels.jsonl.gz"
SEED_SOURCES_DIR = BUNDLED_DIR / "sources"
LICENSES = BUNDLED_DIR / "LICENSES.md"

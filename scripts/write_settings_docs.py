"""Docs: write docs/operations/settings.md from the settings model (a unit test fails when it is stale).

Run: python scripts/write_settings_docs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.config.reference import settings_reference

PAGE = Path(__file__).resolve().parents[1] / "docs" / "operations" / "settings.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale, write nothing")
    args = parser.parse_args()
    text = settings_reference()
    if args.check:
        stale = not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text
        print(f"{PAGE} is {'stale' if stale else 'up to date'}")
        return 1 if stale else 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

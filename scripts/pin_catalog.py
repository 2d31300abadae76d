#!/usr/bin/env python3
"""Pin the catalog's files to the Hub's exact sizes and SHA-256 (run where the Hub is reachable).

Usage: scripts/pin_catalog.py [resources/catalog.json]
Prints one line per file; review the diff before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.library.catalog import load_catalog, pin_catalog  # noqa: E402


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "resources" / "catalog.json"
    for line in pin_catalog(path):
        print(line)
    load_catalog(path)  # still a valid catalog
    return 0


if __name__ == "__main__":
    sys.exit(main())

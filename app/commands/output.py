"""What every sub-command prints and returns: exit codes and JSON output, kept apart from
``app/cli.py`` so the commands never import the dispatcher that imports them."""

from __future__ import annotations

import json
import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")

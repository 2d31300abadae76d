#!/usr/bin/env python3
"""Package sizes, and launch-to-window time of the frozen app against the source app, in one run.

Needs `scripts/package` to have run (dist/manifest.json and build/package/dist/hearth).
Each launch starts the real program on the offscreen platform with HEARTH_STARTUP_PROBE:
the app writes the monotonic clock once the window is shown and its event loop runs,
then quits. "Cold" is the first launch of each after the page cache dropped its files
(where /proc/sys/vm/drop_caches is writable; otherwise the first launch of the run),
"warm" the median of the next ones. The model loads after the window appears in both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "build" / "package" / "dist" / "hearth" / "hearth"


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def launch(cmd: list[str], env: dict) -> float:
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "shown"
        run_env = dict(env, QT_QPA_PLATFORM="offscreen", HEARTH_STARTUP_PROBE=str(probe),
                       HEARTH_HOME=str(Path(folder) / "data"))
        started = time.monotonic()
        subprocess.run(cmd, env=run_env, check=True, capture_output=True, timeout=120)
        return float(probe.read_text()) - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    mb = 1_000_000
    onedir = manifest["onedir"]
    print(f"onedir: {onedir['size_bytes'] / mb:.0f} MB; without the starter model {onedir['size_without_starter_bytes'] / mb:.0f} MB "
          "(target 150 MB)")
    print(f"starter model: {manifest['starter_model']['size_bytes'] / mb:.1f} MB")
    for part, size in onedir["components"].items():
        print(f"    {size / mb:6.1f} MB  {part}")
    for artifact in manifest["artifacts"]:
        note = ""
        if artifact["file"].endswith(".deb"):
            note = (f"; without the starter model about "
                    f"{(artifact['size_bytes'] - manifest['starter_model']['size_bytes'] * 0.9) / mb:.0f} MB (target 60 MB;"
                    " quantized weights compress ~10% under xz)")
        print(f"{artifact['file']}: {artifact['size_bytes'] / mb:.0f} MB{note}")

    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    source = [str(ROOT / ".venv" / "bin" / "python"), "-m", "app"]
    source_env = dict(bare, PYTHONPATH=str(ROOT))
    cold = drop_caches()
    results = {}
    for name, cmd, env in (("frozen", [str(FROZEN)], bare), ("source", source, source_env)):
        if cold:
            drop_caches()
        first = launch(cmd, env)
        warm = statistics.median(launch(cmd, env) for _ in range(args.rounds))
        results[name] = (first, warm)
    label = "cold (page cache dropped)" if cold else "first launch of the run"
    print(f"\nlaunch to a shown window, offscreen ({label} / warm median of {args.rounds}):")
    for name, (first, warm) in results.items():
        print(f"  {name:7s} {first:6.3f} s / {warm:6.3f} s")
    ratio = results["frozen"][1] / results["source"][1]
    print(f"  frozen / source (warm): {ratio:.2f}; target: frozen cold <= 0.5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/screenshot.py drives the real window on a virtual X screen (Xvfb)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def can_get_xvfb() -> bool:
    return bool(shutil.which("xvfb-run")) or (os.geteuid() == 0 and bool(shutil.which("apt-get")))


@pytest.mark.skipif(not can_get_xvfb(), reason="no xvfb-run and no way to install it")
def test_screenshots_light_and_dark(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    for theme in ("light", "dark"):
        png = tmp_path / f"hearth-{theme}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 20_000  # a drawn window, not a blank frame

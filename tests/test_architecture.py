"""Only app/ui/ may import Qt: the core must work headless."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
QT_IMPORT = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6)\b", re.MULTILINE)


def test_no_qt_outside_ui():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if not path.relative_to(APP).parts[0] == "ui" and QT_IMPORT.search(path.read_text())]
    assert offenders == []


WORKER_PROCESSES = {"engine/worker.py", "docs/workers.py"}  # the chat worker; the embedding worker


def test_only_worker_processes_import_llama_cpp():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+llama_cpp\b|import llama_cpp", path.read_text(), re.MULTILINE)
                 and path.relative_to(APP).as_posix() not in WORKER_PROCESSES]
    assert offenders == []

"""Only app/ui/ may import Qt: the core must work headless."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
QT_IMPORT = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6)\b", re.MULTILINE)


def test_no_qt_outside_ui():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if not path.relative_to(APP).parts[0] == "ui" and QT_IMPORT.search(path.read_text())]
    assert offenders == []


def test_only_the_worker_imports_llama_cpp_for_chat():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+llama_cpp\b|import llama_cpp", path.read_text(), re.MULTILINE)
                 and path.name != "worker.py"]
    assert offenders == []

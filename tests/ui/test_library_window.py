"""The model library window, driven on the offscreen platform against the loopback Hub.

The Hub is the one stand-in (the internet cannot be reached here); the client,
the downloads, the registry and the window are real.
"""

from __future__ import annotations

import shutil

import pytest

from app.library import download_queue as dq
from app.ui.qt import QPoint, Qt
from tests.ui.test_main_window import open_window

REPO = "tester/tiny-GGUF"


@pytest.fixture
def library(qtbot, loopback, gguf_bytes, measured_profile, hearth_home):
    loopback.repos[REPO]["files"]["slow.Q4_0.gguf"] = gguf_bytes + b"\0" * 2_000_000
    loopback.file_behaviour["slow.Q4_0.gguf"] = "slow"
    loopback.add("gated/secret-GGUF", {"s.Q4_0.gguf": gguf_bytes}, behaviour="gated")
    hearth_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(measured_profile, hearth_home / measured_profile.name)  # measured once per session
    win = open_window(qtbot)
    lib = win.open_library()
    qtbot.waitUntil(lambda: lib.estimator is not None, timeout=60_000)
    # The installed list is read on the DB lane: with the profile already measured it can come second.
    qtbot.waitUntil(lambda: lib.table.rowCount() > 0, timeout=60_000)
    yield win, lib
    win.close()


def cell(table, row, column) -> str:
    return table.item(row, column).text()


def search_and_pick(qtbot, lib, query: str, file: str) -> None:
    lib.tabs.setCurrentIndex(1)
    lib.search_box.setText(query)
    qtbot.mouseClick(lib.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: lib.results.count() > 0 and REPO in lib.results.item(0).text(), timeout=60_000)
    lib.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: lib.file_table.rowCount() > 0 and lib.file_table.item(0, 0) is not None, timeout=60_000)
    names = [cell(lib.file_table, r, 4) for r in range(lib.file_table.rowCount())]
    lib.file_table.selectRow(names.index(file))


def job_row(lib, file: str):
    return next(r for r in lib.rows.values() if file in r.name.text())


def test_installed_models_show_header_metadata(library):
    _win, lib = library
    qtbot_table = lib.table
    assert qtbot_table.rowCount() >= 1
    row = [cell(qtbot_table, 0, c) for c in range(qtbot_table.columnCount())]
    assert row[0] == "smollm2-135m-instruct" or "smollm2" in row[0].lower()
    assert row[1] == "llama" and row[3] == "Q4_1" and row[4] == "8192" and row[5] == "yes"
    assert row[7] == "built in" and row[8].startswith("fits")


def test_catalog_is_shown_with_fit_and_speed_before_any_search(qtbot, library, loopback):
    _win, lib = library
    assert lib.results.count() == len(lib.catalog.models)
    assert "★" in lib.results.item(0).text()
    first = lib.catalog.models[0]
    assert first.moe is not None and "MoE" in lib.results.item(0).text()  # a mixture-of-experts model leads
    speed = cell(lib.file_table, 0, 3)
    assert "tok/s" in speed and "read per token" in speed
    assert cell(lib.file_table, 0, 2).startswith(("fits", "tight", "won't fit"))
    assert "active per token" in lib.details.text() and "checked against https://huggingface.co/" in lib.details.text()
    assert "while memory must hold all of it" in lib.file_table.item(0, 3).toolTip()
    dense = next(r for r in range(lib.results.count()) if "MoE" not in lib.results.item(r).text()
                 and "embeddings" not in lib.results.item(r).text())
    lib.results.setCurrentRow(dense)
    assert cell(lib.file_table, 0, 3).endswith("tok/s")
    assert loopback.requests == []  # the catalog is local data: no request until the user searches


def test_search_download_pause_resume_and_the_model_becomes_selectable(qtbot, library, loopback, hearth_home):
    win, lib = library
    search_and_pick(qtbot, lib, "tiny", "slow.Q4_0.gguf")
    assert "license apache-2.0" in lib.details.text()
    qtbot.mouseClick(lib.download_button, Qt.LeftButton)
    assert lib.tabs.currentIndex() == 2
    row = job_row(lib, "slow.Q4_0.gguf")
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=60_000)
    assert "/s" in row.status.text()  # bytes, speed and time left
    qtbot.mouseClick(row.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "paused at" in row.status.text(), timeout=60_000)
    assert row.resume_button.isVisible() and not row.pause_button.isVisible()
    qtbot.mouseClick(row.resume_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: row.status.text() == "installed", timeout=30_000)
    assert any(r and r.startswith("bytes=") for r in loopback.ranges)  # resumed, not restarted
    qtbot.waitUntil(lambda: win.model_picker.findData("slow-q4-0") >= 0, timeout=60_000)
    qtbot.waitUntil(lambda: any("slow-q4-0" == cell(lib.table, r, 0) for r in range(lib.table.rowCount())),
                    timeout=60_000)


def test_cancel_removes_the_partial_download(qtbot, library, hearth_home):
    _win, lib = library
    search_and_pick(qtbot, lib, "tiny", "slow.Q4_0.gguf")
    qtbot.mouseClick(lib.download_button, Qt.LeftButton)
    row = job_row(lib, "slow.Q4_0.gguf")
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=60_000)
    qtbot.mouseClick(row.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: row.status.text() == dq.CANCELLED, timeout=60_000)
    assert not list((hearth_home / "models").glob("slow*"))


def test_hub_errors_are_readable_with_a_retry(qtbot, library, loopback):
    _win, lib = library
    lib.tabs.setCurrentIndex(1)
    lib.search_box.setText("secret")
    qtbot.mouseClick(lib.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: lib.results.count() == 1 and "gated/secret-GGUF" in lib.results.item(0).text(),
                    timeout=60_000)
    lib.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: lib.error.isVisible(), timeout=60_000)
    assert "gated" in lib.error.text() and "HF_TOKEN" in lib.error.text()
    assert lib.retry_button.isVisible()
    loopback.repos["gated/secret-GGUF"]["behaviour"] = None  # access granted; retry works
    qtbot.mouseClick(lib.retry_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: lib.file_table.rowCount() == 1 and lib.file_table.item(0, 4) is not None, timeout=60_000)
    assert not lib.error.isVisible()


def test_offline_mode_disables_search_and_download(qtbot, library, loopback):
    win, lib = library
    win.settings.set("offline", True)
    lib = win.open_library()
    lib.tabs.setCurrentIndex(1)
    assert lib.offline_note.isVisible()
    assert not lib.search_button.isEnabled() and not lib.download_button.isEnabled()
    lib.search()
    assert "Offline mode is on" in lib.error.text()
    assert loopback.requests == []


def test_drop_a_gguf_file_to_import_it_in_place(qtbot, library, copy_starter):
    from app.ui.qt import QDropEvent, QMimeData, QUrl

    _win, lib = library
    path = copy_starter("dropped-model.gguf")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(5, 5), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    lib.dropEvent(event)
    qtbot.waitUntil(lambda: any(cell(lib.table, r, 0) == "dropped-model" for r in range(lib.table.rowCount())),
                    timeout=60_000)
    row = next(r for r in range(lib.table.rowCount()) if cell(lib.table, r, 0) == "dropped-model")
    assert cell(lib.table, row, 7) == "in place" and path.exists()


def test_delete_a_downloaded_model_frees_its_file(qtbot, library, hearth_home, monkeypatch, copy_starter):
    from app.library.registry import ModelRegistry
    from app.ui import library_window

    win, lib = library
    target = hearth_home / "models" / "extra-model.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_starter("x.gguf").rename(target)
    lib.refresh_installed()
    qtbot.waitUntil(lambda: any(cell(lib.table, r, 0) == "extra-model" for r in range(lib.table.rowCount())),
                    timeout=60_000)
    row = next(r for r in range(lib.table.rowCount()) if cell(lib.table, r, 0) == "extra-model")
    lib.table.selectRow(row)
    # The confirmation is a modal dialog; answer it as the user would.
    monkeypatch.setattr(library_window.QMessageBox, "question", lambda *a: library_window.QMessageBox.Yes)
    qtbot.mouseClick(lib.delete_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not target.exists(), timeout=60_000)
    qtbot.waitUntil(lambda: all(cell(lib.table, r, 0) != "extra-model" for r in range(lib.table.rowCount())),
                    timeout=60_000)
    assert "extra-model" not in {m.id for m in ModelRegistry().models(read_headers=False)}
    lib.table.selectRow(0)  # the starter cannot be deleted: a readable message, nothing removed
    qtbot.mouseClick(lib.delete_button, Qt.LeftButton)
    assert "cannot be deleted" in lib.error.text()


def test_tabs_keep_the_window_size_and_a_stale_error_goes_with_its_tab(qtbot, library):
    _win, lib = library
    assert lib.disk_label.text() == "Models folder uses 0 B"  # the built-in starter is not in the models folder
    sizes = set()
    for index in (0, 1, 2, 1, 0):
        lib.tabs.setCurrentIndex(index)
        qtbot.wait(50)
        sizes.add((lib.width(), lib.height()))
    assert len(sizes) == 1, sizes
    lib.tabs.setCurrentIndex(1)
    lib.show_error("the Hub did not answer in time")
    lib.tabs.setCurrentIndex(2)
    assert not lib.error.isVisible()  # a Hub error from Discover does not linger on Downloads

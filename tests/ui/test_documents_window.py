"""Documents in the real window: a collection indexed from the dialog, then a question answered with sources."""

from __future__ import annotations

from pathlib import Path

import pytest


from tests.docs.conftest import FACTS  # noqa: F401 (the documents fixture comes from tests/docs)
from tests.docs.conftest import documents  # noqa: F401
from tests.ui.test_main_window import open_window, send


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot, max_tokens=16)
    yield win
    win.close()


def test_index_a_folder_then_ask_with_citations_and_nothing_found(qtbot, window, documents):  # noqa: F811
    docs = window.open_documents()
    docs.add_folder("handbook", documents)
    qtbot.waitUntil(lambda: "handbook:" in docs.state.text() and "indexed" in docs.state.text(), timeout=60_000)
    assert docs.bar.value() == docs.bar.maximum()
    # The dialog reads the collection on the DB lane: its list follows a moment later.
    qtbot.waitUntil(lambda: docs.list.count() and "4 files" in docs.list.item(0).text(), timeout=60_000)
    assert "4 skipped" in docs.list.item(0).text()
    qtbot.waitUntil(lambda: "encrypted PDF" in docs.details.text(), timeout=60_000)
    qtbot.waitUntil(lambda: any(a.text() == "handbook" for a in window.docs_menu.actions()), timeout=60_000)
    next(a for a in window.docs_menu.actions() if a.text() == "handbook").setChecked(True)
    assert window.docs_button.text() == "Documents: handbook"

    send(qtbot, window, "How long does the diesel generator fuel last?")
    reply = window.chat.views[-1]
    assert reply.sources.isVisible()
    text = reply.sources.text()
    assert "[1]" in text and "handbook.pdf, page 3" in text and "72 hours" in text
    assert Path(documents / "handbook.pdf").as_uri() in text and "#page=3" in text

    send(qtbot, window, "xylophone zebra quantum")
    nothing = window.chat.views[-1]
    assert "found nothing in 'handbook'" in nothing.content and not nothing.sources.isVisible()


def test_the_collection_follows_its_folder(qtbot, window, documents):  # noqa: F811
    from app.docs import service

    docs = window.open_documents()
    docs.add_folder("handbook", documents)
    qtbot.waitUntil(lambda: "handbook:" in docs.state.text() and "indexed" in docs.state.text(), timeout=60_000)
    (documents / "new.md").write_text("# New\n\nThe canteen opens at 11:30.")
    # The watcher schedules a sync shortly after the folder changes.
    qtbot.waitUntil(lambda: any(Path(f["file"]).name == "new.md" for f in service.status("handbook")["files"]),
                    timeout=30_000)


def test_sqlite_is_never_opened_on_the_gui_thread(qtbot, monkeypatch, documents):  # noqa: F811
    """Chats, the tally and document collections are read and written on the lanes, never while drawing."""
    import sqlite3
    import threading

    on_gui_thread = []
    connect = sqlite3.connect

    def watched(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            on_gui_thread.append(str(args[0]))
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", watched)
    win = open_window(qtbot, max_tokens=16)
    send(qtbot, win, "Hello")
    docs = win.open_documents()
    docs.add_folder("handbook", documents)
    qtbot.waitUntil(lambda: docs.list.count() and "4 files" in docs.list.item(0).text(), timeout=60_000)
    qtbot.waitUntil(lambda: "encrypted PDF" in docs.details.text(), timeout=60_000)
    win.savings.open_dashboard()
    qtbot.waitUntil(lambda: "Replies:" in win.savings.dialog.summary.text(), timeout=60_000)
    win.savings.dialog.close()
    win.close()
    assert on_gui_thread == []


def test_collections_belong_to_their_conversation(qtbot, documents):  # noqa: F811
    from app.docs import service

    service.add_paths("handbook", [documents]).close()  # listed at once; indexing is not needed here
    win = open_window(qtbot, max_tokens=16)
    qtbot.waitUntil(lambda: any(a.text() == "handbook" for a in win.docs_menu.actions()), timeout=60_000)
    win.use_collection("handbook")
    assert win.docs_button.text() == "Documents: handbook"
    send(qtbot, win, "How long does the fuel last?")
    with_docs = win.conversation_id
    win.new_conversation()
    assert win.docs_button.text() == "Documents" and "collections" not in win.conversation_settings
    assert not next(a for a in win.docs_menu.actions() if a.text() == "handbook").isChecked()
    send(qtbot, win, "What is a monad?")
    assert win.chat.views[-1].content.startswith("Sure")  # the scripted model answered; no document search
    win.open_conversation(with_docs)
    qtbot.waitUntil(lambda: win.docs_button.text() == "Documents: handbook", timeout=30_000)
    win.close()


def test_the_documents_dialog_explains_itself_when_empty_and_offers_only_what_applies(qtbot, window, tmp_path):
    docs = window.open_documents()
    qtbot.waitUntil(lambda: "No collections yet" in docs.details.text(), timeout=30_000)
    assert "New collection from folder" in docs.details.text()
    assert not docs.sync_button.isEnabled() and not docs.remove_button.isEnabled()
    assert not docs.pause_button.isEnabled()  # nothing is indexing
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "only.md").write_text("# Only\n\nOne short fact.")
    docs.add_folder("one", folder)
    qtbot.waitUntil(lambda: docs.list.count() == 1 and "1 file," in docs.list.item(0).text(), timeout=60_000)
    assert "1 passage," in docs.list.item(0).text()  # not "1 files, 1 passages"
    assert docs.sync_button.isEnabled() and docs.remove_button.isEnabled()

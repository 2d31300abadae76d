"""The same question asked from ``hearth chat``, ``hearth docs ask`` and the window is saved and billed
the same way: one conversation pipeline, whoever calls it. Real starter model, real SQLite, real CLI."""

from __future__ import annotations

import pytest

from app.chats.store import ChatStore
from app.savings.tally import SavingsStore
from tests.docs.conftest import documents  # noqa: F401 (fixture)
from tests.docs.test_collections import hearth, indexed  # noqa: F401 (fixture)
from tests.ui.test_main_window import open_window, send

CHAT_QUESTION = "Name one colour of the rainbow."
DOCS_QUESTION = "How long does the generator's fuel last?"


def newest_turn() -> tuple[tuple, list[tuple], tuple]:
    """The newest conversation, its messages and its reply's tally row, with ids and reply text left out."""
    store, tally = ChatStore(), SavingsStore()
    try:
        conversation = store.conversations()[0]
        messages = store.messages(conversation.id)
        row = tally.db.execute(
            "SELECT source, conversation_id, message_id, local_model, comparison_model, price_key, input_o200k, "
            "input_cl100k, input_tokens FROM replies ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        store.close()
        tally.close()
    reply = messages[-1]
    assert row[1:3] == (conversation.id, reply.id)  # the tally row is the saved reply's
    return ((conversation.title, conversation.settings),
            [(m.role, m.content if m.role == "user" else "", m.status, m.model, m.canned, sorted(m.stats))
             for m in messages],
            (row[0], *row[3:]))


@pytest.mark.slow
def test_cli_and_window_save_and_bill_a_turn_alike(qtbot, indexed):  # noqa: F811
    result = hearth("chat", "--max-tokens", "8", CHAT_QUESTION)
    assert result.returncode == 0, result.stderr
    from_cli = newest_turn()
    result = hearth("docs", "ask", "handbook", DOCS_QUESTION, "--max-tokens", "8")
    assert result.returncode == 0, result.stderr
    docs_from_cli = newest_turn()

    window = open_window(qtbot, max_tokens=8, engine="real")
    try:
        window.new_conversation()  # the window reopened the CLI's last conversation
        window.settings_panel.max_tokens.setValue(8)
        send(qtbot, window, CHAT_QUESTION)
        from_window = newest_turn()
        window.new_conversation()
        window.use_collection("handbook")
        window.settings_panel.max_tokens.setValue(8)
        send(qtbot, window, DOCS_QUESTION)
        docs_from_window = newest_turn()
    finally:
        window.close()

    # The window's conversation settings carry the panel's values (context length); the rest is identical.
    for cli, gui in ((from_cli, from_window), (docs_from_cli, docs_from_window)):
        assert cli[0][0] == gui[0][0]
        assert {k: v for k, v in cli[0][1].items() if k != "max_tokens"} == \
            {k: v for k, v in gui[0][1].items() if k not in ("max_tokens", "context_length")}
        assert cli[1] == gui[1]
        assert cli[2] == gui[2]
    assert from_cli[2][0] == "chat" and docs_from_cli[2][0] == "docs"
    assert docs_from_cli[0][1]["collections"] == ["handbook"] and "citations" in docs_from_cli[1][-1][-1]
    assert from_cli[1][0][:2] == ("user", CHAT_QUESTION)

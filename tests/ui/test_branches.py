"""Branches in the window (issue 15): regenerate and edit keep the old version, ‹ 2/3 › switches between
versions and the conversation below follows, Fork makes a new chat, a search hit opens its branch."""

from __future__ import annotations

from app.engine.scripted import ScriptedEngine, ScriptedReply
from app.ui.qt import Qt
from tests.ui.test_main_window import open_window, send, wait_reply


def replies(*texts):
    return ScriptedEngine(replies=[ScriptedReply([t]) for t in texts])


def shown(win):
    return [v.content for v in win.chat.views]


def test_regenerate_keeps_the_old_reply_and_the_switcher_moves_between_them(qtbot):
    win = open_window(qtbot, engine=replies("first answer", "second answer", "third answer"))
    send(qtbot, win, "A question")
    win.regenerate()
    wait_reply(qtbot, win)
    reply = win.chat.views[-1]
    assert reply.content == "second answer"
    assert reply.branch_label.isVisible() and reply.branch_label.text() == "2/2"
    assert not reply.next_button.isEnabled() and reply.previous_button.isEnabled()
    qtbot.mouseClick(reply.previous_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: shown(win) == ["A question", "first answer"], timeout=30_000)
    assert win.chat.views[-1].branch_label.text() == "1/2"
    # The choice is saved: reopening shows the first answer.
    win.conversations.refresh()
    win.open_conversation(win.conversation_id)
    qtbot.waitUntil(lambda: shown(win) == ["A question", "first answer"], timeout=30_000)
    win.close()


def test_editing_a_message_branches_and_the_conversation_follows_the_chosen_version(qtbot):
    win = open_window(qtbot, engine=replies("a1", "a2", "a1 edited", "a2 edited"))
    send(qtbot, win, "q1")
    send(qtbot, win, "q2")
    win._edit_view(win.chat.views[0])
    win.prompt.setPlainText("q1 edited")
    win.send()
    wait_reply(qtbot, win)
    send(qtbot, win, "q2 again")
    assert shown(win) == ["q1 edited", "a1 edited", "q2 again", "a2 edited"]
    first = win.chat.views[0]
    assert first.branch_label.text() == "2/2"
    qtbot.mouseClick(first.previous_button, Qt.LeftButton)  # back to the original question: its whole branch
    qtbot.waitUntil(lambda: shown(win) == ["q1", "a1", "q2", "a2"], timeout=30_000)
    win.close()


def test_fork_from_a_message_opens_a_new_chat_with_the_conversation_so_far(qtbot):
    win = open_window(qtbot, engine=replies("a1", "a2", "a3"))
    send(qtbot, win, "q1")
    send(qtbot, win, "q2")
    original = win.conversation_id
    qtbot.mouseClick(win.chat.views[1].fork_button, Qt.LeftButton)  # fork after the first answer
    qtbot.waitUntil(lambda: win.conversation_id != original and shown(win) == ["q1", "a1"], timeout=30_000)
    qtbot.waitUntil(lambda: win.sidebar.count() == 2, timeout=30_000)
    assert win.windowTitle().startswith("q1 (fork)")
    send(qtbot, win, "q2, differently")
    win.open_conversation(original)
    qtbot.waitUntil(lambda: shown(win) == ["q1", "a1", "q2", "a2"], timeout=30_000)
    win.close()


def test_a_search_hit_on_another_branch_opens_that_branch(qtbot):
    win = open_window(qtbot, engine=replies("zebra facts", "lion facts"))
    send(qtbot, win, "Tell me about an animal")
    win.regenerate()
    wait_reply(qtbot, win)
    assert shown(win)[-1] == "lion facts"
    qtbot.keyClicks(win.sidebar.search, "zebra")
    qtbot.waitUntil(lambda: win.sidebar.searching and win.sidebar.count() == 1, timeout=30_000)
    hit = win.sidebar.items()[0]
    win.sidebar.list.itemActivated.emit(hit)
    qtbot.waitUntil(lambda: shown(win)[-1:] == ["zebra facts"], timeout=30_000)
    win.close()

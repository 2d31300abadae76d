"""Reasoning models in the window (issue 15): the thinking shows as a collapsed section above the
answer, streams while it is written, is never sent back in the history, and is billed as output.
Scripted engine output: what matters is how the window and the service treat the markers."""

from __future__ import annotations

import pytest

from app.chats.reasoning import split_reasoning
from app.chats.store import ChatStore
from app.engine.scripted import ScriptedEngine, ScriptedReply
from tests.ui.test_main_window import open_window, send, wait_reply

# "<think>" and "</think>" split across tokens, as tokenizers do.
SPLIT_TAGS = ScriptedReply(["<th", "ink", ">", "The user", " wants", " 2+2", ".", " That", " is", " 4.", "</", "thi",
                            "nk>", "\n\n", "**4**", "."], delay_s=0.01)


def test_reasoning_split_across_tokens_streams_in_a_collapsed_section(qtbot):
    engine = ScriptedEngine(default=SPLIT_TAGS)
    win = open_window(qtbot, engine=engine)
    seen = []
    win.session.event.connect(lambda e: win.reply and win.reply.view and seen.append(
        (win.reply.view.reasoning_toggle.isVisible(), win.reply.view.reasoning_toggle.text(),
         win.reply.view.body.toPlainText())))
    send(qtbot, win, "What is 2+2?")
    view = win.chat.views[-1]
    assert any(visible and text == "Thinking…" for visible, text, _body in seen)  # streamed while thinking
    assert all("<th" not in body and "The user wants" not in body for _v, _t, body in seen)
    assert view.reasoning_toggle.isVisible() and view.reasoning_toggle.text().startswith("Thought for")
    assert not view.reasoning.isVisible()  # collapsed
    assert view.body.toPlainText().strip() == "4."
    view.reasoning_toggle.click()
    assert view.reasoning.isVisible() and view.reasoning.text() == "The user wants 2+2. That is 4."
    # The next turn's history carries the answer only.
    send(qtbot, win, "And 3+3?")
    history = engine.calls[-1].messages
    assert [m["content"] for m in history if m["role"] == "assistant"] == ["**4**."]
    win.close()


def test_an_unterminated_block_and_reasoning_without_an_answer(qtbot):
    engine = ScriptedEngine(replies=[ScriptedReply(["<think>", "Hmm", ", let me", " think"]),
                                     ScriptedReply(["<think>", "All", " thought", "</think>"])])
    win = open_window(qtbot, engine=engine)
    send(qtbot, win, "Cut off while thinking")
    cut = win.chat.views[-1]
    assert cut.reasoning_toggle.isVisible() and cut.body.toPlainText().strip() == ""
    assert cut.reasoning_toggle.text().startswith("Thought for")  # finished streaming: no longer "Thinking…"
    send(qtbot, win, "Only reasoning")
    only = win.chat.views[-1]
    only.reasoning_toggle.click()
    assert only.reasoning.text() == "All thought" and only.body.toPlainText().strip() == ""
    win.close()


def test_reasoning_is_stored_whole_timed_and_billed_as_output(qtbot):
    engine = ScriptedEngine(default=SPLIT_TAGS)
    win = open_window(qtbot, engine=engine)
    send(qtbot, win, "What is 2+2?")
    store = ChatStore()
    try:
        reply = store.messages(win.conversation_id)[-1]
    finally:
        store.close()
    assert reply.content.startswith("<think>The user wants") and "reasoning_s" in reply.stats
    from app.savings.tally import SavingsStore

    tally = SavingsStore()
    try:
        record = tally.records()[-1]
    finally:
        tally.close()
    # the reasoning's tokens count as output, as paid reasoning APIs bill theirs
    assert record.output_tokens > 10
    win.close()
    again = open_window(qtbot, engine=ScriptedEngine(default=SPLIT_TAGS))  # reopened: still collapsed, timed
    qtbot.waitUntil(lambda: len(again.chat.views) == 2, timeout=30_000)
    assert again.chat.views[-1].reasoning_toggle.text().startswith("Thought for")
    again.close()


@pytest.mark.parametrize("text, reasoning, answer", [
    ("<think>a</think>b", "a", "b"),
    ("a</think>\nb", "a", "b"),  # the template opened the tag
    ("<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>final<|message|>b", "a", "b"),
    ("no reasoning at all", "", "no reasoning at all"),
])
def test_markers_of_the_current_reasoning_models(text, reasoning, answer):
    split = split_reasoning(text)
    assert (split.reasoning, split.answer, split.thinking) == (reasoning, answer, False)


def test_user_messages_render_as_markdown_with_highlighted_code(qtbot):
    win = open_window(qtbot)
    win.prompt.setPlainText("Why does this fail?\n```python\ndef f(:\n    pass\n```")
    win.send()
    wait_reply(qtbot, win)
    mine = win.chat.views[-2]
    assert mine.role == "user" and mine.code_blocks == ["def f(:\n    pass"] and mine.languages == ["python"]
    assert "```" not in mine.body.toPlainText()
    win.close()

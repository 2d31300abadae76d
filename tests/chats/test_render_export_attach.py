import json

import pytest

from app.chats.attachments import MAX_ATTACHMENT_BYTES, message_with, read_attachment
from app.chats.export import to_json, to_markdown
from app.chats.render import render_markdown
from app.chats.store import ChatStore
from app.errors import HearthError

REPLY = "Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nand a table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


def test_markdown_code_blocks_are_highlighted_with_language_and_copy_link():
    rendered = render_markdown(REPLY)
    assert rendered.code_blocks == ["def add(a, b):\n    return a + b"]
    assert rendered.languages == ["python"]
    assert 'href="copy:0"' in rendered.html and ">python" in rendered.html
    assert "white-space: pre" in rendered.html  # code never wraps
    assert "<span style=" in rendered.html  # Pygments colours, inline for Qt
    assert "<table border=\"1\"" in rendered.html and "<td>1</td>" in rendered.html


def test_raw_html_in_a_reply_is_shown_not_run():
    rendered = render_markdown("<script>alert(1)</script> <img src=x onerror=y>")
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


def test_unlabelled_and_unknown_languages_are_plain_text():
    rendered = render_markdown("```\nplain words here\n```\n```nosuchlang\nx\n```")
    assert rendered.languages == ["text", "nosuchlang"]


def test_exports(hearth_home):
    store = ChatStore()
    c = store.create_conversation("Adding numbers", {"system_prompt": "Be brief."})
    store.add_message(c.id, "user", "Add 2 and 3")
    store.add_message(c.id, "assistant", REPLY, model="smol", stats={"completion_tokens": 30, "tokens_per_s": 50.0})
    conversation, messages = store.conversation(c.id), store.messages(c.id)
    md = to_markdown(conversation, messages)
    assert md.startswith("# Adding numbers\n")
    assert "## System prompt\n\nBe brief." in md
    assert "## You\n\nAdd 2 and 3" in md and "## Assistant (smol)" in md
    assert "```python\ndef add(a, b):" in md and "_30 tokens · 50.0 tokens/s_" in md
    data = json.loads(to_json(conversation, messages))
    assert data["format"] == "hearth-chat" and data["version"] == 2
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["content"] == REPLY and data["settings"]["system_prompt"] == "Be brief."
    store.close()


def test_attachment_goes_into_the_prompt_as_a_fenced_block(tmp_path):
    source = tmp_path / "calc.py"
    source.write_text("def mul(a, b):\n    return a * b\n")
    attachment = read_attachment(source)
    assert attachment.warning is None
    text = message_with("What does this do?", [attachment])
    assert text == "Attached file `calc.py`:\n```python\ndef mul(a, b):\n    return a * b\n```\n\nWhat does this do?"


def test_large_attachment_is_cut_with_a_warning(tmp_path):
    big = tmp_path / "big.log"
    big.write_text("line\n" * (MAX_ATTACHMENT_BYTES // 2))
    attachment = read_attachment(big)
    assert attachment.truncated and len(attachment.text) == MAX_ATTACHMENT_BYTES
    assert "only the first 64 KB will be sent" in attachment.warning
    assert "(truncated)" in attachment.as_prompt()


@pytest.mark.parametrize("name, data, message", [
    ("image.png", b"\x89PNG\r\n\x1a\n\0\0\0", "binary file"),
    ("empty.txt", b"   \n", "is empty"),
])
def test_unattachable_files_are_refused_readably(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(HearthError, match=message):
        read_attachment(path)


def test_folder_and_missing_attachments(tmp_path):
    with pytest.raises(HearthError, match="is a folder"):
        read_attachment(tmp_path)
    with pytest.raises(HearthError, match="no such file"):
        read_attachment(tmp_path / "gone.txt")


def test_streaming_code_block_is_plain_until_its_fence_closes():
    growing = "Code:\n\n```python\ndef f(x):\n    return x"
    assert "<span style=" not in render_markdown(growing, streaming=True).html
    closed = growing + "\n```\n\nDone"
    assert "<span style=" in render_markdown(closed, streaming=True).html
    assert "<span style=" in render_markdown(growing).html  # a finished reply is always highlighted


def test_markdown_export_keeps_sources_and_folds_reasoning(hearth_home):
    store = ChatStore()
    c = store.create_conversation("Policy questions")
    store.add_message(c.id, "user", "How long is the notice period?")
    store.add_message(c.id, "assistant", "<think>Look in the handbook.</think>\n\nThree months [1].", model="m",
                      stats={"reasoning_s": 4.2, "citations": [
                          {"n": 1, "file": "/docs/handbook.pdf", "page": 3, "where": "handbook.pdf, page 3",
                           "text": "The notice period is three months.\n\nFor everyone."}]})
    text = to_markdown(store.conversation(c.id), store.messages(c.id))
    store.close()
    assert "<details><summary>Thought for 4 s</summary>\n\nLook in the handbook.\n\n</details>" in text
    assert "Three months [1]." in text and "<think>" not in text
    assert "**Sources**\n\n1. handbook.pdf, page 3: The notice period is three months. For everyone." in text


def test_tables_have_borders_and_padding():
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |").html
    assert '<table border="1" cellspacing="0" cellpadding="5"' in html and "<td>1</td>" in html

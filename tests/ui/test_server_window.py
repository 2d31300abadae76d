"""The API server panel in the real window: start, serve a request from the openai SDK through the
window's own conversation service (one model for both), show it in the live log, stop."""

from __future__ import annotations

import openai

from tests.ui.test_main_window import open_window, send


def test_start_serve_log_and_stop(qtbot):
    win = open_window(qtbot)
    panel = win.open_server()
    assert panel.toggle.text() == "Start server"
    panel.toggle.click()
    qtbot.waitUntil(lambda: panel.state.text().startswith("Running at http://127.0.0.1:"), timeout=60_000)
    assert win.server.config.key in panel.key.text() and win.server.config.key in panel.example.toPlainText()
    url = win.server.server.base_url
    with openai.OpenAI(base_url=url, api_key=win.server.config.key, max_retries=0, timeout=30) as client:
        reply = client.chat.completions.create(model=win.model.id, messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content == "Sure: a banana is a fruit."  # the window's (scripted) engine
        qtbot.waitUntil(lambda: panel.log.rowCount() == 1, timeout=30_000)
        assert panel.log.item(0, 1).text() == "OpenAI/Python" and panel.log.item(0, 6).text() == "200"
        assert panel.log.item(0, 4).text().endswith("/8")  # eight scripted tokens
        send(qtbot, win, "And the window still chats")  # the same service, in line with the server
        assert win.chat.views[-1].content == "Sure: a banana is a fruit."
        with_wrong_key = openai.OpenAI(base_url=url, api_key="nope", max_retries=0)
        try:
            with_wrong_key.models.list()
            raise AssertionError("the server accepted a wrong key")
        except openai.AuthenticationError:
            pass
        finally:
            with_wrong_key.close()
    panel.toggle.click()
    qtbot.waitUntil(lambda: panel.state.text() == "Stopped.", timeout=60_000)
    # The dashboard says what the coding tool saved, apart from the chat.
    win.savings.open_dashboard()
    dialog = win.savings.dialog
    qtbot.waitUntil(lambda: "API: OpenAI/Python (coding tools" in dialog.summary.text(), timeout=60_000)
    dialog.close()
    win.close()

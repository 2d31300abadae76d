"""A team's server in the real window: added in Settings → Remote engines, its model in the picker,
a chat through it, the privacy notice, and the one question before document passages leave."""

from __future__ import annotations

from app.ui import remote_ui
from app.ui.qt import QMessageBox
from tests.docs.conftest import documents  # noqa: F401 (fixture)
from tests.engine.test_remote import KEY, free_port, start_llama_server, stop
from tests.ui.test_main_window import open_window, send


def test_remote_model_in_the_picker_chats_and_asks_before_sending_passages(qtbot, starter_path, tmp_path,
                                                                           monkeypatch, documents):  # noqa: F811
    port = free_port()
    proc = start_llama_server(starter_path, port, tmp_path / "server.log")
    win = open_window(qtbot, max_tokens=8, engine="real")
    try:
        dialog = win.open_engines()
        dialog.name.setText("team")
        dialog.url.setText(f"http://127.0.0.1:{port}")
        dialog.key.setText(KEY)
        dialog.add()
        qtbot.waitUntil(lambda: win.model_picker.findData("team:starter") >= 0, timeout=20_000)
        index = win.model_picker.findData("team:starter")
        assert "remote (team)" in win.model_picker.itemText(index)
        win.model_picker.setCurrentIndex(index)
        win.model_picker.activated.emit(index)
        qtbot.waitUntil(lambda: win._ready and win.model.id == "team:starter", timeout=20_000)
        assert win.notice.isVisible() and f"127.0.0.1:{port}" in win.notice.text()
        send(qtbot, win, "Name a colour.")
        reply = win.chat.views[-1]
        assert reply.content.strip() and reply.footer.text().startswith("team:starter")
        assert "none on this machine" in reply.footer.toolTip()  # no local electricity for a remote reply

        # Passages from local files: asked once per collection and server, then remembered.
        from app.docs import service

        service.add_paths("handbook", [documents]).close()
        asked = []
        monkeypatch.setattr(remote_ui.QMessageBox, "question",  # the user's click on a modal question
                            lambda *args: asked.append(args[2]) or QMessageBox.Yes)
        win.docs_button.show_names(["handbook"])
        win.use_collection("handbook")
        send(qtbot, win, "How long does the fuel last?")
        send(qtbot, win, "And the pump?")
        assert len(asked) == 1 and "'handbook'" in asked[0] and "'team'" in asked[0]
    finally:
        win.close()
        stop(proc)


def test_the_calculator_prices_the_open_model_from_a_measured_server(qtbot, hearth_home):
    import json

    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / "engine-bench.json").write_text(json.dumps({"version": 1, "results": [{
        "engine": "team", "model": "qwen2.5-72b", "measured_at": "2026-11-24T12:00:00+00:00",
        "levels": [{"streams": 1}, {"streams": 4}, {"streams": 16}, {"streams": 64}], "best_tokens_per_s": 1800.0}]}))
    win = open_window(qtbot)
    try:
        win.savings.open_dashboard()
        dialog = win.savings.dialog
        qtbot.waitUntil(lambda: dialog.server_fields["tokens_per_s"].text() == "1800.0", timeout=30_000)
        dialog.server_fields["usd_per_hour"].setText("4.00")
        dialog.use_server.click()
        # $4 an hour / (1800 tokens/s x 3600 s x 50% busy) = $1.2346 per 1M output tokens.
        assert dialog.scale_fields["open_output_per_m"].text() == "1.2346"
        assert dialog.scale_fields["open_input_per_m"].text() == "0.1235"
        text = dialog.scale_explanation.text()
        assert "1800.0 tokens/s measured (team:qwen2.5-72b on 2026-11-24" in text and "such servers" in text
        # The 5M-user preset: 200B input tokens x $0.1235/M + 66.65B output x $1.2346/M.
        assert "open model: $106,986.09 a month" in dialog.scale_result.text()
        dialog.close()
    finally:
        win.close()

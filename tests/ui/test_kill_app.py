"""SIGKILL the whole app in the middle of a reply; the restarted app shows everything."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.chats.store import ChatStore

DRIVER = Path(__file__).with_name("app_driver.py")


@pytest.mark.timeout(120)
def test_killing_the_app_mid_reply_loses_nothing(qtbot, hearth_home):
    proc = subprocess.Popen([sys.executable, str(DRIVER), "Remember the word apricot.",
                             "Count from 1 to 500, one number per line."],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, HEARTH_HOME=str(hearth_home)))
    try:
        line = proc.stdout.readline()  # the driver retries until a reply is saved mid-stream
        assert line.startswith("STREAMING"), line
        worker_pid = int(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    # The orphaned worker notices its parent is gone and exits by itself.
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the model worker outlived the killed app")

    from tests.ui.test_main_window import open_window

    store = ChatStore()
    saved = store.messages(store.conversations()[0].id)
    store.close()
    # Every earlier message is complete; only the reply that was streaming is marked.
    assert [m.status for m in saved] == ["complete"] * (len(saved) - 1) + ["interrupted"]
    assert [m.role for m in saved] == ["user", "assistant"] * (len(saved) // 2)
    window = open_window(qtbot)
    qtbot.waitUntil(lambda: len(window.chat.views) == len(saved), timeout=60_000)
    assert [v.content for v in window.chat.views] == [m.content for m in saved]
    assert window.chat.views[0].content == "Remember the word apricot."
    assert window.chat.views[1].content.strip()  # the finished first reply
    assert window.chat.views[-2].content.startswith("Count from 1 to 500")
    partial = window.chat.views[-1]
    assert partial.content.strip(), "the partial reply was not saved while streaming"
    assert "interrupted" in partial.footer.text()
    window.close()

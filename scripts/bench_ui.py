#!/usr/bin/env python3
"""GUI cost of streaming a reply: a short conversation against a 200-message one, and
against a 200-message one full of branches (a third of the replies have an older
version) and reasoning sections, into which a reply streams its reasoning first.

Feeds a code-heavy reply into the real main window at 200 tokens/s (a token
every 5 ms, faster than the starter model runs here, so the tokens come from
a timer standing in for the engine's signal) and measures on the GUI thread:
time spent handling tokens and re-rendering, per token, and the longest
event-loop stall (a 5 ms timer recording its own lateness). Prints the
long/short ratio: rendering must not grow with the conversation.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPLY = ("Here is the implementation you asked for:\n\n```python\n"
         + "".join(f"def step_{i}(values):\n    return [v * {i} for v in values if v % 2 == 0]\n\n" for i in range(30))
         + "```\n\nEach function filters even values and scales them.\n")
THOUGHT = "<think>\nThe user wants the functions. " + "Check the even values, then scale them. " * 30 + "\n</think>\n\n"
TOKEN_INTERVAL_MS = 5


def make_conversation(store, title: str, turns: int) -> int:
    code = "```python\n" + "def f(x):\n    return x * 2\n" * 40 + "```\n"
    c = store.create_conversation(title, {"max_tokens": 16})
    for i in range(turns):
        store.add_message(c.id, "user", f"question {i}")
        store.add_message(c.id, "assistant", f"answer {i}\n\n" + (code if i % 5 == 0 else "plain text " * 20))
    return c.id


def make_branched(store, title: str, turns: int) -> int:
    """Every third reply regenerated once (two versions), every reply with a reasoning section."""
    code = "```python\n" + "def f(x):\n    return x * 2\n" * 40 + "```\n"
    c = store.create_conversation(title, {"max_tokens": 16})
    for i in range(turns):
        question = store.add_message(c.id, "user", f"question {i}")
        reasoning = "<think>" + "Weigh the options step by step. " * 25 + "</think>\n\n"
        if i % 3 == 0:
            store.add_message(c.id, "assistant", reasoning + f"older answer {i}", parent_id=question.id)
        store.add_message(c.id, "assistant", reasoning + f"answer {i}\n\n" + (code if i % 5 == 0 else "plain " * 20),
                          parent_id=question.id)
    return c.id


def run_until(condition, settle_ms: int = 0) -> None:
    """Run the event loop until ``condition()``; no busy processEvents() loop
    (WORKAROUND: PySide6 6.12 on Python 3.11 over-releases None in tight
    processEvents loops and crashes with 'deallocating None')."""
    from PySide6.QtCore import QEventLoop

    from app.ui.qt import QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(10)
    poll.timeout.connect(lambda: condition() and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if settle_ms:
        QTimer.singleShot(settle_ms, loop.quit)
        loop.exec()


def stream_into(window, app, conversation_id: int, reply: str = REPLY) -> dict:
    from app.chats.events import Token
    from app.ui.reply_presenter import Reply
    from app.ui.qt import QTimer

    window.open_conversation(conversation_id)
    run_until(lambda: window.conversation_id == conversation_id and len(window.chat.views) == len(window.history),
              settle_ms=200)
    view = window.chat.add("assistant", "", "streaming", "bench")
    window.reply = Reply(conversation_id, "bench", view=view, message_id=-1)
    pieces = [reply[i:i + 4] for i in range(0, len(reply), 4)]  # ~4 characters a token
    spent = []
    presenter = window.presenter  # where the conversation service's events are shown
    original_on_token, original_render = presenter._on_token, presenter._render_reply

    def timed(fn):
        def wrapper(*args):
            started = time.perf_counter()
            fn(*args)
            spent.append(time.perf_counter() - started)
        return wrapper

    presenter._render_reply = timed(original_render)
    on_token = timed(original_on_token)
    lateness, last = [], [None]

    def tick():
        now = time.perf_counter()
        if last[0] is not None:
            lateness.append(now - last[0] - 0.005)
        last[0] = now

    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(tick)
    ticker.start()
    feeder = QTimer()
    feeder.setInterval(TOKEN_INTERVAL_MS)
    feed = iter(pieces)
    done = [False]

    def next_token():
        piece = next(feed, None)
        if piece is None:
            feeder.stop()
            done[0] = True
            return
        on_token(Token(conversation_id, -1, piece))

    feeder.timeout.connect(next_token)
    feeder.start()
    run_until(lambda: done[0], settle_ms=200)
    ticker.stop()
    presenter._render_reply = original_render
    window.reply = None
    return {"per_token_us": sum(spent) / len(pieces) * 1e6, "tokens": len(pieces),
            "max_stall_ms": max(lateness) * 1000, "p99_stall_ms": statistics.quantiles(lateness, n=100)[98] * 1000}


def main() -> int:
    os.environ["HEARTH_HOME"] = tempfile.mkdtemp(prefix="hearth-bench-ui-")
    from app.chats.store import ChatStore
    from app.config import load_settings
    from app.engine.scripted import ScriptedEngine
    from app.library.registry import ModelRegistry
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication

    store = ChatStore()
    short = make_conversation(store, "short", 1)
    long = make_conversation(store, "long", 100)
    branched = make_branched(store, "branched", 100)
    store.close()
    app = QApplication([])
    window = MainWindow(load_settings(), ModelRegistry().resolve(None), engine=ScriptedEngine())
    window.resize(1200, 800)
    window.show()
    results = {"short": [], "long": [], "branched": []}
    for _ in range(3):  # interleaved rounds
        results["short"].append(stream_into(window, app, short))
        results["long"].append(stream_into(window, app, long))
        results["branched"].append(stream_into(window, app, branched, THOUGHT + REPLY))
    window.close()
    med = statistics.median
    for name, turns in (("short", 2), ("long", 200), ("branched", 200)):
        rows = results[name]
        print(f"{name:8s} ({turns:3d} messages): GUI time per token {med([r['per_token_us'] for r in rows]):7.0f} us, "
              f"longest stall {max(r['max_stall_ms'] for r in rows):5.1f} ms, "
              f"p99 stall {med([r['p99_stall_ms'] for r in rows]):5.1f} ms ({rows[0]['tokens']} tokens at 200/s)")
    ratio = med([r["per_token_us"] for r in results["long"]]) / med([r["per_token_us"] for r in results["short"]])
    print(f"per-token GUI cost, 200 messages / 2 messages: {ratio:.2f}  (target ~1.0: no growth with length)")
    ratio = med([r["per_token_us"] for r in results["branched"]]) / med([r["per_token_us"] for r in results["long"]])
    print(f"per-token GUI cost, branches and reasoning / plain, both 200 messages: {ratio:.2f}  "
          "(target ~1.0; the branched reply also streams its reasoning section)")
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    # WORKAROUND: PySide6 6.12 on Python 3.11 can abort while finalizing ("bool_dealloc"); the figures are out.
    os._exit(status)

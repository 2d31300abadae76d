"""Privacy a user can verify (issue 14): every connection logged by the process that made it,
Offline refusing them in every process, ``doctor --network`` and Settings -> Privacy showing the log.

The internet cannot be reached here; the tests aim at TEST-NET addresses (192.0.2.x, never
routed), which is enough: the audit hook sees an attempt before any packet leaves."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import netlog, paths
from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
UNROUTED = "192.0.2.1"


def hearth(*args, env=None, timeout=180, stdin=None):
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(env or os.environ, PYTHONPATH=env.get("PYTHONPATH", str(ROOT)) if env else str(ROOT)),
                          cwd=ROOT, input=stdin)


def go_offline() -> None:
    settings = Settings({"offline": True}, path=paths.settings_file())
    settings.save()


@pytest.fixture
def guard(tmp_path):
    """A second watcher, independent of Hearth's: a sitecustomize that notes any non-local attempt
    in any Python process started with it (the CLI, the window, the worker, the reader, the embedder)."""
    folder = tmp_path / "guard"
    folder.mkdir()
    attempts = tmp_path / "attempts.log"
    (folder / "sitecustomize.py").write_text(f'''
import socket, sys
def _hook(event, args):
    host = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        host = args[1][0]
    if host is not None and str(host) not in ("localhost", "127.0.0.1", "::1"):
        with open({str(attempts)!r}, "a") as log:
            log.write(f"{{event}} {{host}}\\n")
sys.addaudithook(_hook)
''')
    env = dict(os.environ, PYTHONPATH=f"{folder}{os.pathsep}{ROOT}")
    return env, attempts


def test_offline_chat_documents_and_window_make_no_connection_attempt(guard, tmp_path, hearth_home):
    env, attempts = guard
    go_offline()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nThe spare key is under the blue pot.")
    probe = tmp_path / "shown"
    runs = [
        hearth("chat", "Say hi.", "--max-tokens", "4", env=env),
        hearth("docs", "add", "notes", str(docs), env=env),
        hearth("docs", "ask", "notes", "Where is the spare key?", "--max-tokens", "8", env=env),
        subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env=dict(env, QT_QPA_PLATFORM="offscreen", HEARTH_STARTUP_PROBE=str(probe))),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0, 0], [r.stderr[-500:] for r in runs]
    assert probe.exists()  # the window opened
    assert not attempts.exists(), attempts.read_text()
    assert netlog.entries() == []
    # The control: the same guard sees an attempt when one is made.
    subprocess.run([sys.executable, "-c", f"import socket; socket.socket().connect_ex(({UNROUTED!r}, 9))"],
                   env=env, timeout=30)
    assert attempts.read_text().strip() == f"socket.connect {UNROUTED}"


ATTEMPT = f"""
import socket, sys
from app import netlog
netlog.install("test process", offline=sys.argv[1] == "on" or None)
with netlog.purpose("a test's own attempt"):
    try:
        socket.socket().connect(({UNROUTED!r}, 9))
    except netlog.OfflineRefused as exc:
        print("refused:", exc)
"""


@pytest.mark.parametrize("how", ["on", "inherited"])
def test_offline_refuses_any_connection_in_a_hearth_process_and_logs_it(guard, hearth_home, how):
    """``on``: the process read the setting; ``inherited``: a child learns it from its parent's environment."""
    env, attempts = guard
    if how == "inherited":
        env = dict(env, HEARTH_OFFLINE="1")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", ATTEMPT, how], capture_output=True, text=True, timeout=60,
                         env=env, cwd=ROOT)
    assert time.monotonic() - started < 30  # refused at once, no timeout waited out
    assert run.stdout.startswith("refused: Hearth is in offline mode"), run.stderr
    assert f"socket.connect {UNROUTED}" in attempts.read_text()  # tried, and refused by Hearth's hook
    refused = netlog.entries()[-1]
    assert (refused["host"], refused["purpose"], refused["refused"]) == (UNROUTED, "a test's own attempt", True)
    go_offline()
    shown = hearth("doctor", "--network")
    assert shown.returncode == 0 and "Offline mode on" in shown.stdout
    assert f"connected to {UNROUTED}:9  (a test's own attempt) — REFUSED (offline mode)" in shown.stdout
    listed = json.loads(hearth("doctor", "--network", "--json").stdout)
    assert listed["offline"] is True and listed["connections"][-1]["refused"] is True


def test_offline_remote_engines_and_hub_say_so_in_one_line(hearth_home):
    go_offline()
    assert hearth("engines", "add", "team", f"http://{UNROUTED}:8000/v1").returncode == 0
    for args in (("engines", "test", "team"), ("models", "search", "qwen")):
        result = hearth(*args)
        assert result.returncode == 1 and "offline mode is on" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert netlog.entries() == []  # refused before any attempt


def test_connections_are_logged_with_their_purpose_when_online(hearth_home):
    result = hearth("models", "search", "qwen", env=dict(os.environ, HF_ENDPOINT=f"http://{UNROUTED}:9"),
                    timeout=60)
    assert result.returncode == 1 and result.stderr.startswith("hearth: ")
    logged = netlog.entries()
    assert logged and logged[0]["host"] == UNROUTED and logged[0]["purpose"] == "Hub reachability check"
    assert logged[0]["process"] == "hearth models" and not logged[0]["refused"]


def test_no_network_is_one_line_at_once(hearth_home):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        started = time.monotonic()
        result = hearth("models", "search", "qwen", env=dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{port}"))
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["hearth: no network: cannot reach 127.0.0.1 (Connection refused)"]


def test_the_privacy_tab_lists_connections_and_switches_offline(qtbot, hearth_home):
    from app.ui.settings_dialog import SettingsDialog

    netlog._record("connect", "hub.example", 443, refused=False)
    netlog._record("connect", "10.0.0.7", 8000, refused=True)
    dialog = SettingsDialog(Settings(), load_log=lambda done: done([netlog.row(e) for e in netlog.entries()]))
    qtbot.addWidget(dialog)
    table = dialog.network_log
    shown = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert [row[3] for row in shown] == ["10.0.0.7:8000", "hub.example:443"]  # newest first
    assert shown[0][1] == "refused (offline)" and shown[1][1] == "made"
    assert dialog.log_state.text() == "2 logged, 1 refused by offline mode"
    dialog.offline.setChecked(True)
    assert dialog.values()["offline"] is True

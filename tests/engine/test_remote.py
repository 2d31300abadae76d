"""The remote engine against a real OpenAI-compatible server we did not write: llama.cpp's server as
shipped in llama-cpp-python (``llama_cpp.server``), started here on a loopback port with the starter."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from app.chats import events as ev
from app.chats.service import ConversationService, choose_model
from app.config import Settings
from app.engine import remotes
from app.engine.local import LocalEngine
from app.engine.router import EngineRouter
from tests.test_cli import assert_one_line_error, hearth

KEY = "team-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(starter_path: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(starter_path), "--model_alias", "starter",
             "--host", "127.0.0.1", "--port", str(port), "--api_key", KEY, "--n_threads", "1"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models",
                                             headers={"Authorization": f"Bearer {KEY}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start in 60 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def llama_server(starter_path, tmp_path_factory):
    port = free_port()
    proc = start_llama_server(starter_path, port, tmp_path_factory.mktemp("llama-server") / "server.log")
    yield f"http://127.0.0.1:{port}/v1"
    stop(proc)


@pytest.fixture
def team(llama_server, tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    return remotes.add("team", llama_server, KEY)


def router_service() -> ConversationService:
    return ConversationService(EngineRouter(LocalEngine()))


def test_add_list_chat_and_tally_through_the_cli(llama_server, tmp_path, hearth_home):
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    added = hearth("engines", "add", "team", llama_server.removesuffix("/v1"), "--key-file", str(key_file))
    assert added.returncode == 0, added.stderr
    assert KEY not in (hearth_home / "engines.json").read_text()  # the key is never in the engines file
    assert oct((hearth_home / "engine-keys.json").stat().st_mode & 0o777) == "0o600"
    models = json.loads(hearth("engines", "test", "team", "--json").stdout)
    assert [m["id"] for m in models] == ["team:starter"]
    chat = hearth("chat", "--model", "team:starter", "--json", "--max-tokens", "8", "Name a colour.")
    assert chat.returncode == 0, chat.stderr
    result = json.loads(chat.stdout)
    assert result["reply"].strip() and result["model"] == "team:starter" and result["completion_tokens"] > 0
    assert result["remote"] is True and result["tokens_per_s"] > 0
    listed = json.loads(hearth("chats", "list", "--json").stdout)
    assert len(listed) == 1
    from app.savings.tally import SavingsStore

    store = SavingsStore()
    row = store.db.execute("SELECT source, local_model, energy_source, energy_kwh, conversation_id FROM replies"
                           ).fetchone()
    store.close()
    assert row == ("chat", "team:starter", "remote", "0E-12", listed[0]["id"])


def test_stop_mid_reply_keeps_the_partial_reply(team):
    service = router_service()
    model = choose_model("team:starter", Settings())
    events, tokens = [], []

    def emit(event):
        events.append(event)
        if isinstance(event, ev.Token):
            tokens.append(event.text)
            if len(tokens) == 5:
                threading.Thread(target=service.stop).start()

    try:
        finished = service.send(None, "Write a long story about a lighthouse.", model, Settings(),
                                {"max_tokens": 400}, emit)
    finally:
        service.close()
        service.engine.close()
    assert finished.status == "stopped" and finished.text.startswith("".join(tokens[:5]))
    assert 5 <= finished.stats["completion_tokens"] < 400


def test_a_wrong_key_is_one_clear_line(llama_server, hearth_home):
    remotes.add("team", llama_server, "not-the-key")
    assert_one_line_error(hearth("chat", "--model", "team:starter", "hi"), "refused the API key (401)")


def test_the_server_absent_at_start_is_one_clear_line(hearth_home):
    remotes.add("gone", f"http://127.0.0.1:{free_port()}/v1", KEY)
    assert_one_line_error(hearth("chat", "--model", "gone:starter", "hi"), "cannot reach gone", "is the server up?")


def test_offline_mode_refuses_a_server_that_is_not_ours_without_connecting(hearth_home):
    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / "settings.json").write_text(json.dumps({"version": 1, "settings": {"offline": True}}))
    remotes.add("far", "http://10.255.255.1:9/v1")  # would hang on connect if it were tried
    started = time.time()
    assert_one_line_error(hearth("chat", "--model", "far:big-model", "hi"), "offline mode is on", "10.255.255.1")
    assert time.time() - started < 30
    # An address the user marks as their own network is allowed (checked without connecting).
    from app.engine.base import ModelTarget
    from app.engine.remote import RemoteEngine

    engine = RemoteEngine(remotes.add("far", "http://10.255.255.1:9/v1", own_network=True))
    engine._check_offline(ModelTarget("far:big-model", None, Settings({"offline": True})))
    engine.close()


def test_the_server_killed_mid_reply_keeps_and_marks_the_partial_reply(starter_path, tmp_path):
    port = free_port()
    proc = start_llama_server(starter_path, port, tmp_path / "server.log")
    remotes.add("team", f"http://127.0.0.1:{port}/v1", KEY)
    service = router_service()
    model = choose_model("team:starter", Settings())
    tokens, failures = [], []

    def emit(event):
        if isinstance(event, ev.Token):
            tokens.append(event.text)
            if len(tokens) == 5:
                os.killpg(proc.pid, signal.SIGKILL)
        elif isinstance(event, ev.TurnFailed):
            failures.append(event)

    try:
        finished = service.send(None, "Write a long story about a lighthouse.", model, Settings(),
                                {"max_tokens": 400}, emit)
    finally:
        stop(proc)
        service.close()
        service.engine.close()
    assert finished.status == "error" and finished.text.startswith("".join(tokens[:5]))
    assert [f.kind for f in failures] == [ev.CRASH] and "team" in failures[0].message
    from app.chats.store import ChatStore

    store = ChatStore()
    saved = store.messages(finished.conversation_id)[-1]
    store.close()
    assert saved.status == "error" and saved.content == finished.text and saved.error


def test_bench_reports_levels_and_stops_within_its_bounds(team, hearth_home):
    started = time.time()
    result = hearth("engines", "bench", "team", "--streams", "1,4", "--tokens", "16", "--max-seconds", "20",
                    timeout=120)
    elapsed = time.time() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("1 streams:") and "tokens/s total" in line and "p95" in line for line in lines)
    assert any(line.strip().startswith("4 streams:") for line in lines)
    assert elapsed < 2 * 20 + 30  # two levels, each stopped at its limit, plus start-up
    saved = json.loads((hearth_home / "engine-bench.json").read_text())["results"][0]
    assert saved["engine"] == "team" and [level["streams"] for level in saved["levels"]] == [1, 4]
    assert saved["best_tokens_per_s"] > 0

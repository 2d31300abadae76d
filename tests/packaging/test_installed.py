"""The packaged program, installed the way a user installs it, run with no Python environment of ours.

``scripts/test-package`` installs ``dist/hearth_*.deb`` with apt-get (or unpacks
the tarball into an empty folder) and points HEARTH_INSTALLED at the installed
``hearth``. Each command runs with a bare PATH (no venv), a fresh HOME and a
temporary HEARTH_HOME. Without HEARTH_INSTALLED (the ordinary test run, which
builds nothing) these tests are skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

INSTALLED = os.environ.get("HEARTH_INSTALLED")
pytestmark = pytest.mark.skipif(not INSTALLED, reason="run by scripts/test-package on a built, installed package")


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "HEARTH_HOME": str(tmp_path / "data"),
            "LANG": "C.UTF-8"}


def hearth(env, *args, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([INSTALLED, *args], env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


def install_root() -> Path:
    return Path(os.path.realpath(INSTALLED)).parent


def stop(process: subprocess.Popen) -> None:
    """Ask a Hearth process to stop (Ctrl-C), then insist; its pipes are closed either way."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def workers_of(pid: int) -> list[int]:
    """The chat workers a Hearth process started: the same executable with the ``worker`` sub-command."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and argv[1:2] == [b"worker"]:
            found.append(int(entry.name))
    return found


def test_no_python_of_ours_is_on_the_path(env):
    assert ".venv" not in env["PATH"]
    assert Path(INSTALLED).exists() and os.access(INSTALLED, os.X_OK)


def test_chat_json_answers_from_the_bundled_starter_model(env):
    result = hearth(env, "chat", "--json", "--max-tokens", "12", "Say hello.")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["reply"].strip() and reply["completion_tokens"] > 0
    assert reply["model_path"].startswith(str(install_root()))  # the model inside the bundle, not a download


def test_models_list_shows_the_starter(env):
    result = hearth(env, "models", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["source"] == "starter" and rows[0]["fit"] in ("fits", "tight")


def test_docs_add_indexes_a_pdf_and_a_docx(env, tmp_path):
    import docx
    from fpdf import FPDF

    folder = tmp_path / "papers"
    folder.mkdir()
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "The lighthouse keeper logs the weather every morning at six.")
    pdf.output(str(folder / "keeper.pdf"))
    document = docx.Document()
    document.add_paragraph("Quarterly budget: the orchard project costs 4,200 euros.")
    document.save(str(folder / "budget.docx"))
    result = hearth(env, "docs", "add", "papers", str(folder), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "2 indexed" in result.stdout and "0 skipped" in result.stdout
    found = hearth(env, "docs", "search", "papers", "orchard budget")
    assert "budget.docx" in found.stdout and "4,200 euros" in found.stdout


def test_doctor_names_the_cpu_backend(env):
    result = hearth(env, "doctor", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["llama_cpp"]["backend"] == "CPU"


def test_the_window_opens_offscreen_stays_up_and_closes_when_asked(env, tmp_path):
    probe = tmp_path / "shown"
    shown = hearth(dict(env, QT_QPA_PLATFORM="offscreen", HEARTH_STARTUP_PROBE=str(probe)), timeout=60)
    assert shown.returncode == 0 and probe.read_text(), shown.stderr  # the window was shown, then quit
    assert Path(str(probe) + ".icons").read_text() == "ok"  # the action icons were found in the bundle
    app = subprocess.Popen([INSTALLED], env=dict(env, QT_QPA_PLATFORM="offscreen"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not workers_of(app.pid) and time.monotonic() < deadline:  # the model loads after the window shows
            assert app.poll() is None, app.communicate()
            time.sleep(0.2)
        assert workers_of(app.pid)
        time.sleep(3)
        assert app.poll() is None  # still up
        app.send_signal(signal.SIGTERM)  # closing the app, as a session ending does
        _out, err = app.communicate(timeout=30)
        assert app.returncode == 0, err
    finally:
        stop(app)


def test_killing_the_worker_mid_reply_is_a_readable_error_and_the_app_stays_up(env):
    """The API server is the app kept running here (a window cannot be driven from outside the bundle)."""
    server = subprocess.Popen([INSTALLED, "serve", "--port", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert "Hearth API at" in line, server.stderr.read() if server.poll() is not None else line
        base = line.split("Hearth API at ", 1)[1].split()[0]
        key = hearth(env, "serve", "key").stdout.strip()

        def request(stream: bool, max_tokens: int):
            body = json.dumps({"model": "smollm2-135m-instruct-q4-1", "max_tokens": max_tokens, "stream": stream,
                               "temperature": 0.8, "messages": [{"role": "user", "content": "Tell a long story."}]})
            return urllib.request.urlopen(urllib.request.Request(
                base + "/chat/completions", data=body.encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}), timeout=120)

        with request(True, 2000) as response:
            first = response.readline()
            assert first.startswith(b"data: ")
            for pid in workers_of(server.pid):
                os.kill(pid, signal.SIGKILL)
            rest = response.read().decode()
        assert '"error"' in rest and "worker" in rest  # a well-formed error event that says what happened
        assert server.poll() is None  # the app is still up
        with request(False, 8) as again:  # and the next request gets a fresh worker
            assert json.loads(again.read())["choices"][0]["message"]["content"] is not None
    finally:
        stop(server)


def test_killing_the_worker_during_a_cli_chat_is_one_line(env):
    chat = subprocess.Popen([INSTALLED, "chat", "--max-tokens", "2000", "Tell a long story."], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not workers_of(chat.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    chat.stdout.read(20)  # the reply has started
    for pid in workers_of(chat.pid):
        os.kill(pid, signal.SIGKILL)
    try:
        _out, err = chat.communicate(timeout=60)
    finally:
        stop(chat)
    assert chat.returncode not in (0, 70)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearth: ") and "worker" in lines[0], err

"""The real ``hearth`` program run as a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def hearth(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "app", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode not in (0, 70), result
    err = result.stderr.strip()
    assert "Traceback" not in result.stderr
    assert len(err.splitlines()) == 1, err
    assert err.startswith("hearth: ")
    for fragment in fragments:
        assert fragment in err, err


def test_chat_json_reports_reply_and_stats():
    result = hearth("chat", "--json", "--max-tokens", "12", "--temperature", "0", "Say hello.")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("model", "reply", "prompt_tokens", "completion_tokens", "ttft_ms", "tokens_per_s", "stop_reason"):
        assert key in data
    assert data["model"] == "smollm2-135m-instruct-q4-1"
    assert data["reply"].strip()
    assert 0 < data["completion_tokens"] <= 12
    assert data["stop_reason"] in ("end_of_turn", "length")


def test_chat_streams_plain_text_and_reads_stdin():
    result = hearth("chat", "--max-tokens", "8", "--system", "Be brief.", stdin="What is 2+2?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and not result.stdout.lstrip().startswith("{")
    assert result.stderr == ""


def test_chat_by_model_id_and_path(starter_path):
    by_alias = hearth("chat", "--model", "starter", "--json", "--max-tokens", "3", "hi")
    by_path = hearth("chat", "--model", str(starter_path), "--json", "--max-tokens", "3", "hi")
    assert json.loads(by_alias.stdout)["completion_tokens"] > 0
    assert json.loads(by_path.stdout)["model_path"] == str(starter_path)


@pytest.mark.parametrize("case, fragments", [
    ("not_gguf", ["not a GGUF model file"]),
    ("truncated_data", ["file is truncated"]),
    ("truncated_header", ["truncated or corrupt"]),
    ("absurd_tensors", ["header is corrupt"]),
    ("absurd_kv", ["header is corrupt"]),
    ("unknown_arch", ["could not load", "hearthnonsense"]),
    ("hostile_name", ["not a GGUF model file"]),
])
def test_chat_with_bad_model_files(bad_models, case, fragments):
    assert_one_line_error(hearth("chat", "--model", str(bad_models[case]), "hi"), *fragments)


def test_chat_bad_input():
    assert_one_line_error(hearth("chat", "--model", "/no/such/model.gguf", "hi"), "no such file")
    assert_one_line_error(hearth("chat", "--model", "nonexistent-model", "hi"), "no installed model")
    assert_one_line_error(hearth("chat", "   "), "empty prompt")
    assert_one_line_error(hearth("chat", stdin=""), "empty prompt")
    assert_one_line_error(hearth("chat", "--temperature", "-3", "hi"), "temperature")
    assert_one_line_error(hearth("chat", "--max-tokens", "many", "hi"), "'many' is not a number (max_tokens: 1 to")
    assert_one_line_error(hearth("frobnicate"), "invalid choice")


def test_models_list_reads_gguf_metadata(starter_path):
    result = hearth("models", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    starter = next(r for r in rows if r["source"] == "starter")
    assert starter["file"] == str(starter_path)
    assert starter["architecture"] == "llama"
    assert starter["size_label"] == "135M"
    assert starter["quantization"] == "Q4_1"
    assert starter["context_length"] == 8192
    assert starter["size_bytes"] == starter_path.stat().st_size
    text = hearth("models", "list")
    assert "smollm2-135m-instruct-q4-1 (starter)" in text.stdout and "Q4_1" in text.stdout


def test_models_list_shows_a_broken_file_without_failing(hearth_home):
    models = hearth_home / "models"
    models.mkdir(parents=True)
    (models / "broken.gguf").write_bytes(b"junk" * 10)
    rows = json.loads(hearth("models", "list", "--json").stdout)
    broken = next(r for r in rows if r["id"] == "broken")
    assert "not a GGUF model file" in broken["problem"]


def test_doctor_reports_machine_and_data_folder(hearth_home):
    result = hearth("doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cpu"]["physical_cores"] >= 1
    assert report["memory"]["total_bytes"] > 0
    assert report["llama_cpp"]["gpu_offload"] in (True, False)
    assert report["llama_cpp"]["error"] is None
    assert report["data_folder"]["path"] == str(hearth_home)
    assert report["data_folder"]["free_bytes"] > 0
    text = hearth("doctor").stdout
    assert "GPU offload" in text and str(hearth_home) in text


def test_nothing_written_outside_the_data_folder(hearth_home, tmp_path):
    hearth("chat", "--max-tokens", "2", "hi")
    written = {p.relative_to(hearth_home).parts[0] for p in hearth_home.rglob("*")}
    assert written <= {"logs", "models", "settings.json", "models.json", "savings.db", "savings.db-wal", "savings.db-shm",
                       "hearth.db", "hearth.db-wal", "hearth.db-shm"}
    assert (hearth_home / "logs" / "worker.log").exists()


EMBEDDER = ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2-f16.gguf"


@pytest.mark.skipif(not EMBEDDER.exists(), reason="shared embedding model not present")
def test_chat_refuses_an_embedding_model():
    assert_one_line_error(hearth("chat", "--model", str(EMBEDDER), "hi"), "embedding model", "cannot chat")


def test_chats_list_show_export(hearth_home):
    from app.chats.store import ChatStore

    store = ChatStore()
    c = store.create_conversation("Sorting in Go")
    store.add_message(c.id, "user", "How do I sort a slice?")
    store.add_message(c.id, "assistant", "Use `slices.Sort(s)`.", model="smol")
    store.close()
    listing = json.loads(hearth("chats", "list", "--json").stdout)
    assert listing == [{"id": c.id, "title": "Sorting in Go", "created": listing[0]["created"],
                        "updated": listing[0]["updated"], "messages": 2}]
    assert "Sorting in Go" in hearth("chats", "list").stdout
    shown = json.loads(hearth("chats", "show", str(c.id), "--json").stdout)
    assert shown["messages"][1]["content"] == "Use `slices.Sort(s)`."
    md = hearth("chats", "export", str(c.id), "--format", "md")
    assert md.returncode == 0 and "## You\n\nHow do I sort a slice?" in md.stdout
    as_json = json.loads(hearth("chats", "export", str(c.id), "--format", "json").stdout)
    assert as_json["title"] == "Sorting in Go"
    assert_one_line_error(hearth("chats", "show", "999"), "no conversation with id 999")
    assert_one_line_error(hearth("chats", "export", "1", "--format", "pdf"), "invalid choice")


def test_savings_json_after_a_chat(hearth_home, tmp_path):
    from decimal import Decimal

    fake_rapl = tmp_path / "rapl" / "intel-rapl:0"
    fake_rapl.mkdir(parents=True)
    (fake_rapl / "energy_uj").write_text("5000\n")
    (fake_rapl / "max_energy_range_uj").write_text("262143328850\n")
    empty = json.loads(hearth("savings", "--json").stdout)
    assert empty["replies"] == 0 and empty["net_usd"] == "0"
    env_rapl = dict(os.environ, HEARTH_RAPL_ROOT=str(tmp_path / "rapl"))
    subprocess.run([sys.executable, "-m", "app", "chat", "--max-tokens", "8", "Say hi."], env=dict(
        env_rapl, PYTHONPATH=str(ROOT)), cwd=ROOT, capture_output=True, timeout=120, check=True)
    data = json.loads(hearth("savings", "--json").stdout)
    for key in ("comparison_model", "price_effective_date", "replies", "input_tokens", "output_tokens",
                "gross_usd", "energy_kwh", "energy_usd", "net_usd"):
        assert key in data
    assert data["comparison_model"] == "gpt-4o" and data["price_effective_date"] == "2024-08-06"
    # What the model read: the default preset's system prompt and the message, with OpenAI's overhead.
    from app.chats.service import default_conversation_settings
    from app.savings.tokens import count_chat

    seen = [{"role": "system", "content": default_conversation_settings()["system_prompt"]},
            {"role": "user", "content": "Say hi."}]
    expected_input = count_chat(seen)
    assert data["replies"] == 1 and data["input_tokens"] == expected_input and 0 < data["output_tokens"] <= 12
    gross = Decimal(data["gross_usd"])  # money as decimal strings
    assert gross == Decimal(expected_input) * Decimal("2.50") / 1_000_000 + \
        Decimal(data["output_tokens"]) * 10 / Decimal(1_000_000)
    assert data["replies_with_measured_energy"] == 1  # the (fake, unchanging) RAPL counter was read
    assert Decimal(data["net_usd"]) == gross - Decimal(data["energy_usd"])
    text = hearth("savings").stdout
    assert "Compared with GPT-4o" in text and "Net saved" in text
    assert "gpt-4o" in hearth("savings", "prices").stdout
    assert "Re-priced 1 replies" in hearth("savings", "reprice").stdout


def test_savings_prices_can_be_chosen_and_edited(hearth_home):
    result = hearth("savings", "set-price", "gpt-4o", "--input", "2.00", "--output", "8.00",
                    "--date", "2026-11-01", "--source", "https://example.com/my-contract")
    assert result.returncode == 0 and "gpt-4o@2026-11-01" in result.stdout
    row = next(r for r in json.loads(hearth("savings", "prices", "--json").stdout) if r["id"] == "gpt-4o")
    assert (row["input_per_m"], row["output_per_m"], row["user"]) == ("2.00", "8.00", True)
    assert row["tokenizer"] == "o200k_base" and row["tokens_exact"]  # kept from the shipped row
    assert_one_line_error(hearth("savings", "set-price", "x", "--input", "1", "--date", "2026-13-01"),
                          "YYYY-MM-DD")
    assert_one_line_error(hearth("savings", "set-price", "x", "--input", "free", "--date", "2026-01-01"),
                          "not a number")
    assert "Claude Haiku 4.5" in hearth("savings", "use", "claude-haiku-4.5").stdout
    assert json.loads(hearth("savings", "--json").stdout)["comparison_model"] == "claude-haiku-4.5"
    assert_one_line_error(hearth("savings", "use", "nope"), "no price for 'nope'")


def test_models_import_list_fit_and_rm(hearth_home, tmp_path, starter_path):
    import shutil

    mine = tmp_path / "My Model.Q4_1.gguf"
    shutil.copyfile(starter_path, mine)
    result = hearth("models", "import", str(mine))
    assert result.returncode == 0 and "used in place, not copied" in result.stdout
    rows = {r["id"]: r for r in json.loads(hearth("models", "list", "--json").stdout)}
    assert rows["my-model-q4-1"]["file"] == str(mine) and rows["my-model-q4-1"]["source"] == "imported"
    assert rows["my-model-q4-1"]["fit"] == "fits" and rows["my-model-q4-1"]["memory_bytes"] > mine.stat().st_size
    assert "fits (" in hearth("models", "list").stdout
    assert json.loads(hearth("chat", "--model", "my-model-q4-1", "--json", "--max-tokens", "3", "hi").stdout)[
        "model"] == "my-model-q4-1"
    assert "forgotten" in hearth("models", "rm", "my-model-q4-1").stdout
    assert mine.exists()  # an imported file is never deleted
    copied = hearth("models", "import", "--copy", str(mine))
    assert "copied into the models folder" in copied.stdout
    assert (hearth_home / "models" / mine.name).exists()
    assert_one_line_error(hearth("models", "import", "--copy", str(mine)), "already in the models folder")
    assert "deleted" in hearth("models", "rm", "my-model-q4-1").stdout
    assert not (hearth_home / "models" / mine.name).exists()
    assert_one_line_error(hearth("models", "rm", "starter"), "built in")
    assert_one_line_error(hearth("models", "rm", "nope"), "no installed model called 'nope'")
    assert_one_line_error(hearth("models", "import", str(tmp_path / "missing.gguf")), "no such file")
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("hello")
    assert_one_line_error(hearth("models", "import", str(bogus)), "not a GGUF model file")


def test_gui_without_a_display_says_so(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=60,
                            env=dict(env, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert_one_line_error(result, "no display")


def test_chat_is_saved_and_can_be_continued(hearth_home):
    first = json.loads(hearth("chat", "--json", "--max-tokens", "4", "--system", "Be brief.", "Hello").stdout)
    listed = json.loads(hearth("chats", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [first["conversation_id"]] and listed[0]["title"] == "Hello"
    more = json.loads(hearth("chat", "--json", "--max-tokens", "4", "--continue", str(first["conversation_id"]),
                             "And again?").stdout)
    assert more["conversation_id"] == first["conversation_id"]
    shown = json.loads(hearth("chats", "show", str(first["conversation_id"]), "--json").stdout)
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "user", "assistant"]
    assert shown["settings"]["system_prompt"] == "Be brief."  # kept for the next turn
    assert_one_line_error(hearth("chat", "--continue", "999", "hi"), "no conversation with id 999")


def test_models_catalog_json_lists_uses_fit_speed_and_moe(hearth_home, measured_profile):
    import shutil

    hearth_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(measured_profile, hearth_home / "machine-profile.json")  # measured once per session
    result = hearth("models", "catalog", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {r["id"]: r for r in data["models"]}
    assert data["made"] and data["gpu"] is None  # no GPU here: no offload estimate, and it says so in text
    assert {u for r in rows.values() for u in r["uses"]} == {"coding", "chat", "reasoning", "small",
                                                              "long-documents", "embedding"}
    coder = rows["qwen3-coder-30b-a3b-instruct"]
    assert coder["moe"] == {"total_params": 30_500_000_000, "active_params": 3_300_000_000, "experts": 128,
                            "experts_used": 8}
    assert coder["read_bytes_per_token"] < coder["size_bytes"] / 5  # a token reads its active share only
    assert coder["fit"] in ("fits", "tight", "won't fit") and coder["memory_bytes"] > coder["size_bytes"]
    assert coder["tokens_per_s"] > 0 and coder["offload"] is None and coder["source"].startswith("https://")
    assert rows["gpt-oss-20b"]["reasoning"]["style"] == "channel"
    assert rows["qwen3-embedding-0.6b"]["tokens_per_s"] is None  # embeddings have no generation speed
    assert all(len(f["sha256"]) == 64 for r in rows.values() for f in r["files"] if f["sha256"])
    text = hearth("models", "catalog").stdout
    assert "[MoE, 3.3B active]" in text and "no NVIDIA GPU was found" in text


def test_models_list_shows_the_active_parameters_of_an_imported_moe_model(hearth_home, tmp_path,
                                                                          measured_profile):
    import shutil

    from tests.library.test_moe_estimates import write_model

    hearth_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(measured_profile, hearth_home / "machine-profile.json")
    write_model(tmp_path / "tiny-moe.F32.gguf", experts=8, used=2)
    assert hearth("models", "import", str(tmp_path / "tiny-moe.F32.gguf")).returncode == 0
    rows = {r["id"]: r for r in json.loads(hearth("models", "list", "--json").stdout)}
    moe = rows["tiny-moe-f32"]
    assert moe["moe"]["experts"] == 8 and moe["moe"]["experts_used"] == 2
    assert moe["read_bytes_per_token"] < moe["size_bytes"] and moe["tokens_per_s"] > 0
    assert "active)" in hearth("models", "list").stdout


def test_a_display_no_platform_can_use_is_one_line():
    """X11 named but unreachable: Qt would abort with a screenful; Hearth says it in one line."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_RUNTIME_DIR")}
    result = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=60,
                            env=dict(env, PYTHONPATH=str(ROOT), DISPLAY=":97"), cwd=ROOT)
    assert_one_line_error(result, "could not open a window", "X11 (xcb) could not start")



def test_when_neither_x11_nor_wayland_starts_both_are_named_in_one_line(tmp_path):
    """An unreachable X display and a Wayland socket that answers nothing: both tried, one line."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / "wayland-0").write_text("")  # where a compositor's socket would be; nothing listens
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=60,
                            env=dict(env, PYTHONPATH=str(ROOT), DISPLAY=":97", XDG_RUNTIME_DIR=str(runtime)),
                            cwd=ROOT)
    assert_one_line_error(result, "could not open a window", "neither X11 (xcb) nor Wayland could start")


def test_the_window_falls_back_to_the_next_platform_and_says_so(hearth_home, tmp_path):
    """The first platform cannot start (an unreachable X display); Qt moves on to the next and Hearth says so."""
    probe = tmp_path / "shown"
    env = dict(os.environ, PYTHONPATH=str(ROOT), DISPLAY=":97", QT_QPA_PLATFORM="xcb;offscreen",
               HEARTH_STARTUP_PROBE=str(probe))
    result = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=60, env=env,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert probe.read_text()  # the window was shown
    assert result.stderr.strip() == "hearth: the X11 (xcb) display could not start; using offscreen instead"


@pytest.mark.parametrize("args, fragments", [
    (["chat", "--ctx", "10", "hi"], ["--ctx: 10 is out of range (context_length: 256 to 1048576)"]),
    (["chat", "--temperature", "nan", "hi"], ["out of range (temperature: 0 to 5)"]),
    (["chats", "show", "99999999999999999999999"], ["out of range (an id: 1 to 9223372036854775807)"]),
    (["chat", "--continue", "-1", "hi"], ["out of range (an id"]),
    (["docs", "search", "x", "y", "--k", "0"], ["--k: 0 is out of range (passages: 1 to 50)"]),
])
def test_usage_errors_exit_2_and_name_the_allowed_range(args, fragments):
    result = hearth(*args)
    assert result.returncode == 2
    assert_one_line_error(result, *fragments)


def test_help_lists_only_real_commands():
    result = hearth("--help")
    assert result.returncode == 0 and "SUPPRESS" not in result.stdout and "worker" not in result.stdout


def test_binary_stdin_is_a_one_line_error():
    result = subprocess.run([sys.executable, "-m", "app", "chat", "--max-tokens", "2"], input=b"\xff\xfe\x00binary",
                            capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=60)
    result = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(),
                                         result.stderr.decode())
    assert_one_line_error(result, "not UTF-8 text")


def test_a_data_folder_that_cannot_be_used_is_one_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for args in (["doctor"], ["models", "list"], ["chat", "hi"], ["docs", "ls"]):
        result = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_HOME=str(blocker)), cwd=ROOT)
        assert_one_line_error(result, f"the data folder {blocker} (set by HEARTH_HOME) cannot be used: a file is in "
                                      "the way")
    if os.geteuid() != 0:  # root writes anywhere; the permission case needs an ordinary user
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = subprocess.run([sys.executable, "-m", "app", "doctor"], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), HEARTH_HOME=str(locked)), cwd=ROOT)
        assert_one_line_error(result, "cannot be used: permission denied")


def test_a_reply_whose_tally_record_cannot_be_written_says_so(hearth_home):
    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / "savings.db").write_bytes(b"not a database" * 100)  # damaged: the tally cannot be written
    result = hearth("chat", "Say hi.", "--max-tokens", "4")
    assert result.returncode == 0 and result.stdout.strip()  # the reply itself is fine, and saved
    assert "hearth: the reply was not counted in the savings tally: the savings database" in result.stderr
    assert "is damaged" in result.stderr and "Traceback" not in result.stderr

"""The engine with the real starter model through real llama.cpp in a real worker process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.engine import protocol as p
from app.engine.client import Engine, EngineError, WorkerCrashed

HOSTILE_TEMPLATE = (
    "{{ cycler.__init__.__globals__.os.system('touch " + "{marker}" + "') }}"
    "{% for m in messages %}{{ m.content }}{% endfor %}"
)
LONG_ASK = [{"role": "user", "content": "Write a very long story about a lighthouse keeper, in many chapters."}]


def load_request(path, **overrides) -> p.LoadModel:
    values = dict(path=str(path), n_ctx=2048, n_gpu_layers=0, n_threads=1, n_threads_batch=2)
    values.update(overrides)
    return p.LoadModel(**values)


@pytest.fixture(scope="module")
def engine(starter_path, tmp_path_factory):
    e = Engine(log_file=tmp_path_factory.mktemp("logs") / "worker.log")
    e.load(load_request(starter_path))
    yield e
    e.close()


@pytest.fixture
def own_engine(tmp_path):
    """An engine a test may break; always cleaned up."""
    e = Engine(log_file=tmp_path / "worker.log")
    yield e
    e.close()


def test_streams_reply_token_by_token_with_stats(engine):
    stream = engine.chat([{"role": "user", "content": "Name three colours."}], max_tokens=40, temperature=0)
    pieces = list(stream)
    stats = stream.stats
    assert len(pieces) >= 3, pieces
    assert "".join(pieces) == stream.text and stream.text.strip()
    assert stats.completion_tokens >= len(pieces) - 1
    assert stats.prompt_tokens > 10
    assert stats.ttft_ms > 0 and stats.tokens_per_s > 0 and stats.total_ms >= stats.ttft_ms
    assert stats.stop_reason in (p.STOP_END, p.STOP_LENGTH)


def test_max_tokens_stops_with_length(engine):
    stream = engine.chat(LONG_ASK, max_tokens=5, temperature=0)
    stream.consume()
    assert stream.stats.completion_tokens == 5
    assert stream.stats.stop_reason == p.STOP_LENGTH


def test_greedy_reply_is_the_same_with_and_without_cache(engine):
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    first = engine.chat(msgs, max_tokens=20, temperature=0).consume()
    engine.chat([{"role": "user", "content": "Unrelated question about fish."}], max_tokens=3).consume()
    second_stream = engine.chat(msgs, max_tokens=20, temperature=0)
    assert second_stream.consume() == first


def test_stop_strings_end_the_reply_before_them(engine):
    stream = engine.chat(LONG_ASK, max_tokens=60, temperature=0, stop=[" "])
    stream.consume()
    assert " " not in stream.text
    assert stream.stats.stop_reason == p.STOP_END


def test_cancel_stops_generation_within_100ms(engine):
    stream = engine.chat(LONG_ASK, max_tokens=2000, temperature=0.7)
    for i, _ in enumerate(stream):
        if i == 5:
            break
    started = time.perf_counter()
    stream.cancel()
    for _ in stream:
        pass
    elapsed = time.perf_counter() - started
    assert stream.stats.stop_reason == p.STOP_CANCELLED
    assert elapsed < 0.1, f"cancel took {elapsed * 1000:.0f} ms"
    # The engine is immediately usable again.
    assert engine.chat([{"role": "user", "content": "Hi"}], max_tokens=3).consume() is not None


def test_cancel_interrupts_a_long_prompt(engine):
    # ~1700 new tokens take several hundred ms to read here; cancel lands inside that.
    filler = "The quick brown fox jumps over the lazy dog near the riverbank. " * 120
    stream = engine.chat([{"role": "user", "content": f"{time.time()} {filler}"}], max_tokens=50)
    time.sleep(0.05)
    started = time.perf_counter()
    stream.cancel()
    stream.consume()
    elapsed = time.perf_counter() - started
    assert stream.stats.stop_reason == p.STOP_CANCELLED
    assert stream.stats.completion_tokens == 0
    assert elapsed < 0.1, f"cancel took {elapsed * 1000:.0f} ms"
    after = engine.chat([{"role": "user", "content": "Say hello."}], max_tokens=5, temperature=0)
    after.consume()
    assert after.stats.completion_tokens > 0


def test_second_turn_reuses_the_kv_cache(engine):
    history = [
        {"role": "system", "content": f"Conversation {time.time()}. You are concise."},
        {"role": "user", "content": "Tell me about the moon. " * 20},
    ]
    first = engine.chat(history, max_tokens=30, temperature=0)
    first.consume()
    assert first.stats.cached_tokens < 10  # a new conversation: nothing to reuse
    history += [{"role": "assistant", "content": first.text}, {"role": "user", "content": "And the sun?"}]
    second = engine.chat(history, max_tokens=10, temperature=0)
    second.consume()
    new_tokens = second.stats.prompt_tokens - second.stats.cached_tokens
    assert second.stats.cached_tokens >= first.stats.prompt_tokens
    assert new_tokens < 30, f"turn 2 evaluated {new_tokens} tokens again"


def test_long_conversation_drops_oldest_turns_instead_of_failing(own_engine, starter_path):
    own_engine.load(load_request(starter_path, n_ctx=512))
    msgs = [{"role": "system", "content": "You are helpful."}]
    for i in range(12):
        msgs += [{"role": "user", "content": f"Question {i}: " + "tell me more about rivers. " * 10},
                 {"role": "assistant", "content": f"Answer {i}: " + "rivers flow to the sea. " * 10}]
    msgs.append({"role": "user", "content": "Summarise."})
    stream = own_engine.chat(msgs, max_tokens=20, temperature=0)
    stream.consume()
    assert stream.stats.dropped_messages >= 2 and stream.stats.dropped_messages % 2 == 0
    assert stream.stats.prompt_tokens < 512
    assert stream.stats.stop_reason in (p.STOP_END, p.STOP_LENGTH)


def test_single_message_larger_than_context_is_a_clear_error(own_engine, starter_path):
    own_engine.load(load_request(starter_path, n_ctx=256))
    stream = own_engine.chat([{"role": "user", "content": "word " * 2000}], max_tokens=10)
    with pytest.raises(EngineError, match="more than this model's context window of 256 tokens"):
        stream.consume()
    assert own_engine.alive


def test_worker_killed_mid_reply(own_engine, starter_path):
    request = load_request(starter_path)
    own_engine.load(request)
    first_pid = own_engine.pid
    stream = own_engine.chat(LONG_ASK, max_tokens=2000)
    received = ""
    with pytest.raises(WorkerCrashed) as err:
        for i, piece in enumerate(stream):
            received += piece
            if i == 3:
                os.kill(first_pid, signal.SIGKILL)
    assert "killed by SIGKILL" in str(err.value)
    assert stream.stats.stop_reason == p.STOP_ERROR
    assert stream.text.startswith(received) and received  # what arrived is kept
    assert not own_engine.alive
    with pytest.raises(EngineError, match="SIGKILL"):
        own_engine.chat([{"role": "user", "content": "hi"}])
    # The caller recovers with a new worker.
    own_engine.ensure_loaded(request)
    assert own_engine.pid != first_pid
    assert own_engine.chat([{"role": "user", "content": "Hi"}], max_tokens=5).consume()


def test_hostile_template_cannot_run_code(own_engine, starter_path, tmp_path):
    marker = tmp_path / "pwned"
    template = HOSTILE_TEMPLATE.replace("{marker}", str(marker))
    loaded = own_engine.load(load_request(starter_path, chat_template=template))
    assert loaded.chat_template == "override"
    stream = own_engine.chat([{"role": "user", "content": "Hello"}], max_tokens=8)
    stream.consume()
    assert not marker.exists()
    assert stream.stats.completion_tokens > 0  # fell back to ChatML and answered


@pytest.mark.parametrize("case, message", [
    ("unknown_arch", "hearthnonsense"),
    ("truncated_data", "file is truncated"),
    ("not_gguf", "not a GGUF model file"),
    ("absurd_tensors", "header is corrupt"),
])
def test_bad_models_fail_to_load_with_a_reason(own_engine, bad_models, starter_path, case, message):
    with pytest.raises(EngineError) as err:
        own_engine.load(load_request(bad_models[case]))
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    # The worker survives and loads a good model next.
    assert own_engine.load(load_request(starter_path)).n_ctx == 2048


def test_worker_stats_and_unload(own_engine, starter_path):
    own_engine.load(load_request(starter_path))
    own_engine.chat([{"role": "user", "content": "Hi"}], max_tokens=4).consume()
    stats = own_engine.stats()
    assert stats.model == str(starter_path)
    assert stats.cached_tokens > 0 and stats.rss_bytes > 50_000_000
    own_engine.unload()
    assert own_engine.stats().model is None
    with pytest.raises(EngineError, match="no model is loaded"):
        own_engine.chat([{"role": "user", "content": "hi"}])


def test_worker_exits_when_its_parent_goes_away(own_engine, starter_path):
    own_engine.start()
    proc = own_engine._proc
    proc.stdin.close()  # what the OS does when the app dies
    assert proc.wait(timeout=10) == 0


def test_loading_reports_progress(own_engine, starter_path):
    seen = []
    loaded = own_engine.load(load_request(starter_path), on_progress=seen.append)
    assert loaded.n_ctx == 2048
    assert len(seen) >= 2 and seen == sorted(seen)
    assert seen[-1] == 1.0 and 0 <= seen[0] < 1.0


RUNAWAY_TEMPLATE = ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
                    "{% for m in messages %}{{ m.content }}{% endfor %}")


def test_a_template_that_runs_too_long_falls_back_to_chatml_with_a_note(own_engine, starter_path):
    own_engine.load(load_request(starter_path, chat_template=RUNAWAY_TEMPLATE))
    started = time.perf_counter()
    stream = own_engine.chat([{"role": "user", "content": "Hello"}], max_tokens=4)
    stream.consume()
    assert stream.stats.completion_tokens > 0  # answered with ChatML
    assert "took longer than 1 s" in stream.stats.template_note
    assert time.perf_counter() - started < 30
    again = own_engine.chat([{"role": "user", "content": "Hello"}], max_tokens=4)
    again.consume()  # the template is not tried again for this model
    assert again.stats.completion_tokens > 0 and again.stats.template_note


def test_cancel_ends_a_template_that_is_still_rendering(own_engine, starter_path, monkeypatch):
    own_engine.load(load_request(starter_path, chat_template=RUNAWAY_TEMPLATE))
    stream = own_engine.chat([{"role": "user", "content": "Hello"}], max_tokens=4)
    time.sleep(0.2)  # rendering: its budget is 1 s
    started = time.perf_counter()
    stream.cancel()
    stream.consume()
    assert stream.stats.stop_reason == p.STOP_CANCELLED and stream.stats.completion_tokens == 0
    assert time.perf_counter() - started < 0.7, "the cancel waited for the template's budget"


def test_a_model_whose_template_does_not_compile_still_loads_and_answers(own_engine, starter_path, tmp_path):
    from app.gguf.header import read_gguf

    data = bytearray(starter_path.read_bytes())
    original = read_gguf(starter_path).chat_template.encode()
    broken = b"{% if %}{{ unclosed"
    at = data.index(original)
    data[at:at + len(original)] = broken + b" " * (len(original) - len(broken))  # same length: offsets hold
    model = tmp_path / "broken-template.gguf"
    model.write_bytes(bytes(data))
    loaded = own_engine.load(load_request(model))
    assert loaded.chat_template == "model"
    stream = own_engine.chat([{"role": "user", "content": "Hello"}], max_tokens=4)
    stream.consume()
    assert stream.stats.completion_tokens > 0
    assert "template failed" in stream.stats.template_note


def test_the_worker_exits_cleanly(tmp_path, starter_path):
    log = tmp_path / "worker.log"
    for n in range(6):  # the abort at exit ("_enter_buffered_busy" on stdin) came and went with thread timing
        e = Engine(log_file=log)
        if n % 2:
            e.load(load_request(starter_path))
            e.chat([{"role": "user", "content": "Hi"}], max_tokens=2).consume()
        else:
            e.start()  # what `hearth doctor` does
        e.close()
    assert "Fatal Python error" not in log.read_text(errors="replace")


def test_continue_last_writes_on_from_an_unfinished_reply(engine):
    ask = [{"role": "user", "content": "List three fruits, one per line."}]
    whole = engine.chat(ask, max_tokens=12, temperature=0.0)
    whole.consume()
    part = engine.chat(ask, max_tokens=6, temperature=0.0)
    part.consume()
    assert whole.text.startswith(part.text) and len(part.text) < len(whole.text)
    rest = engine.chat(ask + [{"role": "assistant", "content": part.text}], max_tokens=6, temperature=0.0,
                       continue_last=True)
    rest.consume()
    assert part.text + rest.text == whole.text  # greedy: the same words as one uninterrupted reply

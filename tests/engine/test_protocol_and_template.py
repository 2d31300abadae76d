from app.engine import protocol as p
from app.engine.chat_template import CHATML, TemplateError, render, render_with_fallback

import pytest

MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi ü 🔥"}]


@pytest.mark.parametrize("message", [
    p.LoadModel(path="/m.gguf", n_gpu_layers="auto", chat_template="{{x}}"),
    p.Chat(id="r1", messages=MSGS, stop=["</s>"], seed=3),
    p.Cancel("r1"), p.GetStats(), p.Unload(), p.Shutdown(),
    p.Token("r1", "line\nbreak \"quoted\" ü"),
    p.Done("r1", p.ReplyStats(prompt_tokens=3, completion_tokens=2, stop_reason=p.STOP_CANCELLED)),
    p.Error(None, "load", "bad"), p.WorkerStats("m", 10, 3, 0, 100), p.Unloaded(),
])
def test_every_message_survives_the_wire(message):
    line = p.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert p.decode(line) == message


@pytest.mark.parametrize("line", [b"not json", b'{"type": "Nope"}', b'{"type": "Token", "id": 1}', b"[]"])
def test_garbage_is_a_protocol_error(line):
    with pytest.raises(p.ProtocolError):
        p.decode(line)


def test_model_template_renders_with_generation_prompt(starter_path):
    from app.gguf.header import read_gguf

    text = render(read_gguf(starter_path).chat_template, MSGS)
    assert text.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\nHi ü 🔥<|im_end|>" in text


@pytest.mark.parametrize("template, reason", [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{{ cycler.__init__.__globals__.os.system('id') }}", "unsafe"),
    ("{{ messages.append(1) }}", "unsafe"),
    ("{{ 'x' * 10**9 }}", "unsafe"),
    ("{% for i in range(10**9) %}x{% endfor %}", "Range too big"),
    ("{{ raise_exception('Conversation roles must alternate') }}", "roles must alternate"),
    ("{% if %}", "failed"),
])
def test_hostile_or_broken_templates_are_refused(template, reason):
    with pytest.raises(TemplateError, match=reason):
        render(template, MSGS)
    prompt, problem = render_with_fallback(template, MSGS)
    assert prompt == render(CHATML, MSGS) and problem


def test_missing_template_falls_back_to_chatml():
    prompt, problem = render_with_fallback(None, MSGS)
    assert prompt.startswith("<|im_start|>system\nS<|im_end|>") and problem == "model has no chat template"


def test_rendering_has_a_time_budget_and_can_be_cancelled():
    import time

    from app.engine.chat_template import RenderCancelled

    runaway = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="took longer than 0.2 s"):
        render(runaway, MSGS, budget_s=0.2)
    with pytest.raises(RenderCancelled):
        render(runaway, MSGS, should_stop=lambda: time.perf_counter() - started > 0.5)
    assert time.perf_counter() - started < 5
    prompt, problem = render_with_fallback(runaway, MSGS)
    assert "took longer" in problem and prompt.startswith("<|im_start|>")

"""Turn a list of chat messages into the prompt text a model was trained on.

The template comes from the GGUF (``tokenizer.chat_template``), which means
from whoever made the file: it is rendered in Jinja's immutable sandbox, so a
hostile template can read its inputs but cannot reach Python objects, call
methods that mutate, or build gigantic strings. When a model has no template
or its template fails, ChatML is used: it is what most small open models
were tuned on and it degrades gracefully on the rest.

The sandbox bounds sizes but not time, so each render also runs under a time
budget, on a thread of its own that is interrupted (an exception raised into
it at its next bytecode) when the budget runs out or the reply is cancelled.
"""

from __future__ import annotations

import ctypes
import json
import operator
import threading
import time
from datetime import datetime
from functools import lru_cache
from typing import Callable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

# A template has no business producing more than this; anything larger is a
# runaway loop or an attack on memory.
MAX_RENDERED_CHARS = 4_000_000
# Real templates render in about a millisecond; a second is a loop, not a layout.
RENDER_BUDGET_S = 1.0

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TemplateError(Exception):
    """The template could not be rendered; the message says why."""


class RenderCancelled(Exception):
    """The reply was cancelled while its prompt was being laid out."""


class _Abandon(BaseException):
    """Raised into a render thread to end it (a BaseException: templates' error handling cannot catch it)."""


def _bounded(work: Callable[[], str], budget_s: float, should_stop: Callable[[], bool] | None) -> str:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["text"] = work()
        except BaseException as exc:  # noqa: B902 (handed to the caller's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="hearth-template")
    thread.start()
    deadline = time.monotonic() + budget_s
    while True:
        thread.join(0.01)
        if not thread.is_alive():
            break
        cancelled = should_stop is not None and should_stop()
        if cancelled or time.monotonic() > deadline:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Abandon))
            thread.join(1.0)
            if cancelled:
                raise RenderCancelled()
            raise TemplateError(f"template took longer than {budget_s:g} s (a runaway loop?)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["text"]


class _Env(ImmutableSandboxedEnvironment):
    # Checked arithmetic: 'x' * 10**9 would otherwise exhaust memory.
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise jinja2.exceptions.SecurityError("exponent too large")
            return operator.pow(left, right)
        result_size = 0
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                result_size = len(seq) * times
        if result_size > MAX_RENDERED_CHARS:
            raise jinja2.exceptions.SecurityError("repetition too large")
        return operator.mul(left, right)


def _raise_exception(message: str):
    raise TemplateError(str(message))


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value, indent=None):
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _environment() -> _Env:
    env = _Env(trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    return env


_ENV = _environment()


@lru_cache(maxsize=8)
def _compiled(template: str):
    """Compiling costs ~7 ms for a typical template, rendering ~0.3 ms, and fitting a long history
    renders many times: each template is compiled once (inside the time budget, like rendering)."""
    return _ENV.from_string(template)


def render(template: str, messages: list[dict], bos_token: str = "", eos_token: str = "",
           add_generation_prompt: bool = True, tools: list[dict] | None = None,
           budget_s: float = RENDER_BUDGET_S, should_stop: Callable[[], bool] | None = None) -> str:
    """Render ``template``; raise TemplateError for anything that goes wrong, RenderCancelled
    when ``should_stop()`` turns true first."""
    extra = {"tools": tools} if tools else {}
    try:
        text = _bounded(lambda: _compiled(template).render(
            messages=messages, bos_token=bos_token, eos_token=eos_token,
            add_generation_prompt=add_generation_prompt, **extra,
        ), budget_s, should_stop)
    except (TemplateError, RenderCancelled):
        raise
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template tried something unsafe ({exc})") from None
    except Exception as exc:  # any Jinja or Python error inside the template
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateError("template output is implausibly large")
    return text


def supports_tools(template: str | None) -> bool:
    """Whether the template itself lays out tool definitions (Qwen, Llama 3.x, Mistral, Hermes do)."""
    return bool(template) and "tools" in template


def render_with_fallback(template: str | None, messages: list[dict], bos_token: str = "",
                         eos_token: str = "", tools: list[dict] | None = None,
                         should_stop: Callable[[], bool] | None = None) -> tuple[str, str | None]:
    """Render with ``template`` if it works, else ChatML; returns (prompt, problem).

    Tools go to a template that knows them; for any other template they are
    described in the system prompt and tool turns are written as text, in the
    Hermes ``<tool_call>`` format that ``app/server/tools.py`` parses back.
    """
    if tools and not supports_tools(template):
        messages, tools = tools_as_text(messages, tools), None
    elif not supports_tools(template):
        messages = tools_as_text(messages, [])
    problem = None
    if template:
        try:
            return render(template, messages, bos_token, eos_token, tools=tools, should_stop=should_stop), None
        except TemplateError as exc:
            problem = str(exc)
    else:
        problem = "model has no chat template"
    return render(CHATML, tools_as_text(messages, tools or []), bos_token, eos_token), problem


TOOLS_PROMPT = ("You can call functions. The available functions, as JSON schemas:\n{tools}\n"
                "To call one, answer with only <tool_call>{{\"name\": NAME, \"arguments\": {{...}}}}</tool_call>.")


def tools_as_text(messages: list[dict], tools: list[dict]) -> list[dict]:
    """Messages for a template without tool support: tool definitions in the system prompt,
    assistant tool calls and tool results as plain text."""
    out = []
    for m in messages:
        role, content = m.get("role"), m.get("content") or ""
        if role == "assistant" and m.get("tool_calls"):
            calls = "".join("<tool_call>" + json.dumps({"name": c.get("function", {}).get("name"),
                                                        "arguments": c.get("function", {}).get("arguments")})
                            + "</tool_call>" for c in m["tool_calls"])
            out.append({"role": "assistant", "content": (content + calls) if content else calls})
        elif role == "tool":
            out.append({"role": "user", "content": f"<tool_response>{content}</tool_response>"})
        else:
            out.append({"role": role, "content": content})
    if tools:
        described = TOOLS_PROMPT.format(tools=json.dumps([t.get("function", t) for t in tools], ensure_ascii=False))
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + described}
        else:
            out.insert(0, {"role": "system", "content": described})
    return out

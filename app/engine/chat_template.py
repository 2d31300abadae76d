"""Turn a list of chat messages into the prompt text a model was trained on.

The template comes from the GGUF (``tokenizer.chat_template``), which means
from whoever made the file: it is rendered in Jinja's immutable sandbox, so a
hostile template can read its inputs but cannot reach Python objects, call
methods that mutate, or build gigantic strings. When a model has no template
or its template fails, ChatML is used: it is what most small open models
were tuned on and it degrades gracefully on the rest.
"""

from __future__ import annotations

import json
import operator
from datetime import datetime

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

# A template has no business producing more than this; anything larger is a
# runaway loop or an attack on memory.
MAX_RENDERED_CHARS = 4_000_000

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TemplateError(Exception):
    """The template could not be rendered; the message says why."""


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


def render(template: str, messages: list[dict], bos_token: str = "", eos_token: str = "",
           add_generation_prompt: bool = True) -> str:
    """Render ``template``; raise TemplateError for anything that goes wrong."""
    try:
        compiled = _ENV.from_string(template)
        text = compiled.render(
            messages=messages, bos_token=bos_token, eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
        )
    except TemplateError:
        raise
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template tried something unsafe ({exc})") from None
    except Exception as exc:  # any Jinja or Python error inside the template
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateError("template output is implausibly large")
    return text


def render_with_fallback(template: str | None, messages: list[dict], bos_token: str = "",
                         eos_token: str = "") -> tuple[str, str | None]:
    """Render with ``template`` if it works, else ChatML; returns (prompt, problem)."""
    problem = None
    if template:
        try:
            return render(template, messages, bos_token, eos_token), None
        except TemplateError as exc:
            problem = str(exc)
    else:
        problem = "model has no chat template"
    return render(CHATML, messages, bos_token, eos_token), problem

"""Turning a client's request body into what the engine takes: messages, sampling, constraints.

Both API dialects end here, so a parameter means the same whichever SDK sent it.
Every check raises ``ApiError`` 400 naming the parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from app.server.backend import ApiError
from app.server.tools import ToolError, check_tools, forced_schema

MAX_STOPS = 4


@dataclass
class Generation:
    messages: list[dict]
    options: dict
    tools: list[dict] = field(default_factory=list)
    forced_tool: bool = False
    stream: bool = False
    include_usage: bool = False


def number(data: dict, name: str, low: float, high: float, default=None, integer: bool = False):
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ApiError(400, f"'{name}' must be {'an integer' if integer else 'a number'}", param=name)
    if not low <= value <= high:
        raise ApiError(400, f"'{name}' must be between {low:g} and {high:g}", param=name)
    return value


def text_of(content, where: str) -> str:
    """A message's text: a string, or text parts (other parts, such as images, are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "input_text"):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(400, f"{where}: only text content is supported here (got {kind!r})", param="messages")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise ApiError(400, f"{where}: content must be a string or a list of text parts", param="messages")


def stops(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value) or len(value) > MAX_STOPS:
        raise ApiError(400, f"'{name}' must be a string or a list of at most {MAX_STOPS} strings", param=name)
    return [s for s in value if s]


def sampling(data: dict, n_ctx: int, max_name: str = "max_tokens") -> dict:
    max_tokens = number(data, "max_completion_tokens", 1, n_ctx, integer=True) or \
        number(data, max_name, 1, 1 << 20, integer=True) or n_ctx
    options = {"max_tokens": int(max_tokens),
               "temperature": float(number(data, "temperature", 0, 2, 1.0)),
               "top_p": float(number(data, "top_p", 0, 1, 1.0)),
               "truncate": bool(data.get("truncate", False))}
    if data.get("top_k") is not None:
        options["top_k"] = int(number(data, "top_k", 0, 100_000, integer=True))
    seed = number(data, "seed", -(1 << 63), (1 << 64) - 1, integer=True)
    if seed is not None:
        options["seed"] = int(seed) & 0xFFFFFFFF
    return options


def openai_chat(data: dict, n_ctx: int) -> Generation:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    if number(data, "n", 1, 1, 1, integer=True) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            raise ApiError(400, f"messages[{i}]: role must be system, developer, user, assistant or tool",
                           param="messages")
        role = "system" if m["role"] == "developer" else m["role"]
        message = {"role": role, "content": text_of(m.get("content"), f"messages[{i}]")}
        if role == "assistant" and isinstance(m.get("tool_calls"), list):
            message["tool_calls"] = [c for c in m["tool_calls"] if isinstance(c, dict)]
        if role == "tool":
            message["tool_call_id"] = str(m.get("tool_call_id", ""))
        messages.append(message)
    options = sampling(data, n_ctx)
    options["stop"] = stops(data.get("stop"), "stop")
    generation = Generation(messages, options, stream=bool(data.get("stream", False)))
    stream_options = data.get("stream_options")
    generation.include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    try:
        generation.tools = check_tools(data.get("tools"))
        schema = forced_schema(generation.tools, data.get("tool_choice"))
    except ToolError as exc:
        raise ApiError(400, str(exc), param="tools") from None
    if generation.tools and data.get("tool_choice") != "none":
        options["tools"] = generation.tools
    if schema is not None:
        options["grammar"] = {"json_schema": schema}
        generation.forced_tool = True
    fmt = data.get("response_format")
    if fmt is not None and schema is None:
        options.update(response_format(fmt))
    return generation


def response_format(fmt) -> dict:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"grammar": {"json": True}}
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ApiError(400, "response_format json_schema needs {'json_schema': {'name': ..., 'schema': {...}}}",
                           param="response_format")
        return {"grammar": {"json_schema": schema}}
    raise ApiError(400, "response_format type must be text, json_object or json_schema", param="response_format")


def openai_completion(data: dict, n_ctx: int) -> Generation:
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ApiError(400, "'prompt' must be a string (token arrays and batches are not supported)", param="prompt")
    if number(data, "n", 1, 1, 1, integer=True) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    options = sampling(data, n_ctx)
    if "max_tokens" not in data and "max_completion_tokens" not in data:
        options["max_tokens"] = 16  # OpenAI's default for completions
    options["stop"] = stops(data.get("stop"), "stop")
    options["prompt"] = prompt
    generation = Generation([], options, stream=bool(data.get("stream", False)))
    stream_options = data.get("stream_options")
    generation.include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    return generation


def anthropic_messages(data: dict, n_ctx: int) -> Generation:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "messages: must be a non-empty list", param="messages")
    if data.get("max_tokens") is None:
        raise ApiError(400, "max_tokens: Field required", param="max_tokens")
    messages = []
    system = data.get("system")
    if system:
        messages.append({"role": "system", "content": text_of(system, "system")})
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ApiError(400, f"messages.{i}.role: must be user or assistant", param="messages")
        content = m.get("content")
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        if not isinstance(content, list):
            raise ApiError(400, f"messages.{i}.content: must be a string or a list of blocks", param="messages")
        texts, calls = [], []
        for block in content:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "tool_use" and m["role"] == "assistant":
                calls.append({"id": str(block.get("id", "")), "type": "function",
                              "function": {"name": str(block.get("name", "")),
                                           "arguments": json.dumps(block.get("input", {}))}})
            elif kind == "tool_result" and m["role"] == "user":
                result = block.get("content", "")
                messages.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")),
                                 "content": text_of(result, f"messages.{i}.content")})
            else:
                raise ApiError(400, f"messages.{i}.content: block type {kind!r} is not supported here",
                               param="messages")
        if texts or calls or not content:
            message = {"role": m["role"], "content": "".join(texts)}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
    options = sampling(data, n_ctx)
    options["stop"] = stops(data.get("stop_sequences"), "stop_sequences")
    generation = Generation(messages, options, stream=bool(data.get("stream", False)))
    tools = data.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ApiError(400, "tools: must be a list", param="tools")
        converted = [{"type": "function", "function": {"name": t.get("name"), "description": t.get("description", ""),
                                                       "parameters": t.get("input_schema", {"type": "object"})}}
                     for t in tools if isinstance(t, dict)]
        choice = data.get("tool_choice") or {"type": "auto"}
        kind = choice.get("type") if isinstance(choice, dict) else None
        openai_choice = {"auto": "auto", "any": "required", "none": "none"}.get(kind)
        if kind == "tool":
            openai_choice = {"type": "function", "function": {"name": choice.get("name")}}
        if openai_choice is None:
            raise ApiError(400, "tool_choice: type must be auto, any, tool or none", param="tool_choice")
        try:
            generation.tools = check_tools(converted)
            schema = forced_schema(generation.tools, openai_choice)
        except ToolError as exc:
            raise ApiError(400, str(exc), param="tools") from None
        if kind != "none":
            options["tools"] = generation.tools
        if schema is not None:
            options["grammar"] = {"json_schema": schema}
            generation.forced_tool = True
    return generation

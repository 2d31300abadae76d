"""Tool calls: forcing one with a grammar, and reading them back out of a model's text.

The catalog's template families write calls differently:
- Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (also what
  Hearth asks of models whose template knows no tools);
- Llama 3.x: a bare JSON object ``{"name": ..., "parameters": {...}}``;
- Mistral: ``[TOOL_CALLS] [{"name": ..., "arguments": {...}}]``.
A forced call (``tool_choice`` "required" or a named function) is generated
as the bare JSON object under a grammar built from the tool's own schema, so
its arguments are valid whatever the model.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from app.errors import HearthError

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


class ToolError(HearthError):
    """The request's tools or tool_choice are malformed."""


@dataclass
class ToolCall:
    name: str
    arguments: str  # JSON text, as OpenAI sends it
    id: str = ""

    def __post_init__(self):
        self.id = self.id or "call_" + secrets.token_hex(8)

    def openai(self) -> dict:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def anthropic(self) -> dict:
        return {"type": "tool_use", "id": "toolu_" + self.id.removeprefix("call_"), "name": self.name,
                "input": json.loads(self.arguments or "{}")}


def check_tools(tools) -> list[dict]:
    """OpenAI-style tools, validated: [{"type": "function", "function": {"name", "parameters"...}}]."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ToolError("'tools' must be a list")
    checked = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise ToolError("each tool needs {'type': 'function', 'function': {'name': ...}}")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict):
            raise ToolError(f"tool {function['name']!r}: 'parameters' must be a JSON schema object")
        checked.append({"type": "function", "function": dict(function, parameters=parameters)})
    return checked


def forced_schema(tools: list[dict], choice) -> dict | None:
    """The JSON schema a forced call must match, or None when the model may answer freely."""
    if choice in (None, "auto", "none") or not tools:
        if choice not in (None, "auto", "none"):
            raise ToolError("tool_choice needs tools")
        return None
    if choice == "required":
        chosen = tools
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            raise ToolError(f"tool_choice names {name!r}, which is not among the tools")
    else:
        raise ToolError("tool_choice must be 'auto', 'none', 'required' or {'type': 'function', "
                        "'function': {'name': ...}}")
    options = [{"type": "object", "properties": {"name": {"const": t["function"]["name"]},
                                                  "arguments": t["function"]["parameters"]},
                "required": ["name", "arguments"]} for t in chosen]
    return options[0] if len(options) == 1 else {"anyOf": options}


def _as_call(data) -> ToolCall | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(data["name"], json.dumps(arguments, ensure_ascii=False))


def parse_tool_calls(text: str, tools: list[dict]) -> tuple[str, list[ToolCall]]:
    """(text left for the user, the calls) from a reply; only calls to offered tools count."""
    names = {t["function"]["name"] for t in tools}
    calls: list[ToolCall] = []
    if "<tool_call>" in text:
        for raw in _HERMES.findall(text):
            call = _as_call(_loads(raw))
            if call and call.name in names:
                calls.append(call)
        return (_HERMES.sub("", text).strip() if calls else text), calls
    if "[TOOL_CALLS]" in text:
        data = _loads(text.split("[TOOL_CALLS]", 1)[1])
        for item in data if isinstance(data, list) else [data]:
            call = _as_call(item)
            if call and call.name in names:
                calls.append(call)
        return (text.split("[TOOL_CALLS]", 1)[0].strip() if calls else text), calls
    stripped = text.strip()
    if stripped.startswith("{"):
        call = _as_call(_loads(stripped))
        if call and call.name in names:
            return "", [call]
    return text, []


def _loads(text: str):
    try:
        return json.loads(text.strip())
    except ValueError:
        return None

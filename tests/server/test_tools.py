"""Tool calls read back from the three template families the catalog's models use, and forced calls."""

import json

import pytest

from app.server.tools import ToolError, check_tools, forced_schema, parse_tool_calls

TOOLS = check_tools([{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])


@pytest.mark.parametrize("text, left", [
    ('Let me check.<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', "Let me check."),
    ('{"name": "get_weather", "parameters": {"city": "Paris"}}', ""),  # Llama 3.x
    ('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]', ""),  # Mistral
])
def test_each_family_parses_into_one_call(text, left):
    rest, calls = parse_tool_calls(text, TOOLS)
    assert rest == left and [c.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments) == {"city": "Paris"} and calls[0].id.startswith("call_")
    assert calls[0].anthropic()["input"] == {"city": "Paris"}


def test_text_and_calls_to_unknown_tools_stay_text():
    for text in ("Paris is sunny.", '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>',
                 '<tool_call>{not json</tool_call>', '{"name": "get_weather", "arguments": "[1, 2]"}'):
        assert parse_tool_calls(text, TOOLS) == (text, [])


def test_forced_choices_and_bad_requests():
    assert forced_schema(TOOLS, "auto") is None and forced_schema(TOOLS, None) is None
    schema = forced_schema(TOOLS, {"type": "function", "function": {"name": "get_weather"}})
    assert schema["properties"]["name"] == {"const": "get_weather"} and schema["required"] == ["name", "arguments"]
    assert forced_schema(TOOLS, "required")["properties"]["arguments"]["required"] == ["city"]
    with pytest.raises(ToolError, match="not among the tools"):
        forced_schema(TOOLS, {"type": "function", "function": {"name": "nope"}})
    with pytest.raises(ToolError):
        check_tools([{"type": "function", "function": {"parameters": {}}}])
    with pytest.raises(ToolError):
        forced_schema([], "required")

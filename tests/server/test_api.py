"""The API server through the official openai and anthropic SDKs, on a real loopback port, with the
real starter model (no stand-ins: the worker, the service, uvicorn and the SDKs are all real)."""

from __future__ import annotations

import json
import os
import threading
import time

import anthropic
import openai
import pytest

from app.chats.service import ConversationService
from app.config import Settings
from app.engine.local import LocalEngine
from app.server import config as server_config
from app.server.backend import Backend
from app.server.run import ApiServer

MODEL = "smollm2-135m-instruct-q4-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server (and one loaded model) for the module; each test still has its own data folder for
    the tally, set by the autouse fixture, which is read when a reply is billed."""
    home = tmp_path_factory.mktemp("server-home")
    old = os.environ.get("HEARTH_HOME")
    os.environ["HEARTH_HOME"] = str(home)
    try:
        config = server_config.load()
        config.port = 0
        config.context_length = 4096  # the starter's answers are short; a smaller KV cache loads faster
        log: list = []
        service = ConversationService(LocalEngine())
        api = ApiServer(Backend(service, Settings(), config, on_log=log.append), config)
        api.start()
        api.log = log
        yield api
        api.stop()
        service.engine.close()
    finally:
        if old is None:
            os.environ.pop("HEARTH_HOME", None)
        else:
            os.environ["HEARTH_HOME"] = old


_clients: list = []


def oa(server, **kwargs) -> openai.OpenAI:
    client = openai.OpenAI(base_url=server.base_url, api_key=kwargs.pop("api_key", server.config.key),
                           max_retries=0, timeout=60, **kwargs)
    _clients.append(client)
    return client


def claude(server, api_key: str | None = None) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=server.base_url.removesuffix("/v1"), api_key=api_key or server.config.key,
                                 max_retries=0, timeout=60)
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
def close_clients():
    """SDK clients keep pooled connections open; close them so no socket is left to the garbage collector."""
    yield
    while _clients:
        _clients.pop().close()


def test_models_lists_the_starter_with_its_context(server):
    models = {m.id: m for m in oa(server).models.list()}
    assert MODEL in models
    assert models[MODEL].model_extra["context_length"] == 4096


def test_chat_whole_and_streaming(server, hearth_home):
    client = oa(server)
    reply = client.chat.completions.create(model=MODEL, max_tokens=12, temperature=0,
                                           messages=[{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "Name a colour."}])
    assert reply.choices[0].message.content.strip() and reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 12
    pieces, usage = [], None
    for chunk in client.chat.completions.create(model=MODEL, max_tokens=12, temperature=0, stream=True,
                                                stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "Name a colour."}]):
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
    assert "".join(pieces).strip() and usage.completion_tokens > 0
    # Billed like a chat turn, under the client's own source.
    from app.savings.tally import SavingsStore

    store = SavingsStore()
    sources = [r[0] for r in store.db.execute("SELECT source FROM replies").fetchall()]
    store.close()
    assert sources == ["api:OpenAI/Python"] * 2


def test_json_schema_output_validates(server):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    reply = oa(server).chat.completions.create(
        model=MODEL, max_tokens=80, temperature=0, messages=[{"role": "user", "content": "A city, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}})
    data = json.loads(reply.choices[0].message.content)
    assert set(data) == {"city", "population"} and isinstance(data["city"], str)
    assert isinstance(data["population"], int)


def test_a_forced_tool_call_parses_with_valid_arguments(server):
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                        "unit": {"type": "string", "enum": ["C", "F"]}},
                       "required": ["city", "unit"]}}}]
    reply = oa(server).chat.completions.create(
        model=MODEL, max_tokens=60, temperature=0, tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    arguments = json.loads(call.function.arguments)
    assert call.function.name == "get_weather" and isinstance(arguments["city"], str)
    assert arguments["unit"] in ("C", "F")
    # The result goes back through the template and the model answers.
    follow = oa(server).chat.completions.create(model=MODEL, max_tokens=16, temperature=0, tools=tools, messages=[
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"}])
    assert follow.choices[0].message.content is not None


def test_embeddings(server):
    result = oa(server).embeddings.create(model=MODEL, input=["a cat sat on the mat", "quarterly revenue"])
    vectors = [d.embedding for d in result.data]
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 100 and vectors[0] != vectors[1]
    assert result.usage.prompt_tokens > 0


def test_text_completion(server):
    reply = oa(server).completions.create(model=MODEL, prompt="The capital of France is", max_tokens=6,
                                          temperature=0)
    assert reply.choices[0].text.strip() and reply.object == "text_completion"


def test_anthropic_messages_streaming_and_whole(server):
    client = claude(server)
    with client.messages.stream(model=MODEL, max_tokens=12, system="Be brief.",
                                messages=[{"role": "user", "content": "Name a fruit."}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip() and final.content[0].text == text
    assert final.usage.output_tokens > 0 and final.stop_reason in ("end_turn", "max_tokens")
    whole = client.messages.create(model=MODEL, max_tokens=8, stop_sequences=["\n"],
                                   messages=[{"role": "user", "content": "Say hello."}])
    assert whole.content[0].type == "text" and whole.usage.input_tokens > 0


def test_the_key_the_host_and_web_pages_are_checked(server):
    with pytest.raises(openai.AuthenticationError):
        oa(server, api_key="wrong").models.list()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        oa(server, default_headers={"Host": "attacker.example"}).models.list()
    assert "Host" in str(refused.value)
    with pytest.raises(openai.PermissionDeniedError):  # CORS is off unless origins are listed
        oa(server, default_headers={"Origin": "https://evil.example"}).models.list()
    with pytest.raises(anthropic.AuthenticationError):
        claude(server, api_key="nope").messages.create(model=MODEL, max_tokens=4,
                                                       messages=[{"role": "user", "content": "hi"}])


def test_unknown_routes_and_models_are_404_with_an_error_body(server):
    with pytest.raises(openai.NotFoundError) as missing:
        oa(server).get("/nowhere", cast_to=object)
    assert missing.value.body["message"].startswith("no such endpoint")
    with pytest.raises(openai.NotFoundError) as no_model:
        oa(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert no_model.value.code == "model_not_found"


def test_an_over_long_prompt_is_refused_naming_both_numbers(server):
    with pytest.raises(openai.BadRequestError) as refused:
        oa(server).chat.completions.create(model=MODEL, max_tokens=4,
                                           messages=[{"role": "user", "content": "word " * 6000}])
    message = str(refused.value)
    assert "4096 tokens" in message and "prompt is 60" in message and refused.value.code == "context_length_exceeded"


def test_a_full_queue_answers_429_with_retry_after(server):
    backend = server.backend
    limit = backend.config.queue_limit
    backend.config.queue_limit = 0  # one request in line at most
    first = oa(server).chat.completions.create(model=MODEL, max_tokens=300, stream=True,
                                               messages=[{"role": "user", "content": "Count to 100."}])
    try:
        next(iter(first))  # the first request is streaming
        with pytest.raises(openai.RateLimitError) as busy:
            oa(server).chat.completions.create(model=MODEL, max_tokens=4, messages=[{"role": "user", "content": "hi"}])
        assert busy.value.response.headers["retry-after"] == "2"
    finally:
        first.close()
        backend.config.queue_limit = limit
        _wait_idle(backend)


def _wait_idle(backend, limit: float = 10.0) -> float:
    started = time.perf_counter()
    while backend.in_line and time.perf_counter() - started < limit:
        time.sleep(0.002)
    return time.perf_counter() - started


def test_a_client_that_disconnects_stops_its_generation_within_100ms(server):
    stream = oa(server).chat.completions.create(model=MODEL, max_tokens=2000, stream=True,
                                                messages=[{"role": "user", "content": "Write a very long story."}])
    chunks = iter(stream)
    for _ in range(5):
        next(chunks)
    stream.close()
    elapsed = _wait_idle(server.backend)
    assert elapsed < 0.1, f"the model went on for {elapsed * 1000:.0f} ms after the client left"
    assert server.log[-1].status == 499


def test_eight_concurrent_streams_each_get_only_their_own_tokens(server):
    results: dict[int, str] = {}

    def client(n: int) -> None:
        schema = {"type": "object", "properties": {"client": {"const": f"client-{n}"}}, "required": ["client"]}
        text = ""
        for chunk in oa(server).chat.completions.create(
                model=MODEL, max_tokens=40, stream=True, temperature=0,
                messages=[{"role": "user", "content": "Who are you?"}],
                response_format={"type": "json_schema", "json_schema": {"name": "who", "schema": schema}}):
            for choice in chunk.choices:
                text += choice.delta.content or ""
        results[n] = text

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == list(range(8))
    for n, text in results.items():
        assert json.loads(text) == {"client": f"client-{n}"}, text


def test_a_client_resending_its_file_reuses_the_cached_prefix(server):
    source = "".join(f"def step_{i}(values):\n    return [v * {i} for v in values]\n\n" for i in range(40))
    ask = lambda question: oa(server).chat.completions.create(  # noqa: E731
        model=MODEL, max_tokens=4, temperature=0,
        messages=[{"role": "system", "content": "You review code."},
                  {"role": "user", "content": f"```python\n{source}```\n{question}"}])
    ask("What does step_3 do?")
    again = ask("And step_7?")
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached > 0.9 * (again.usage.prompt_tokens - 20), again.usage


def test_bad_requests_get_one_readable_error_each(server):
    client = oa(server)
    ask = [{"role": "user", "content": "hi"}]
    for kwargs, param in (({"temperature": 9}, "temperature"), ({"n": 2}, "n"),
                          ({"response_format": {"type": "yaml"}}, "response_format"),
                          ({"tools": [{"type": "function", "function": {}}]}, "tools"),
                          ({"stop": ["a", "b", "c", "d", "e"]}, "stop")):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=MODEL, messages=ask, **kwargs)
        assert refused.value.param == param, kwargs
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "hi"}])
    backend = server.backend
    limit, backend.config.max_body_bytes = backend.config.max_body_bytes, 2000
    try:
        with pytest.raises(openai.APIStatusError) as too_big:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x" * 5000}])
        assert too_big.value.status_code == 413
    finally:
        backend.config.max_body_bytes = limit


def test_a_body_that_is_not_json_is_a_400_not_a_crash(server):
    # No SDK sends broken JSON, so this one request is written by hand.
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", "/v1/chat/completions", body=b"{not json",
                           headers={"Authorization": f"Bearer {server.config.key}",
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400 and body["error"]["message"] == "the request body is not valid JSON"

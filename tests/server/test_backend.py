"""The server's model handling with the scripted engine (what is checked here is the server, not llama.cpp):
memory refusal, idle unloading, aliases."""

from __future__ import annotations

import time

import openai
import pytest

from app import hardware
from app.chats.service import ConversationService
from app.config import Settings
from app.engine.scripted import ScriptedEngine, ScriptedReply
from app.server import config as server_config
from app.server.backend import Backend
from app.server.run import ApiServer


@pytest.fixture
def scripted_server():
    config = server_config.load()
    config.port, config.idle_unload_s, config.aliases = 0, 1, {"gpt-4o-mini": "smollm2-135m-instruct-q4-1"}
    engine = ScriptedEngine(default=ScriptedReply(["scripted", " answer"]))
    server = ApiServer(Backend(ConversationService(engine), Settings(), config), config)
    server.start()
    client = openai.OpenAI(base_url=server.base_url, api_key=config.key, max_retries=0, timeout=30)
    yield server, engine, client
    client.close()
    server.stop()


def test_an_alias_names_an_installed_model_and_an_idle_model_is_unloaded(scripted_server):
    server, engine, client = scripted_server
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "scripted answer" and reply.model == "smollm2-135m-instruct-q4-1"
    assert engine.loaded is not None
    deadline = time.time() + 5
    while engine.loaded is not None and time.time() < deadline:
        time.sleep(0.05)
    assert engine.loaded is None  # unloaded after a second of idleness, as configured
    again = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert again.choices[0].message.content == "scripted answer" and len(engine.loads) == 2


def test_a_model_too_big_for_free_memory_is_refused_with_the_numbers(scripted_server, monkeypatch):
    # A machine with 64 MB free cannot exist here: the memory probe is the one thing replaced.
    monkeypatch.setattr(hardware, "memory_bytes", lambda: (64 << 20, 64 << 20))
    server, engine, client = scripted_server
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "model_too_large" and "of memory" in str(refused.value)
    assert engine.loads == []  # nothing was loaded

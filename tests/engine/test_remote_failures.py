"""The remote engine against servers that misbehave on purpose: overloaded (429 with Retry-After),
answering in a shape no OpenAI server uses, an unknown model, and HTTPS with a certificate from a
team's own authority. The servers are real (uvicorn on loopback ports); their misbehaviour is ours."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.chats import events as ev
from app.chats.service import ConversationService, choose_model
from app.config import Settings
from app.engine import remotes
from app.engine.local import LocalEngine
from app.engine.router import EngineRouter
from app.server.run import bind


def stream_of(*pieces: str, finish: str = "stop"):
    async def body():
        for piece in pieces:
            yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': piece}}]})}\n\n".encode()
        yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})}\n\n".encode()
        yield b"data: [DONE]\n\n"
    return StreamingResponse(body(), media_type="text/event-stream")


class Hostile:
    """A loopback server whose /v1/chat/completions does what a test tells it."""

    def __init__(self, behaviour: str, ssl_files: tuple[str, str] | None = None):
        self.behaviour = behaviour
        self.calls: list[float] = []

        async def models(_request):
            return JSONResponse({"object": "list", "data": [{"id": "big", "object": "model"}]})

        async def chat(_request):
            self.calls.append(time.monotonic())
            if self.behaviour == "busy-once" and len(self.calls) == 1:
                return JSONResponse({"error": {"message": "all slots busy"}}, status_code=429,
                                    headers={"Retry-After": "1"})
            if self.behaviour == "odd-shape":
                return Response("<html>gateway says hello</html>\n", media_type="text/event-stream")
            return stream_of("Hello", " there")

        app = Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])])
        self.socket = bind("127.0.0.1", 0)
        kwargs = {"ssl_certfile": ssl_files[0], "ssl_keyfile": ssl_files[1]} if ssl_files else {}
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", **kwargs))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        scheme = "https" if ssl_files else "http"
        self.url = f"{scheme}://localhost:{self.socket.getsockname()[1]}/v1"

    def close(self):
        self.server.should_exit = True
        self.thread.join(5)
        self.socket.close()


@pytest.fixture
def hostile(request):
    server = Hostile(request.param)
    yield server
    server.close()


def turn(model_id: str, emit=lambda e: None):
    service = ConversationService(EngineRouter(LocalEngine()))
    try:
        return service.send(None, "hi", choose_model(model_id, Settings()), Settings(), {"max_tokens": 8}, emit)
    finally:
        service.close()
        service.engine.close()


@pytest.mark.parametrize("hostile", ["busy-once"], indirect=True)
def test_an_overloaded_server_is_asked_again_once_after_retry_after(hostile):
    remotes.add("team", hostile.url)
    finished = turn("team:big")
    assert finished.status == "complete" and finished.text == "Hello there"
    assert len(hostile.calls) == 2 and hostile.calls[1] - hostile.calls[0] >= 0.9  # waited as told


@pytest.mark.parametrize("hostile", ["odd-shape"], indirect=True)
def test_an_answer_in_an_unexpected_shape_is_one_clear_failure(hostile):
    remotes.add("team", hostile.url)
    failures = []
    finished = turn("team:big", lambda e: failures.append(e) if isinstance(e, ev.TurnFailed) else None)
    assert finished.status == "error" and "ended without finishing the reply" in finished.error
    assert [f.kind for f in failures] == [ev.CRASH]


@pytest.mark.parametrize("hostile", ["fine"], indirect=True)
def test_an_unknown_model_names_what_the_server_has(hostile):
    remotes.add("team", hostile.url)
    failures = []
    finished = turn("team:tiny", lambda e: failures.append(e) if isinstance(e, ev.TurnFailed) else None)
    assert finished.status == "error" and failures[0].kind == ev.LOAD
    assert "team has no model 'tiny'; it serves: big" in failures[0].message


def test_https_with_a_team_ca_works_with_its_file_and_says_why_without(tmp_path):
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *args: subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=Team CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    (tmp_path / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
        "-extfile", tmp_path / "ext.cnf")
    server = Hostile("fine", (str(cert), str(key)))
    try:
        remotes.add("team", server.url)
        failures = []
        turn("team:big", lambda e: failures.append(e) if isinstance(e, ev.TurnFailed) else None)
        assert "TLS certificate of team (localhost) is not trusted" in failures[0].message
        assert "--ca-file" in failures[0].message
        remotes.add("team", server.url, ca_file=str(ca))
        assert turn("team:big").text == "Hello there"
    finally:
        server.close()

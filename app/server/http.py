"""The pieces every endpoint shares: error bodies, the guard in front of every request, SSE framing,
and waiting on a generation while watching for the client to leave."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket

from starlette.responses import JSONResponse, Response

from app.server.backend import ApiError
from app.server.config import ServerConfig

ANTHROPIC_PREFIX = "/v1/messages"
DISCONNECT_POLL_S = 0.05  # a client that leaves is noticed within this (the promise is 100 ms)


def error_response(path: str, status: int, message: str, kind: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None, headers: dict | None = None) -> JSONResponse:
    """OpenAI's error shape, or Anthropic's on its own endpoint."""
    if path.startswith(ANTHROPIC_PREFIX):
        kinds = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                 413: "request_too_large", 429: "rate_limit_error", 500: "api_error"}
        body = {"type": "error", "error": {"type": kinds.get(status, kind if status < 500 else "api_error"),
                                           "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def api_error_response(path: str, exc: ApiError) -> JSONResponse:
    return error_response(path, exc.status, str(exc), exc.kind, exc.code, exc.param, exc.headers)


def sse(data: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n").encode("utf-8")


async def until_done_or_gone(request, task: asyncio.Task, pieces: asyncio.Queue | None = None):
    """Wait for the next piece (or the task's end) while watching the connection.

    Returns a piece, or None when the task ended; a client that left cancels the task
    (and with it the request, queued or running) and raises ``ClientGone``."""
    while True:
        waiters = {task}
        getter = None
        if pieces is not None:
            if not pieces.empty():
                return pieces.get_nowait()
            getter = asyncio.ensure_future(pieces.get())
            waiters.add(getter)
        done, _ = await asyncio.wait(waiters, timeout=DISCONNECT_POLL_S, return_when=asyncio.FIRST_COMPLETED)
        if getter is not None:
            if getter in done:
                return getter.result()
            getter.cancel()
        if task in done:
            if pieces is not None and not pieces.empty():
                return pieces.get_nowait()
            return None
        if await request.is_disconnected():
            task.cancel()
            raise ClientGone()


class ClientGone(Exception):
    """The client closed the connection; nothing is left to answer."""


def _host_names(config: ServerConfig) -> set[str]:
    names = {"127.0.0.1", "localhost", "::1", config.host.lower()} | {h.lower() for h in config.extra_hosts}
    if not config.loopback:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


def _host_of(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """In front of every request: Host header (against DNS rebinding), CORS (off unless origins are
    listed), body size, and the API key. Pure ASGI, so it also guards streaming responses."""

    def __init__(self, app, config: ServerConfig):
        self.app = app
        self.config = config
        self.hosts = _host_names(config)

    def _host_ok(self, host: str) -> bool:
        name = _host_of(host)
        if name in self.hosts:
            return True
        if not self.config.loopback:  # on a network, our own addresses as typed by a client are fine
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self._host_ok(headers.get("host", "")):
            return await error_response(path, 403, "this server answers only to its own address (Host header "
                                                   "refused)", "permission_error", "bad_host")(scope, receive, send)
        origin = headers.get("origin")
        cors = {}
        if origin is not None:
            if origin not in self.config.cors_origins and "*" not in self.config.cors_origins:
                return await error_response(path, 403, f"requests from web pages ({origin}) are not allowed; "
                                                       "list the origin in the server settings to allow it",
                                            "permission_error", "cors")(scope, receive, send)
            cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                    "Access-Control-Allow-Headers": "authorization, content-type, x-api-key, anthropic-version",
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}
            if scope["method"] == "OPTIONS":
                return await Response(status_code=204, headers=cors)(scope, receive, send)
        if not self._authorised(headers):
            return await error_response(path, 401, "missing or wrong API key: send 'Authorization: Bearer KEY' "
                                                   "(see 'hearth serve key')", "authentication_error",
                                        "invalid_api_key", headers=cors)(scope, receive, send)
        length = headers.get("content-length")
        limit = self.config.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await error_response(path, 413, f"request body over {limit} bytes", "invalid_request_error",
                                        "body_too_large", headers=cors)(scope, receive, send)
        seen = 0

        async def capped_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"request body over {limit} bytes", code="body_too_large")
            return message

        async def send_with_cors(message):
            if cors and message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) +
                               [(k.lower().encode(), v.encode()) for k, v in cors.items()])
            await send(message)

        await self.app(scope, capped_receive, send_with_cors)

    def _authorised(self, headers: dict) -> bool:
        given = headers.get("x-api-key") or ""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        key = self.config.key
        return bool(key) and hmac.compare_digest(given.encode(), key.encode())


async def read_json(request) -> dict:
    body = await request.body()  # over the cap: the guard's ApiError (413) goes up as it is
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def client_name(request) -> str:
    """The calling tool, from its User-Agent's first word (kept short and plain: it lands in logs and the tally)."""
    agent = request.headers.get("user-agent", "") or "unknown"
    word = agent.split()[0] if agent.split() else "unknown"
    clean = "".join(c for c in word if c.isalnum() or c in "._/-")[:40]
    return clean or "unknown"

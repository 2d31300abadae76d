"""The HTTP application: OpenAI-style and Anthropic-style endpoints over the conversation service.

Starlette on uvicorn: small pure-Python packages (about 2 MB with h11 and
anyio, no compiled parts), where ``http.server`` has no streaming, no
disconnect detection and no concurrency worth the name.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from app.server import requests as rq
from app.server.backend import ApiError, Backend, LogEntry
from app.server.http import (
    ClientGone, Guard, api_error_response, client_name, error_response, read_json, sse, until_done_or_gone,
)
from app.server.tools import parse_tool_calls

FINISH = {"end_of_turn": "stop", "length": "length", "cancelled": "stop"}
ANTHROPIC_STOP = {"end_of_turn": "end_turn", "length": "max_tokens", "cancelled": "end_turn"}


def create_app(backend: Backend) -> Guard:
    async def models(request: Request):
        rows = []
        for m in await asyncio.to_thread(backend.installed):
            rows.append({"id": m.id, "object": "model", "created": int(m.path.stat().st_mtime) if m.path.exists()
                         else 0, "owned_by": "hearth", "context_length": backend.context_for(m),
                         "embedding": bool(m.info and m.info.is_embedding_model)})
        rows += [{"id": alias, "object": "model", "created": 0, "owned_by": "hearth", "alias_of": target}
                 for alias, target in backend.config.aliases.items()]
        return JSONResponse({"object": "list", "data": rows})

    async def model(request: Request):
        found = await asyncio.to_thread(backend.resolve, request.path_params["name"])
        return JSONResponse({"id": found.id, "object": "model", "created": 0, "owned_by": "hearth",
                             "context_length": backend.context_for(found)})

    async def chat_completions(request: Request):
        data = await read_json(request)
        model_ = await asyncio.to_thread(backend.resolve, data.get("model"))
        gen = rq.openai_chat(data, backend.context_for(model_))
        rid, created = "chatcmpl-" + secrets.token_hex(12), int(time.time())

        def chunk(delta: dict, finish=None, usage=None) -> bytes:
            body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model_.id,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage is not None:
                body = dict(body, choices=[], usage=usage)
            return sse(body)

        def message_of(finished) -> tuple[dict, str]:
            text, calls = finished.text, []
            if gen.tools:
                text, calls = parse_tool_calls(finished.text, gen.tools)
            message = {"role": "assistant", "content": text if text or not calls else None}
            if calls:
                message["tool_calls"] = [c.openai() for c in calls]
                return message, "tool_calls"
            return message, FINISH.get(finished.stop_reason, "stop")

        async def stream_body(task, pieces, first):
            yield chunk({"role": "assistant", "content": ""})
            buffered = bool(gen.tools)  # a reply that may be a tool call is shown once it is whole
            piece = first
            while piece is not None:
                if not buffered:
                    yield chunk({"content": piece})
                piece = await next_piece(task, pieces)
            finished = await finish_of(task)
            if isinstance(finished, ApiError):
                yield stream_error(finished)
                return
            message, reason = message_of(finished)
            if buffered:
                delta = {k: v for k, v in message.items() if k != "role" and v is not None}
                if "tool_calls" in delta:
                    delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(delta["tool_calls"])]
                yield chunk(delta)
            yield chunk({}, reason)
            if gen.include_usage:
                yield chunk({}, usage=usage_of(finished))
            yield b"data: [DONE]\n\n"

        def respond(finished):
            message, reason = message_of(finished)
            return {"id": rid, "object": "chat.completion", "created": created, "model": model_.id,
                    "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
                    "usage": usage_of(finished)}

        return await run(request, "chat/completions", model_, gen, stream_body, respond)

    async def completions(request: Request):
        data = await read_json(request)
        model_ = await asyncio.to_thread(backend.resolve, data.get("model"))
        gen = rq.openai_completion(data, backend.context_for(model_))
        rid, created = "cmpl-" + secrets.token_hex(12), int(time.time())

        def chunk(text: str, finish=None) -> bytes:
            return sse({"id": rid, "object": "text_completion", "created": created, "model": model_.id,
                        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]})

        async def stream_body(task, pieces, first):
            piece = first
            while piece is not None:
                yield chunk(piece)
                piece = await next_piece(task, pieces)
            finished = await finish_of(task)
            if isinstance(finished, ApiError):
                yield stream_error(finished)
                return
            yield chunk("", FINISH.get(finished.stop_reason, "stop"))
            if gen.include_usage:
                yield sse({"id": rid, "object": "text_completion", "created": created, "model": model_.id,
                           "choices": [], "usage": usage_of(finished)})
            yield b"data: [DONE]\n\n"

        def respond(finished):
            return {"id": rid, "object": "text_completion", "created": created, "model": model_.id,
                    "choices": [{"text": finished.text, "index": 0, "logprobs": None,
                                 "finish_reason": FINISH.get(finished.stop_reason, "stop")}],
                    "usage": usage_of(finished)}

        return await run(request, "completions", model_, gen, stream_body, respond)

    async def messages(request: Request):
        data = await read_json(request)
        model_ = await asyncio.to_thread(backend.resolve, data.get("model"))
        gen = rq.anthropic_messages(data, backend.context_for(model_))
        mid = "msg_" + secrets.token_hex(12)

        def content_of(finished) -> tuple[list[dict], str]:
            text, calls = finished.text, []
            if gen.tools:
                text, calls = parse_tool_calls(finished.text, gen.tools)
            blocks = ([{"type": "text", "text": text}] if text or not calls else []) + [c.anthropic() for c in calls]
            return blocks, "tool_use" if calls else ANTHROPIC_STOP.get(finished.stop_reason, "end_turn")

        async def stream_body(task, pieces, first):
            start = {"id": mid, "type": "message", "role": "assistant", "content": [], "model": model_.id,
                     "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
            yield sse({"type": "message_start", "message": start}, "message_start")
            buffered = bool(gen.tools)
            if not buffered:
                yield sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                          "content_block_start")
            yield sse({"type": "ping"}, "ping")
            piece = first
            while piece is not None:
                if not buffered:
                    yield sse({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
                piece = await next_piece(task, pieces)
            finished = await finish_of(task)
            if isinstance(finished, ApiError):
                yield sse({"type": "error", "error": {"type": "api_error", "message": str(finished)}}, "error")
                return
            blocks, reason = content_of(finished)
            if buffered:
                for index, block in enumerate(blocks):
                    empty = dict(block, text="") if block["type"] == "text" else dict(block, input={})
                    yield sse({"type": "content_block_start", "index": index, "content_block": empty},
                              "content_block_start")
                    delta = {"type": "text_delta", "text": block["text"]} if block["type"] == "text" else \
                        {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                    yield sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
                    yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            else:
                yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            usage = {"input_tokens": finished.stats.get("prompt_tokens", 0),
                     "output_tokens": finished.stats.get("completion_tokens", 0)}
            yield sse({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                       "usage": usage}, "message_delta")
            yield sse({"type": "message_stop"}, "message_stop")

        def respond(finished):
            blocks, reason = content_of(finished)
            return {"id": mid, "type": "message", "role": "assistant", "model": model_.id, "content": blocks,
                    "stop_reason": reason, "stop_sequence": None,
                    "usage": {"input_tokens": finished.stats.get("prompt_tokens", 0),
                              "output_tokens": finished.stats.get("completion_tokens", 0)}}

        return await run(request, "messages", model_, gen, stream_body, respond)

    async def embeddings(request: Request):
        data = await read_json(request)
        model_ = await asyncio.to_thread(backend.resolve, data.get("model"))
        texts = data.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts) \
                or len(texts) > 2048:
            raise ApiError(400, "'input' must be a non-empty string or a list of up to 2048 non-empty strings "
                                "(token arrays are not supported)", param="input")
        started = time.monotonic()
        vectors = await asyncio.to_thread(backend.embed, model_, texts)
        from app.savings.tokens import count_text

        used = sum(count_text(t, "cl100k_base") for t in texts)
        backend.record(LogEntry(time.time(), client_name(request), "embeddings", model_.id, 200, used, 0,
                                time.monotonic() - started))
        return JSONResponse({"object": "list", "model": model_.id, "usage": {"prompt_tokens": used, "total_tokens": used},
                             "data": [{"object": "embedding", "index": i, "embedding": v}
                                      for i, v in enumerate(vectors)]})

    async def run(request, endpoint, model_, gen, stream_body, respond):
        """Start the generation, watch the client, and answer streaming or whole."""
        client, started = client_name(request), time.monotonic()
        pieces: asyncio.Queue = asyncio.Queue()
        task = asyncio.create_task(backend.generate(model_, gen.messages, gen.options, client,
                                                    on_token=pieces.put if gen.stream else None))
        prompt = " ".join(m.get("content", "") for m in gen.messages) or gen.options.get("prompt", "")

        def log(status, finished=None):
            stats = finished.stats if finished is not None else {}
            backend.record(LogEntry(time.time(), client, endpoint, model_.id, status, stats.get("prompt_tokens", 0),
                                    stats.get("completion_tokens", 0), time.monotonic() - started,
                                    prompt[:500] if backend.config.log_prompts else ""))

        try:
            first = await until_done_or_gone(request, task, pieces if gen.stream else None)
        except ClientGone:
            log(499)
            return JSONResponse({}, status_code=499)
        if task.done() and task.exception() is not None:
            exc = task.exception()
            log(getattr(exc, "status", 500))
            raise exc
        if not gen.stream:
            finished = task.result()
            log(200, finished)
            return JSONResponse(respond(finished))

        async def body():
            try:
                async for part in stream_body(task, pieces, first):
                    yield part
                if task.done() and not task.cancelled() and task.exception() is None:
                    log(200, task.result())
            finally:
                if not task.done():
                    task.cancel()  # the client left mid-stream: stop the model within a token
                    log(499)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def next_piece(task, pieces):
        get = asyncio.ensure_future(pieces.get())
        done, _ = await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            return get.result()
        get.cancel()
        return pieces.get_nowait() if not pieces.empty() else None

    async def finish_of(task):
        try:
            return await task
        except ApiError as exc:
            return exc

    def stream_error(exc: ApiError) -> bytes:
        """A failure after the stream began: the status line is sent, so it comes as an error event."""
        return sse({"error": {"message": str(exc), "type": exc.kind, "code": exc.code}})

    def usage_of(finished) -> dict:
        prompt, completion = finished.stats.get("prompt_tokens", 0), finished.stats.get("completion_tokens", 0)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                # The prefix found in the KV cache from the previous request (an editor resending a file).
                "prompt_tokens_details": {"cached_tokens": finished.stats.get("cached_tokens", 0)}}

    async def on_api_error(request, exc: ApiError):
        return api_error_response(request.url.path, exc)

    async def on_http_error(request, exc: HTTPException):
        if exc.status_code == 404:
            return error_response(request.url.path, 404, f"no such endpoint: {request.method} {request.url.path}",
                                  code="not_found")
        return error_response(request.url.path, exc.status_code, str(exc.detail))

    async def on_bug(request, exc: Exception):
        import logging

        logging.getLogger(__name__).error("request failed", exc_info=exc)
        return error_response(request.url.path, 500, f"internal error: {type(exc).__name__}", "server_error")

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name:path}", model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={ApiError: on_api_error, HTTPException: on_http_error,
                                                       Exception: on_bug})
    return Guard(app, backend.config)

"""``hearth chat``: one prompt in, the reply streamed out."""

from __future__ import annotations

import sys
from dataclasses import asdict

from app.cli import print_json
from app.config import load_settings
from app.engine.client import Engine, EngineError
from app.engine.params import load_request, sampling
from app.errors import HearthError
from app.library.registry import ModelRegistry


def run_chat(args) -> int:
    settings = load_settings()
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise HearthError("empty prompt: give a message as an argument or on stdin")
    for name, value in (("max_tokens", args.max_tokens), ("temperature", args.temperature),
                        ("context_length", args.ctx)):
        if value is not None:
            settings.set(name, value)
    model = ModelRegistry().resolve(args.model, settings.default_model)
    if model.info and model.info.is_embedding_model:
        raise HearthError(f"{model.path.name} is an embedding model; it cannot chat")
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    options = sampling(settings)
    if args.seed is not None:
        options["seed"] = args.seed

    with Engine() as engine:
        engine.load(load_request(str(model.path), settings))
        stream = engine.chat(messages, **options)
        error = None
        try:
            for piece in stream:
                if not args.json:
                    sys.stdout.write(piece)
                    sys.stdout.flush()
        except KeyboardInterrupt:
            stream.cancel()
            try:
                stream.consume()
            except EngineError:
                pass
        except EngineError as exc:
            error = str(exc)
    stats = stream.stats
    if stats and stats.stop_reason != "error" and stream.text:
        _tally(settings, model.id, messages, stream.text, stats)
    if args.json:
        result = {"model": model.id, "model_path": str(model.path), "reply": stream.text}
        result.update(asdict(stats) if stats else {})
        if error:
            result["error"] = error
        print_json(result)
    else:
        if not stream.text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    if error:
        print(f"hearth: {error}", file=sys.stderr)
        return 1
    return 130 if stats and stats.stop_reason == "cancelled" else 0


def _tally(settings, model_id: str, messages: list[dict], reply: str, stats) -> None:
    """Count the reply in the cost-avoided tally; a failure here never fails the chat."""
    from app.savings.service import record_turn, turn_for_reply

    try:
        record_turn(turn_for_reply(messages, reply, asdict(stats), model_id), settings)
    except HearthError as exc:
        import logging

        logging.getLogger(__name__).warning("not counted in the savings tally: %s", exc)

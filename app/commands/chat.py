"""``hearth chat``: one message in, the reply streamed out, the conversation saved like the window's."""

from __future__ import annotations

import sys
import threading

from app.chats import events as ev
from app.chats.service import ConversationService, choose_model, default_conversation_settings
from app.commands.output import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, print_json
from app.config import check_value, load_settings
from app.engine.local import LocalEngine
from app.engine.router import EngineRouter
from app.errors import HearthError


def run_chat(args) -> int:
    settings = load_settings()
    prompt = args.prompt if args.prompt is not None else _read_stdin()
    if not prompt.strip():
        raise HearthError("empty prompt: give a message as an argument or on stdin")
    model = choose_model(args.model, settings)
    service = ConversationService(EngineRouter(LocalEngine()))
    try:
        conversation = _conversation_settings(service, args)
        status, _finished = stream_turn(service, args.json, lambda emit: service.send(
            args.continue_id, prompt, model, settings, conversation, emit,
            extra_sampling={"seed": args.seed} if args.seed is not None else None),
            lambda finished: dict(chat_json(finished), model_path=str(model.path)))
        return status
    finally:
        service.close()
        service.engine.close()


def _conversation_settings(service: ConversationService, args) -> dict:
    """A new conversation starts from the default preset, a continued one from its saved settings;
    the command's options override either, and are saved with the conversation."""
    if args.continue_id is not None:
        settings = dict(service.store().conversation(args.continue_id).settings)
    else:
        settings = default_conversation_settings()
    for name, value in (("temperature", args.temperature), ("max_tokens", args.max_tokens),
                        ("context_length", args.ctx)):
        if value is not None:
            check_value(name, value)
            settings[name] = value
    if args.system is not None:
        settings["system_prompt"] = args.system
    return settings


def chat_json(finished: ev.ReplyFinished) -> dict:
    result = {"model": finished.model_id, "conversation_id": finished.conversation_id,
              "message_id": finished.message_id, "reply": finished.text, **finished.stats}
    result.pop("citations", None)
    return result


def stream_turn(service: ConversationService, as_json: bool, run, as_dict=chat_json):
    """Run one turn, printing tokens as they come (or ``as_dict(finished)`` as JSON at the end).

    Returns (exit status, the finished reply).

    Ctrl-C stops the reply: what was written is kept and saved, marked stopped."""
    failures: list[ev.TurnFailed] = []

    def emit(event) -> None:
        if isinstance(event, ev.Token) and not as_json:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ev.TurnFailed):
            failures.append(event)

    # The turn runs on a thread of its own so that Ctrl-C, which always lands on the main
    # thread, becomes a clean stop: the engine ends the reply and the service saves it.
    outcome: list = []
    def turn() -> None:
        try:
            outcome.append(run(emit))
        except BaseException as exc:  # re-raised on the main thread, where the CLI reports it
            outcome.append(exc)

    worker = threading.Thread(target=turn, name="hearth-turn", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        service.stop()
        worker.join()
    finished = outcome[0] if outcome else None
    if isinstance(finished, BaseException):
        raise finished
    if finished is None:
        raise HearthError(failures[-1].message if failures else "the reply could not be made")
    if as_json:
        result = as_dict(finished)
        if finished.error:
            result["error"] = finished.error
        print_json(result)
    elif not finished.canned:
        if not finished.text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    if finished.error:
        print(f"hearth: {finished.error}", file=sys.stderr)
        return EXIT_ERROR, finished
    if finished.bill_error:
        print(f"hearth: the reply was not counted in the savings tally: {finished.bill_error}", file=sys.stderr)
    return (EXIT_INTERRUPTED if finished.stop_reason == "cancelled" else EXIT_OK), finished


def _read_stdin() -> str:
    data = sys.stdin.buffer.read(64 << 20) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HearthError("the prompt on stdin is not UTF-8 text (binary data?)") from None
    if "\0" in text:
        raise HearthError("the prompt on stdin holds NUL bytes: binary data, not text")
    return text

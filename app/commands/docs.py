"""``hearth docs``: collections of your documents, searched and asked offline."""

from __future__ import annotations

import sys
from pathlib import Path

from app.commands.output import print_json
from app.display import count
from app.config import check_value, load_settings
from app.docs import service
from app.docs.indexer import IndexStopped


def run_docs(args) -> int:
    command = args.docs_command
    if command == "add":
        service.add_paths(args.collection, [Path(p) for p in args.paths]).close()
        return _sync(args.collection)
    if command == "sync":
        return _sync(args.collection)
    if command == "ls":
        return _ls(args.json)
    if command == "status":
        return _status(args.collection, args.json)
    if command == "search":
        return _search(args)
    if command == "ask":
        return _ask(args)
    if command == "rm":
        service.remove(args.collection)
        print(f"Removed the collection {args.collection!r} (your files were not touched).")
        return 0
    return 2


def _sync(name: str) -> int:
    interactive = sys.stderr.isatty()

    def show(progress):
        if interactive:
            sys.stderr.write(f"\r{progress.describe()[:100]:100s}")
            sys.stderr.flush()

    try:
        result = service.sync(name, load_settings(), on_progress=show)
    except (KeyboardInterrupt, IndexStopped):
        print(f"\nhearth: indexing of {name!r} paused; 'hearth docs sync {name}' goes on from there",
              file=sys.stderr)
        return 130
    finally:
        if interactive:
            sys.stderr.write("\n")
    print(f"{name}: {result.indexed} indexed ({count(result.chunks, 'passage')}), {result.unchanged} unchanged, "
          f"{result.skipped} skipped, {result.removed} removed, in {result.seconds:.1f} s.")
    if result.skipped:
        print(f"See why files were skipped: hearth docs status {name}")
    return 0


def _ls(as_json: bool) -> int:
    rows = service.listing()
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("No collections. Add one: hearth docs add NAME FOLDER")
    for r in rows:
        if "error" in r:
            print(f"{r['name']}: {r['error']}")
            continue
        print(f"{r['name']:24s} {r['indexed_files']:>6} files {r['chunks']:>8} passages "
              f"{r['skipped_files']:>5} skipped   {', '.join(r['folders'])}")
    return 0


def _status(name: str, as_json: bool) -> int:
    info = service.status(name)
    if as_json:
        print_json(info)
        return 0
    print(f"{name}: {count(info['indexed_files'], 'file')} indexed, {count(info['chunks'], 'passage')}, "
          f"{count(info['pages'], 'page')}; "
          f"embedded with {info['embedding_model'] or '(nothing yet)'}")
    for folder in info["folders"]:
        print(f"  folder: {folder}")
    for skipped in info["skipped"]:
        print(f"  skipped {skipped['file']}: {skipped['reason']}")
    for partial in info["partial"]:
        print(f"  partly indexed {partial['file']}: {partial['reason']}")
    return 0


def _search(args) -> int:
    searcher = service.Searcher()
    try:
        hits = searcher.search([args.collection], args.query, max(1, min(args.k, 100)))
    finally:
        searcher.close()
    if args.json:
        print_json([h.as_dict() for h in hits])
        return 0
    if not hits:
        print("Nothing relevant found.")
    for n, hit in enumerate(hits, 1):
        preview = " ".join(hit.text.split())[:200]
        print(f"[{n}] {hit.where()}  (score {hit.score:.4f})\n    {preview}")
    return 0


def _ask(args) -> int:
    """A question to one collection, asked through the conversation service: saved as a conversation
    that uses the collection and billed as a document answer, exactly as the window does it."""
    from app.chats.service import ConversationService, choose_model, default_conversation_settings
    from app.commands.chat import stream_turn
    from app.engine.local import LocalEngine
    from app.engine.router import EngineRouter

    settings = load_settings()
    service.status(args.collection)  # a missing collection is an error before anything is saved
    if args.k:
        settings.set("docs_passages", max(1, min(args.k, 50)))
    model = choose_model(args.model, settings)
    conversation = dict(default_conversation_settings(), collections=[args.collection])
    if args.max_tokens is not None:
        check_value("max_tokens", args.max_tokens)
        conversation["max_tokens"] = args.max_tokens
    chats = ConversationService(EngineRouter(LocalEngine()))

    def as_dict(finished) -> dict:
        return {"question": args.question, "answer": finished.text, "citations": finished.citations or [],
                "conversation_id": finished.conversation_id, "message_id": finished.message_id,
                **({"tokens_per_s": finished.stats["tokens_per_s"]} if "tokens_per_s" in finished.stats else {})}

    try:
        status, reply = stream_turn(chats, args.json, lambda emit: chats.send(
            None, args.question, model, settings, conversation, emit), as_dict)
    finally:
        chats.close()
        chats.engine.close()
    if args.json:
        return status
    if reply.canned:
        print(reply.text)
    elif reply.citations:
        print("\nSources:")
        for c in reply.citations:
            print(f"  [{c['n']}] {c['where']}: {' '.join(c['text'].split())[:160]}")
    return status

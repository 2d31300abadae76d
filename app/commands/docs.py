"""``hearth docs``: collections of your documents, searched and asked offline."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from app.cli import print_json
from app.config import load_settings
from app.docs import service
from app.docs.indexer import IndexStopped
from app.errors import HearthError


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
    print(f"{name}: {result.indexed} indexed ({result.chunks} passages), {result.unchanged} unchanged, "
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
    print(f"{name}: {info['indexed_files']} files indexed, {info['chunks']} passages, {info['pages']} pages; "
          f"embedded with {info['embedding_model'] or '(nothing yet)'}")
    for folder in info["folders"]:
        print(f"  folder: {folder}")
    for skipped in info["skipped"]:
        print(f"  skipped {skipped['file']}: {skipped['reason']}")
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
    from app.engine.client import Engine
    from app.engine.params import load_request, sampling
    from app.library.registry import ModelRegistry

    settings = load_settings()
    searcher = service.Searcher()
    try:
        hits = searcher.search([args.collection], args.question, args.k or settings.docs_passages)
    finally:
        searcher.close()
    if not hits:
        answer, citations, stats = service.not_found([args.collection]), [], None
    else:
        model = ModelRegistry().resolve(args.model, settings.default_model)
        if model.info and model.info.is_embedding_model:
            raise HearthError(f"{model.path.name} is an embedding model; it cannot answer questions")
        prompt = service.build_prompt(args.question, hits, settings.context_length, settings.max_tokens)
        with Engine() as engine:
            engine.load(load_request(str(model.path), settings))
            stream = engine.chat(prompt.messages, **sampling(settings))
            if not args.json:
                for piece in stream:
                    sys.stdout.write(piece)
                    sys.stdout.flush()
                sys.stdout.write("\n")
            else:
                stream.consume()
        answer, citations, stats = stream.text, prompt.citations, stream.stats
        if stats and stats.stop_reason != "error":
            from app.savings.service import record_turn, turn_for_reply

            try:
                record_turn(turn_for_reply(prompt.messages, answer, asdict(stats), model.id, source="docs"), settings)
            except HearthError:
                pass
    cited = service.citations_as_dicts(citations)
    if args.json:
        print_json({"question": args.question, "answer": answer, "citations": cited,
                    **({"tokens_per_s": stats.tokens_per_s} if stats else {})})
        return 0
    if not citations:
        print(answer)
        return 0
    print("\nSources:")
    for c in cited:
        print(f"  [{c['n']}] {c['where']}: {' '.join(c['text'].split())[:160]}")
    return 0

"""``hearth engines``: a team's inference servers (vLLM, llama-server, Ollama, another Hearth)."""

from __future__ import annotations

from pathlib import Path

from app.commands.output import EXIT_ERROR, EXIT_OK, print_json
from app.config import Settings, load_settings
from app.engine import remotes
from app.errors import HearthError


def run_engines(args) -> int:
    command = args.engines_command
    if command == "add":
        key = None
        if args.key_file:
            try:
                key = Path(args.key_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise HearthError(f"{args.key_file}: {exc.strerror or exc}") from None
            if not key or "\n" in key:
                raise HearthError(f"{args.key_file}: expected one line holding the API key")
        config = remotes.add(args.name, args.url, key, args.ca_file, args.own_network)
        where = f"; key kept in {remotes.key_storage()}" if key else ""
        print(f"Added {config.name} at {config.base_url}{where}. Its models: hearth engines test {config.name}")
        return EXIT_OK
    if command == "rm":
        remotes.remove(args.name)
        print(f"Removed {args.name}.")
        return EXIT_OK
    if command == "ls":
        rows = [dict(vars(c), key_stored=bool(remotes.get_key(c.name))) for c in remotes.load_all()]
        if args.json:
            print_json(rows)
            return EXIT_OK
        if not rows:
            print("No remote engines. Add one: hearth engines add NAME URL [--key-file FILE]")
        for r in rows:
            print(f"{r['name']:16s} {r['base_url']}{'  (key stored)' if r['key_stored'] else ''}"
                  f"{'  (own network)' if r['own_network'] else ''}")
        return EXIT_OK
    config = _config(args.name)
    if command == "test":
        return _test(config, args.json)
    if command == "bench":
        return _bench(config, args)
    return EXIT_ERROR


def _config(name: str) -> remotes.RemoteConfig:
    config = remotes.find(name)
    if config is None:
        raise HearthError(f"no engine named {name!r} (see 'hearth engines ls')")
    return config


def _check_offline(config: remotes.RemoteConfig, settings: Settings) -> None:
    if settings.offline and not config.allowed_offline():
        raise HearthError(f"offline mode is on: {config.name} ({config.host}) is not on this machine")


def _test(config: remotes.RemoteConfig, as_json: bool) -> int:
    from app.engine.remote import RemoteEngine

    _check_offline(config, load_settings())
    engine = RemoteEngine(config)
    try:
        models = engine.models()
    finally:
        engine.close()
    if as_json:
        print_json([{"id": f"{config.name}:{m}", "context_length": ctx} for m, ctx in models.items()])
        return EXIT_OK
    print(f"{config.name} answers at {config.base_url}; its models:")
    for name, ctx in models.items():
        print(f"  {config.name}:{name}" + (f"  ({ctx} tokens of context)" if ctx else ""))
    return EXIT_OK


def _bench(config: remotes.RemoteConfig, args) -> int:
    from app.engine.loadtest import bench
    from app.engine.remote import RemoteEngine

    _check_offline(config, load_settings())
    model = args.model
    if model is None:
        engine = RemoteEngine(config)
        try:
            model = next(iter(engine.models()), None)
        finally:
            engine.close()
        if model is None:
            raise HearthError(f"{config.name} serves no model")
    try:
        levels = [int(n) for n in args.streams.split(",")]
    except ValueError:
        raise HearthError("--streams takes numbers separated by commas, e.g. 1,4,16,64") from None
    if any(not 1 <= n <= 64 for n in levels):
        raise HearthError("--streams: each level is 1 to 64 concurrent streams")
    print(f"Benchmarking {config.name}:{model}: {', '.join(map(str, levels))} concurrent streams, "
          f"{args.tokens} tokens each, at most {args.max_seconds:g} s a level", flush=True)

    def show(level) -> None:
        ttft = (f"time to first token p50 {level.ttft_p50_ms:.0f} ms, p95 {level.ttft_p95_ms:.0f} ms"
                if level.ttft_p50_ms is not None else "no token arrived")
        failed = f", {level.failures} failed ({level.first_failure})" if level.failures else ""
        print(f"  {level.streams:3d} streams: {level.tokens_per_s:8.1f} tokens/s total, {ttft}{failed}", flush=True)

    result = bench(config, model, levels, args.tokens, args.max_seconds, show)
    if args.json:
        print_json(result)
    else:
        print(f"Best: {result['best_tokens_per_s']:.1f} tokens/s; saved for the savings dashboard's calculator.")
    return EXIT_OK

#!/usr/bin/env python3
"""The API server against the engine called directly, in one run, with the official openai SDK.

Same worker, model, prompt length and greedy decoding on both sides; a unique
first line per run defeats the KV cache so every run reads its prompt cold.
Runs are interleaved and medians of paired ratios reported (absolute numbers
are for context only: these machines are noisy).

Prints:
  time to first token, server - direct                   (target <= 15 ms)
  generation tokens/s, server / direct, one client      (target >= 0.97)
  total tokens/s with 4 concurrent clients / one client's (target >= 0.95: one sequence, shared)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTION = "Explain in detail how a hash map works, with an example in Python."


def messages_for(run: int) -> list[dict]:
    return [{"role": "system", "content": f"Session {run}. You are a helpful assistant."},
            {"role": "user", "content": QUESTION}]


def direct_run(engine, run: int, tokens: int) -> dict:
    started = time.perf_counter()
    stream = engine.chat(messages_for(run), max_tokens=tokens, temperature=0.0, top_p=1.0)
    first = last = None
    for _piece in stream:
        last = time.perf_counter()
        first = first or last
    n = stream.stats.completion_tokens
    return {"ttft": first - started, "tps": (n - 1) / (last - first), "n": n, "wall": last - started}


def server_run(client, model: str, run: int, tokens: int) -> dict:
    started = time.perf_counter()
    first = last = None
    n = 0
    for chunk in client.chat.completions.create(model=model, messages=messages_for(run), max_tokens=tokens,
                                                temperature=0, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            n = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
    return {"ttft": first - started, "tps": (n - 1) / (last - first), "n": n, "wall": last - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = tempfile.mkdtemp(prefix="hearth-bench-server-")
    import openai

    from app.chats.service import ConversationService
    from app.config import Settings
    from app.engine.local import LocalEngine
    from app.library.registry import ModelRegistry
    from app.server import config as server_config
    from app.server.backend import Backend
    from app.server.run import ApiServer

    config = server_config.load()
    config.port, config.context_length = 0, 4096
    settings = Settings()
    engine = LocalEngine()
    service = ConversationService(engine)
    model = ModelRegistry().resolve(None)
    server = ApiServer(Backend(service, settings, config), config)
    server.start()
    client = openai.OpenAI(base_url=server.base_url, api_key=config.key, max_retries=0, timeout=120)
    server_run(client, model.id, -1, 8)  # loads the model the server's way; direct uses the same worker
    direct = engine.worker
    direct_run(direct, -2, 8)
    print(f"model {model.path.name}, {args.rounds} rounds x {args.tokens} tokens, threads as Hearth's defaults")

    d, s = [], []
    for r in range(args.rounds):
        order = ("direct", "server") if r % 2 == 0 else ("server", "direct")
        result = {}
        for side in order:
            run = r * 2 + (side == "server")
            result[side] = direct_run(direct, run, args.tokens) if side == "direct" else \
                server_run(client, model.id, run, args.tokens)
        d.append(result["direct"]), s.append(result["server"])
        print(f"  round {r}: direct {result['direct']['tps']:.1f} tok/s ttft {result['direct']['ttft']*1000:.1f} ms"
              f" | server {result['server']['tps']:.1f} tok/s ttft {result['server']['ttft']*1000:.1f} ms")

    # Four clients at once share one sequence: their total rate against one client's, alternated.
    single, together = [], []
    for r in range(max(2, args.rounds // 2)):
        one = server_run(client, model.id, 1000 + r, args.tokens)
        single.append(one["n"] / one["wall"])
        results: list[dict] = []
        started = time.perf_counter()
        threads = [threading.Thread(target=lambda k=k: results.append(
            server_run(openai.OpenAI(base_url=server.base_url, api_key=config.key, max_retries=0, timeout=300),
                       model.id, 2000 + r * 4 + k, args.tokens))) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        together.append(sum(x["n"] for x in results) / wall)
        print(f"  concurrency round {r}: one client {single[-1]:.1f} tok/s overall, four together "
              f"{together[-1]:.1f} tok/s overall")
    client.close()
    server.stop()
    engine.close()

    med = statistics.median
    print()
    print(f"time to first token   direct {med(x['ttft'] for x in d)*1000:.1f} ms   server "
          f"{med(x['ttft'] for x in s)*1000:.1f} ms   overhead "
          f"{med(b['ttft'] - a['ttft'] for a, b in zip(d, s))*1000:+.1f} ms  (target <= 15 ms)")
    print(f"generation tokens/s   direct {med(x['tps'] for x in d):.1f}   server {med(x['tps'] for x in s):.1f}   "
          f"ratio {med(b['tps'] / a['tps'] for a, b in zip(d, s)):.3f}  (target >= 0.97)")
    print(f"4 concurrent clients: total {med(together):.1f} tok/s vs one client {med(single):.1f} tok/s   ratio "
          f"{med(t / o for t, o in zip(together, single)):.3f}  (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

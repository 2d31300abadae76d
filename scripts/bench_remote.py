#!/usr/bin/env python3
"""Hearth's remote engine against the official openai SDK, both reading the same OpenAI-compatible
server (llama.cpp's server from llama-cpp-python, started here with the starter model).

Same prompt length, greedy decoding and token count on both sides; a unique
first line per run defeats the server's prompt cache; runs interleaved,
medians of per-round ratios reported.

Prints:
  generation tokens/s, Hearth remote engine / openai SDK   (target >= 0.97)
  time to first token, Hearth - SDK                         (target <= 10 ms)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTION = "Explain in detail how a hash map works, with an example in Python."


def messages_for(run: int) -> list[dict]:
    return [{"role": "system", "content": f"Session {run}. You are a helpful assistant."},
            {"role": "user", "content": QUESTION}]


def timed(pieces) -> dict:
    started = time.perf_counter()
    first = last = None
    n = 0
    for piece in pieces:
        if not piece:
            continue
        last = time.perf_counter()
        first = first or last
        n += 1
    return {"ttft": first - started, "tps": (n - 1) / (last - first), "n": n}


def sdk_pieces(client, run: int, tokens: int):
    for chunk in client.chat.completions.create(model="starter", messages=messages_for(run), max_tokens=tokens,
                                                temperature=0, stream=True):
        for choice in chunk.choices:
            yield choice.delta.content


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = tempfile.mkdtemp(prefix="hearth-bench-remote-")
    import openai

    from app.config import Settings
    from app.engine import remotes
    from app.engine.base import ModelTarget
    from app.engine.remote import RemoteEngine
    from app.library.registry import starter_model_path
    from tests.engine.test_remote import KEY, free_port, start_llama_server, stop

    port = free_port()
    proc = start_llama_server(starter_model_path(), port, Path(os.environ["HEARTH_HOME"]) / "server.log")
    try:
        config = remotes.add("bench", f"http://127.0.0.1:{port}/v1", KEY)
        engine = RemoteEngine(config)
        engine.ensure_loaded(ModelTarget("bench:starter", None, Settings()))
        client = openai.OpenAI(base_url=config.base_url, api_key=KEY, max_retries=0, timeout=120)
        timed(engine.chat(messages_for(-1), max_tokens=8, temperature=0))  # warm both connections
        timed(sdk_pieces(client, -2, 8))
        print(f"llama_cpp.server with the starter model, {args.rounds} rounds x {args.tokens} tokens")
        sdk, hearth = [], []
        for r in range(args.rounds):
            order = ("sdk", "hearth") if r % 2 == 0 else ("hearth", "sdk")
            result = {}
            for side in order:
                run = r * 2 + (side == "hearth")
                result[side] = timed(sdk_pieces(client, run, args.tokens)) if side == "sdk" else \
                    timed(engine.chat(messages_for(run), max_tokens=args.tokens, temperature=0))
            sdk.append(result["sdk"]), hearth.append(result["hearth"])
            print(f"  round {r}: sdk {result['sdk']['tps']:.1f} tok/s ttft {result['sdk']['ttft']*1000:.1f} ms | "
                  f"hearth {result['hearth']['tps']:.1f} tok/s ttft {result['hearth']['ttft']*1000:.1f} ms")
        client.close()
        engine.close()
    finally:
        stop(proc)
    med = statistics.median
    print()
    print(f"generation tokens/s   sdk {med(x['tps'] for x in sdk):.1f}   hearth {med(x['tps'] for x in hearth):.1f}   "
          f"ratio {med(h['tps'] / s['tps'] for s, h in zip(sdk, hearth)):.3f}  (target >= 0.97)")
    print(f"time to first token   sdk {med(x['ttft'] for x in sdk)*1000:.1f} ms   hearth "
          f"{med(x['ttft'] for x in hearth)*1000:.1f} ms   overhead "
          f"{med(h['ttft'] - s['ttft'] for s, h in zip(sdk, hearth))*1000:+.1f} ms  (target <= 10 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Generation speed with threads that follow the load, against the best llama-bench configuration.

llama.cpp's threads spin, so the right thread count depends on what else
runs. For each condition (an idle machine; a neighbour process keeping one
core busy; a neighbour busy 30% of the time, like the window drawing a reply)
this runs, interleaved round by round in one sitting:

- llama-bench with every thread count and flash attention off and on,
  generating 128 tokens at depth 40 (the best configuration is the target);
- Hearth's worker as shipped ("auto" threads, which follow the load; flash
  attention "auto"), a reply of 128 tokens to a prompt of about 40 tokens;
- Hearth with the old fixed default (physical cores - 1).

and prints tokens/s and Hearth / best llama-bench (target >= 0.95 idle and
beside the busy neighbour). Prompt lookup is off on Hearth's side so that the
threads alone are compared. Then flash attention on the CPU, by context depth
and for reading a long history, from llama-bench alone.

llama-bench: --llama-bench PATH, $LLAMA_BENCH, or on PATH; built from the
llama.cpp sources vendored in llama-cpp-python's sdist (same commit as the
library), about 15 minutes on 2 cores:

    pip download llama-cpp-python==0.3.36 --no-binary :all: --no-deps -d /tmp/lb
    cd /tmp/lb && tar xzf llama_cpp_python-0.3.36.tar.gz
    cd llama_cpp_python-0.3.36/vendor/llama.cpp
    cmake -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF
    cmake --build build --target llama-bench

Without it, a direct llama-cpp-python decode loop stands in, and the output
says so. The direct loop with sampling shows what Hearth can reach through
llama-cpp-python at all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-bench-"))

from app import hardware  # noqa: E402
from app.config import Settings  # noqa: E402
from app.engine.client import Engine  # noqa: E402
from app.engine.params import default_threads, load_request  # noqa: E402
from app.library.registry import starter_model_path  # noqa: E402

DEPTH = 40


def neighbour(duty: float, stop) -> None:
    """Busy for ``duty`` of every 10 ms slice until stopped."""
    period = 0.010
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < period * duty:
            pass
        if duty < 1:
            time.sleep(period * (1 - duty))


def hearth_tps(engine: Engine, run: int, tokens: int) -> tuple[float, str]:
    msgs = [{"role": "system", "content": f"Run {run}. You are a helpful assistant."},
            {"role": "user", "content": "Explain in detail how a hash map works, step by step."}]
    stream = engine.chat(msgs, max_tokens=tokens, temperature=0.0, repeat_penalty=1.1)
    stream.consume()
    stats = stream.stats
    return stats.tokens_per_s, f"{stats.threads}" + (f" after {stats.thread_changes} changes" if stats.thread_changes else "")


def llama_bench(binary: str, model: str, args: list[str]) -> dict[tuple, float]:
    """{(threads, flash, depth, n_prompt, n_gen): tokens/s} from one llama-bench run."""
    out = subprocess.run([binary, "-m", model, "-o", "json", *args], capture_output=True, text=True, check=True)
    results = {}
    for row in json.loads(out.stdout):
        key = (row["n_threads"], bool(row.get("flash_attn")), row.get("n_depth", 0), row["n_prompt"], row["n_gen"])
        results[key] = row["avg_ts"]
    return results


class DirectBench:
    """Stand-in for llama-bench: a llama-cpp-python decode loop, no sampling."""

    def __init__(self, model: str):
        self.model = model
        self.llms = {}

    def run(self, threads: list[int], flash: list[bool], tokens: int) -> dict[tuple, float]:
        from llama_cpp import Llama

        results = {}
        for fa in flash:
            for t in threads:
                llm = self.llms.get((t, fa))
                if llm is None:
                    llm = self.llms[(t, fa)] = Llama(model_path=self.model, n_ctx=512, n_threads=t,
                                                     n_threads_batch=t, flash_attn=fa, verbose=False)
                llm.reset()
                llm.eval([llm.token_bos()] * DEPTH)
                start = time.perf_counter()
                for _ in range(tokens):
                    llm.eval([1000])
                results[(t, fa, DEPTH, 0, tokens)] = tokens / (time.perf_counter() - start)
        return results


class DirectSampled:
    """The fastest direct way to do Hearth's work: llama-cpp-python in one process, same context size,
    prompt, sampling and detokenizing, no worker, no streaming to another process."""

    def __init__(self, model: str, counts: list[int]):
        from llama_cpp import Llama

        self.llms = {n: Llama(model_path=model, n_ctx=Settings().context_length, n_threads=n, n_threads_batch=max(counts),
                              verbose=False) for n in counts}

    def run(self, threads: int, run: int, tokens: int) -> float:
        from app.engine import decoding
        from app.engine.chat_template import render_with_fallback
        from app.gguf.header import read_gguf

        llm = self.llms[threads]
        prompt, _ = render_with_fallback(read_gguf(llm.model_path).chat_template, [
            {"role": "system", "content": f"Run {run}. You are a helpful assistant."},
            {"role": "user", "content": "Explain in detail how a hash map works, step by step."}], "", "")
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        sampler = llm._init_sampler(top_k=40, top_p=0.95, min_p=0.05, temp=0.0, repeat_penalty=1.1)
        first, count = None, 0
        generator = decoding.generate(llm, ids, sampler)
        for token in generator:
            if first is None:
                first = time.perf_counter()
            llm.detokenize([token])
            count += 1
            if count >= tokens:
                break
        generator.close()
        return (count - 1) / (time.perf_counter() - first)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--llama-bench", default=os.environ.get("LLAMA_BENCH") or shutil.which("llama-bench"))
    parser.add_argument("--no-flash-table", action="store_true")
    args = parser.parse_args()
    cores = hardware.physical_cores()
    counts = list(range(1, cores + 1))
    model = str(starter_model_path())
    bench = args.llama_bench
    direct = None if bench else DirectBench(model)
    reference = "llama-bench" if bench else "direct llama-cpp-python loop (no llama-bench found)"
    fixed = default_threads()[0]

    shipped = Engine()
    shipped.load(load_request(model, Settings({"prompt_lookup": False})))
    old = Engine()
    old.load(load_request(model, Settings({"prompt_lookup": False, "threads": fixed})))
    for engine in (shipped, old):
        hearth_tps(engine, -1, 8)
    sampled = DirectSampled(model, counts)
    print(f"{cores} physical cores; {Path(model).name}; generation tokens/s, {args.tokens} tokens at depth "
          f"~{DEPTH}, median of {args.rounds} interleaved rounds; reference: {reference}")
    scenarios = [("idle", 0.0), ("one core busy", 1.0), ("neighbour 30% busy", 0.3)]
    run = 0
    for label, duty in scenarios:
        stop = multiprocessing.Event()
        proc = None
        if duty:
            proc = multiprocessing.Process(target=neighbour, args=(duty, stop), daemon=True)
            proc.start()
            time.sleep(1.0)
        refs: dict[tuple, list[float]] = {}
        auto, auto_threads, fixed_tps, direct_tps = [], [], [], {n: [] for n in counts}
        for _ in range(args.rounds):
            if bench:
                rows = llama_bench(bench, model, ["-t", ",".join(map(str, counts)), "-fa", "0,1", "-d", str(DEPTH),
                                                  "-p", "0", "-n", str(args.tokens), "-r", "1"])
            else:
                rows = direct.run(counts, [False, True], args.tokens)
            for key, value in rows.items():
                refs.setdefault(key, []).append(value)
            time.sleep(1.0)  # llama-bench's own load is not part of the condition Hearth should see
            run += 1
            tps, threads = hearth_tps(shipped, run, args.tokens)
            auto.append(tps)
            auto_threads.append(threads)
            fixed_tps.append(hearth_tps(old, run, args.tokens)[0])
            for n in counts:
                direct_tps[n].append(sampled.run(n, run, args.tokens))
        if proc:
            stop.set()
            proc.join()
        med = {key: statistics.median(v) for key, v in refs.items()}
        best_key = max(med, key=med.get)
        best = med[best_key]
        configs = "  ".join(f"{k[0]}t{' fa' if k[1] else ''} {v:.1f}" for k, v in sorted(med.items()))
        print(f"\n  {label}")
        print(f"    {reference}: {configs}")
        print(f"    best: {best_key[0]} thread{'s' if best_key[0] > 1 else ''}"
              f"{', flash attention' if best_key[1] else ''} {best:.1f}")
        print(f"    Hearth auto threads  {statistics.median(auto):6.1f}   ratio {statistics.median(auto) / best:.3f}"
              f"   (threads at the end of each reply: {', '.join(auto_threads)})   (target >= 0.95)")
        best_direct = max(counts, key=lambda n: statistics.median(direct_tps[n]))
        direct_best = statistics.median(direct_tps[best_direct])
        print("    direct llama-cpp-python, sampling and detokenizing: " + "  ".join(
            f"{n}t {statistics.median(v):.1f}" for n, v in direct_tps.items())
            + f"   best / llama-bench best {direct_best / best:.3f};   Hearth auto / this best "
            f"{statistics.median(auto) / direct_best:.3f}")
        print(f"    Hearth fixed {fixed} thread{'s' if fixed > 1 else ''} {statistics.median(fixed_tps):6.1f}   "
              f"ratio {statistics.median(fixed_tps) / best:.3f}   (the old default)")
    shipped.close()
    old.close()

    if bench and not args.no_flash_table:
        print("\nflash attention on the CPU, idle, llama-bench (tokens/s, off -> on):")
        rows = llama_bench(bench, model, ["-t", str(cores), "-fa", "0,1", "-d", f"{DEPTH},512,1500", "-p", "0",
                                          "-n", "64", "-r", "2"])
        for depth in (DEPTH, 512, 1500):
            off, on = rows[(cores, False, depth, 0, 64)], rows[(cores, True, depth, 0, 64)]
            print(f"  generate at depth {depth:5d}: {off:6.1f} -> {on:6.1f}  ({on / off:.2f}x)")
        rows = llama_bench(bench, model, ["-t", str(cores), "-fa", "0,1", "-p", "1500", "-n", "0", "-r", "2"])
        off, on = rows[(cores, False, 0, 1500, 0)], rows[(cores, True, 0, 1500, 0)]
        print(f"  read a 1500-token history: {off:6.1f} -> {on:6.1f}  ({on / off:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

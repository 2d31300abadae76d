"""From settings to the worker's load and sampling parameters."""

from __future__ import annotations

import functools
import os

from app import hardware
from app.config import Settings
from app.engine import protocol as p


@functools.lru_cache(maxsize=1)
def default_threads() -> tuple[int, int]:
    """(generation threads, prompt threads) for this machine when the count cannot follow the load.

    llama.cpp's threads spin while they wait, so a generation thread on every
    core collapses throughput as soon as anything else runs: measured on 2
    cores, generation fell from 184 to 54 tokens/s beside one busy process,
    while one thread barely moved. A fixed count therefore leaves one core
    free; "auto" starts from every core and lets the worker step down and up
    with the machine's load (threads.py, scripts/bench_threads.py).
    """
    cores = hardware.physical_cores()
    return max(1, cores - 1), cores


def _at_most_cores(threads: int) -> int:
    """More threads than logical CPUs only make llama.cpp's spinning threads fight (and hundreds
    crashed the worker): a setting above that is used as the CPU count."""
    return max(1, min(threads, os.cpu_count() or 1))


def load_request(path: str, settings: Settings, chat_template: str | None = None) -> p.LoadModel:
    gen_default, batch_default = default_threads()
    return p.LoadModel(
        path=str(path),
        n_ctx=settings.context_length,
        n_gpu_layers=settings.gpu_layers,
        n_threads=batch_default if settings.threads == "auto" else _at_most_cores(settings.threads),
        adaptive_threads=settings.threads == "auto",
        n_threads_batch=batch_default if settings.batch_threads == "auto" else _at_most_cores(settings.batch_threads),
        n_batch=settings.batch_size,
        flash_attn=settings.flash_attention,
        chat_template=chat_template,
        prompt_lookup=settings.prompt_lookup,
    )


def sampling(settings: Settings) -> dict:
    return {
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "min_p": settings.min_p,
        "repeat_penalty": settings.repeat_penalty,
    }

"""The two helper processes of indexing: one reads files, one embeds passages.

Reading runs in a process of its own so that a PDF that hangs the parser is
killed at the per-file time limit, and one that crashes native code costs
that file only. Embedding runs in another, apart from the chat worker, so a
conversation goes on while a collection indexes; requests are pipelined
(the indexer sends the next batch before it stores the last one).
Both use the ``spawn`` start method: no fork of a process that runs Qt.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from pathlib import Path

from app.docs.chunking import Chunk
from app.docs.parsers import Skip
from app.errors import HearthError

PARSE_TIMEOUT_S = 60.0
EMBED_TIMEOUT_S = 300.0


def _parse_main(conn) -> None:
    from app.docs.chunking import chunk_sections
    from app.docs.parsers import parse

    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        try:
            conn.send(("ok", chunk_sections(parse(Path(path)))))
        except Skip as exc:
            conn.send(("skip", str(exc)))
        except Exception as exc:  # a parser bug: this file is skipped, the process lives on
            conn.send(("skip", f"could not be read ({type(exc).__name__}: {exc})"))


class _Helper:
    def __init__(self, target, *args):
        self._target, self._args = target, args
        self._ctx = multiprocessing.get_context("spawn")
        self.proc = None
        self.conn = None

    def start(self) -> None:
        parent, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=self._target, args=(child, *self._args), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(None)
            except OSError:
                pass
        if self.proc is not None:
            self.proc.join(5)
        self.kill()


class ParseProcess(_Helper):
    def __init__(self, timeout_s: float = PARSE_TIMEOUT_S):
        super().__init__(_parse_main)
        self.timeout_s = timeout_s

    def parse(self, path: Path) -> list[Chunk]:
        if self.proc is None or not self.proc.is_alive():
            self.kill()
            self.start()
        self.conn.send(str(path))
        if not self.conn.poll(self.timeout_s):
            self.kill()  # the next file gets a fresh process
            raise Skip(f"reading it took longer than {self.timeout_s:g} s (the limit per file)")
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise Skip("the reader crashed on this file") from None
        if kind == "skip":
            raise Skip(payload)
        return payload


def _quiet_native_output(log_name: str) -> None:
    """llama.cpp writes to fds 1 and 2 from C; in a helper process that belongs in a log file."""
    from app import paths

    try:
        log = open(paths.process_log_file(log_name), "ab")  # noqa: SIM115 (kept open for the process's life)
    except OSError:
        return
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)


def _embed_main(conn, model_path: str, threads: int, pool_mean: bool) -> None:
    _quiet_native_output("embed-worker")
    try:
        import numpy as np
        from llama_cpp import Llama

        kwargs = {}
        if pool_mean:
            kwargs["pooling_type"] = 1  # LLAMA_POOLING_TYPE_MEAN: chat models have no pooling of their own
        from app.gguf.header import read_gguf

        trained = read_gguf(model_path).context_length or 512
        n_ctx = min(trained, 1024)
        llm = Llama(model_path=model_path, embedding=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
                    n_threads=threads, n_threads_batch=threads, verbose=False, **kwargs)
        conn.send(("ready", llm.n_embd()))
    except Exception as exc:
        conn.send(("error", f"could not load the embedding model: {exc}"))
        return
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):
            return
        if texts is None:
            return
        try:
            rows = []
            for text in texts:  # one at a time: measured faster than a list per call here
                vector = np.asarray(llm.embed(text, truncate=True), dtype=np.float32)
                if vector.ndim == 2:  # per-token vectors: pool them
                    vector = vector.mean(axis=0)
                norm = float(np.linalg.norm(vector)) or 1.0
                rows.append(vector / norm)
            conn.send(("ok", np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)))
        except Exception as exc:
            conn.send(("error", f"embedding failed: {exc}"))


class EmbedProcess(_Helper):
    """Embeds lists of texts; ``send`` and ``receive`` let the caller keep work in flight."""

    def __init__(self, model_path: Path, threads: int, pool_mean: bool):
        super().__init__(_embed_main, str(model_path), threads, pool_mean)
        self.model_path = model_path
        self.dim = 0
        self._results: queue.Queue = queue.Queue()

    def _read_results(self, conn) -> None:
        """Drain answers as they come: with batches in flight both ways, a pipe that nobody reads
        would block the worker's send while this side blocks in its own."""
        while True:
            try:
                self._results.put(conn.recv())
            except (EOFError, OSError):
                self._results.put(("crashed", None))
                return

    def start(self) -> None:
        super().start()
        if not self.conn.poll(EMBED_TIMEOUT_S):
            self.kill()
            raise HearthError(f"the embedding model {self.model_path.name} did not load in time")
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise HearthError(f"the embedding worker crashed loading {self.model_path.name}") from None
        if kind != "ready":
            self.kill()
            raise HearthError(payload)
        self.dim = payload
        threading.Thread(target=self._read_results, args=(self.conn,), daemon=True,
                         name="hearth-embed-results").start()

    def send(self, texts: list[str]) -> None:
        self.conn.send(texts)

    def receive(self):
        try:
            kind, payload = self._results.get(timeout=EMBED_TIMEOUT_S)
        except queue.Empty:
            self.kill()
            raise HearthError("the embedding worker stopped answering") from None
        if kind == "crashed":
            self.kill()
            raise HearthError("the embedding worker crashed (out of memory?)")
        if kind != "ok":
            raise HearthError(payload)
        return payload

    def embed(self, texts: list[str]):
        self.send(texts)
        return self.receive()

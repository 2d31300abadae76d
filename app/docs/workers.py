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
from dataclasses import dataclass
from pathlib import Path

from app.docs.chunking import Chunk
from app.docs.parsers import Skip
from app.errors import HearthError

PARSE_TIMEOUT_S = 60.0
EMBED_TIMEOUT_S = 300.0
# The reader's address space: a file whose parse would need more is skipped, the machine is not.
READER_MEMORY_BYTES = 2 << 30
MAX_PASSAGES_PER_FILE = 20_000  # ~24 MB of text: a book is a few thousand
MAX_HASHED_BYTES = 2 << 30  # larger files are told apart by size and time alone


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the per-file time limit still applies
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = READER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(READER_MEMORY_BYTES, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def content_digest(path: str) -> str:
    """The file's SHA-256, read only if it is a regular file, and at most its size at open time.

    Opened without blocking: a named pipe swapped in for a file since the walk
    must not hang the reader (and the per-file time limit bounds a slow disk)."""
    import hashlib
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Skip(f"not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > MAX_HASHED_BYTES:
            return f"size:{info.st_size}"
        digest, left = hashlib.sha256(), info.st_size
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            digest.update(block)
            left -= len(block)
        return digest.hexdigest()
    finally:
        os.close(fd)


def file_kind(mode: int) -> str:
    import stat

    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a file"


def read_file(path: str, known: str | None) -> tuple:
    """What the reader sends back for one file: ("same", digest, None, None),
    ("ok", digest, chunks, note) or ("skip", digest, reason, None)."""
    from app.docs.chunking import chunk_sections
    from app.docs.parsers import parse

    digest = None
    try:
        digest = content_digest(path)
        if known is not None and digest == known:
            return "same", digest, None, None
        sections = parse(Path(path))
        chunks = chunk_sections(sections)
        note = getattr(sections, "note", None)
        if len(chunks) > MAX_PASSAGES_PER_FILE:
            note = (f"only its first {MAX_PASSAGES_PER_FILE:,} passages are indexed "
                    f"(of {len(chunks):,}; the limit per file)")
            chunks = chunks[:MAX_PASSAGES_PER_FILE]
        return "ok", digest, chunks, note
    except Skip as exc:
        return "skip", digest, str(exc), None
    except MemoryError:
        return "skip", digest, f"reading it needed more than {READER_MEMORY_BYTES >> 20} MB (the reader's limit)", None
    except OSError as exc:
        return "skip", digest, f"unreadable ({exc.strerror or exc})", None
    except Exception as exc:  # a parser bug: this file is skipped, the process lives on
        return "skip", digest, f"could not be read ({type(exc).__name__}: {exc})", None


def _ignore_ctrl_c() -> None:
    """Ctrl-C reaches the whole process group; the indexer answers it ("paused") and ends its helpers."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_main(conn) -> None:
    _ignore_ctrl_c()
    from app import netlog

    netlog.install("document reader")
    _limit_memory()
    try:
        while True:
            request = conn.recv()
            if request is None:
                return
            conn.send(read_file(*request))
    except (EOFError, OSError):
        return
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the indexer says "paused"
        return


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


@dataclass
class Read:
    """What the reader made of one file: its digest, and its passages unless they are unchanged."""
    digest: str
    chunks: list[Chunk] | None
    note: str | None = None


class ParseProcess(_Helper):
    def __init__(self, timeout_s: float = PARSE_TIMEOUT_S):
        super().__init__(_parse_main)
        self.timeout_s = timeout_s

    def read(self, path: Path, known_digest: str | None = None) -> Read:
        """Hash the file and, unless its digest is ``known_digest``, parse it; every step in the
        reader process, within the time limit. Raises ``Skip`` (with ``.digest`` when known)."""
        if self.proc is None or not self.proc.is_alive():
            self.kill()
            self.start()
        self.conn.send((str(path), known_digest))
        if not self.conn.poll(self.timeout_s):
            self.kill()  # the next file gets a fresh process
            raise Skip(f"reading it took longer than {self.timeout_s:g} s (the limit per file)")
        try:
            kind, digest, payload, note = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise Skip("the reader crashed on this file (out of memory, or a damaged file)") from None
        if kind == "skip":
            skip = Skip(payload)
            skip.digest = digest
            raise skip
        return Read(digest, payload, note)


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
    _ignore_ctrl_c()
    from app import netlog

    netlog.install("document embedder")
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

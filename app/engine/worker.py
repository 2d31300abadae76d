"""The inference worker: the only process that runs llama.cpp for chat.

Started by ``engine.client`` as ``hearth worker`` (``python -m app worker``
when not frozen). It reads requests as JSON lines on stdin and writes events
on the original stdout; native code's own prints are sent to stderr, which
the client routes to a log file, so nothing llama.cpp prints can corrupt the
protocol. If the parent goes away (stdin closes) the worker exits at once.

Requests run one at a time on the main thread; a reader thread takes
``Cancel`` out of the stream immediately so a reply stops between two tokens,
and an abort callback lets a cancel interrupt a long prompt evaluation too.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import ctypes
import os
import queue
import sys
import threading
import time

from app.engine import decoding
from app.engine import protocol as p
from app.engine import threads
from app.engine.chat_template import RenderCancelled, render_with_fallback

# Keep this much room for the reply when deciding whether history must be dropped.
MIN_REPLY_ROOM = 64


class ContextOverflow(ValueError):
    """The prompt does not fit the context and the caller did not allow dropping any of it."""


def fit_to_context(messages: list[dict], tokenize, n_ctx: int, room: int) -> tuple[list[int], int]:
    """Prompt tokens for ``messages``, dropping the oldest turns until ``room`` tokens stay free.

    The system prompt and the newest message are always kept; a user turn is
    dropped together with its reply so that roles still alternate (several
    templates refuse anything else). Returns (tokens, messages dropped).
    """
    messages = list(messages)
    dropped = 0
    while True:
        tokens = tokenize(messages)
        if len(tokens) + room <= n_ctx:
            return tokens, dropped
        first = 1 if messages and messages[0].get("role") == "system" else 0
        if len(messages) - first <= 1:
            if len(tokens) < n_ctx:  # fits, with less room for the reply
                return tokens, dropped
            raise ValueError(
                f"the message is {len(tokens)} tokens, more than this model's context window "
                f"of {n_ctx} tokens: shorten it or raise the context length"
            )
        count = 2 if len(messages) - first > 2 and messages[first + 1].get("role") == "assistant" else 1
        del messages[first:first + count]
        dropped += count


class _Writer:
    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "wb", buffering=0)
        self._lock = threading.Lock()

    def send(self, message) -> None:
        data = p.encode(message)
        with self._lock:
            self._out.write(data)


@contextlib.contextmanager
def _no_chat_handlers(llama_cpp):
    """WORKAROUND: llama-cpp-python compiles the GGUF's chat templates while loading, so a
    template that does not compile would make the model unloadable. Hearth renders templates
    itself (chat_template.py, with its fallback), so the library's handlers are not built."""
    from llama_cpp import llama_chat_format

    original = llama_chat_format.Jinja2ChatFormatter

    class _Unused:
        def __init__(self, *args, **kwargs):
            pass

        def to_chat_handler(self):
            return None

    llama_chat_format.Jinja2ChatFormatter = _Unused
    try:
        yield
    finally:
        llama_chat_format.Jinja2ChatFormatter = original


class _LlamaLog:
    """Keeps llama.cpp's recent warnings so a failed load can say why."""

    def __init__(self, llama_cpp):
        self.lines: collections.deque[str] = collections.deque(maxlen=30)

        @llama_cpp.llama_log_callback
        def callback(level, text, _user_data):
            if level in (2, 3):  # warn, error
                line = text.decode("utf-8", errors="replace").strip()
                if line:
                    self.lines.append(line)
                    print(line, file=sys.stderr, flush=True)

        self._callback = callback  # must outlive the C side's pointer
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def reason(self) -> str | None:
        for line in reversed(self.lines):
            lowered = line.lower()
            if any(word in lowered for word in ("unknown model architecture", "error", "failed", "invalid")):
                return line.split(": ", 1)[-1] if line.startswith("llama_") else line
        return self.lines[-1] if self.lines else None


class Worker:
    def __init__(self, writer: _Writer):
        import llama_cpp

        self.llama_cpp = llama_cpp
        self.send = writer.send
        self.llm = None
        self.model_path: str | None = None
        self.template: str | None = None
        self.template_source = "fallback"
        self.template_note: str | None = None  # why the model's template is not used, once it failed
        self.n_gpu_layers = 0
        self.prompt_lookup = False
        self.governor: threads.ThreadGovernor | None = None
        self.batch_threads = 1
        self._cpu_load: threads.CpuLoad | None = None
        self._cancelled: set[str] = set()
        self._cancel_lock = threading.Lock()
        self._current: str | None = None
        self._log = _LlamaLog(llama_cpp)
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        self._grammars: dict = {}

    # --- cancel (called from the reader thread) ---------------------------
    def cancel(self, request_id: str) -> None:
        with self._cancel_lock:
            self._cancelled.add(request_id)

    def _is_cancelled(self, request_id: str) -> bool:
        return request_id in self._cancelled

    def _should_abort(self, _data) -> bool:
        return self._current_cancelled()

    def _current_cancelled(self) -> bool:
        current = self._current
        return current is not None and current in self._cancelled

    # --- requests ----------------------------------------------------------
    def handle(self, message) -> bool:
        """Run one request; False means shut down."""
        if isinstance(message, p.LoadModel):
            self.load(message)
        elif isinstance(message, p.Chat):
            self.chat(message)
        elif isinstance(message, p.GetStats):
            self.send(self.stats())
        elif isinstance(message, p.Unload):
            self.unload()
            self.send(p.Unloaded())
        elif isinstance(message, p.Shutdown):
            return False
        return True

    def unload(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None
            self.model_path = None

    def load(self, req: p.LoadModel) -> None:
        from app.engine.gpu import resolve_gpu_layers
        from app.gguf.header import GGUFError, read_gguf

        self.unload()
        try:
            info = read_gguf(req.path)
        except GGUFError as exc:
            self.send(p.Error(None, "load", str(exc)))
            return
        n_ctx = req.n_ctx
        if info.context_length:
            n_ctx = min(n_ctx, info.context_length)
        gpu_layers = resolve_gpu_layers(req.n_gpu_layers, info, n_ctx, self.llama_cpp.llama_supports_gpu_offload())
        flash = req.flash_attn if isinstance(req.flash_attn, bool) else gpu_layers != 0
        self._log.lines.clear()
        started = time.perf_counter()

        def attempt(layers: int):
            with self._reporting_progress(), _no_chat_handlers(self.llama_cpp):
                return self.llama_cpp.Llama(
                    model_path=req.path, n_ctx=n_ctx, n_gpu_layers=layers,
                    n_threads=req.n_threads, n_threads_batch=req.n_threads_batch,
                    n_batch=min(req.n_batch, n_ctx), flash_attn=flash, verbose=False,
                )


        try:
            try:
                llm = attempt(gpu_layers)
            except (ValueError, RuntimeError, OSError):
                if req.n_gpu_layers != "auto" or gpu_layers == 0:
                    raise
                # 'auto' guessed too high (out of VRAM, driver trouble): the CPU still works.
                print(f"GPU load with {gpu_layers} layers failed; retrying on the CPU", file=sys.stderr)
                gpu_layers = 0
                flash = req.flash_attn if isinstance(req.flash_attn, bool) else False
                llm = attempt(0)
        except (ValueError, RuntimeError, OSError) as exc:
            reason = self._log.reason() or str(exc)
            arch = info.architecture
            message = f"llama.cpp could not load {os.path.basename(req.path)}: {reason}"
            if "architecture" not in reason.lower():
                message += f" (architecture {arch!r})"
            self.send(p.Error(None, "load", message))
            return
        load_ms = (time.perf_counter() - started) * 1000
        self.llm = llm
        self.model_path = req.path
        self.n_gpu_layers = gpu_layers
        self.prompt_lookup = req.prompt_lookup and decoding.can_draft(llm)
        self.governor = None
        self.batch_threads = req.n_threads_batch
        if req.adaptive_threads and gpu_layers == 0:  # offloaded layers leave the CPU threads little to do
            if self._cpu_load is None:
                self._cpu_load = threads.CpuLoad()
            self.governor = threads.ThreadGovernor(req.n_threads, self._generation_threads, self._cpu_load)
        llama_cpp = self.llama_cpp
        # Abort callback on the context: a cancel interrupts prompt evaluation.
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort_cb, None)
        self.template_note = None
        if req.chat_template:
            self.template, self.template_source = req.chat_template, "override"
        elif info.chat_template:
            self.template, self.template_source = info.chat_template, "model"
        else:
            self.template, self.template_source = None, "fallback"
        vocab = llm._model.vocab
        self.bos_text = self._token_text(llama_cpp.llama_vocab_bos(vocab))
        self.eos_text = self._token_text(llama_cpp.llama_vocab_eos(vocab))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self.send(p.Loaded(
            path=req.path, n_ctx=llm.n_ctx(), n_ctx_train=info.context_length or 0,
            n_layers=info.block_count or 0, n_gpu_layers=gpu_layers, load_ms=load_ms,
            chat_template=self.template_source, n_threads=req.n_threads,
            n_threads_batch=req.n_threads_batch,
        ))

    def _generation_threads(self, n: int) -> None:
        # During generation, drafts are checked in small batches: same count as single tokens.
        self.llm._ctx.set_n_threads(n, n)

    @contextlib.contextmanager
    def _reporting_progress(self):
        """Send LoadProgress while llama.cpp reads the weights.

        WORKAROUND: llama-cpp-python 0.3.x builds the model parameters inside
        ``Llama.__init__`` and offers no progress hook, so the default-params
        factory it calls is wrapped for the duration of the load to attach
        llama.cpp's own progress callback. Re-check on upgrades.
        """
        import llama_cpp.llama_cpp as raw

        last = [-1.0]

        def on_progress(fraction, _user_data):
            if fraction >= 1.0 or fraction - last[0] >= 0.05:
                last[0] = fraction
                self.send(p.LoadProgress(round(float(fraction), 3)))
            return True

        callback = raw.llama_progress_callback(on_progress)
        original = raw.llama_model_default_params

        def with_progress():
            params = original()
            params.progress_callback = callback
            return params

        raw.llama_model_default_params = with_progress
        try:
            yield
        finally:
            raw.llama_model_default_params = original

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def stats(self) -> p.WorkerStats:
        rss = 0
        try:
            with open("/proc/self/statm") as handle:
                rss = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
        llm = self.llm
        return p.WorkerStats(
            model=self.model_path, n_ctx=llm.n_ctx() if llm else 0,
            cached_tokens=llm.n_tokens if llm else 0, n_gpu_layers=self.n_gpu_layers, rss_bytes=rss,
        )

    # --- chat ----------------------------------------------------------------
    def _prompt_tokens(self, messages: list[dict], tools: list[dict] | None = None,
                       continue_last: bool = False) -> list[int]:
        unfinished = ""
        if continue_last and messages and messages[-1].get("role") == "assistant":
            # The template lays out the turns before it and opens the assistant's; its words follow.
            messages, unfinished = messages[:-1], messages[-1].get("content") or ""
        prompt, problem = render_with_fallback(self.template, messages, self.bos_text, self.eos_text, tools,
                                               should_stop=self._current_cancelled)
        prompt += unfinished
        if problem and self.template:
            # A template that failed or ran out of time once is not tried again for this model:
            # fitting a long history renders many times.
            self.template_note = f"the model's chat template was not usable ({problem}); ChatML was used"
            print(f"hearth: {self.template_note}", file=sys.stderr)
            self.template, self.template_source = None, "fallback"
        return self._tokenize(prompt)

    def _tokenize(self, prompt: str) -> list[int]:
        add_bos = self.add_bos and not (self.bos_text and prompt.startswith(self.bos_text))
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def _fit_to_context(self, req: p.Chat) -> tuple[list[int], int]:
        n_ctx = self.llm.n_ctx()
        if req.prompt is not None or not req.truncate:
            # The API's rule: never cut what the client sent; say how much too long it is.
            tokens = self._tokenize(req.prompt) if req.prompt is not None else \
                self._prompt_tokens(req.messages, req.tools, req.continue_last)
            if len(tokens) >= n_ctx:
                raise ContextOverflow(f"the prompt is {len(tokens)} tokens, but this model's context window is "
                                      f"{n_ctx} tokens: shorten it, or ask for truncation")
            return tokens, 0
        room = min(req.max_tokens, max(MIN_REPLY_ROOM, n_ctx // 4))
        return fit_to_context(req.messages, lambda m: self._prompt_tokens(m, req.tools, req.continue_last), n_ctx, room)

    def _grammar(self, spec: dict | None):
        """A llama.cpp grammar for constrained output, built once per distinct request."""
        if not spec:
            return None
        import json

        key = json.dumps(spec, sort_keys=True)
        cached = self._grammars.get(key)
        if cached is not None:
            return cached
        from llama_cpp import llama_grammar

        if "gbnf" in spec:
            text = spec["gbnf"]
        elif "json_schema" in spec:
            text = llama_grammar.json_schema_to_gbnf(json.dumps(spec["json_schema"]))
        else:
            text = llama_grammar.JSON_GBNF
        grammar = llama_grammar.LlamaGrammar.from_string(text, verbose=False)
        if len(self._grammars) > 32:
            self._grammars.clear()
        self._grammars[key] = grammar
        return grammar

    def chat(self, req: p.Chat) -> None:
        if self.llm is None:
            self.send(p.Error(req.id, "request", "no model is loaded"))
            return
        from app.hardware import joules_between, read_energy_uj

        started = time.perf_counter()
        energy_before = read_energy_uj()
        stats = p.ReplyStats()
        self._current = req.id
        try:
            if self._is_cancelled(req.id):
                stats.stop_reason = p.STOP_CANCELLED
                return
            try:
                tokens, stats.dropped_messages = self._fit_to_context(req)
            except ContextOverflow as exc:
                self.send(p.Error(req.id, "context", str(exc)))
                stats.stop_reason = p.STOP_ERROR
                return
            except RenderCancelled:
                stats.stop_reason = p.STOP_CANCELLED
                return
            except ValueError as exc:
                self.send(p.Error(req.id, "request", str(exc)))
                stats.stop_reason = p.STOP_ERROR
                return
            stats.template_note = self.template_note
            try:
                grammar = self._grammar(req.grammar)
            except Exception as exc:  # a schema llama.cpp's converter cannot express
                self.send(p.Error(req.id, "grammar", f"cannot constrain the output to this schema: {exc}"))
                stats.stop_reason = p.STOP_ERROR
                return
            stats.prompt_tokens = len(tokens)
            self._generate(req, tokens, stats, started, grammar)
        except Exception as exc:  # a bug must end this reply, not the worker
            import traceback

            traceback.print_exc()
            stats.stop_reason = p.STOP_ERROR
            self.send(p.Error(req.id, "internal", f"{type(exc).__name__}: {exc}"))
        finally:
            self._current = None
            with self._cancel_lock:
                self._cancelled.discard(req.id)
            stats.total_ms = (time.perf_counter() - started) * 1000
            stats.energy_j = joules_between(energy_before, read_energy_uj())
            self.send(p.Done(req.id, stats))

    def _generate(self, req: p.Chat, tokens: list[int], stats: p.ReplyStats, started: float, grammar=None) -> None:
        llm = self.llm
        llama_cpp = self.llama_cpp
        vocab = llm._model.vocab
        n_ctx = llm.n_ctx()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = [s for s in req.stop if s]
        longest_stop = max((len(s) for s in stops), default=0)
        pending = ""  # text held back while it could still become a stop string
        if req.seed is not None:
            llm.set_seed(req.seed)
        sampler = llm._init_sampler(
            top_k=req.top_k, top_p=req.top_p, min_p=req.min_p, temp=req.temperature,
            repeat_penalty=req.repeat_penalty, grammar=grammar,
        )
        # Drafts need the whole text the model may copy from: the prompt, and the reply as it grows.
        lookup = decoding.PromptLookup(tokens) if self.prompt_lookup else None
        governor = self.governor
        changes_before = governor.changes if governor is not None else 0
        if governor is not None:
            self._cpu_load.busy.set()  # readings come from the governor between tokens now
            llm._ctx.set_n_threads(governor.start_reply(), self.batch_threads)  # the prompt: every core

        def prefilled(cached: int) -> None:
            stats.cached_tokens = cached
            if governor is not None:
                self._generation_threads(governor.threads)

        generator = decoding.generate(llm, tokens, sampler, lookup, on_prefilled=prefilled,
                                      on_decode=governor.step if governor is not None else None)
        first_at = None
        count = 0
        try:
            for token in generator:
                if first_at is None:
                    first_at = time.perf_counter()
                    stats.ttft_ms = (first_at - started) * 1000
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    stats.stop_reason = p.STOP_END
                    break
                count += 1
                text = decoder.decode(llm.detokenize([token]))
                if stops:
                    pending += text
                    hit = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
                    if hit >= 0:
                        if pending[:hit]:
                            self.send(p.Token(req.id, pending[:hit]))
                        pending = ""
                        stats.stop_reason = p.STOP_END
                        break
                    # A stop string may be starting at the end: hold back that much.
                    cut = max(0, len(pending) - (longest_stop - 1))
                    text, pending = pending[:cut], pending[cut:]
                if text:
                    self.send(p.Token(req.id, text))
                if self._is_cancelled(req.id):
                    stats.stop_reason = p.STOP_CANCELLED
                    break
                if count >= req.max_tokens or llm.n_tokens + 1 >= n_ctx:
                    stats.stop_reason = p.STOP_LENGTH
                    break
        except RuntimeError as exc:
            if self._is_cancelled(req.id):  # the abort callback interrupted llama_decode
                stats.stop_reason = p.STOP_CANCELLED
            else:
                stats.stop_reason = p.STOP_ERROR
                self.send(p.Error(req.id, "internal", f"llama.cpp failed while generating: {exc}"))
        finally:
            generator.close()
            if governor is not None:
                self._cpu_load.busy.clear()
        tail = pending + decoder.decode(b"", final=True)
        if tail and stats.stop_reason != p.STOP_END:
            self.send(p.Token(req.id, tail))
        stats.completion_tokens = count
        if lookup is not None:
            stats.drafted_tokens, stats.accepted_tokens = lookup.drafted, lookup.accepted
        if governor is not None:
            stats.threads, stats.thread_changes = governor.threads, governor.changes - changes_before
        if first_at is not None and count > 1:
            elapsed = time.perf_counter() - first_at
            stats.tokens_per_s = (count - 1) / elapsed if elapsed > 0 else 0.0


def _reader(worker: Worker, inbox: queue.Queue, writer: _Writer) -> None:
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            message = p.decode(line)
        except p.ProtocolError as exc:
            writer.send(p.Error(None, "request", str(exc)))
            continue
        if isinstance(message, p.Cancel):
            worker.cancel(message.id)
        else:
            inbox.put(message)
    # The parent closed our stdin or died: nobody is listening any more.
    os._exit(0)


def main() -> int:
    # Keep the real stdout for the protocol; route fd 1 to stderr so that any
    # print from native code lands in the log instead of the message stream.
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    writer = _Writer(proto_fd)
    worker = Worker(writer)
    llama_cpp = worker.llama_cpp
    writer.send(p.Ready(
        protocol=p.PROTOCOL_VERSION, pid=os.getpid(),
        llama_cpp_version=getattr(llama_cpp, "__version__", "?"),
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        system_info=llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip(),
    ))
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(worker, inbox, writer), daemon=True, name="reader").start()
    while True:
        message = inbox.get()
        try:
            if not worker.handle(message):
                break
        except Exception as exc:  # a bug here must not leave the client waiting forever
            import traceback

            traceback.print_exc()
            request_id = getattr(message, "id", None)
            writer.send(p.Error(request_id, "internal", f"{type(exc).__name__}: {exc}"))
    worker.unload()
    # Leave without the interpreter's shutdown: the reader thread (a daemon, blocked on the pipe)
    # and llama.cpp's log callback may hold stderr's lock, and finalization then aborted with
    # "Fatal Python error: _enter_buffered_busy" in every worker log.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)

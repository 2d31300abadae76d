"""Collections as the CLI and the window use them: add, sync, search, ask, remove.

Asking puts the retrieved passages, numbered, into the prompt within the
context budget and tells the model to cite them as [1], [2]; with no
relevant passage the answer says so and the model is not asked at all.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.config import Settings
from app.docs.indexer import Indexer, SyncResult, embedding_threads
from app.docs.retrieval import Hit, search
from app.docs.store import CollectionStore, check_name, collection_names
from app.docs.workers import EmbedProcess
from app.errors import HearthError
from app.library.registry import ModelRegistry

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0  # conservative for English prose and code: budgets stay inside the context
ANSWER_RULES = ("Answer the question using only the numbered passages from the user's documents below. "
                "After each statement, cite the passage it comes from as [1], [2] and so on. If the passages "
                "do not contain the answer, say that the documents do not answer it; do not guess.")


def not_found(collections: list[str]) -> str:
    names = ", ".join(repr(c) for c in collections)
    return (f"I found nothing in {names} that answers this, so I will not guess. "
            "Try other words, or add the documents that cover it.")


def add_paths(name: str, paths: list[Path]) -> CollectionStore:
    check_name(name)
    resolved = []
    for path in paths:
        if not path.exists():
            raise HearthError(f"{path}: no such file or folder")
        resolved.append(Path(os.path.realpath(path)))
    store = CollectionStore(name, create=True)
    for path in resolved:
        store.add_root(path)
    return store


def record_embedding(result: SyncResult, settings: Settings, model_id: str) -> None:
    """Count embedded text in the tally at the paid embedding API's price; never fails the sync."""
    if not result.embedded_text:
        return
    try:
        from app.savings import prices
        from app.savings.service import record_turn
        from app.savings.tally import Turn

        record_turn(Turn(messages=[{"role": "user", "content": result.embedded_text}], reply="", source="embedding",
                         local_model=model_id, wall_s=result.seconds), settings,
                    row=prices.price_table()[prices.EMBEDDING_COMPARISON])
    except (HearthError, KeyError) as exc:
        log.warning("could not record embedding work in the tally: %s", exc)


def sync(name: str, settings: Settings, on_progress=None, should_stop=None) -> SyncResult:
    store = CollectionStore(name)
    indexer = Indexer(store, settings)
    try:
        result = indexer.sync(on_progress, should_stop)
    finally:
        indexer.close()
        store.close()
    record_embedding(result, settings, indexer.model.id)
    return result


def status(name: str) -> dict:
    store = CollectionStore(name)
    try:
        files = store.files()
        return {"name": name, "folders": [str(r) for r in store.roots()], **store.counts(),
                "embedding_model": store.meta("embed_model_id"),
                "skipped": [{"file": f.path, "reason": f.reason} for f in files.values() if f.status == "skipped"],
                "files": [{"file": f.path, "chunks": f.chunks, "pages": f.pages} for f in files.values()
                          if f.status == "indexed"],
                "partial": [{"file": f.path, "reason": f.reason} for f in files.values()
                            if f.status == "indexed" and f.reason]}
    finally:
        store.close()


def listing() -> list[dict]:
    rows = []
    for name in collection_names():
        try:
            store = CollectionStore(name)
        except HearthError as exc:
            rows.append({"name": name, "error": str(exc)})
            continue
        try:
            rows.append({"name": name, "folders": [str(r) for r in store.roots()], **store.counts()})
        finally:
            store.close()
    return rows


def remove(name: str) -> None:
    store = CollectionStore(name)
    path = store.path
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


class Searcher:
    """Keeps one embedding process per model alive between questions (the window asks many)."""

    def __init__(self):
        self._embedders: dict[str, EmbedProcess] = {}
        self._stores: dict[str, CollectionStore] = {}

    def _store(self, name: str) -> CollectionStore:
        store = self._stores.get(name)
        if store is None or not store.path.exists():
            store = self._stores[name] = CollectionStore(name)
        return store

    def _embed(self, store: CollectionStore, text: str):
        model_path = store.meta("embed_model")
        if model_path is None:
            return None  # nothing indexed yet: full-text only
        embedder = self._embedders.get(model_path)
        if embedder is None or embedder.proc is None:
            model = ModelRegistry().resolve(model_path)
            embedder = EmbedProcess(model.path, embedding_threads(),
                                    pool_mean=not (model.info and model.info.is_embedding_model))
            embedder.start()
            self._embedders[model_path] = embedder
        return embedder.embed([text])[0]

    def search(self, names: list[str], question: str, k: int = 5) -> list[Hit]:
        if not question.strip():
            raise HearthError("empty question")
        hits: list[Hit] = []
        for name in names:
            store = self._store(name)
            hits.extend(search(store, self._embed(store, question), question, k))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def close(self) -> None:
        for embedder in self._embedders.values():
            embedder.close()
        for store in self._stores.values():
            store.close()
        self._embedders.clear()
        self._stores.clear()


@dataclass
class Prompt:
    messages: list[dict]
    citations: list[Hit] = field(default_factory=list)


def build_prompt(question: str, hits: list[Hit], context_tokens: int, reply_tokens: int,
                 history: list[dict] | None = None) -> Prompt:
    """Numbered passages in the prompt, as many as the context budget holds (best first)."""
    budget_chars = int((context_tokens - reply_tokens - 150) * CHARS_PER_TOKEN) - len(question) - len(ANSWER_RULES)
    budget_chars -= sum(len(m.get("content", "")) for m in history or [])
    used, blocks, cited = 0, [], []
    for hit in hits:
        block = f"[{len(cited) + 1}] {hit.where()}" + (f" ({hit.heading})" if hit.heading else "") + f"\n{hit.text}"
        if used + len(block) > budget_chars:
            if not cited and budget_chars > 200:  # at least part of the best passage
                block = block[:budget_chars]
            else:
                break
        blocks.append(block)
        cited.append(hit)
        used += len(block) + 2
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    messages = [{"role": "system", "content": ANSWER_RULES}, *(history or []), {"role": "user", "content": user}]
    return Prompt(messages, cited)


def citations_as_dicts(hits: list[Hit]) -> list[dict]:
    return [{"n": i + 1, "where": h.where(), **h.as_dict()} for i, h in enumerate(hits)]

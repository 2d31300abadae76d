"""Finding the passages that answer a question: BM25 and vectors, fused.

Full-text search (SQLite FTS5, BM25) finds passages that share the
question's words; vector search (cosine over unit vectors) finds ones that
mean the same in other words. Reciprocal rank fusion merges the two lists
without having to compare their scores. The relevance cut-off keeps a
passage only if it shares a word with the question or, for models built for
embeddings, its cosine similarity reaches ``MIN_SIMILARITY``; a chat model
used for embedding (the starter) places everything close together, so with
it a passage must also match a word. No passage left means "not found",
never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.docs.store import CollectionStore

RRF_K = 60
CANDIDATES = 50
MIN_SIMILARITY = 0.3
_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset("""a an and are as at be but by can could did do does for from had has have how i if in
into is it its me my no not of on or our she so than that the their them then there these they this to was we
were what when where which who whom why will with would you your about tell say says said please""".split())


@dataclass
class Hit:
    file: str
    page: int | None
    lines: list[int] | None
    heading: str
    text: str
    score: float
    similarity: float

    def as_dict(self) -> dict:
        return {"file": self.file, "page": self.page, "lines": self.lines, "heading": self.heading,
                "score": round(self.score, 6), "similarity": round(self.similarity, 4), "text": self.text}

    def where(self) -> str:
        from pathlib import Path

        from app.display import shown_name

        name = shown_name(Path(self.file).name)
        if self.page:
            return f"{name}, page {self.page}"
        if self.lines:
            return f"{name}, lines {self.lines[0]}-{self.lines[1]}"
        return name


def fts_query(question: str) -> str:
    """The question's words as an FTS5 OR query, quoted so no word is read as syntax."""
    words = [w.lower() for w in _WORD.findall(question)]
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1] or [w for w in words if len(w) > 1]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(kept))


def search(store: CollectionStore, query_vector, question: str, k: int = 5) -> list[Hit]:
    import numpy as np

    match = fts_query(question)
    text_ids = store.full_text(match, CANDIDATES) if match else []
    ids, matrix = store.matrix()
    similarity: dict[int, float] = {}
    vector_ids: list[int] = []
    if len(ids) and query_vector is not None:
        scores = matrix @ np.asarray(query_vector, dtype=np.float32)
        top = min(CANDIDATES, len(scores))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        vector_ids = [int(ids[i]) for i in best]
        similarity = {int(ids[i]): float(scores[i]) for i in best}
    native = store.meta("embedding_native") == "1"
    fused: dict[int, float] = {}
    for ranking in (text_ids, vector_ids):
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    text_set = set(text_ids)
    relevant = [c for c in fused if c in text_set or (native and similarity.get(c, 0.0) >= MIN_SIMILARITY)]
    relevant.sort(key=lambda c: -fused[c])
    chosen = relevant[:k]
    missing = [c for c in chosen if c not in similarity and len(ids)]
    if missing and query_vector is not None:  # text-only hits outside the vector top list: for display
        for c in missing:
            row = int(np.searchsorted(ids, c))  # ids are ascending
            if row < len(ids) and ids[row] == c:
                similarity[c] = float(matrix[row] @ np.asarray(query_vector, dtype=np.float32))
    rows = store.chunks_by_id(chosen)
    return [Hit(rows[c]["file"], rows[c]["page"], rows[c]["lines"], rows[c]["heading"], rows[c]["text"],
                fused[c], similarity.get(c, 0.0)) for c in chosen if c in rows]

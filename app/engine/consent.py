"""Passages from local files go to a remote engine only after the user agreed, once per collection
and server; the answer is remembered in ``remote-consent.json``."""

from __future__ import annotations

from app import paths
from app.config import read_json_rows, write_json_atomic


def granted() -> set[tuple[str, str]]:
    return {(r.get("engine", ""), r.get("collection", "")) for r in read_json_rows(paths.remote_consent_file(),
                                                                                   "consents")}


def grant(engine: str, collections: list[str]) -> None:
    pairs = granted() | {(engine, c) for c in collections}
    write_json_atomic(paths.remote_consent_file(), {"version": 1, "consents": [
        {"engine": e, "collection": c} for e, c in sorted(pairs)]})

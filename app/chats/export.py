"""A conversation as Markdown (to read and share) or JSON (to process), both versioned."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from app.chats.reasoning import split_reasoning
from app.chats.store import COMPLETE, Conversation, Message

EXPORT_FORMAT = "hearth-chat"
EXPORT_VERSION = 2  # 2: ids, parent ids and the branch on show (a conversation is a tree)
_ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def to_json(conversation: Conversation, messages: list[Message], tree: list[Message] | None = None) -> str:
    """Version 2: every message of every branch (``tree``, when given), each with its ``id`` and
    ``parent_id``, and ``branch``: the ids of the branch on show, in order."""
    everything = tree if tree is not None else messages
    data = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "id": conversation.id,
        "title": conversation.title,
        "created": _iso(conversation.created),
        "updated": _iso(conversation.updated),
        "settings": conversation.settings,
        "branch": [m.id for m in messages],
        "messages": [
            {"id": m.id, "parent_id": m.parent_id, "role": m.role, "content": m.content,
             "created": _iso(m.created), "status": m.status, "model": m.model, "stats": m.stats,
             **({"error": m.error} if m.error else {}), **({"canned": True} if m.canned else {})}
            for m in everything
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_markdown(conversation: Conversation, messages: list[Message]) -> str:
    lines = [f"# {conversation.title}", "",
             f"_Exported from Hearth on {_iso(conversation.updated)[:10]} · {len(messages)} messages_", ""]
    system = conversation.settings.get("system_prompt")
    if system:
        lines += ["## System prompt", "", system, ""]
    for m in messages:
        heading = _ROLE_NAMES.get(m.role, m.role.title())
        if m.role == "assistant" and m.model:
            heading += f" ({m.model})"
        lines += [f"## {heading}", ""]
        split = split_reasoning(m.content) if m.role == "assistant" else None
        if split is not None and split.has_reasoning:
            thought = f" for {m.stats['reasoning_s']:.0f} s" if m.stats.get("reasoning_s") else ""
            lines += [f"<details><summary>Thought{thought}</summary>", "", split.reasoning.strip(), "", "</details>",
                      "", split.answer.rstrip(), ""]
        else:
            lines += [m.content.rstrip(), ""]
        citations = m.stats.get("citations") or []
        if citations:
            lines += ["**Sources**", ""]
            for c in citations:
                passage = " ".join(str(c.get("text", "")).split())[:200]
                lines.append(f"{c.get('n')}. {c.get('where', c.get('file', ''))}: {passage}")
            lines.append("")
        notes = []
        if m.stats.get("completion_tokens"):
            notes.append(f"{m.stats['completion_tokens']} tokens")
        if m.stats.get("tokens_per_s"):
            notes.append(f"{m.stats['tokens_per_s']:.1f} tokens/s")
        if m.status != COMPLETE:
            notes.append(m.status)
        if notes:
            lines += [f"_{' · '.join(notes)}_", ""]
    return "\n".join(lines).rstrip() + "\n"

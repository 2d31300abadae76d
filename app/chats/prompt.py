"""What the model sees for a conversation: its system prompt, then the saved turns.

Replies Hearth wrote itself (``canned``: "nothing relevant found") are left
out with the question they answered: the model must never read them as its
own words, and chat templates want user and assistant turns to alternate.
"""

from __future__ import annotations

from app.chats.reasoning import answer_only
from app.chats.store import Message

SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")


def chat_messages(settings: dict, history: list[Message]) -> list[dict]:
    messages = []
    system = (settings.get("system_prompt") or "").strip()
    if system:
        messages.append({"role": "system", "content": system})
    for m in history:
        if m.canned:
            if messages and messages[-1]["role"] == "user":
                messages.pop()
            continue
        if m.role in ("user", "assistant") and (m.content or m.role == "user"):
            # A reasoning model's earlier thinking is not sent back: its answer is the turn (the
            # Qwen3, DeepSeek-R1 and gpt-oss templates drop it from history themselves).
            content = answer_only(m.content) if m.role == "assistant" else m.content
            messages.append({"role": m.role, "content": content})
    return messages


def sampling_overrides(settings: dict) -> dict:
    return {k: settings[k] for k in SAMPLING_KEYS if settings.get(k) is not None}

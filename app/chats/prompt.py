"""What the model sees for a conversation: its system prompt, then the saved turns.

Replies Hearth wrote itself (``canned``: "nothing relevant found") are left
out with the question they answered: the model must never read them as its
own words, and chat templates want user and assistant turns to alternate.
"""

from __future__ import annotations

from app.chats.store import Message

SAMPLING_KEYS = ("temperature", "top_p", "max_tokens")


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
            messages.append({"role": m.role, "content": m.content})
    return messages


def sampling_overrides(settings: dict) -> dict:
    return {k: settings[k] for k in SAMPLING_KEYS if settings.get(k) is not None}

"""A reasoning model's reply, split into its reasoning and its answer.

Current open models think before they answer, and mark it in one of two ways:

- tags: ``<think>…</think>`` (Qwen3, DeepSeek-R1 and its distills, Phi-4
  reasoning). R1-style templates open the tag in the generation prompt, so the
  reply itself may hold only the closing ``</think>``;
- channels: gpt-oss writes ``<|channel|>analysis<|message|>…<|end|>`` and then
  ``<|start|>assistant<|channel|>final<|message|>…`` (its "harmony" format).

The reply is stored as the model wrote it (the tally bills every token, as the
paid reasoning APIs bill theirs as output); the window shows the reasoning in a
collapsed section and the model's next turn sees only the answer, unless its
template asks for the reasoning (``reasoning_content``).
Works on partial text: a reply still streaming may be mid-tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"
_CHANNEL = re.compile(r"<\|channel\|>(\w+)(?:\s[^<]*)?<\|message\|>")
_HARMONY_TAGS = re.compile(r"<\|(?:start|end|return|call)\|>(?:assistant)?")


@dataclass
class Split:
    reasoning: str
    answer: str
    thinking: bool  # the reasoning is not finished (still streaming, or cut off)

    @property
    def has_reasoning(self) -> bool:
        return bool(self.reasoning.strip()) or self.thinking


def _partial_marker_at_end(text: str, marker: str) -> int:
    """Length of a prefix of ``marker`` that ends ``text`` (a tag split across tokens)."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0


def split_reasoning(text: str) -> Split:
    if "<|channel|>" in text:
        return _split_channels(text)
    stripped = text.lstrip()
    if stripped.startswith(OPEN):
        body = stripped[len(OPEN):]
        end = body.find(CLOSE)
        if end < 0:
            cut = _partial_marker_at_end(body, CLOSE)
            return Split(body[:len(body) - cut] if cut else body, "", True)
        return Split(body[:end], body[end + len(CLOSE):].lstrip("\n"), False)
    if not stripped or OPEN.startswith(stripped):  # "<thi" so far: wait for the rest
        return Split("", "", bool(stripped))
    end = text.find(CLOSE)
    if end >= 0 and OPEN not in text[:end]:  # the template opened the tag: only the close is in the reply
        return Split(text[:end], text[end + len(CLOSE):].lstrip("\n"), False)
    return Split("", text, False)


def _split_channels(text: str) -> Split:
    reasoning, answer, thinking = [], [], False
    matches = list(_CHANNEL.finditer(text))
    for i, match in enumerate(matches):
        body = text[match.end():matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        body = _HARMONY_TAGS.split(body)[0]
        finished = i + 1 < len(matches) or bool(_HARMONY_TAGS.search(text[match.end():]))
        if match.group(1) == "final":
            answer.append(body)
        else:  # "analysis" (and "commentary": tool preambles) are the model's own working
            reasoning.append(body)
            thinking = not finished
    return Split("\n".join(reasoning), "".join(answer), thinking and not answer)


def answer_only(text: str) -> str:
    """What the model said to the user: the text to show, copy and send back in the history."""
    split = split_reasoning(text)
    return split.answer if split.has_reasoning else text


def wants_reasoning(template: str | None) -> bool:
    """Whether a chat template lays out earlier turns' reasoning itself."""
    return bool(template) and ("reasoning_content" in template or "thinking" in template)

"""Text and source files attached to a message: read with a limit, never blindly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.errors import HearthError

# ~16k tokens of code: enough for a large module, small enough for common context sizes.
MAX_ATTACHMENT_BYTES = 64_000
_FENCE_LANG = {".py": "python", ".js": "javascript", ".ts": "typescript", ".rs": "rust", ".go": "go",
               ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
               ".rb": "ruby", ".php": "php", ".sh": "bash", ".sql": "sql", ".json": "json",
               ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown", ".html": "html",
               ".css": "css", ".kt": "kotlin", ".swift": "swift", ".txt": ""}


@dataclass
class Attachment:
    name: str
    text: str
    size: int
    truncated: bool

    @property
    def warning(self) -> str | None:
        if not self.truncated:
            return None
        return (f"{self.name} is {self.size // 1000} KB: only the first {MAX_ATTACHMENT_BYTES // 1000} KB "
                "will be sent to the model")

    def as_prompt(self) -> str:
        lang = _FENCE_LANG.get(Path(self.name).suffix.lower(), "")
        note = " (truncated)" if self.truncated else ""
        return f"Attached file `{self.name}`{note}:\n```{lang}\n{self.text.rstrip()}\n```"


def read_attachment(path: str | Path) -> Attachment:
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            data = handle.read(MAX_ATTACHMENT_BYTES + 1)
    except FileNotFoundError:
        raise HearthError(f"{path.name}: no such file") from None
    except IsADirectoryError:
        raise HearthError(f"{path.name} is a folder; attach a single text or source file") from None
    except OSError as exc:
        raise HearthError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if b"\0" in data[:8192]:
        raise HearthError(f"{path.name} looks like a binary file; only text and source files can be attached")
    truncated = len(data) > MAX_ATTACHMENT_BYTES
    text = data[:MAX_ATTACHMENT_BYTES].decode("utf-8", errors="replace")
    if not text.strip():
        raise HearthError(f"{path.name} is empty")
    return Attachment(path.name, text, size, truncated)


def message_with(text: str, attachments: list[Attachment]) -> str:
    parts = [a.as_prompt() for a in attachments]
    if text.strip():
        parts.append(text.strip())
    return "\n\n".join(parts)

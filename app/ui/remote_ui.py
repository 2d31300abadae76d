"""What the window shows and asks about remote engines: labels, the privacy notice, and the
once-per-collection question before document passages leave this machine."""

from __future__ import annotations

from app.engine.remote import RemoteModel
from app.engine.remotes import find
from app.ui.qt import QMessageBox


def is_remote(model) -> bool:
    return isinstance(model, RemoteModel)


def notice(model) -> str:
    config = find(model.engine) if is_remote(model) else None
    where = f"{config.name} ({config.base_url})" if config else model.engine
    return (f"Remote model: your messages in this chat are sent to {where}. Your chats, documents, indexes "
            "and savings stay on this machine.")


def confirm_documents(parent, model, collections: list[str], granted: set) -> list[str] | None:
    """The collections the user agreed to send passages from to this server now (None: not this time)."""
    if not is_remote(model):
        return []
    pending = [c for c in collections if (model.engine, c) not in granted]
    if not pending:
        return []
    answer = QMessageBox.question(
        parent, "Send document passages?",
        f"Answering from {', '.join(repr(c) for c in pending)} sends passages of your local files to the remote "
        f"engine {model.engine!r}. Allow this for {('these collections' if len(pending) > 1 else 'this collection')} "
        "and this server from now on?")
    return pending if answer == QMessageBox.Yes else None

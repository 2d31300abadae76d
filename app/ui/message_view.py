"""One message in the conversation: header, body, stats and actions.

Messages render as Markdown with highlighted code blocks (each with its
language and a Copy link), the user's too, so pasted code keeps its colours.
A reasoning model's thinking (app/chats/reasoning.py) shows above its answer as
a collapsed "Thought for 12 s" section that streams while it is written. The body grows
to fit its text so the conversation scrolls as one page, while a long code
line scrolls sideways inside its own message instead of wrapping.
"""

from __future__ import annotations

import html
import os
from urllib.parse import quote

from app.chats.reasoning import answer_only, split_reasoning
from app.chats.render import render_markdown
from app.chats.store import COMPLETE, ERROR, INTERRUPTED, STOPPED, STREAMING
from app.ui import icons
from app.ui.qt import (
    QApplication, QByteArray, QColor, QDesktopServices, QFrame, QHBoxLayout, QImage, QLabel, QSizePolicy, Qt,
    QTextBrowser, QTextDocument, QTextOption, QToolButton, QUrl, QVBoxLayout, Signal,
)

# A message's actions at rest: present (clickable, focusable) but quiet, so a long conversation reads as text.
_QUIET_COLOURS = {False: "#8c959f", True: "#7d8590"}  # light, dark: 3:1 against the background
_QUIET = "QToolButton {{ color: {}; }} QToolButton:focus {{ color: palette(button-text); }}"

_STATUS_NOTES = {STOPPED: "stopped", ERROR: "failed", INTERRUPTED: "interrupted (the app closed mid-reply)"}


def stats_line(model: str | None, stats: dict, status: str) -> str:
    parts = []
    if model:
        parts.append(model)
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("ttft_ms"):
        parts.append(f"first token {stats['ttft_ms']:.0f} ms")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tokens/s")
    if stats.get("stop_reason") == "length" and status == COMPLETE:
        written = stats.get("completion_tokens", 0)
        parts.append(f"stopped at the {written}-token limit")
    if stats.get("template_note"):
        parts.append("ChatML used: the model's chat template failed")
    if status in _STATUS_NOTES:
        parts.append(_STATUS_NOTES[status])
    return " · ".join(parts)


class _Body(QTextBrowser):
    """A text view as tall as its content."""

    def __init__(self):
        super().__init__()
        self.setFrameShape(QFrame.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setOpenLinks(False)
        self.setWordWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.horizontalScrollBar().rangeChanged.connect(self._fit)

    def loadResource(self, kind, url):
        """Refuses every resource. Our renderer makes no images, and Qt would read any
        path it met on the GUI thread (a named pipe hangs it, /dev/zero exhausts memory).
        An empty value, not None: None makes Qt fall back to reading the file itself."""
        return QImage() if kind == QTextDocument.ImageResource else QByteArray()

    def _fit(self, *_):
        height = int(self.document().size().height()) + 4
        bar = self.horizontalScrollBar()
        if bar.maximum() > 0:
            height += bar.sizeHint().height()
        if self.height() != height:
            self.setFixedHeight(height)


def open_source(link: str) -> None:
    QDesktopServices.openUrl(QUrl(link))


class MessageView(QFrame):
    """Signals: ``copied(str)`` (what was copied, for the status bar), ``edit_requested()``,
    ``regenerate_requested()``, ``continue_requested()`` (a reply cut by the length limit)."""

    copied = Signal(str)
    edit_requested = Signal()
    regenerate_requested = Signal()
    continue_requested = Signal()
    branch_requested = Signal(int)  # the sibling to show instead of this message
    fork_requested = Signal()

    def __init__(self, role: str, content: str, dark: bool, status: str = COMPLETE,
                 model: str | None = None, stats: dict | None = None, error: str | None = None,
                 parent=None):
        # Born with its parent: a parentless widget is briefly a top-level window,
        # which can take activation away from the main window.
        super().__init__(parent)
        self.role = role
        self.content = content
        self.dark = dark
        self._quiet = _QUIET.format(_QUIET_COLOURS[dark])
        self.status = status
        self.code_blocks: list[str] = []
        self.languages: list[str] = []
        self.setFrameShape(QFrame.StyledPanel if role == "user" else QFrame.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.header = QLabel("You" if role == "user" else "Assistant")
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        top = QHBoxLayout()
        top.addWidget(self.header)
        self.message_id: int | None = None
        self.siblings: list[int] = []
        self.previous_button = self._nav_button("‹", "Previous version", -1)
        self.branch_label = QLabel(accessibleName="Version")
        self.next_button = self._nav_button("›", "Next version", 1)
        for widget in (self.previous_button, self.branch_label, self.next_button):
            top.addWidget(widget)
            widget.setVisible(False)
        top.addStretch(1)
        layout.addLayout(top)
        self.reasoning_toggle = QToolButton(self)
        self.reasoning_toggle.setCheckable(True)
        self.reasoning_toggle.setAutoRaise(True)
        self.reasoning_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.reasoning_toggle.setArrowType(Qt.RightArrow)
        self.reasoning_toggle.setAccessibleName("Show the model's reasoning")
        self.reasoning_toggle.toggled.connect(self._show_reasoning)
        layout.addWidget(self.reasoning_toggle, 0, Qt.AlignLeft)
        self.reasoning = QLabel(wordWrap=True, accessibleName="Reasoning")
        self.reasoning.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # Muted but legible in both palettes (palette(mid) was too faint to read in the light one).
        muted, rule = ("#b8bcc2", "#4a4f55") if dark else ("#57606a", "#d0d7de")
        self.reasoning.setStyleSheet(f"QLabel {{ color: {muted}; padding: 2px 8px 6px 10px; margin-left: 8px; "
                                     f"border-left: 3px solid {rule}; }}")
        layout.addWidget(self.reasoning)
        self._reasoning_text = ""
        self._thought_s: float | None = None
        self._thinking = False
        self.body = _Body()
        self.body.setAccessibleName(f"{self.header.text()} message")
        self.body.anchorClicked.connect(self._on_link)
        layout.addWidget(self.body)
        self.sources = QLabel()
        self.sources.setAccessibleName("Sources")
        self.sources.setWordWrap(True)
        self.sources.setTextFormat(Qt.RichText)
        self.sources.linkActivated.connect(open_source)
        self.sources.setVisible(False)
        layout.addWidget(self.sources)
        footer = QHBoxLayout()
        self.footer = QLabel(wordWrap=True)  # wraps in a narrow column instead of widening it
        self.footer.setAccessibleName("Reply statistics")
        self.footer.setTextInteractionFlags(Qt.TextSelectableByMouse)
        footer.addWidget(self.footer, 1)
        self.copy_button = self._button("copy", "Copy message", self.copy_all)
        footer.addWidget(self.copy_button)
        self.edit_button = self._button("edit", "Edit and resend", self.edit_requested.emit)
        footer.addWidget(self.edit_button)
        self.fork_button = self._button("fork", "Fork a new chat from here", self.fork_requested.emit)
        footer.addWidget(self.fork_button)
        self.continue_button = self._button("continue", "Continue the reply", self.continue_requested.emit,
                                            text="Continue")  # the way on after a cut reply: worth words
        footer.addWidget(self.continue_button)
        self.regenerate_button = self._button("regenerate", "Regenerate reply", self.regenerate_requested.emit)
        footer.addWidget(self.regenerate_button)
        layout.addLayout(footer)
        # Only once the footer belongs to this widget: showing a parentless
        # button would open it as a window of its own and steal focus.
        self.edit_button.setVisible(role == "user")
        self.regenerate_button.setVisible(False)
        self.continue_button.setVisible(False)
        self.reasoning_toggle.setVisible(False)
        self.reasoning.setVisible(False)
        self.set_content(content)
        self.set_stats(model, stats or {}, status, error)

    def _nav_button(self, text: str, accessible: str, step: int) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setAutoRaise(True)
        button.setAccessibleName(accessible)
        button.clicked.connect(lambda: self._step(step))
        return button

    def set_place(self, message_id: int | None, siblings: list[int]) -> None:
        """Where this message sits: its id, and its versions (regenerated replies, edited messages)."""
        self.message_id, self.siblings = message_id, list(siblings or [])
        many = len(self.siblings) > 1 and message_id in self.siblings
        for widget in (self.previous_button, self.branch_label, self.next_button):
            widget.setVisible(many)
        if many:
            index = self.siblings.index(message_id)
            self.branch_label.setText(f"{index + 1}/{len(self.siblings)}")
            self.previous_button.setEnabled(index > 0)
            self.next_button.setEnabled(index < len(self.siblings) - 1)

    def _step(self, step: int) -> None:
        if self.message_id in self.siblings:
            index = self.siblings.index(self.message_id) + step
            if 0 <= index < len(self.siblings):
                self.branch_requested.emit(self.siblings[index])

    def _button(self, shape: str, accessible: str, slot, text: str = "") -> QToolButton:
        """An icon-only action (its name is its tooltip and accessible name), faint until hovered."""
        button = QToolButton(self)
        button.setAutoRaise(True)
        button.setAccessibleName(accessible)
        button.setToolTip(accessible)
        if text:
            button.setText(text)
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        button.setProperty("hearth_icon", shape)
        button.clicked.connect(slot)
        self._actions = getattr(self, "_actions", []) + [button]
        self._show_actions(False, [button])
        return button

    def _show_actions(self, forward: bool, buttons=None) -> None:
        quiet = QColor(_QUIET_COLOURS[self.dark])
        for button in buttons if buttons is not None else getattr(self, "_actions", []):
            shape = button.property("hearth_icon")
            button.setIcon(icons.icon(shape, button.palette()) if forward else icons.icon_in(shape, quiet))
            button.setStyleSheet("" if forward else self._quiet)

    def enterEvent(self, event):  # noqa: N802
        """Per-message actions come forward on hover; they stay in the tab order and keep their names."""
        self._show_actions(True)
        super().enterEvent(event)

    def leaveEvent(self, event):  # noqa: N802
        self._show_actions(False)
        super().leaveEvent(event)

    def set_content(self, text: str, streaming: bool = False) -> None:
        self.content = text
        shown = text
        if self.role == "assistant":
            split = split_reasoning(text)
            if split.has_reasoning:
                shown = split.answer
                self._set_reasoning(split.reasoning.strip(), split.thinking and streaming)
        rendered = render_markdown(shown, dark=self.dark, streaming=streaming)
        self.code_blocks, self.languages = rendered.code_blocks, rendered.languages
        bar = self.body.horizontalScrollBar()
        position = bar.value()
        self.body.setHtml(rendered.html or "&nbsp;")
        bar.setValue(position)

    def _set_reasoning(self, text: str, thinking: bool) -> None:
        self._reasoning_text, self._thinking = text, thinking
        self.reasoning_toggle.setVisible(True)
        self._label_reasoning()
        if self.reasoning_toggle.isChecked():  # only an open section pays for the text's layout
            self.reasoning.setText(text or "(no reasoning text)")

    def _label_reasoning(self) -> None:
        if self._thinking:
            label = "Thinking…"
        elif self._thought_s is not None:
            label = f"Thought for {self._thought_s:.0f} s" if self._thought_s >= 1 else "Thought for a moment"
        else:
            label = "Reasoning"
        self.reasoning_toggle.setText(label)

    def _show_reasoning(self, shown: bool) -> None:
        self.reasoning_toggle.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        self.reasoning_toggle.setAccessibleName("Hide the model's reasoning" if shown else "Show the model's reasoning")
        if shown:
            self.reasoning.setText(self._reasoning_text or "(no reasoning text)")
        self.reasoning.setVisible(shown)

    def set_stats(self, model: str | None, stats: dict, status: str, error: str | None = None) -> None:
        self.status = status
        self.cut_by_limit = status == COMPLETE and stats.get("stop_reason") == "length"
        if stats.get("reasoning_s") is not None:
            self._thought_s = float(stats["reasoning_s"])
            self._thinking = False
            self._label_reasoning()
        text = stats_line(model, stats, status) if self.role == "assistant" else ""
        if error:
            text = f"{text} · {error}" if text else error
        self.footer.setText(text)
        self.copy_button.setEnabled(status != STREAMING)
        self.set_sources(stats.get("citations") or [])

    def set_sources(self, citations: list[dict]) -> None:
        """The passages a document answer cites: where each is, and a link that opens the file."""
        if not citations:
            self.sources.setVisible(False)
            return
        rows = []
        for c in citations:
            # From the name's bytes: a name that is not UTF-8 still opens the right file.
            target = "file://" + quote(os.fsencode(c["file"]))
            if c.get("page"):
                target += f"#page={c['page']}"  # PDF viewers that honour it open at the page
            passage = html.escape(" ".join(c["text"].split())[:220])
            rows.append(f"<p><b>[{c['n']}]</b> <a href=\"{html.escape(target)}\">{html.escape(c['where'])}</a>"
                        f"<br><span style='color:gray'>{passage}</span></p>")
        self.sources.setText("<b>Sources</b>" + "".join(rows))
        self.sources.setVisible(True)

    def copy_all(self) -> None:
        QApplication.clipboard().setText(answer_only(self.content) if self.role == "assistant" else self.content)
        self.copied.emit("message")

    def _on_link(self, url) -> None:
        if url.scheme() == "copy":
            index = int(url.path() or url.toString().split(":", 1)[1])
            if 0 <= index < len(self.code_blocks):
                QApplication.clipboard().setText(self.code_blocks[index])
                self.copied.emit(f"{self.languages[index]} code")

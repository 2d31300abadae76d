"""What an empty chat shows: three prompts to start from, and the way to a better model.

The starter model is a 135M-parameter demo; a new user should see at once
which real model suits this machine and how to get it. The recommendation is
worked out off the GUI thread (catalog, memory, and the speed profile when it
has been measured) and filled in when it arrives.
"""

from __future__ import annotations

from app.ui.qt import QFrame, QHBoxLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget, Signal

EXAMPLES = (
    ("Explain code", "Explain what this Python does, line by line:\n\n```python\n"
                     "print(sorted(set(open('log.txt').read().split()), key=len)[-3:])\n```"),
    ("Write a function", "Write a Python function that checks whether a string is a valid IPv4 address, "
                         "with tests."),
    ("Draft an email", "Draft a short, friendly email asking a colleague to review my pull request by Friday."),
)


def recommend():
    """The catalog model that suits this machine best, or None (runs off the GUI thread)."""
    from app import hardware
    from app.library import speed
    from app.library.catalog import Estimator, best_for_this_machine, load_catalog

    total, _available = hardware.memory_bytes()
    return best_for_this_machine(load_catalog(), Estimator(4096, speed.machine_profile(measure=False)), total)


class Welcome(QWidget):
    """Signals: ``prompt_chosen(str)``, ``library_requested(object)`` (the recommended catalog model or None)."""

    prompt_chosen = Signal(str)
    library_requested = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.recommended = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        title = QLabel("What can I help with?")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        layout.addWidget(QLabel("Everything runs on this machine: nothing you type leaves it.", wordWrap=True))
        row = QHBoxLayout()
        self.examples = []
        for label, prompt in EXAMPLES:
            button = QPushButton(label)
            button.setAccessibleName(f"Example: {label}")
            button.setToolTip(prompt)
            button.clicked.connect(lambda _checked=False, p=prompt: self.prompt_chosen.emit(p))
            row.addWidget(button)
            self.examples.append(button)
        row.addStretch(1)
        layout.addLayout(row)
        self.card = card = QFrame()
        card.setFrameShape(QFrame.StyledPanel)
        card_layout = QVBoxLayout(card)
        heading = QLabel("Get a better model")
        bold = heading.font()
        bold.setBold(True)
        heading.setFont(bold)
        card_layout.addWidget(heading)
        self.advice = QLabel("The built-in starter model is a tiny demo. Finding the model that suits this "
                             "machine…", wordWrap=True)
        self.advice.setAccessibleName("Recommended model")
        card_layout.addWidget(self.advice)
        self.library_button = QPushButton("Open the model library")
        self.library_button.setAccessibleName("Open the model library")
        self.library_button.clicked.connect(lambda: self.library_requested.emit(self.recommended))
        card_layout.addWidget(self.library_button, 0, Qt.AlignLeft)
        layout.addWidget(card)
        layout.addStretch(1)

    def show_recommendation(self, recommendation) -> None:
        self.recommended = recommendation.model if recommendation is not None else None
        if recommendation is None:
            self.advice.setText("The built-in starter model is a tiny demo. The model library lists current open "
                                "models with whether each fits this machine and how fast it would run.")
            return
        self.advice.setText(f"The built-in starter model is a tiny demo. Best for this machine: "
                            f"{recommendation.describe()}. {recommendation.model.why}")
        self.library_button.setText(f"Get {recommendation.model.name}…")

"""The cost-avoided tally in the main window: the running total in the status bar,
each reply's bill as the tooltip of its statistics line, and the dashboard.

Replies are counted by the conversation service as they finish; this only
reads the tally, on the DB lane.
"""

from __future__ import annotations

from app.config import Settings
from app.savings.service import comparison_row, stale_prices_note
from app.savings.tally import usd
from app.ui.message_view import MessageView
from app.ui.qt import QObject, QPushButton, tip


class SavingsStatus(QObject):
    def __init__(self, window, runner, settings: Settings):
        super().__init__(window)
        self.window = window
        self.runner = runner
        self.settings = settings
        self.dialog = None
        self.button = QPushButton("Saved $0.0000")
        self.button.setFlat(True)
        self.button.setAccessibleName("API cost avoided")
        self.button.clicked.connect(self.open_dashboard)
        window.statusBar().addPermanentWidget(self.button)

    def refresh(self) -> None:
        settings = self.settings.copy()
        self.runner.run(lambda: (self.runner.tasks.savings_store().totals(), comparison_row(settings)),
                        on_done=self._show)

    def _show(self, result) -> None:
        totals, row = result
        approx = "≈" if totals["approximate"] else ""
        stale = stale_prices_note(totals, row)
        # Until history is re-priced, the total is not "vs" the newly chosen model: say what it is.
        versus = "recorded prices" if stale else row.name
        self.button.setText(f"Saved {approx}{usd(totals['net_usd'], 4)} vs {versus}")
        lower = "\nReasoning models also bill hidden tokens: the real bill would be higher." \
            if totals["lower_bound"] else ""
        self.button.setToolTip(tip(
            f"{totals['replies']} replies would have cost {approx}{usd(totals['gross_usd'], 4)} on {row.name} "
            f"(prices of {row.effective_date}); electricity used: {usd(totals['energy_usd'], 4)}.{lower}\n"
            + (f"{stale}\n" if stale else "") + "Click for the savings dashboard."))

    def show_reply_costs(self, pairs: list[tuple[int, MessageView]]) -> None:
        """Tooltips for the replies of a conversation just opened: (message id, view) pairs."""
        views = dict(pairs)
        ids = list(views)

        def done(records):
            for message_id, record in records.items():
                view = views.get(message_id)
                if view is not None and view in self.window.chat.views:
                    view.footer.setToolTip(tip(record.tooltip()))

        self.runner.run(lambda: self.runner.tasks.savings_store().for_messages(ids), on_done=done)

    def open_dashboard(self) -> None:
        from app.ui.savings_dialog import SavingsDialog

        self.dialog = SavingsDialog(self.settings, self.runner, self.window)
        self.dialog.settings_changed.connect(self._settings_changed)
        self.dialog.show()

    def _settings_changed(self) -> None:
        self.refresh()  # the settings themselves are saved by the window's subscription

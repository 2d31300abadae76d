"""The savings dashboard: totals, a chart over time, and the at-scale calculator.

Signals: ``settings_changed()`` after the comparison model, electricity price,
wattage, a price row or the re-pricing changed (the status bar refreshes its
total; the settings themselves are saved by the window's subscription).
Every tally query runs on the window's DB lane. The chart uses
pyqtgraph (pure Python on top of Qt; Qt's own charting module would need the
much larger PySide6-Addons).
"""

from __future__ import annotations

import html

from datetime import date
from decimal import Decimal, InvalidOperation

from app.config import Settings
from app.savings import prices
from app.engine.loadtest import saved_results
from app.savings.scale import GPT4_AT_SCALE, Scenario, SelfHosted
from app.savings.service import comparison_row, stale_prices_note
from app.savings.tally import usd
from app.errors import HearthError
from app.ui.qt import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPalette, QPushButton, QTabWidget, QVBoxLayout,
    QWidget, Qt, Signal,
)


class SavingsDialog(QDialog):
    settings_changed = Signal()

    def __init__(self, settings: Settings, runner, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self.setWindowTitle("Savings: the API cost avoided")
        self.resize(760, 560)
        tabs = QTabWidget()
        tabs.addTab(self._totals_tab(), "Totals")
        tabs.addTab(self._chart_tab(), "Over time")
        tabs.addTab(self._scale_tab(), "At scale")
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        self.refresh()

    # --- totals --------------------------------------------------------------------
    def _totals_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.comparison = QComboBox()
        self.comparison.setAccessibleName("Comparison model")
        for row in prices.price_table().values():
            if row.output_per_m is not None:  # chat models only
                self.comparison.addItem(f"{row.name} ({row.provider})", row.id)
        self.comparison.setCurrentIndex(max(0, self.comparison.findData(self.settings.comparison_model)))
        self.comparison.activated.connect(self._comparison_chosen)
        form.addRow("Compare with", self.comparison)
        self.price_info = QLabel()
        self.price_info.setWordWrap(True)
        self.price_info.setOpenExternalLinks(False)
        form.addRow("Prices", self.price_info)
        self.kwh_price = QLineEdit(self.settings.electricity_usd_per_kwh)
        self.kwh_price.setAccessibleName("Electricity price per kWh")
        self.kwh_price.editingFinished.connect(self._energy_edited)
        form.addRow("Electricity, USD per kWh", self.kwh_price)
        self.watts = QLineEdit(str(self.settings.device_watts))
        self.watts.setAccessibleName("Device watts")
        self.watts.setToolTip("Used where the CPU's energy counter cannot be read; 'auto' picks by device class")
        self.watts.editingFinished.connect(self._energy_edited)
        form.addRow("Power while running (W)", self.watts)
        self.summary = QLabel(textFormat=Qt.RichText)  # our own markup; price names are escaped
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Savings totals")
        form.addRow(self.summary)
        self.edit_price_button = QPushButton("Edit this model's price…")
        self.edit_price_button.setAccessibleName("Edit price")
        self.edit_price_button.clicked.connect(self.edit_price)
        form.addRow(self.edit_price_button)
        self.reprice_button = QPushButton("Re-price history with these prices")
        self.reprice_button.setAccessibleName("Re-price history")
        self.reprice_button.clicked.connect(self._reprice)
        form.addRow(self.reprice_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        form.addRow(self.message)
        return page

    def refresh(self) -> None:
        settings = self.settings.copy()
        self.runner.run(lambda: (self.runner.tasks.savings_store().totals(), comparison_row(settings),
                                 {by: self.runner.tasks.savings_store().grouped(by)
                                  for by in ("day", "model", "conversation", "source")}),
                        on_done=self._show)

    def _show(self, result) -> None:
        totals, row, groups = result
        self._groups = groups
        approx = "≈" if totals["approximate"] else ""
        self.price_info.setText(
            f"{row.name}: ${row.input_per_m} input / ${row.output_per_m} output per 1M tokens, in effect since "
            f"{row.effective_date} ({row.date_basis}). Source: {row.source}"
            + ("\nNo public tokenizer: token counts are estimated from GPT-4o's, so figures are approximate (≈)."
               if row.approximate else ""))
        lines = [
            f"Replies: {totals['replies']:,}",
            f"Tokens processed: {totals['input_tokens']:,} input, {totals['output_tokens']:,} output",
            f"Would have cost: {approx}{usd(totals['gross_usd'], 4)}",
            f"Electricity: {totals['energy_kwh'].quantize(Decimal('0.000001'))} kWh = {usd(totals['energy_usd'], 4)}"
            f" ({totals['energy_measured']} of {totals['replies']} replies measured by the CPU's energy counter)",
            f"<b>Net saved: {approx}{usd(totals['net_usd'], 4)}</b>",
            *[f"of which {html.escape(label)} (coding tools through the API server): {approx}{usd(net, 4)}"
              for label, _gross, net, _tokens in groups.get("source", []) if label.startswith("API: ")],
        ]
        if totals["lower_bound"]:
            lines.append("Reasoning models bill hidden reasoning tokens that cannot be known: "
                         "the real bill would be higher, so this is a lower bound.")
        stale = stale_prices_note(totals, row)
        if stale:
            lines.insert(0, f"<b>{html.escape(stale)}</b>")
        self.summary.setText("<br>".join(lines))
        self._draw_chart()

    def _comparison_chosen(self, index: int) -> None:
        self.settings.set("comparison_model", self.comparison.itemData(index))
        self.settings_changed.emit()
        self.refresh()

    def _energy_edited(self) -> None:
        try:
            price = str(Decimal(self.kwh_price.text().strip()))
            watts_text = self.watts.text().strip()
            watts = "auto" if watts_text == "auto" else str(Decimal(watts_text))
            self.settings.update({"electricity_usd_per_kwh": price, "device_watts": watts})
        except (InvalidOperation, HearthError) as exc:  # a typo: say so, keep the old value
            self.message.setText(f"Not a valid number: {exc}")
            return
        self.message.setText("Applies to replies from now on; re-price does not change energy already recorded.")
        self.settings_changed.emit()

    def edit_price(self) -> None:
        row = prices.price_table()[self.comparison.currentData()]
        editor = PriceEditor(row, self)
        editor.accepted.connect(lambda: self._save_price(editor.values()))
        editor.open()
        self.price_editor = editor

    def _save_price(self, data: dict) -> None:
        def done(row):
            self.message.setText(f"Saved {row.key}. Replies from now on use it; re-price to apply it to history.")
            self.settings_changed.emit()
            self.refresh()

        self.runner.run(prices.save_user_row, data, on_done=done,
                        on_error=lambda exc: self.message.setText(f"Price not saved: {exc}"))

    def _reprice(self) -> None:
        settings = self.settings.copy()

        def done(report):
            self.message.setText(
                f"Re-priced {report['replies']} replies with {report['price_key']}: {report['changed']} changed; "
                f"would-have-cost total {usd(report['gross_before_usd'], 4)} → {usd(report['gross_after_usd'], 4)}.")
            self.settings_changed.emit()
            self.refresh()

        self.runner.run(lambda: self.runner.tasks.savings_store().reprice(comparison_row(settings)), on_done=done)

    # --- chart ---------------------------------------------------------------------
    def _chart_tab(self) -> QWidget:
        import pyqtgraph as pg

        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.group_by = QComboBox()
        self.group_by.setAccessibleName("Group by")
        for label, key in (("Per day", "day"), ("Per model", "model"), ("Per conversation", "conversation"),
                           ("Per source (chat, documents, coding tools)", "source")):
            self.group_by.addItem(label, key)
        self.group_by.currentIndexChanged.connect(self._draw_chart)
        row.addWidget(QLabel("Net saved (USD)"))
        row.addStretch(1)
        row.addWidget(self.group_by)
        layout.addLayout(row)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.Base))  # follow light or dark
        self.plot.setAccessibleName("Savings chart")
        self.plot.showGrid(y=True, alpha=0.3)
        layout.addWidget(self.plot, 1)
        self._groups = {}
        return page

    def _draw_chart(self) -> None:
        import pyqtgraph as pg

        groups = self._groups.get(self.group_by.currentData(), [])
        self.plot.clear()
        if not groups:
            return
        values = [float(net) for _label, _gross, net, _tokens in groups]
        bars = pg.BarGraphItem(x=list(range(len(values))), height=values, width=0.6, brush="#3a7bd5")
        self.plot.addItem(bars)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, label[-10:]) for i, (label, *_rest) in enumerate(groups)]])

    # --- at scale ------------------------------------------------------------------
    def _scale_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        form = QFormLayout()
        self.scale_fields: dict[str, QLineEdit] = {}
        for key, label in (("monthly_users", "Monthly users"),
                           ("conversations_per_user", "Conversations per user per month"),
                           ("input_tokens_per_conversation", "Input tokens per conversation"),
                           ("output_tokens_per_conversation", "Output tokens per conversation"),
                           ("paid_input_per_m", "Paid API: USD per 1M input tokens"),
                           ("paid_output_per_m", "Paid API: USD per 1M output tokens"),
                           ("open_input_per_m", "Open model: USD per 1M input tokens"),
                           ("open_output_per_m", "Open model: USD per 1M output tokens")):
            field = QLineEdit()
            field.setAccessibleName(label)
            field.textChanged.connect(self._calculate)
            self.scale_fields[key] = field
            form.addRow(label, field)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        preset = QPushButton("Preset: GPT-4 at 5M users ($10M vs $50K)")
        preset.setAccessibleName("Load the GPT-4 at scale preset")
        preset.clicked.connect(lambda: self.load_scenario(GPT4_AT_SCALE))
        buttons.addWidget(preset)
        current = QPushButton("Use the comparison model's prices")
        current.setAccessibleName("Use the comparison model's prices")
        current.clicked.connect(self._use_comparison_prices)
        buttons.addWidget(current)
        layout.addLayout(buttons)
        # A team's own server: its measured throughput and hourly cost price the open model.
        server = QFormLayout()
        self.server_fields: dict[str, QLineEdit] = {}
        for key, label, default in (("tokens_per_s", "Your server: measured tokens/s (hearth engines bench)", ""),
                                    ("usd_per_hour", "Your server: USD per hour", "2.00"),
                                    ("utilisation", "Your server: share of hours busy (0-1)", "0.5")):
            field = QLineEdit(default, accessibleName=label)
            self.server_fields[key] = field
            server.addRow(label, field)
        layout.addLayout(server)
        self.use_server = QPushButton("Price the open model from my server", accessibleName="Use my measured server")
        self.use_server.clicked.connect(self._use_server)
        layout.addWidget(self.use_server, 0, Qt.AlignLeft)
        self._bench_note = "no benchmark yet"
        self.runner.run(saved_results, on_done=self._bench_loaded)
        self.scale_result = QLabel(textFormat=Qt.RichText)  # numbers only
        self.scale_result.setWordWrap(True)
        self.scale_result.setAccessibleName("Monthly cost comparison")
        layout.addWidget(self.scale_result)
        self.scale_explanation = QLabel()
        self.scale_explanation.setWordWrap(True)
        layout.addWidget(self.scale_explanation)
        layout.addStretch(1)
        self.load_scenario(GPT4_AT_SCALE)
        return page

    def load_scenario(self, scenario: Scenario) -> None:
        self._scenario = scenario
        for key, field in self.scale_fields.items():
            field.blockSignals(True)
            field.setText(str(getattr(scenario, key)))
            field.blockSignals(False)
        self.scale_explanation.setText(scenario.explanation)
        self._calculate()

    def _bench_loaded(self, results: list[dict]) -> None:
        if results:
            best = max(results, key=lambda r: r.get("best_tokens_per_s", 0))
            self.server_fields["tokens_per_s"].setText(str(best.get("best_tokens_per_s", "")))
            self._bench_note = (f"{best.get('engine')}:{best.get('model')} on {best.get('measured_at', '?')}, "
                                f"best of {', '.join(str(level['streams']) for level in best.get('levels', []))} "
                                "concurrent streams")

    def _use_server(self) -> None:
        try:
            server = SelfHosted(*(Decimal(self.server_fields[k].text().strip())
                                  for k in ("tokens_per_s", "usd_per_hour", "utilisation")))
            output, inp = server.output_per_m(), server.input_per_m()
        except (InvalidOperation, ValueError):
            self.scale_explanation.setText("Your server's tokens/s, USD per hour and share busy must be numbers "
                                           "above zero (run 'hearth engines bench NAME' to measure tokens/s).")
            return
        self.scale_fields["open_input_per_m"].setText(str(inp))
        self.scale_fields["open_output_per_m"].setText(str(output))
        scenario = getattr(self, "_last_scenario", self._scenario)
        self.scale_explanation.setText(server.explain(self._bench_note) +
                                       f" This traffic needs about {server.servers_for(scenario):,.1f} such servers.")

    def _use_comparison_prices(self) -> None:
        row = prices.price_table().get(self.settings.comparison_model)
        if row and row.output_per_m is not None:
            self.scale_fields["paid_input_per_m"].setText(str(row.input_per_m))
            self.scale_fields["paid_output_per_m"].setText(str(row.output_per_m))
            self.scale_explanation.setText(f"Paid prices from {row.name}, in effect since {row.effective_date}.")

    def _calculate(self) -> None:
        try:
            values = {}
            for key, field in self.scale_fields.items():
                number = Decimal(field.text().strip())
                if number < 0:
                    raise InvalidOperation
                values[key] = int(number) if key in ("monthly_users", "input_tokens_per_conversation",
                                                     "output_tokens_per_conversation") else number
        except InvalidOperation:
            self.scale_result.setText("Every field needs a number of zero or more.")
            return
        scenario = self._last_scenario = self._scenario.with_values(**values)
        inp, out = scenario.tokens_per_month()
        ratio = scenario.ratio()
        self.scale_result.setText(
            f"{inp + out:,.0f} tokens a month.<br>"
            f"<b>Paid API: {usd(scenario.paid_monthly_usd())} a month</b> · "
            f"<b>open model: {usd(scenario.open_monthly_usd())} a month</b>"
            + (f" · {ratio:.0f}× cheaper" if ratio else ""))


class PriceEditor(QDialog):
    """Your own price for a model: a new dated row that replaces the shipped one from now on."""

    def __init__(self, row, parent=None):
        super().__init__(parent)
        self.row = row
        self.setWindowTitle(f"Price of {row.name}")
        form = QFormLayout(self)
        self.fields = {}
        for key, label, value in (
                ("input_per_m", "USD per 1M input tokens", row.input_per_m),
                ("output_per_m", "USD per 1M output tokens", row.output_per_m),
                ("cached_input_per_m", "USD per 1M cached input tokens", row.cached_input_per_m),
                ("effective_date", "In effect since (YYYY-MM-DD)", date.today().isoformat()),
                ("source", "Source (URL or note)", "")):
            field = QLineEdit("" if value is None else str(value))
            field.setAccessibleName(label)
            self.fields[key] = field
            form.addRow(label, field)
        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        data = self.row.as_json()
        data.pop("user", None)
        for key, field in self.fields.items():
            data[key] = field.text().strip() or None
        data["source"] = data["source"] or "entered by the user"
        data["date_basis"] = "entered by the user"
        return data

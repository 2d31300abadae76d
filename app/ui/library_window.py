"""The model library: installed models, the catalog and Hub search, and the download queue.

Hub calls run on the window's network lane and the one-off speed
measurement on its CPU lane, so a slow Hub never delays the chat store; the
download queue reports here through a queued signal. Downloads go on
when this window is closed: the queue belongs to the main window.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from app.config import Settings
from app.errors import HearthError
from app.gguf.header import human_bytes
from app.library import download_queue as dq
from app.library.catalog import USE_LABELS, CatalogModel, Estimator, load_catalog
from app.library.hub import GGUFFile
from app.library.registry import InstalledModel, ModelRegistry
from app.library.speed import describe_speed
from app.ui import icons
from app.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QObject,
    QProgressBar,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal, tip,
)
from app.ui.tasks import CPU, NETWORK, TaskManager

log = logging.getLogger(__name__)
OFFLINE_NOTE = "Offline mode is on: Hub search and downloads are disabled (File → Settings to change)."
INSTALLED_COLUMNS = ("Model", "Architecture", "Parameters", "Quantization", "Context", "Chat template", "Disk",
                     "Source", "Fits?")
FILE_COLUMNS = ("Quantization", "Size", "Fits?", "Speed here", "File")


class QueueSignals(QObject):
    """Carries the download thread's reports to the GUI thread."""

    changed = Signal(object)


def table_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemIsEditable)
    return item


class DownloadRow(QWidget):
    def __init__(self, job: dq.Job, queue: dq.DownloadQueue):
        super().__init__()
        self.job_id = job.id
        self.name = QLabel(f"<b>{html.escape(job.file)}</b> <span style='color:gray'>from {html.escape(job.repo)}</span>",
                           textFormat=Qt.RichText)
        self.bar = QProgressBar()
        self.bar.setAccessibleName(f"Progress of {job.file}")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.pause_button.clicked.connect(lambda: queue.pause(self.job_id))
        self.resume_button.clicked.connect(lambda: queue.resume(self.job_id))
        self.cancel_button.clicked.connect(lambda: queue.cancel(self.job_id))
        layout = QVBoxLayout(self)
        layout.addWidget(self.name)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        for button in (self.pause_button, self.resume_button, self.cancel_button):
            row.addWidget(button)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.update_job(job)

    def update_job(self, job: dq.Job) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * job.done_bytes / job.size) if job.size else 0)
        self.status.setText(job.describe())
        self.pause_button.setVisible(job.state in (dq.QUEUED, dq.RUNNING))
        self.resume_button.setVisible(job.state in (dq.PAUSED, dq.FAILED))
        self.resume_button.setText("Retry" if job.state == dq.FAILED else "Resume")
        self.cancel_button.setVisible(job.state not in dq.FINISHED)


class LibraryWindow(QDialog):
    def __init__(self, settings: Settings, tasks: TaskManager, queue: dq.DownloadQueue, signals: QueueSignals,
                 parent=None):
        super().__init__(parent)
        self.settings = settings
        self.queue = queue
        self.setWindowTitle("Model library")
        self.resize(1000, 640)
        self.setAcceptDrops(True)
        self.runner = tasks.scope(self)  # results are dropped once this window is closed
        self.runner.failed.connect(self.show_error)
        self.installed: list[InstalledModel] = []
        self.estimator: Estimator | None = None
        self.catalog = load_catalog()
        self.files: list[GGUFFile] = []
        self.files_are_embedding = False  # embedding models have no generation speed to show
        self.files_model: CatalogModel | None = None  # the catalog entry the files come from, for its MoE shape
        self.current_repo: str | None = None
        self.rows: dict[int, DownloadRow] = {}
        self._retry = None
        self._build()
        signals.changed.connect(self._job_changed)
        for job in queue.snapshot():
            self._job_changed(job)
        self.refresh_installed()
        self.apply_offline()
        self.runner.run(self._make_estimator, self.settings.context_length, lane=CPU, on_done=self._estimator_ready)

    # --- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.tabs = QTabWidget()
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        self.error.setAccessibleName("Library error")
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self._do_retry)
        error_row = QHBoxLayout()
        error_row.addWidget(self.error, 1)
        error_row.addWidget(self.retry_button)
        self.error.hide()
        self.retry_button.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(error_row)
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._build_installed(), "Installed")
        self.tabs.addTab(self._build_discover(), "Discover")
        self.tabs.addTab(self._build_downloads(), "Downloads")
        self.tabs.currentChanged.connect(lambda _index: self.clear_error())  # an error belongs to its tab

    def _build_installed(self) -> QWidget:
        page = QWidget()
        self.table = QTableWidget(0, len(INSTALLED_COLUMNS))
        self.table.setHorizontalHeaderLabels(INSTALLED_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName("Installed models")
        import_button = QPushButton("Import GGUF file…")
        icons.set_icon(import_button, "import")
        import_button.clicked.connect(self.choose_import)
        scan_button = QPushButton("Use models from other apps")
        scan_button.setToolTip("Hugging Face cache, LM Studio, Ollama and GPT4All: used in place, never copied")
        scan_button.clicked.connect(self.scan_other_apps)
        self.delete_button = QPushButton("Delete")
        icons.set_icon(self.delete_button, "delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.disk_label = QLabel()
        buttons = QHBoxLayout()
        for button in (import_button, scan_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.disk_label)
        layout = QVBoxLayout(page)
        hint = QLabel("Drop .gguf files here to use them in place (nothing is copied).")
        hint.setStyleSheet("color: gray")
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        return page

    def _build_discover(self) -> QWidget:
        page = QWidget()
        self.offline_note = QLabel(OFFLINE_NOTE)
        self.offline_note.setWordWrap(True)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search the Hugging Face Hub for GGUF models")
        self.search_box.setAccessibleName("Search the Hub")
        self.search_box.returnPressed.connect(self.search)
        self.sort = QComboBox()
        self.sort.addItems(["downloads", "likes", "recent"])
        self.sort.setAccessibleName("Sort by")
        self.search_button = QPushButton("Search")
        icons.set_icon(self.search_button, "search")
        self.search_button.clicked.connect(self.search)
        catalog_button = QPushButton("Recommended")
        catalog_button.clicked.connect(self.show_catalog)
        top = QHBoxLayout()
        top.addWidget(self.search_box, 1)
        top.addWidget(self.sort)
        top.addWidget(self.search_button)
        top.addWidget(catalog_button)
        self.results = QListWidget()
        self.results.setAccessibleName("Repositories")
        self.results.setMinimumWidth(300)  # room for a model name and its purpose
        self.results.currentItemChanged.connect(self._result_chosen)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.PlainText)
        self.file_table = QTableWidget(0, len(FILE_COLUMNS))
        self.file_table.setHorizontalHeaderLabels(FILE_COLUMNS)
        self.file_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.file_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.file_table.horizontalHeader().setStretchLastSection(True)
        self.file_table.setAccessibleName("Files")
        self.file_table.doubleClicked.connect(lambda _index: self.download_selected())
        self.download_button = QPushButton("Download")
        icons.set_icon(self.download_button, "download")
        self.download_button.clicked.connect(self.download_selected)
        self.machine_note = QLabel("Measuring this machine for speed estimates…")
        self.machine_note.setStyleSheet("color: gray")
        self.machine_note.setWordWrap(True)  # a long note must not widen the window (it did, by 150 px)
        right = QVBoxLayout()
        right.addWidget(self.details)
        right.addWidget(self.file_table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.machine_note, 1)
        bottom.addWidget(self.download_button)
        right.addLayout(bottom)
        body = QHBoxLayout()
        body.addWidget(self.results, 2)
        body.addLayout(right, 3)
        layout = QVBoxLayout(page)
        layout.addWidget(self.offline_note)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        return page

    def _build_downloads(self) -> QWidget:
        page = QWidget()
        self.download_list = QVBoxLayout()
        self.no_downloads = QLabel("No downloads. Pick a file under Discover.")
        self.download_list.addWidget(self.no_downloads)
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.clear_finished)
        layout = QVBoxLayout(page)
        layout.addLayout(self.download_list)
        layout.addStretch(1)
        layout.addWidget(clear, 0, Qt.AlignRight)
        return page

    # --- errors ----------------------------------------------------------------------------
    def show_error(self, message: str, retry=None) -> None:
        self.error.setText(message)
        self.error.show()
        self._retry = retry
        self.retry_button.setVisible(retry is not None)

    def clear_error(self) -> None:
        self.error.hide()
        self.retry_button.hide()
        self._retry = None

    def _do_retry(self) -> None:
        retry, self._retry = self._retry, None
        self.clear_error()
        if retry is not None:
            retry()

    def apply_offline(self) -> None:
        offline = self.settings.offline
        self.offline_note.setVisible(offline)
        for widget in (self.search_box, self.search_button, self.download_button):
            widget.setEnabled(not offline)

    # --- installed -------------------------------------------------------------------------
    def refresh_installed(self) -> None:
        context_length = self.settings.context_length  # a value for the job, never the live settings

        def job():
            from app import hardware
            from app.library.fit import fit

            _total, available = hardware.memory_bytes()
            models = ModelRegistry().models()
            return [(m, fit(m.info, context_length, available) if m.info else None) for m in models]
        self.runner.run(job, on_done=self._show_installed)

    def _show_installed(self, rows) -> None:
        self.installed = [m for m, _f in rows]
        self.table.setRowCount(len(rows))
        used = 0
        for r, (m, estimate) in enumerate(rows):
            size = m.path.stat().st_size if m.path.exists() else 0
            used += size if m.source not in ("imported", "starter") else 0  # only what is in the models folder
            info = m.info
            values = ([m.id, info.architecture, info.size_label, info.quantization,
                       str(info.context_length or "?"), "yes" if info.chat_template else "no (ChatML)"]
                      if info else [m.id, f"unusable: {m.problem}", "", "", "", ""])
            values += [human_bytes(size), {"imported": "in place", "starter": "built in"}.get(m.source, "downloaded"),
                       estimate.describe() if estimate else ""]
            for c, value in enumerate(values):
                self.table.setItem(r, c, table_item(value))
        self.table.resizeColumnsToContents()
        self.disk_label.setText(f"Models folder uses {human_bytes(used)}")

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.import_paths([Path(path)])

    def import_paths(self, paths: list[Path], copy: bool = False) -> None:
        def job():
            registry = ModelRegistry()
            return [registry.import_model(p, copy=copy) for p in paths]
        self.runner.run(job, on_done=lambda _models: self._models_changed(), on_error=lambda e: self.show_error(str(e)))

    def dragEnterEvent(self, event):  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)

    def scan_other_apps(self) -> None:
        def job():
            from app.library.other_tools import scan

            registry = ModelRegistry()
            in_use = {m.path.resolve() for m in registry.models(read_headers=False)}
            added = [registry.import_model(f.path, model_id=f.suggested_id) for f in scan()
                     if f.path.resolve() not in in_use]
            return added

        def done(added):
            names = ", ".join(m.id for m in added)
            QMessageBox.information(self, "Models from other apps",
                                    f"Now using in place: {names}." if added else
                                    "No new GGUF models found from the Hugging Face cache, LM Studio, Ollama "
                                    "or GPT4All.")
            self._models_changed()
        self.runner.run(job, on_done=done)

    def delete_selected(self) -> None:
        row = self.table.currentRow()
        if row < 0 or row >= len(self.installed):
            return
        model = self.installed[row]
        if model.is_starter:
            self.show_error("The starter model is part of Hearth and cannot be deleted.")
            return
        what = ("Forget it? The file stays where it is." if model.source == "imported"
                else f"Delete {model.path.name} ({human_bytes(model.path.stat().st_size)}) from disk?")
        answer = QMessageBox.question(self, "Delete model", f"{model.id}: {what}")
        if answer == QMessageBox.Yes:
            self.runner.run(lambda: ModelRegistry().remove(model.id), on_done=lambda _m: self._models_changed(),
                            on_error=lambda e: self.show_error(str(e)))

    def _models_changed(self) -> None:
        self.refresh_installed()
        parent = self.parent()
        if parent is not None and hasattr(parent, "refresh_models"):
            parent.refresh_models()

    # --- discover --------------------------------------------------------------------------
    @staticmethod
    def _make_estimator(context_length: int) -> Estimator:
        from app.library import speed

        return Estimator(context_length, speed.machine_profile())

    def _estimator_ready(self, estimator: Estimator) -> None:
        self.estimator = estimator
        p = estimator.profile
        self.machine_note.setText(
            "Speed estimated on the CPU from this machine's memory bandwidth "
            f"({p.bandwidth_gbs:.0f} GB/s) and the starter model's speed ({p.starter_tps:.0f} tok/s)."
            if p else "Speed estimates need the starter model.")
        self._show_files()
        if self.results.count() == 0:
            self.show_catalog()

    def show_catalog(self) -> None:
        self.results.clear()
        for m in self.catalog.models:
            moe = " · MoE" if m.moe else ""  # every use is in the details and the tooltip
            item = QListWidgetItem(f"★ {m.name} · {USE_LABELS[m.purpose]}{moe}")
            item.setData(Qt.UserRole, m)
            item.setToolTip(tip(f"{m.why}\n{m.uses_label()}"))
            self.results.addItem(item)
        self.results.setCurrentRow(0)

    def show_model(self, model_id: str) -> None:
        """Pick a catalog model in the Discover list (the welcome screen's recommendation)."""
        self.show_catalog()
        for row in range(self.results.count()):
            data = self.results.item(row).data(Qt.UserRole)
            if isinstance(data, CatalogModel) and data.id == model_id:
                self.results.setCurrentRow(row)
                return

    def search(self) -> None:
        if self.settings.offline:
            self.show_error(OFFLINE_NOTE)
            return
        query, sort = self.search_box.text().strip(), self.sort.currentText()
        self.clear_error()
        self.search_button.setEnabled(False)
        from app.library import hub

        offline = self.settings.offline
        self.runner.run(lambda: hub.search(query, sort, 50, offline=offline), lane=NETWORK,
                        on_done=self._show_results, on_error=lambda e: self._net_failed(e, self.search))

    def _net_failed(self, error: Exception, retry) -> None:
        self.search_button.setEnabled(not self.settings.offline)
        self.show_error(str(error), retry)

    def _show_results(self, results) -> None:
        self.search_button.setEnabled(True)
        self.results.clear()
        for r in results:
            item = QListWidgetItem(f"{r.id}  ·  {r.downloads:,} downloads  ·  {r.likes:,} likes")
            item.setData(Qt.UserRole, r.id)
            self.results.addItem(item)
        if not results:
            self.details.setText("No GGUF repositories match that search.")
            self.files = []
            self._show_files()
        else:
            self.results.setCurrentRow(0)

    def _result_chosen(self, item, _previous=None) -> None:
        if item is None:
            return
        data = item.data(Qt.UserRole)
        if isinstance(data, CatalogModel):
            self.current_repo = data.repo
            self.details.setText(f"{data.name} · {data.repo}\n{data.why}\n{data.facts()}"
                                 f"\nCatalog of {self.catalog.made}; checked against {data.source}")
            self.files = [GGUFFile(f.file, f.quantization, f.size_bytes, [f.file], [f.sha256]) for f in data.files]
            self.files_are_embedding = data.is_embedding
            self.files_model = data
            self._show_files()
            return
        self.files_model = None
        self.current_repo = data
        self.details.setText(f"{data}: loading…")
        self.files = []
        self._show_files()
        if self.settings.offline:
            self.details.setText(f"{data}: {OFFLINE_NOTE}")
            return
        from app.library import hub

        offline = self.settings.offline
        self.runner.run(lambda: hub.repo_details(data, offline=offline), lane=NETWORK, on_done=self._show_details,
                        on_error=lambda e: self._net_failed(e, lambda: self._result_chosen(item)))

    def _show_details(self, details) -> None:
        if details.id != self.current_repo:
            return  # the user moved on
        description = f"\n{details.description}" if details.description else ""
        self.details.setText(f"{details.id} · license {details.license or 'not stated'} · "
                             f"{details.downloads:,} downloads · {details.likes:,} likes{description}")
        self.files = details.files
        self.files_are_embedding = "embed" in details.id.lower()
        self._show_files()

    def _show_files(self) -> None:
        from app.library.shape import params_of_model

        self.file_table.setRowCount(len(self.files))
        params = params_of_model([(g.size, g.quantization) for g in self.files])  # one repository, one model
        for r, f in enumerate(self.files):
            shape = self._shape(f, params)
            estimate = self.estimator.for_shape(shape, self.files_are_embedding) if self.estimator else None
            offload = self.estimator.offload(shape, self.files_are_embedding) if self.estimator else None
            parts = f" ({len(f.parts)} parts)" if len(f.parts) > 1 else ""
            speed = ("embedding model" if self.files_are_embedding else
                     describe_speed(estimate.tokens_per_s)) if estimate else "…"
            if shape.moe and estimate and not self.files_are_embedding:
                speed += f" (MoE: {human_bytes(shape.read_bytes)} read per token)"
            values = [f.quantization, human_bytes(f.size),
                      estimate.fit.describe() if estimate else "…", speed, f.name + parts]
            for c, value in enumerate(values):
                item = table_item(value)
                if c == 3:
                    item.setToolTip(tip(self._speed_note(shape, offload)))
                self.file_table.setItem(r, c, item)
        self.file_table.resizeColumnsToContents()
        if self.files:
            self.file_table.selectRow(0)

    def _shape(self, f: GGUFFile, params: int | None):
        from app.library.shape import shape_for_file

        model = self.files_model
        match = next((c for c in model.files if c.file == f.name), None) if model else None
        return model.shape(match) if match else shape_for_file(f.size, f.quantization, params=params)

    @staticmethod
    def _speed_note(shape, offload) -> str:
        lines = ["Generation speed on this machine's CPU, estimated from its memory bandwidth and the bytes "
                 "each token reads."]
        if shape.moe:
            lines.append(f"{shape.moe.describe()}: a token reads {human_bytes(shape.read_bytes)} of the "
                         f"{human_bytes(shape.size_bytes)} file, while memory must hold all of it.")
        if offload:
            lines.append(f"GPU: {offload.describe()}.")
        return "\n".join(lines)

    def download_selected(self) -> None:
        row = self.file_table.currentRow()
        if row < 0 or row >= len(self.files) or self.current_repo is None:
            return
        if self.settings.offline:
            self.show_error(OFFLINE_NOTE)
            return
        chosen = self.files[row]
        try:
            self.queue.add(self.current_repo, chosen.name, chosen.size)
        except HearthError as exc:  # a hostile name from the Hub: say so, never crash
            self.show_error(str(exc))
        except Exception as exc:  # a bug: shown in one line, logged with its traceback
            log.exception("could not queue %s", chosen.name)
            self.show_error(f"{type(exc).__name__}: {exc}")
            return
        self.tabs.setCurrentIndex(2)

    # --- downloads -------------------------------------------------------------------------
    def _job_changed(self, job: dq.Job) -> None:
        row = self.rows.get(job.id)
        if row is None:
            row = DownloadRow(job, self.queue)
            self.rows[job.id] = row
            self.download_list.addWidget(row)
            self.no_downloads.hide()
        row.update_job(job)
        if job.state == dq.DONE:
            self.refresh_installed()

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        live = {j.id for j in self.queue.snapshot()}
        for job_id in [i for i in self.rows if i not in live]:
            self.rows.pop(job_id).deleteLater()
        self.no_downloads.setVisible(not self.rows)

    def closeEvent(self, event):  # noqa: N802
        super().closeEvent(event)

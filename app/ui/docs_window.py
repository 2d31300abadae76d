"""Document collections in the app: add folders, watch them, index with progress, pause.

``Indexing`` is the window's view of the app's ``IndexScheduler``: it turns
the scheduler's callbacks (on a CPU-lane thread) into Qt signals, and follows
the collections' folders with a QFileSystemWatcher, scheduling a sync a
moment after files change. The dialog only shows the scheduler; closing it
stops nothing. Every read of a collection's SQLite file runs on the DB lane.
"""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.display import count, shown_name
from app.docs import service
from app.docs.scheduler import IndexScheduler, Listener, watched_folders
from app.ui.qt import (
    QDialog, QFileDialog, QFileSystemWatcher, QHBoxLayout, QInputDialog, QLabel, QListWidget, QObject,
    QProgressBar, QPushButton, Qt, QTimer, QVBoxLayout, Signal,
)
from app.ui.tasks import CPU, TaskManager

WATCH_DELAY_MS = 2000


class Indexing(QObject):
    """Signals from the scheduler's thread, delivered on the GUI thread."""

    progress = Signal(str, int, int, str)  # collection, done, total, description
    finished = Signal(str, str)  # collection, summary
    failed = Signal(str, str)
    collections_changed = Signal()

    def __init__(self, tasks: TaskManager, settings: Settings, parent=None):
        super().__init__(parent)
        self.tasks = tasks.scope(self)
        # The indexing thread reads a snapshot taken here, on the GUI thread, whenever settings change.
        self._snapshot = settings.copy()
        settings.subscribe(lambda _names: setattr(self, "_snapshot", settings.copy()))
        self.scheduler = IndexScheduler(
            lambda: self._snapshot,
            Listener(progress=self._emit(self.progress), finished=self._emit(self.finished),
                     failed=self._emit(self.failed), collections_changed=self._emit(self.collections_changed)),
            spawn=lambda fn: tasks.submit(CPU, fn))
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._changed)
        self.watcher.fileChanged.connect(self._changed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.sync_all)

    @staticmethod
    def _emit(signal):
        def send(*args):
            try:
                signal.emit(*args)
            except RuntimeError:  # the app is closing
                pass
        return send

    def watch(self) -> None:
        """Watch every folder of every collection; the walk runs on the CPU lane."""
        self.tasks.run(watched_folders, lane=CPU, on_done=self._set_watched)

    def _set_watched(self, folders: list) -> None:
        old = self.watcher.directories()
        if old:
            self.watcher.removePaths(old)
        if folders:
            self.watcher.addPaths(folders)

    def _changed(self, _path: str) -> None:
        self._timer.start(WATCH_DELAY_MS)

    def sync_all(self) -> None:
        self.tasks.run(self.scheduler.sync_all, lane=CPU)

    def sync(self, name: str) -> None:
        self.scheduler.sync(name)

    def pause(self) -> None:
        self.scheduler.pause()

    def shutdown(self) -> None:
        self.scheduler.shutdown()


EMPTY_NOTE = ("No collections yet. Click \"New collection from folder…\" and pick a folder of documents "
              "(PDF, Word, PowerPoint, Excel, Markdown, text, HTML, CSV, JSON or code): Hearth indexes it on this "
              "machine, then tick it under the Documents button of a chat to ask questions with citations.")


class DocsWindow(QDialog):
    def __init__(self, indexing: Indexing, parent=None):
        super().__init__(parent)
        self.indexing = indexing
        self.tasks = indexing.tasks.tasks.scope(self)
        self.tasks.failed.connect(lambda message: self.state.setText(message))
        self.setWindowTitle("Documents")
        self.resize(760, 520)
        self.list = QListWidget()
        self.list.setAccessibleName("Collections")
        self.list.currentRowChanged.connect(self._show_details)
        self.details = QLabel()
        self.details.setTextFormat(Qt.PlainText)  # file names are not markup
        self.details.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Indexing progress")
        self.state = QLabel("Idle")
        self.state.setTextFormat(Qt.PlainText)
        self.state.setWordWrap(True)
        add = QPushButton("New collection from folder…")
        add.clicked.connect(self.choose_folder)
        self.sync_button = QPushButton("Sync / resume")
        self.sync_button.clicked.connect(lambda: self.current() and indexing.sync(self.current()))
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(indexing.pause)
        self.remove_button = remove = QPushButton("Remove collection")
        remove.clicked.connect(self.remove_current)
        self.pause_button.setEnabled(False)  # until something is indexing
        buttons = QHBoxLayout()
        for b in (add, self.sync_button, self.pause_button, remove):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Collections are indexed on this machine; nothing leaves it. "
                                "They follow their folders: new, changed and deleted files are picked up."))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.bar)
        layout.addWidget(self.state)
        layout.addLayout(buttons)
        indexing.progress.connect(self._progress)
        indexing.finished.connect(self._finished)
        indexing.failed.connect(lambda name, msg: (self.pause_button.setEnabled(False),
                                                   self.state.setText(f"{name}: {msg}")))
        indexing.collections_changed.connect(self.refresh)
        self.rows: list[dict] = []
        self.refresh()

    def current(self) -> str | None:
        row = self.list.currentRow()
        return self.rows[row]["name"] if 0 <= row < len(self.rows) else None

    def refresh(self) -> None:
        self.tasks.run(service.listing, on_done=self._show_rows)

    def _show_rows(self, rows: list[dict]) -> None:
        keep = self.current()
        self.rows = rows
        self.list.blockSignals(True)
        self.list.clear()
        for r in self.rows:
            if "error" in r:
                self.list.addItem(f"{r['name']}: {r['error']}")
            else:
                self.list.addItem(f"{r['name']}  ·  {count(r['indexed_files'], 'file')}, "
                                  f"{count(r['chunks'], 'passage')}, {r['skipped_files']:,} skipped")
        names = [r["name"] for r in self.rows]
        self.list.blockSignals(False)
        self.list.setCurrentRow(names.index(keep) if keep in names else (0 if names else -1))
        self._show_details(self.list.currentRow())

    def _show_details(self, _row: int) -> None:
        name = self.current()
        self.sync_button.setEnabled(name is not None)
        self.remove_button.setEnabled(name is not None)
        if name is None:
            self.details.setText(EMPTY_NOTE if not self.rows else "Pick a collection to see its folders and files.")
            return
        self.tasks.run(service.status, name, on_done=self._details_ready)

    def _details_ready(self, info: dict) -> None:
        if info["name"] != self.current():
            return  # another collection was chosen meanwhile
        lines = [f"  skipped {shown_name(Path(s['file']).name)}: {s['reason']}" for s in info["skipped"][:20]]
        lines += [f"  partly indexed {shown_name(Path(s['file']).name)}: {s['reason']}" for s in info["partial"][:20]]
        folders = ", ".join(shown_name(f) for f in info["folders"])
        self.details.setText("\n".join([f"Folders: {folders}", *lines]))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to add", str(Path.home()))
        if not folder:
            return
        name, ok = QInputDialog.getText(self, "New collection", "Name:", text=Path(folder).name)
        if ok and name:
            self.add_folder(name, Path(folder))

    def add_folder(self, name: str, folder: Path) -> None:
        def added(_result) -> None:
            self.refresh()
            self.indexing.watch()
            self.indexing.sync(name)

        self.tasks.run(lambda: service.add_paths(name, [folder]).close(), on_done=added,
                       on_error=lambda exc: self.state.setText(str(exc)))

    def remove_current(self) -> None:
        name = self.current()
        if name:
            self.indexing.pause()
            self.tasks.run(service.remove, name,
                           on_done=lambda _r: (self.refresh(), self.indexing.collections_changed.emit()),
                           on_error=lambda exc: self.state.setText(str(exc)))

    def _progress(self, name: str, done: int, total: int, text: str) -> None:
        self.pause_button.setEnabled(True)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.state.setText(f"Indexing {name}: {text}")

    def _finished(self, name: str, summary: str) -> None:
        self.pause_button.setEnabled(False)
        self.bar.setValue(self.bar.maximum())
        self.state.setText(f"{name}: {summary}")
        self.refresh()

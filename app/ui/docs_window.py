"""Document collections in the app: add folders, watch them, index with progress, pause.

Indexing runs on a plain thread (the reader and embedding processes do the
heavy work) and reports through queued signals. A QFileSystemWatcher on
each collection's folders schedules a sync a moment after files change, so
a collection follows its folders while the app runs; every start syncs too.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from app.config import Settings
from app.docs import service
from app.docs.indexer import IndexStopped
from app.ui.qt import (
    QDialog, QFileDialog, QFileSystemWatcher, QHBoxLayout, QInputDialog, QLabel, QListWidget, QObject,
    QProgressBar, QPushButton, QTimer, QVBoxLayout, Signal,
)

WATCH_DELAY_MS = 2000


class Indexing(QObject):
    """One sync at a time, queued by collection name; the GUI thread only receives signals."""

    progress = Signal(str, int, int, str)  # collection, done, total, description
    finished = Signal(str, str)  # collection, summary
    failed = Signal(str, str)
    collections_changed = Signal()
    _folders_found = Signal(list)

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self._queue: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: str | None = None
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._changed)
        self.watcher.fileChanged.connect(self._changed)
        self._folders_found.connect(self._set_watched)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.sync_all)

    def watch(self) -> None:
        """Watch every folder of every collection (and its sub-folders); the walk runs off the GUI thread."""
        threading.Thread(target=self._find_folders, name="hearth-watch", daemon=True).start()

    def _find_folders(self) -> None:
        folders = []
        for row in service.listing():
            for root in row.get("folders", []):
                for folder, dirs, _files in os.walk(root, followlinks=False):
                    dirs[:] = [d for d in dirs if not d.startswith(".")]
                    folders.append(folder)
                    if len(folders) > 2000:
                        break
        self._folders_found.emit(folders)

    def _set_watched(self, folders: list) -> None:
        old = self.watcher.directories()
        if old:
            self.watcher.removePaths(old)
        if folders:
            self.watcher.addPaths(folders)

    def _changed(self, _path: str) -> None:
        self._timer.start(WATCH_DELAY_MS)

    def sync_all(self) -> None:
        for name in service.listing():
            self.sync(name["name"])

    def sync(self, name: str) -> None:
        with self._lock:
            if name not in self._queue and name != self.current:
                self._queue.append(name)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="hearth-indexing", daemon=True)
                self._thread.start()

    def pause(self) -> None:
        """Stop after the current file; what is indexed stays, the next sync goes on from there."""
        with self._lock:
            self._queue.clear()
        self._stop.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self.current = None
                    return
                name = self.current = self._queue.pop(0)
            try:
                result = service.sync(name, self.settings,
                                      on_progress=lambda p: self.progress.emit(name, p.files_done, p.files_total,
                                                                               p.describe()),
                                      should_stop=self._stop.is_set)
            except IndexStopped as exc:
                self.failed.emit(name, str(exc))
                continue
            except Exception as exc:  # shown to the user; the app goes on
                self.failed.emit(name, str(exc))
                continue
            self.finished.emit(name, f"{result.indexed} indexed, {result.unchanged} unchanged, "
                                     f"{result.skipped} skipped, {result.removed} removed")
            self.collections_changed.emit()

    def shutdown(self) -> None:
        self.pause()
        if self._thread is not None:
            self._thread.join(10)


class DocsWindow(QDialog):
    def __init__(self, indexing: Indexing, parent=None):
        super().__init__(parent)
        self.indexing = indexing
        self.setWindowTitle("Documents")
        self.resize(760, 520)
        self.list = QListWidget()
        self.list.setAccessibleName("Collections")
        self.list.currentRowChanged.connect(self._show_details)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Indexing progress")
        self.state = QLabel("Idle")
        self.state.setWordWrap(True)
        add = QPushButton("New collection from folder…")
        add.clicked.connect(self.choose_folder)
        self.sync_button = QPushButton("Sync / resume")
        self.sync_button.clicked.connect(lambda: self.current() and indexing.sync(self.current()))
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(indexing.pause)
        remove = QPushButton("Remove collection")
        remove.clicked.connect(self.remove_current)
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
        indexing.failed.connect(lambda name, msg: self.state.setText(f"{name}: {msg}"))
        indexing.collections_changed.connect(self.refresh)
        self.rows: list[dict] = []
        self.refresh()

    def current(self) -> str | None:
        row = self.list.currentRow()
        return self.rows[row]["name"] if 0 <= row < len(self.rows) else None

    def refresh(self) -> None:
        keep = self.current()
        self.rows = service.listing()
        self.list.clear()
        for r in self.rows:
            if "error" in r:
                self.list.addItem(f"{r['name']}: {r['error']}")
            else:
                self.list.addItem(f"{r['name']}  ·  {r['indexed_files']} files, {r['chunks']} passages, "
                                  f"{r['skipped_files']} skipped")
        names = [r["name"] for r in self.rows]
        self.list.setCurrentRow(names.index(keep) if keep in names else (0 if names else -1))

    def _show_details(self, _row: int) -> None:
        name = self.current()
        if name is None:
            self.details.setText("No collections yet.")
            return
        info = service.status(name)
        skipped = "\n".join(f"  skipped {Path(s['file']).name}: {s['reason']}" for s in info["skipped"][:20])
        self.details.setText(f"Folders: {', '.join(info['folders'])}\n{skipped}".rstrip())

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to add")
        if not folder:
            return
        name, ok = QInputDialog.getText(self, "New collection", "Name:", text=Path(folder).name)
        if ok and name:
            self.add_folder(name, Path(folder))

    def add_folder(self, name: str, folder: Path) -> None:
        try:
            service.add_paths(name, [folder]).close()
        except Exception as exc:
            self.state.setText(str(exc))
            return
        self.refresh()
        self.indexing.watch()
        self.indexing.sync(name)

    def remove_current(self) -> None:
        name = self.current()
        if name:
            self.indexing.pause()
            service.remove(name)
            self.refresh()
            self.indexing.collections_changed.emit()

    def _progress(self, name: str, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.state.setText(f"Indexing {name}: {text}")

    def _finished(self, name: str, summary: str) -> None:
        self.bar.setValue(self.bar.maximum())
        self.state.setText(f"{name}: {summary}")
        self.refresh()

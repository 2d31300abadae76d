"""The one data folder every byte Hearth writes lives under, and every file in it, named once.

``HEARTH_HOME`` overrides the platform default so that tests, benchmarks and
portable installs never touch the user's real folder. Nothing else in the
code builds a path inside the data folder: it asks here.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

APP_NAME = "Hearth"


def data_dir() -> Path:
    override = os.environ.get("HEARTH_HOME")
    if override:
        root = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        root = Path(user_data_dir(APP_NAME, appauthor=False))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(root, exc) from None
    return root


def _unusable(folder: Path, exc: OSError):
    from app.errors import HearthError

    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason = "a file is in the way (it must be a folder)"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    elif exc.errno == errno.EROFS:
        reason = "it is on a read-only file system"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    where = "" if os.environ.get("HEARTH_HOME") is None else " (set by HEARTH_HOME)"
    return HearthError(f"the data folder {folder}{where} cannot be used: {reason}")


def check_data_dir() -> Path:
    """The data folder, proven writable: one readable error instead of failures scattered later."""
    root = data_dir()
    probe = root / f".write-check-{os.getpid()}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"x" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _unusable(root, exc) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return root


def _sub(name: str) -> Path:
    path = data_dir() / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(path, exc) from None
    return path


# --- folders ----------------------------------------------------------------
def models_dir() -> Path:
    """Downloaded GGUF files (and their ``.incomplete`` partial downloads)."""
    return _sub("models")


def docs_dir() -> Path:
    """One SQLite index per document collection: ``docs/NAME.db``."""
    return _sub("docs")


def logs_dir() -> Path:
    return _sub("logs")


# --- files --------------------------------------------------------------------
def settings_file() -> Path:
    return data_dir() / "settings.json"


def database_file() -> Path:
    """Conversations and messages."""
    return data_dir() / "hearth.db"


def savings_file() -> Path:
    """The cost-avoided tally."""
    return data_dir() / "savings.db"


def registry_file() -> Path:
    """Models imported by reference."""
    return data_dir() / "models.json"


def downloads_file() -> Path:
    """The download queue, resumed (paused) after a restart."""
    return data_dir() / "downloads.json"


def user_presets_file() -> Path:
    return data_dir() / "presets.json"


def user_prices_file() -> Path:
    return data_dir() / "prices.json"


def machine_profile_file() -> Path:
    """Measured memory bandwidth and engine speed, for speed estimates."""
    return data_dir() / "machine-profile.json"


def server_file() -> Path:
    """The API server's settings and its key (readable only by the user)."""
    return data_dir() / "server.json"


def engines_file() -> Path:
    """Remote engines (a team's inference servers): names, addresses, options; no keys."""
    return data_dir() / "engines.json"


def engine_keys_file() -> Path:
    """Remote engines' API keys where no system keyring is available (mode 0600)."""
    return data_dir() / "engine-keys.json"


def engine_bench_file() -> Path:
    """Measured throughput of remote engines (hearth engines bench), for the at-scale calculator."""
    return data_dir() / "engine-bench.json"


def remote_consent_file() -> Path:
    """Which document collections the user agreed to send passages from to which remote engine."""
    return data_dir() / "remote-consent.json"


def app_log_file() -> Path:
    return logs_dir() / "hearth.log"


def window_state_file() -> Path:
    """Where the main window was and how big (app/ui/window_state.py)."""
    return data_dir() / "window.json"


def network_log_file() -> Path:
    """Every network connection Hearth made or refused (app/netlog.py), one JSON line each."""
    return logs_dir() / "network.jsonl"


def worker_log_file() -> Path:
    """llama.cpp's own messages from the chat worker."""
    return logs_dir() / "worker.log"


def process_log_file(name: str) -> Path:
    """Native output of a helper process (``reader``, ``embed-worker``)."""
    return logs_dir() / f"{name}.log"

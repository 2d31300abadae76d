"""Every network connection a Hearth process makes, logged; in offline mode, refused.

An audit hook (PEP 578) sees each name lookup and socket connection before
it happens, whatever library makes it, in every Hearth process: the app and
CLI, the engine worker, the document reader and embedder. Each attempt is
written as one JSON line to ``logs/network.jsonl`` with its time, process,
host, port and purpose (set by the feature that asked, e.g. "Hub search");
``hearth doctor --network`` and Settings -> Privacy show that log.

Offline mode refuses every attempt with an ``OSError`` before any packet
leaves, and logs the refusal. Local sockets (Unix sockets, loopback
addresses: the API server's own clients, a model server on this machine)
are not the network and are neither refused nor logged.

Child processes learn the mode from ``HEARTH_OFFLINE`` in their environment,
which the parent keeps in step with the setting.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

OFFLINE_ENV = "HEARTH_OFFLINE"
OFFLINE_MESSAGE = "Hearth is in offline mode: network connections are refused (Settings -> Privacy)"

_purpose: contextvars.ContextVar[str] = contextvars.ContextVar("hearth_net_purpose", default="unlabelled")
_state = {"installed": False, "offline": False, "process": "hearth"}
_write_lock = threading.Lock()
_in_hook = threading.local()


class OfflineRefused(ConnectionRefusedError):
    """A connection refused by offline mode (an OSError: libraries report it as a failed connection)."""


def is_offline() -> bool:
    return _state["offline"]


def set_offline(offline: bool) -> None:
    """Switch the mode in this process and in every process it starts from now on."""
    _state["offline"] = bool(offline)
    if offline:
        os.environ[OFFLINE_ENV] = "1"
    else:
        os.environ.pop(OFFLINE_ENV, None)


@contextlib.contextmanager
def purpose(label: str):
    """Name what the connections made inside are for (shown in the log)."""
    token = _purpose.set(label)
    try:
        yield
    finally:
        _purpose.reset(token)


def install(process: str, offline: bool | None = None) -> None:
    """Start watching this process's connections (once per process)."""
    _state["process"] = process
    if offline is None:
        offline = os.environ.get(OFFLINE_ENV) == "1"
    set_offline(offline)
    if _state["installed"]:
        return
    _state["installed"] = True
    sys.addaudithook(_hook)


def _is_local_host(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in ("localhost", "localhost.localdomain", "ip6-localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple) -> None:
    if event == "socket.connect":
        sock, address = args
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return
        host, port = address[0], address[1]
        kind = "connect"
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        kind = "resolve"
    else:
        return
    if _is_local_host(host) or getattr(_in_hook, "active", False):
        return
    _in_hook.active = True  # writing the log must not log itself
    try:
        refused = _state["offline"]
        _record(kind, host, port, refused)
    finally:
        _in_hook.active = False
    if refused:
        raise OfflineRefused(OFFLINE_MESSAGE)


def _record(kind: str, host, port, refused: bool) -> None:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    entry = {"time": round(time.time(), 3), "process": _state["process"], "pid": os.getpid(), "event": kind,
             "host": str(host)[:255], "port": port if isinstance(port, int) else str(port or "")[:20],
             "purpose": _purpose.get(), "refused": refused}
    _append(entry)


def _append(entry: dict) -> None:
    try:
        from app import paths

        line = json.dumps(entry, ensure_ascii=True) + "\n"
        with _write_lock, open(paths.network_log_file(), "a", encoding="ascii") as log:
            log.write(line)
    except Exception:  # noqa: BLE001 (a log that cannot be written must not break the connection it notes)
        pass


def note_transfer(host: str, purpose_label: str, received: int, sent: int = 0) -> None:
    """Bytes moved by a finished request whose size the caller knows (downloads, searches)."""
    if _is_local_host(host):
        return
    entry = {"time": round(time.time(), 3), "process": _state["process"], "pid": os.getpid(), "event": "transfer",
             "host": host[:255], "port": "", "purpose": purpose_label, "refused": False,
             "bytes_received": int(received), "bytes_sent": int(sent)}
    _append(entry)


def entries(limit: int = 1000, path: Path | None = None) -> list[dict]:
    """The newest ``limit`` entries of the log, oldest first; damaged lines are skipped."""
    from app import paths

    path = path or paths.network_log_file()
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - 2_000_000))
            lines = log.read().decode("ascii", "replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError:
        return []
    out = []
    for line in lines[-limit:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "time" in entry:
            out.append(entry)
    return out


COLUMNS = ("Time", "Result", "What", "Host", "Purpose", "Bytes", "Process")


def row(entry: dict) -> tuple[str, ...]:
    """One entry as the Privacy tab's columns."""
    from datetime import datetime

    from app.display import shown_name

    when = datetime.fromtimestamp(float(entry.get("time", 0))).strftime("%Y-%m-%d %H:%M:%S")
    port = f":{entry['port']}" if entry.get("port") not in ("", None) else ""
    what = {"connect": "connection", "resolve": "name lookup", "transfer": "transfer"}.get(
        entry.get("event"), str(entry.get("event")))
    size = ""
    if entry.get("event") == "transfer":
        size = f"{entry.get('bytes_received', 0):,} in, {entry.get('bytes_sent', 0):,} out"
    return (when, "refused (offline)" if entry.get("refused") else "made", what,
            shown_name(str(entry.get("host"))) + port, shown_name(str(entry.get("purpose", ""))), size,
            shown_name(str(entry.get("process", "?"))))


def describe(entry: dict) -> str:
    from datetime import datetime

    from app.display import shown_name

    when = datetime.fromtimestamp(float(entry.get("time", 0))).strftime("%Y-%m-%d %H:%M:%S")
    what = {"connect": "connected to", "resolve": "looked up", "transfer": "transferred with"}.get(
        entry.get("event"), str(entry.get("event")))
    port = f":{entry['port']}" if entry.get("port") not in ("", None) else ""
    size = ""
    if entry.get("event") == "transfer":
        size = f", {entry.get('bytes_received', 0):,} bytes in, {entry.get('bytes_sent', 0):,} out"
    refused = " — REFUSED (offline mode)" if entry.get("refused") else ""
    return (f"{when}  {shown_name(str(entry.get('process', '?')))}  {what} {shown_name(str(entry.get('host')))}{port}"
            f"  ({shown_name(str(entry.get('purpose', '')))}{size}){refused}")

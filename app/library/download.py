"""Downloading a GGUF model from the Hub: resumable, verified, never outside the models folder.

Built on ``huggingface_hub`` (file URLs, auth headers, its HTTP session and
error mapping); the transfer itself is streamed here so that it can report
progress, stop when asked and resume later with an HTTP Range request from
what the ``.incomplete`` file already holds, also after a restart. A file
becomes a model only after its SHA-256 matches the Hub's LFS hash and its
GGUF header checks out; anything else is removed, never registered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app import netlog, paths
from app.errors import HearthError
from app.library import hub
from app.gguf.header import GGUFError, human_bytes, read_gguf

CHUNK = 1 << 20
# Seconds without a byte before a transfer counts as lost (it stays resumable).
log = logging.getLogger(__name__)

READ_TIMEOUT_S = 30.0
# A cut connection, a timeout or a server error is retried after these pauses, resuming from the
# bytes on disk; then the error is the user's. Enough for flaky Wi-Fi, short enough to hear of an outage.
RETRY_DELAYS_S = (2.0, 5.0, 15.0, 30.0)
DISK_MARGIN_BYTES = 200 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]")


class DownloadStopped(HearthError):
    """Stopped on request; the partial file is kept and the next pull resumes it."""


@dataclass
class Progress:
    done: int
    total: int
    bytes_per_s: float

    @property
    def seconds_left(self) -> float | None:
        return (self.total - self.done) / self.bytes_per_s if self.bytes_per_s > 0 else None

    def describe(self) -> str:
        left = self.seconds_left
        eta = f", {left:.0f} s left" if left is not None else ""
        return (f"{human_bytes(self.done)} of {human_bytes(self.total)} "
                f"({human_bytes(self.bytes_per_s)}/s{eta})")


def local_name(remote_name: str) -> str:
    """The file name to use in the models folder for a file in a Hub repository.

    Remote names may live in sub-folders ("Q4_K_M/model.gguf") but never climb
    out or start at the root; the local name is the last part, made safe.
    """
    parts = remote_name.replace("\\", "/").split("/")
    if not remote_name or remote_name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise HearthError(f"{remote_name!r} is not a file name Hearth will download")
    name = _SAFE_NAME.sub("_", parts[-1])
    if not name.lower().endswith(".gguf") or name.startswith("."):
        raise HearthError(f"{remote_name!r} is not a GGUF file")
    return name


def part_names(filename: str) -> list[str]:
    """Every part of a split model ("x-00001-of-00003.gguf"), or just the file."""
    match = hub.split_match(filename)
    if not match:
        return [filename]
    total = int(match["total"])
    prefix = filename[: match.start("part")]
    suffix = filename[match.end("part"):]
    return [f"{prefix}{i:05d}{suffix}" for i in range(1, total + 1)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def pull(repo_id: str, filename: str, on_progress: Callable[[Progress], None] | None = None,
         should_stop: Callable[[], bool] | None = None, offline: bool = False) -> Path:
    """Download ``filename`` (all parts of a split model) into the models folder; return the first part."""
    hub.check_online(offline)
    hub.check_repo_id(repo_id)
    local_name(filename)  # refuse hostile names before any request
    details = hub.repo_details(repo_id, offline=offline)
    chosen = next((f for f in details.files if filename == f.name or filename in f.parts), None)
    if chosen is None:
        raise HearthError(f"{repo_id} has no GGUF file {filename!r} (see 'hearth models files {repo_id}')")
    folder = paths.models_dir()
    targets = [folder / local_name(part) for part in chosen.parts]
    if all(t.exists() for t in targets):
        return targets[0]
    already = sum((t.with_name(t.name + ".incomplete").stat().st_size
                   if t.with_name(t.name + ".incomplete").exists() else 0) for t in targets)
    needed = chosen.size - already
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN_BYTES > free:
        raise HearthError(f"not enough disk space for {chosen.name}: needs {human_bytes(needed)} more, "
                          f"{human_bytes(free)} free in {folder}")
    done_before = 0
    for part, target, sha in zip(chosen.parts, targets, chosen.sha256):
        if not target.exists():
            _fetch_retrying(repo_id, part, target, sha, chosen.size, done_before, on_progress, should_stop)
        done_before += target.stat().st_size
    try:
        read_gguf(targets[0])
    except GGUFError as exc:
        for target in targets:
            target.unlink(missing_ok=True)
        raise HearthError(f"{chosen.name} downloaded but is not a usable GGUF file ({exc}); it was removed") from None
    return targets[0]


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "?"


def _transient(exc: Exception) -> bool:
    """Worth trying again: the connection failed or was cut, or the server said "later"."""
    name = type(exc).__name__  # by name: the Hub client's HTTP library has changed between releases
    if isinstance(exc, OSError) or any(k in name for k in ("Protocol", "ReadError", "Disconnected", "Timeout",
                                                           "Connect", "Transport", "Network")):
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and (status >= 500 or status == 429)


def _fetch_retrying(repo_id, remote, target, sha, total, done_before, on_progress, should_stop) -> None:
    for delay in (*RETRY_DELAYS_S, None):
        try:
            _fetch(repo_id, remote, target, sha, total, done_before, on_progress, should_stop)
            return
        except HearthError as exc:
            if delay is None or not getattr(exc, "transient", False):
                raise
            log.info("download of %s failed (%s); retrying in %g s", remote, exc, delay)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                if should_stop and should_stop():
                    raise DownloadStopped(f"download of {target.name} paused; pull again to resume") from None
                time.sleep(min(0.1, delay))


def _fetch(repo_id: str, remote: str, target: Path, sha: str | None, total: int, done_before: int,
           on_progress, should_stop) -> None:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    partial = target.with_name(target.name + ".incomplete")
    have = partial.stat().st_size if partial.exists() else 0
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if have:
        headers["Range"] = f"bytes={have}-"
    url = hf_hub_url(repo_id, remote, endpoint=os.environ.get("HF_ENDPOINT") or None)
    started, last_report = time.monotonic(), 0.0
    received = 0
    try:
        with netlog.purpose(f"download {repo_id}/{remote}"), \
                get_session().stream("GET", url, headers=headers, follow_redirects=True,
                                     timeout=READ_TIMEOUT_S) as response:
            if response.status_code == 416:  # the partial file already holds everything
                pass
            else:
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                mode = "ab" if have and response.status_code == 206 else "wb"
                if mode == "wb":
                    have = 0
                with open(partial, mode) as out:
                    for block in response.iter_bytes():  # as it arrives: a cut keeps what came
                        out.write(block)
                        received += len(block)
                        now = time.monotonic()
                        if on_progress and now - last_report >= 0.25:
                            last_report = now
                            speed = received / max(now - started, 1e-6)
                            on_progress(Progress(done_before + have + received, total, speed))
                        if should_stop and should_stop():
                            raise DownloadStopped(f"download of {target.name} paused at "
                                                  f"{human_bytes(have + received)}; pull again to resume")
    except DownloadStopped:
        netlog.note_transfer(_host(url), f"download {repo_id}/{remote} (paused)", received)
        raise
    except HearthError:
        raise
    except Exception as exc:  # network trouble: keep the partial file for a resume
        error = hub.readable_error(exc, f"{repo_id}/{remote}")
        error.transient = _transient(exc)
        raise error from None
    netlog.note_transfer(_host(url), f"download {repo_id}/{remote}", received)
    if sha and _sha256(partial) != sha:
        partial.unlink(missing_ok=True)
        raise HearthError(f"{target.name} does not match the Hub's SHA-256 (corrupted in transit?); "
                          "it was removed, pull again")
    os.replace(partial, target)
    if on_progress:
        on_progress(Progress(done_before + target.stat().st_size, total, 0.0))

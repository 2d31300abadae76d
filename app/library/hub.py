"""Finding GGUF models on the Hugging Face Hub, through ``huggingface_hub``.

Only on request: nothing here runs unless the user searches, and offline
mode (the setting or ``HF_HUB_OFFLINE``) refuses before any connection.
``HF_ENDPOINT`` points the client elsewhere (a mirror, or the loopback Hub
the tests start). Every network or Hub error becomes one readable line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from app import netlog
from app.errors import HearthError

SORTS = {"downloads": "downloads", "likes": "likes", "recent": "last_modified"}
_SPLIT = re.compile(r"^(?P<base>.+?)-(?P<part>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?:^|[-_.])(?P<quant>(?:I?Q\d+(?:_[A-Z0-9]+)*)|BF16|F16|F32|MXFP4(?:_MOE)?|TQ\d_\d)(?=[-_.]|$)",
    re.IGNORECASE)
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class HubError(HearthError):
    """The Hub could not answer; the message says why and what to try."""


@dataclass
class RepoSummary:
    id: str
    downloads: int
    likes: int
    last_modified: str | None


@dataclass
class GGUFFile:
    """One model in a repository: a single file, or the parts of a split one."""

    name: str  # the file to ask for (the first part of a split model)
    quantization: str
    size: int
    parts: list[str] = field(default_factory=list)
    sha256: list[str | None] = field(default_factory=list)


@dataclass
class RepoDetails:
    id: str
    license: str | None
    description: str | None
    downloads: int
    likes: int
    files: list[GGUFFile]


def split_match(filename: str):
    """The match of a split model's part name ("-00001-of-00003.gguf"), or None."""
    return _SPLIT.match(filename)


def quantization_from_name(filename: str) -> str:
    stem = _SPLIT.sub(r"\g<base>", filename)
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    matches = list(_QUANT.finditer(stem))
    return matches[-1].group("quant").upper() if matches else "unknown"


def group_gguf_files(siblings: list[tuple[str, int | None, str | None]]) -> list[GGUFFile]:
    """(file name, size, sha256) rows to models, split parts grouped as one."""
    singles: list[GGUFFile] = []
    splits: dict[str, list[tuple[int, str, int, str | None]]] = {}
    for name, size, sha in siblings:
        if not name.lower().endswith(".gguf"):
            continue
        match = _SPLIT.match(name)
        if match:
            splits.setdefault(match.group("base"), []).append((int(match.group("part")), name, size or 0, sha))
        else:
            singles.append(GGUFFile(name, quantization_from_name(name), size or 0, [name], [sha]))
    for _base, parts in splits.items():
        parts.sort()
        singles.append(GGUFFile(parts[0][1], quantization_from_name(parts[0][1]), sum(p[2] for p in parts),
                                [p[1] for p in parts], [p[3] for p in parts]))
    return sorted(singles, key=lambda f: (f.size, f.name))


REACH_TIMEOUT_S = 4.0


def check_online(offline_setting: bool = False) -> None:
    """Offline mode, or no network: one line at once, instead of the Hub client's retries
    (23 s and eleven retry lines with the network down)."""
    if offline_setting or netlog.is_offline() or \
            os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise HubError("offline mode is on: searching and downloading from the Hub are disabled")
    check_reachable()


def check_reachable() -> None:
    """A plain TCP connection to the Hub's host within a few seconds, or a one-line error."""
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with netlog.purpose("Hub reachability check"):
            socket.create_connection((host, port), timeout=REACH_TIMEOUT_S).close()
    except socket.gaierror:
        raise HubError(f"no network: {host} cannot be looked up (offline, or no DNS)") from None
    except TimeoutError:
        raise HubError(f"no network: {host} did not answer within {REACH_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise HubError(f"no network: cannot reach {host} ({exc.strerror or exc})") from None


def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id or "") or ".." in repo_id:
        raise HubError(f"{repo_id!r} is not a Hub repository id (expected owner/name)")
    return repo_id


def _api():
    # No usage reports: Hearth makes no request the user did not ask for.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub import HfApi

    return HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)


def readable_error(exc: Exception, what: str) -> HubError:
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return HubError(f"{what} is gated: accept its terms on the Hub, then set HF_TOKEN and retry")
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(f"{what}: no such repository on the Hub (or it is private)")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(exc.response, "status_code", "?")
        return HubError(f"the Hub answered {what} with HTTP {status}; try again later")
    name = type(exc).__name__
    if "Protocol" in name or "ReadError" in name or "Disconnected" in name:
        return HubError(f"the connection to the Hub was lost ({what}); retry")
    if "Timeout" in name:
        return HubError(f"the Hub did not answer in time ({what}); check the connection and retry")
    if "Connect" in name or isinstance(exc, OSError):
        return HubError(f"could not reach the Hub ({what}): {exc}")
    if isinstance(exc, ValueError):  # a malformed answer
        return HubError(f"the Hub sent an unreadable answer for {what}")
    return HubError(f"Hub request for {what} failed: {name}: {exc}")


def search(query: str, sort: str = "downloads", limit: int = 20, offline: bool = False) -> list[RepoSummary]:
    check_online(offline)
    if sort not in SORTS:
        raise HubError(f"sort must be one of {', '.join(SORTS)}")
    try:
        with netlog.purpose("Hub search"):
            models = list(_api().list_models(search=query or None, filter="gguf", sort=SORTS[sort], limit=limit))
    except Exception as exc:  # every failure becomes one readable line
        raise readable_error(exc, f"search {query!r}") from None
    return [RepoSummary(m.id, m.downloads or 0, m.likes or 0,
                        m.last_modified.isoformat() if m.last_modified else None) for m in models]


def repo_details(repo_id: str, offline: bool = False) -> RepoDetails:
    check_online(offline)
    check_repo_id(repo_id)
    try:
        with netlog.purpose(f"Hub model details {repo_id}"):
            info = _api().model_info(repo_id, files_metadata=True)
    except Exception as exc:
        raise readable_error(exc, repo_id) from None
    rows = []
    for sibling in info.siblings or []:
        sha = sibling.lfs.sha256 if sibling.lfs else None
        rows.append((sibling.rfilename, sibling.size, sha))
    card = info.card_data
    license_name = getattr(card, "license", None) if card is not None else None
    description = getattr(card, "model_name", None) or (getattr(card, "description", None) if card else None)
    return RepoDetails(info.id, license_name, description, info.downloads or 0, info.likes or 0,
                       group_gguf_files(rows))

"""The remote engines a user configured: a team's OpenAI-compatible servers (vLLM, llama.cpp's
llama-server, Ollama, LM Studio, another Hearth).

``engines.json`` (version 1) holds names, base URLs and options; keys live in
the system keyring when one is usable (the ``keyring`` package with a real
backend), else in ``engine-keys.json``, readable only by the user. A name is
what addresses a server's models on the command line: ``NAME:MODEL``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app import paths
from app.addresses import is_loopback
from app.config import read_json_rows, write_json_atomic
from app.errors import HearthError

log = logging.getLogger(__name__)

ENGINES_VERSION = 1
KEYRING_SERVICE = "Hearth remote engine"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass
class RemoteConfig:
    name: str
    base_url: str                # ends in /v1
    ca_file: str | None = None   # the team's own certificate authority, for a self-signed server
    own_network: bool = False    # the user says this address is theirs: usable in offline mode
    timeout_s: float = 300.0

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def allowed_offline(self) -> bool:
        return self.loopback or self.own_network


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise HearthError(f"engine name {name!r}: use 1-40 lower-case letters, digits, '.', '_' or '-'")
    return name


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HearthError(f"{url!r} is not an http(s) address, e.g. http://gpu-box:8000/v1")
    if parts.username or parts.password:
        raise HearthError("put the key in --key-file, not in the address")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def load_all() -> list[RemoteConfig]:
    engines = []
    for row in read_json_rows(paths.engines_file(), "engines"):
        try:
            engines.append(RemoteConfig(**{k: v for k, v in row.items() if k in RemoteConfig.__dataclass_fields__}))
        except TypeError as exc:
            log.warning("skipping a damaged engine entry %r: %s", row, exc)
    return engines


def find(name: str) -> RemoteConfig | None:
    return next((e for e in load_all() if e.name == name), None)


def _save_all(engines: list[RemoteConfig]) -> None:
    write_json_atomic(paths.engines_file(), {"version": ENGINES_VERSION, "engines": [asdict(e) for e in engines]})


def add(name: str, url: str, key: str | None = None, ca_file: str | None = None,
        own_network: bool = False) -> RemoteConfig:
    check_name(name)
    if ca_file is not None and not Path(ca_file).is_file():
        raise HearthError(f"{ca_file}: no such certificate file")
    config = RemoteConfig(name, normalise_url(url), str(Path(ca_file).resolve()) if ca_file else None, own_network)
    engines = [e for e in load_all() if e.name != name] + [config]
    _save_all(engines)
    set_key(name, key)
    return config


def remove(name: str) -> None:
    engines = load_all()
    if not any(e.name == name for e in engines):
        raise HearthError(f"no engine named {name!r} (see 'hearth engines ls')")
    _save_all([e for e in engines if e.name != name])
    set_key(name, None)


# --- keys -----------------------------------------------------------------------------
def _keyring():
    """The system keyring when one really works here; None means the private file."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # not installed, or broken on this desktop
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or "null" in type(backend).__name__.lower():
        return None
    return keyring


def _file_keys() -> dict:
    try:
        data = json.loads(paths.engine_keys_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = data.get("keys", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in keys.items() if isinstance(v, str)}


def _write_keys(keys: dict) -> None:
    path = paths.engine_keys_file()
    write_json_atomic(path, {"version": 1, "keys": keys})
    os.chmod(path, 0o600)


def set_key(name: str, key: str | None) -> None:
    ring = _keyring()
    if ring is not None:
        try:
            if key:
                ring.set_password(KEYRING_SERVICE, name, key)
            else:
                ring.delete_password(KEYRING_SERVICE, name)
            return
        except Exception as exc:  # a locked or refusing keyring: fall back to the private file
            log.warning("keyring unavailable (%s); keeping the key in %s", exc, paths.engine_keys_file())
    keys = _file_keys()
    if key:
        keys[name] = key
    else:
        keys.pop(name, None)
    if keys or paths.engine_keys_file().exists():
        _write_keys(keys)


def get_key(name: str) -> str | None:
    ring = _keyring()
    if ring is not None:
        try:
            found = ring.get_password(KEYRING_SERVICE, name)
            if found:
                return found
        except Exception:
            pass
    return _file_keys().get(name)


def key_storage() -> str:
    return "the system keyring" if _keyring() is not None else str(paths.engine_keys_file())

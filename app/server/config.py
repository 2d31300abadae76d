"""The API server's settings and key, in ``server.json`` (version 1, mode 0600).

Safe by default: loopback only, a key required, CORS off, request bodies
capped, prompts never logged. The key is made on first start; rotating it
invalidates every client at once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field

from app import paths
from app.addresses import is_loopback
from app.config import write_json_atomic
from app.errors import HearthError

log = logging.getLogger(__name__)

SERVER_VERSION = 1
DEFAULT_PORT = 4327  # H-E-A-R on a phone keypad; LM Studio, Jan, GPT4All and Ollama use 1234, 1337, 4891, 11434
KEY_PREFIX = "hearth-"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    key: str = ""
    cors_origins: list[str] = field(default_factory=list)   # none: browsers' pages cannot call us
    aliases: dict[str, str] = field(default_factory=dict)  # name a client uses -> installed model id
    idle_unload_s: int = 600          # unload a model no request used for this long (headless server)
    queue_limit: int = 16             # requests waiting beyond this get 429
    max_body_bytes: int = 16 << 20    # an editor sends whole files, not gigabytes
    context_length: int = 16384       # for models loaded by the server, where the model and memory allow
    log_prompts: bool = False         # the request log never holds prompt text unless this is on
    extra_hosts: list[str] = field(default_factory=list)  # more names the Host header may carry

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def base_url(self, port: int | None = None) -> str:
        """Where a client on this machine reaches the server (``port``: the one actually bound)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}/v1"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


_LOCK = threading.Lock()  # two first loads at once must not make two keys


def load() -> ServerConfig:
    """The saved configuration; a key is made and saved the first time."""
    with _LOCK:
        return _load()


def _load() -> ServerConfig:
    path = paths.server_file()
    config = ServerConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        values = data.get("server", {}) if isinstance(data, dict) else {}
        defaults = asdict(config)
        for name, value in values.items():
            if name in defaults and type(value) is type(defaults[name]):
                setattr(config, name, value)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("server settings unreadable (%s); using defaults", exc)
    if not config.key.startswith(KEY_PREFIX):
        config.key = new_key()
        save(config)
    return config


def save(config: ServerConfig) -> None:
    path = paths.server_file()
    write_json_atomic(path, {"version": SERVER_VERSION, "server": asdict(config)})
    try:
        os.chmod(path, 0o600)  # the key is a password
    except OSError as exc:
        raise HearthError(f"cannot protect {path}: {exc}") from None


def rotate_key() -> ServerConfig:
    with _LOCK:
        config = _load()
        config.key = new_key()
        save(config)
        return config

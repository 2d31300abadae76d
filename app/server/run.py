"""Starting and stopping the API server: headless (``hearth serve``) or beside the window."""

from __future__ import annotations

import logging
import socket
import threading

from app.errors import HearthError
from app.server.backend import Backend
from app.server.config import ServerConfig

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """Our own listening socket, so a busy port is one clear line and port 0 tells us what it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HearthError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class ApiServer:
    def __init__(self, backend: Backend, config: ServerConfig):
        import uvicorn

        from app.server.app import create_app

        self.backend = backend
        self.config = config
        self.socket = bind(config.host, config.port)
        self.port = self.socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(create_app(backend), log_level="warning", access_log=False,
                                                     lifespan="off", timeout_graceful_shutdown=2))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.config.base_url(self.port)

    def run(self) -> None:
        """Serve on this thread until ``stop()`` (or Ctrl-C when this is the main thread)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()
            self.backend.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="hearth-api", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

"""``hearth serve``: Hearth's models for coding tools, through the OpenAI and Anthropic APIs."""

from __future__ import annotations

import sys

from app import paths
from app.commands.output import EXIT_OK
from app.config import load_settings
from app.errors import HearthError
from app.server import config as server_config


def run_serve(args) -> int:
    if args.serve_command == "key":
        config = server_config.rotate_key() if args.rotate else server_config.load()
        print(config.key)
        return EXIT_OK
    from app.chats.service import ConversationService
    from app.engine.local import LocalEngine
    from app.server.backend import Backend
    from app.server.run import ApiServer

    config = server_config.load()
    if args.host:
        config.host = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise HearthError(f"--port {args.port}: a port is 0 to 65535")
        config.port = args.port
    if not config.loopback:
        print(f"hearth: warning: serving on {config.host}, reachable from other machines on the network; "
              "they still need the key", file=sys.stderr)
    settings = load_settings()
    service = ConversationService(LocalEngine())
    server = ApiServer(Backend(service, settings.copy(), config), config)
    print(f"Hearth API at {server.base_url}  (OpenAI and Anthropic endpoints)", flush=True)
    print(f"API key: 'hearth serve key' prints it; it is kept in {paths.server_file()}", flush=True)
    try:
        server.run()
    finally:
        service.engine.close()
    return EXIT_OK

"""The ``hearth`` command: the GUI by default, and headless sub-commands.

Every sub-command calls the same services as the GUI. A ``HearthError``
becomes one line on stderr and exit status 1; anything else is a bug, logged
with its traceback to the data folder and reported in one line (status 70).
"""

from __future__ import annotations

import argparse
import logging
import sys

from app import __version__
from app.display import SafeStream
from app.commands.output import EXIT_BUG, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE
from app.errors import HearthError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage dump
        self.exit(EXIT_USAGE, f"hearth: {message} (see 'hearth --help')\n")


def _number(kind, lo, hi, what: str):
    """An argparse type: a number in [lo, hi], else a usage error (exit 2) that names the range."""
    span = f"{what}: {lo:g} to {hi:g}" if kind is float else f"{what}: {int(lo)} to {int(hi)}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number ({span})") from None
        if not lo <= value <= hi:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range ({span})")
        return value
    return parse


def _setting(name: str):
    """An option that overrides a setting accepts exactly the setting's range."""
    from app.config import setting

    entry = setting(name)
    lo, hi = entry.bounds
    return _number(int if isinstance(entry.default, int) else float, lo, hi, entry.name)


ROW_ID = _number(int, 1, 2**63 - 1, "an id")  # SQLite's rowid range


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hearth", description="Hearth: private AI assistant running open models on this machine.")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("gui", help="open the desktop app (the default)")

    chat = sub.add_parser("chat", help="ask a model, streaming the reply to stdout")
    chat.add_argument("prompt", nargs="?", help="the message; read from stdin when omitted")
    chat.add_argument("--model", help="installed model id, 'starter', or a path to a .gguf file")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--json", action="store_true", help="print one JSON object with the reply and its stats")
    chat.add_argument("--max-tokens", type=_setting("max_tokens"), help="longest reply in tokens")
    chat.add_argument("--temperature", type=_setting("temperature"), help="sampling temperature")
    chat.add_argument("--seed", type=_number(int, 0, 2**32 - 1, "a seed"), help="random seed, for repeatable replies")
    chat.add_argument("--ctx", type=_setting("context_length"), help="context length in tokens")
    chat.add_argument("--continue", dest="continue_id", type=ROW_ID, metavar="ID",
                      help="add this turn to a saved conversation (see 'hearth chats list')")

    models = sub.add_parser("models", help="installed models")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    listing = models_sub.add_parser("list", help="list installed models, with whether each fits in memory")
    listing.add_argument("--json", action="store_true")
    searching = models_sub.add_parser("search", help="search the Hugging Face Hub for GGUF models")
    searching.add_argument("query")
    searching.add_argument("--sort", choices=("downloads", "likes", "recent"), default="downloads")
    searching.add_argument("--limit", type=_number(int, 1, 1000, "results"), default=20)
    searching.add_argument("--json", action="store_true")
    files = models_sub.add_parser("files", help="the GGUF files of a Hub repository")
    files.add_argument("repo")
    files.add_argument("--json", action="store_true")
    cataloguing = models_sub.add_parser("catalog", help="recommended models for this machine, with fit and speed")
    cataloguing.add_argument("--json", action="store_true")
    pulling = models_sub.add_parser("pull", help="download a GGUF file from the Hub (resumable, verified)")
    pulling.add_argument("repo")
    pulling.add_argument("file")
    scanning = models_sub.add_parser("scan", help="find GGUF models from other tools (HF cache, LM Studio, "
                                                   "Ollama, GPT4All) to use in place")
    scanning.add_argument("--use", action="store_true", help="add every model found, by reference")
    scanning.add_argument("--json", action="store_true")
    importing = models_sub.add_parser("import", help="use a GGUF file you already have (by reference)")
    importing.add_argument("path")
    importing.add_argument("--copy", action="store_true", help="copy it into the models folder instead")
    removing = models_sub.add_parser("rm", help="remove a model (an imported file is only forgotten)")
    removing.add_argument("id")

    chats = sub.add_parser("chats", help="saved conversations")
    chats_sub = chats.add_subparsers(dest="chats_command", metavar="ACTION", parser_class=_Parser)
    chats_list = chats_sub.add_parser("list", help="list conversations, newest first")
    chats_list.add_argument("--json", action="store_true")
    chats_show = chats_sub.add_parser("show", help="print one conversation")
    chats_show.add_argument("id", type=ROW_ID)
    chats_show.add_argument("--json", action="store_true")
    chats_export = chats_sub.add_parser("export", help="export one conversation to stdout")
    chats_export.add_argument("id", type=ROW_ID)
    chats_export.add_argument("--format", choices=("md", "json"), default="md")

    savings = sub.add_parser("savings", help="the API cost avoided, net of electricity")
    savings.add_argument("--json", action="store_true")
    savings_sub = savings.add_subparsers(dest="savings_command", metavar="ACTION", parser_class=_Parser)
    savings_prices = savings_sub.add_parser("prices", help="the price table")
    savings_prices.add_argument("--json", action="store_true")
    savings_sub.add_parser("reprice", help="price every recorded reply with the current comparison model")
    savings_use = savings_sub.add_parser("use", help="compare with another model from the price table")
    savings_use.add_argument("model")
    set_price = savings_sub.add_parser("set-price", help="add or change a price row (your own, kept in the data folder)")
    set_price.add_argument("model", help="row id, e.g. gpt-4o (an existing id replaces that row)")
    set_price.add_argument("--input", required=True, help="USD per 1M input tokens")
    set_price.add_argument("--output", help="USD per 1M output tokens")
    set_price.add_argument("--cached", help="USD per 1M cached input tokens")
    set_price.add_argument("--date", required=True, help="date the price took effect, YYYY-MM-DD")
    set_price.add_argument("--source", default="", help="where the price comes from (URL)")
    set_price.add_argument("--name", help="display name")
    set_price.add_argument("--provider", default="")

    docs = sub.add_parser("docs", help="ask questions of your own documents (offline, with citations)")
    docs_sub = docs.add_subparsers(dest="docs_command", metavar="ACTION", parser_class=_Parser)
    docs_add = docs_sub.add_parser("add", help="add folders or files to a collection and index them")
    docs_add.add_argument("collection")
    docs_add.add_argument("paths", nargs="+", metavar="PATH")
    docs_ls = docs_sub.add_parser("ls", help="list collections")
    docs_ls.add_argument("--json", action="store_true")
    docs_status = docs_sub.add_parser("status", help="a collection's files, passages and skipped files")
    docs_status.add_argument("collection")
    docs_status.add_argument("--json", action="store_true")
    docs_sync = docs_sub.add_parser("sync", help="pick up new, changed and deleted files")
    docs_sync.add_argument("collection")
    docs_search = docs_sub.add_parser("search", help="the passages that best match a query")
    docs_search.add_argument("collection")
    docs_search.add_argument("query")
    docs_search.add_argument("--k", type=_number(int, 1, 50, "passages"), default=5, help="how many passages (default 5)")
    docs_search.add_argument("--json", action="store_true")
    docs_ask = docs_sub.add_parser("ask", help="answer a question from a collection, with citations")
    docs_ask.add_argument("collection")
    docs_ask.add_argument("question")
    docs_ask.add_argument("--model", help="chat model id or path (default: the default model)")
    docs_ask.add_argument("--k", type=_setting("docs_passages"), help="passages to give the model")
    docs_ask.add_argument("--max-tokens", type=_setting("max_tokens"), help="longest answer in tokens")
    docs_ask.add_argument("--json", action="store_true")
    docs_rm = docs_sub.add_parser("rm", help="delete a collection's index (your files are not touched)")
    docs_rm.add_argument("collection")

    engines = sub.add_parser("engines", help="a team's inference servers (vLLM, llama-server, Ollama, ...)")
    engines_sub = engines.add_subparsers(dest="engines_command", metavar="ACTION", parser_class=_Parser)
    engines_add = engines_sub.add_parser("add", help="add (or change) an OpenAI-compatible server")
    engines_add.add_argument("name", help="short name; its models are NAME:MODEL")
    engines_add.add_argument("url", help="base URL, e.g. http://gpu-box:8000/v1")
    engines_add.add_argument("--key-file", help="file holding the API key (kept in the keyring or a private file)")
    engines_add.add_argument("--ca-file", help="your team's certificate authority, for a self-signed HTTPS server")
    engines_add.add_argument("--own-network", action="store_true",
                             help="this address is your own network: usable in offline mode")
    engines_ls = engines_sub.add_parser("ls", help="list remote engines")
    engines_ls.add_argument("--json", action="store_true")
    engines_rm = engines_sub.add_parser("rm", help="forget a remote engine and its key")
    engines_rm.add_argument("name")
    engines_test = engines_sub.add_parser("test", help="check a server answers, and list its models")
    engines_test.add_argument("name")
    engines_test.add_argument("--json", action="store_true")
    engines_bench = engines_sub.add_parser("bench", help="load-test a server: throughput and time to first token")
    engines_bench.add_argument("name")
    engines_bench.add_argument("--model", help="one of its models (default: the first it lists)")
    engines_bench.add_argument("--streams", default="1,4,16,64", help="concurrency levels (default 1,4,16,64)")
    engines_bench.add_argument("--tokens", type=_number(int, 1, 1 << 20, "tokens"), default=128, help="tokens asked of each stream")
    engines_bench.add_argument("--max-seconds", type=_number(float, 1, 86400, "seconds"), default=60.0, help="time limit of each level")
    engines_bench.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="serve models to coding tools (OpenAI and Anthropic APIs, on this machine)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_number(int, 0, 65535, "a port"), help="port (default 4327; 0 picks a free one)")
    serve_sub = serve.add_subparsers(dest="serve_command", metavar="ACTION", parser_class=_Parser)
    serve_key = serve_sub.add_parser("key", help="print the API key (for scripts)")
    serve_key.add_argument("--rotate", action="store_true", help="make a new key; the old one stops working")

    doctor = sub.add_parser("doctor", help="report this machine's capabilities and Hearth's set-up")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--repair", action="store_true",
                        help="check every database; salvage damaged ones (their old files are kept)")
    doctor.add_argument("--network", action="store_true",
                        help="list every network connection Hearth made (or refused, in offline mode)")

    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        from app import netlog
        from app.engine import worker

        netlog.install("engine worker")  # offline mode comes from the parent's environment
        return worker.main()
    # Nothing that reaches the terminal can drive it: file names and model output hold control
    # characters and undecodable bytes (see app/display.py).
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(out), SafeStream(err)
    try:
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from app import paths

        paths.check_data_dir()
        _setup_logging()
        if args.command not in (None, "gui"):  # the window does both itself (its note is a banner)
            _watch_network(f"hearth {args.command}", _settings_with_repairs_said().offline)
        if args.command in (None, "gui"):
            from app.ui.launch import run_gui

            return run_gui()
        if args.command == "chat":
            from app.commands.chat import run_chat

            return run_chat(args)
        if args.command == "models":
            from app.commands.models import run_models

            if args.models_command is None:
                parser.parse_args(["models", "--help"])
            return run_models(args)
        if args.command == "docs":
            from app.commands.docs import run_docs

            if args.docs_command is None:
                parser.parse_args(["docs", "--help"])
            return run_docs(args)
        if args.command == "chats":
            from app.commands.chats import run_chats

            if args.chats_command is None:
                parser.parse_args(["chats", "--help"])
            return run_chats(args)
        if args.command == "savings":
            from app.commands.savings import run_savings

            return run_savings(args)
        if args.command == "engines":
            from app.commands.engines import run_engines

            if args.engines_command is None:
                parser.parse_args(["engines", "--help"])
            return run_engines(args)
        if args.command == "serve":
            from app.commands.serve import run_serve

            return run_serve(args)
        if args.command == "doctor":
            from app.commands.doctor import run_doctor

            return run_doctor(args)
    except HearthError as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hearth: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # a bug: keep the traceback for us, one line for the user
        logging.getLogger("hearth").exception("unexpected error")
        print(f"hearth: internal error: {type(exc).__name__}: {exc} (details in {_log_path()})", file=sys.stderr)
        return EXIT_BUG
    parser.print_help()
    return EXIT_USAGE


def _settings_with_repairs_said():
    from app.config import load_settings

    settings = load_settings()  # repairs a damaged file, so the note is said once
    if settings.note:
        print(f"hearth: {settings.note}", file=sys.stderr)
    return settings


def _watch_network(process: str, offline: bool) -> None:
    from app import netlog

    netlog.install(process, offline=offline)


def _log_path():
    from app import paths

    return paths.app_log_file()


def _setup_logging() -> None:
    try:
        handler: logging.Handler = logging.FileHandler(_log_path(), encoding="utf-8")
    except (OSError, HearthError):
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)

"""``hearth chats``: the conversations saved by the app, from the terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from app.chats.export import to_json, to_markdown
from app.chats.store import ChatStore
from app.commands.output import print_json


def run_chats(args) -> int:
    store = ChatStore()
    try:
        if args.chats_command == "list":
            conversations = store.conversations()
            if args.json:
                print_json([{"id": c.id, "title": c.title, "created": c.created, "updated": c.updated,
                             "messages": len(store.messages(c.id))} for c in conversations])
            elif not conversations:
                print("No conversations yet.")
            for c in conversations if not args.json else []:
                when = datetime.fromtimestamp(c.updated).strftime("%Y-%m-%d %H:%M")
                print(f"{c.id:>5}  {when}  {c.title}")
            return 0
        conversation = store.conversation(args.id)
        messages = store.messages(conversation.id)
        if args.chats_command == "show":
            if args.json:
                print_json(json.loads(to_json(conversation, messages, store.tree(conversation.id))))
            else:
                sys.stdout.write(to_markdown(conversation, messages))
            return 0
        if args.chats_command == "export":
            text = to_json(conversation, messages, store.tree(conversation.id)) if args.format == "json" else \
                to_markdown(conversation, messages)
            sys.stdout.write(text)
            return 0
    finally:
        store.close()
    return 2

"""``hearth models``: what is installed, read from each file's GGUF header."""

from __future__ import annotations

from app.cli import print_json
from app.library.gguf_header import human_bytes
from app.library.registry import ModelRegistry


def run_models(args) -> int:
    if args.models_command == "list":
        return _list(args.json)
    return 2


def _list(as_json: bool) -> int:
    rows = [model.as_dict() for model in ModelRegistry().models()]
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("No models installed.")
        return 0
    header = ("ID", "SIZE", "ARCH", "PARAMS", "QUANT", "CONTEXT", "FILE")
    table = [header]
    for row in rows:
        if row["problem"]:
            table.append((row["id"], "-", "-", "-", "-", "-", f"{row['file']}  [unusable: {row['problem']}]"))
            continue
        label = row["id"] + (" (starter)" if row["source"] == "starter" else "")
        table.append((label, human_bytes(row["size_bytes"]), row["architecture"], row["size_label"],
                      row["quantization"], str(row["context_length"] or "?"), row["file"]))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header) - 1)]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + str(r[-1]))
    return 0

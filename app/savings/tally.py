"""Every reply's paid-API price and energy, in SQLite, summed with Decimal.

Each record keeps the price row it was priced with (key and prices), so a
price change never alters history; ``reprice`` does so on request and says
what changed. Token counts are stored for both public tokenizers, which is
enough to re-price against any row exactly without keeping any text.
Money is stored as decimal strings and summed in Python, never as floats.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from app import paths
from app.savings import energy
from app.savings.prices import PriceRow
from app.savings.tokens import count_chat, count_text, scaled
from app.storage import open_database

PICO = Decimal("1e-12")

_SCHEMA = """
CREATE TABLE replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    source TEXT NOT NULL,
    conversation_id INTEGER,
    message_id INTEGER,
    local_model TEXT,
    local_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    local_completion_tokens INTEGER NOT NULL DEFAULT 0,
    input_o200k INTEGER NOT NULL,
    output_o200k INTEGER NOT NULL,
    input_cl100k INTEGER NOT NULL,
    output_cl100k INTEGER NOT NULL,
    price_key TEXT NOT NULL,
    comparison_model TEXT NOT NULL,
    price_date TEXT NOT NULL,
    input_per_m TEXT NOT NULL,
    output_per_m TEXT,
    tokenizer TEXT NOT NULL,
    token_ratio TEXT NOT NULL,
    approximate INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    gross_usd TEXT NOT NULL,
    wall_s REAL NOT NULL,
    energy_kwh TEXT NOT NULL,
    energy_source TEXT NOT NULL,
    watts TEXT NOT NULL,
    kwh_price TEXT NOT NULL,
    energy_usd TEXT NOT NULL
);
CREATE INDEX replies_by_message ON replies(message_id);
"""


def _v1(db) -> None:
    db.executescript(_SCHEMA)


# Ordered migrations: _MIGRATIONS[n] brings a database from version n to n + 1.
_MIGRATIONS = [_v1]
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass
class Turn:
    """One reply, as the local model saw and wrote it."""

    messages: list[dict]  # what the model saw: system prompt, history, new message
    reply: str
    source: str = "chat"  # "chat", "docs", "embedding", "api"
    conversation_id: int | None = None
    message_id: int | None = None
    local_model: str | None = None
    local_prompt_tokens: int = 0
    local_completion_tokens: int = 0
    wall_s: float = 0.0
    energy_j: float | None = None
    remote: bool = False  # made on a team's server: no local electricity (its cost is the calculator's)


@dataclass
class Record:
    id: int
    created: float
    conversation_id: int | None
    message_id: int | None
    local_model: str | None
    comparison_model: str
    price_key: str
    price_date: str
    input_tokens: int
    output_tokens: int
    approximate: bool
    reasoning: bool
    gross_usd: Decimal
    energy_kwh: Decimal
    energy_source: str
    energy_usd: Decimal
    input_per_m: Decimal
    output_per_m: Decimal | None
    source: str = "chat"  # "chat", "docs", "embedding", "api:<client>"

    @property
    def net_usd(self) -> Decimal:
        return self.gross_usd - self.energy_usd

    def tooltip(self) -> str:
        approx = "≈" if self.approximate else ""
        lower = " (at least: its hidden reasoning tokens are unknowable)" if self.reasoning else ""
        out_price = f" + {self.output_tokens:,} output × ${self.output_per_m}/M" if self.output_per_m is not None else ""
        return (f"On {self.comparison_model} this reply would have cost {approx}{usd(self.gross_usd, 6)}{lower}: "
                f"{self.input_tokens:,} input tokens × ${self.input_per_m}/M{out_price} "
                f"(prices of {self.price_date}).\n"
                + ("Electricity: none on this machine (made on a remote server; its cost is in the "
                   "at-scale calculator).\n" if self.energy_source == "remote" else
                   f"Electricity: {self.energy_kwh.quantize(Decimal('0.000001'))} kWh "
                   f"({'measured' if self.energy_source == 'rapl' else 'estimated'}) = {usd(self.energy_usd, 6)}.\n")
                + f"Net saved: {approx}{usd(self.net_usd, 6)}")


def usd(amount: Decimal, places: int = 2) -> str:
    """Dollars for people: rounded half up (Decimal's default, half-even, surprises readers)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


def price_turn_tokens(counts: dict[str, tuple[int, int]], row: PriceRow) -> tuple[int, int]:
    inp, out = counts[row.tokenizer]
    return scaled(inp, row.token_ratio), scaled(out, row.token_ratio)


class SavingsStore:
    def __init__(self, path: Path | None = None):
        self.path = path or paths.savings_file()
        self.db = open_database(self.path, _MIGRATIONS, "savings database")

    def close(self) -> None:
        self.db.close()

    def record(self, turn: Turn, row: PriceRow, kwh_price: Decimal, watts: Decimal) -> Record:
        counts = {name: (count_chat(turn.messages, name), count_text(turn.reply, name))
                  for name in ("o200k_base", "cl100k_base")}
        input_tokens, output_tokens = price_turn_tokens(counts, row)
        gross = row.cost(input_tokens, output_tokens)
        kwh, source = (Decimal(0), "remote") if turn.remote else energy.reply_kwh(turn.energy_j, turn.wall_s, watts)
        kwh = kwh.quantize(PICO)  # 3.6 mJ resolution: far below anything a reply uses
        energy_usd = (kwh * kwh_price).quantize(PICO)
        with self.db:
            cur = self.db.execute(
                "INSERT INTO replies (created, source, conversation_id, message_id, local_model, "
                "local_prompt_tokens, local_completion_tokens, input_o200k, output_o200k, input_cl100k, "
                "output_cl100k, price_key, comparison_model, price_date, input_per_m, output_per_m, tokenizer, "
                "token_ratio, approximate, reasoning, input_tokens, output_tokens, gross_usd, wall_s, energy_kwh, "
                "energy_source, watts, kwh_price, energy_usd) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), turn.source, turn.conversation_id, turn.message_id, turn.local_model,
                 turn.local_prompt_tokens, turn.local_completion_tokens, *counts["o200k_base"],
                 *counts["cl100k_base"], row.key, row.id, row.effective_date, str(row.input_per_m),
                 None if row.output_per_m is None else str(row.output_per_m), row.tokenizer, str(row.token_ratio),
                 int(row.approximate), int(row.reasoning), input_tokens, output_tokens, str(gross), turn.wall_s,
                 str(kwh), source, str(watts), str(kwh_price), str(energy_usd)))
        return self.get(cur.lastrowid)

    _COLUMNS = ("id, created, conversation_id, message_id, local_model, comparison_model, price_key, price_date, "
                "input_tokens, output_tokens, approximate, reasoning, gross_usd, energy_kwh, energy_source, "
                "energy_usd, input_per_m, output_per_m, source")

    def _record(self, r) -> Record:
        return Record(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), bool(r[11]),
                      Decimal(r[12]), Decimal(r[13]), r[14], Decimal(r[15]), Decimal(r[16]),
                      None if r[17] is None else Decimal(r[17]), r[18])

    def get(self, record_id: int) -> Record:
        return self._record(self.db.execute(f"SELECT {self._COLUMNS} FROM replies WHERE id = ?",
                                            (record_id,)).fetchone())

    def records(self) -> list[Record]:
        return [self._record(r) for r in self.db.execute(f"SELECT {self._COLUMNS} FROM replies ORDER BY id")]

    def for_messages(self, message_ids: list[int]) -> dict[int, Record]:
        if not message_ids:
            return {}
        marks = ",".join("?" * len(message_ids))
        rows = self.db.execute(f"SELECT {self._COLUMNS} FROM replies WHERE message_id IN ({marks}) ORDER BY id",
                               message_ids).fetchall()
        return {r[3]: self._record(r) for r in rows}

    def totals(self) -> dict:
        records = self.records()
        gross = sum((r.gross_usd for r in records), Decimal(0))
        energy_usd = sum((r.energy_usd for r in records), Decimal(0))
        keys = sorted({r.price_key for r in records})
        return {
            "replies": len(records),
            "input_tokens": sum(r.input_tokens for r in records),
            "output_tokens": sum(r.output_tokens for r in records),
            "gross_usd": gross,
            "energy_kwh": sum((r.energy_kwh for r in records), Decimal(0)),
            "energy_usd": energy_usd,
            "net_usd": gross - energy_usd,
            "approximate": any(r.approximate for r in records),
            "lower_bound": any(r.reasoning for r in records),
            "price_keys": keys,
            "energy_measured": sum(1 for r in records if r.energy_source == "rapl"),
        }

    def grouped(self, by: str) -> list[tuple[str, Decimal, Decimal, int]]:
        """(label, gross, net, tokens) per day, local model, conversation or source, in order.

        By source, requests served to coding tools are labelled by tool: what they saved is visible."""
        groups: dict[str, list[Record]] = {}
        for r in self.records():
            if by == "day":
                label = datetime.fromtimestamp(r.created).strftime("%Y-%m-%d")
            elif by == "model":
                label = r.local_model or "unknown"
            elif by == "source":
                label = f"API: {r.source[4:]}" if r.source.startswith("api:") else {
                    "chat": "Chat", "docs": "Documents", "embedding": "Document indexing"}.get(r.source, r.source)
            else:
                label = str(r.conversation_id) if r.conversation_id is not None else "none"
            groups.setdefault(label, []).append(r)
        return [(label, sum((r.gross_usd for r in rs), Decimal(0)), sum((r.net_usd for r in rs), Decimal(0)),
                 sum(r.input_tokens + r.output_tokens for r in rs)) for label, rs in groups.items()]

    def reprice(self, chat_row: PriceRow, embedding_row: PriceRow | None = None) -> dict:
        """Re-price every record with ``chat_row``, except document indexing, which keeps its kind:
        it re-prices with ``embedding_row`` (an embedding API's price, the current one if not given)."""
        if embedding_row is None:
            from app.savings import prices

            embedding_row = prices.price_table()[prices.EMBEDDING_COMPARISON]
        rows = self.db.execute("SELECT id, input_o200k, output_o200k, input_cl100k, output_cl100k, gross_usd, "
                               "price_key, source FROM replies").fetchall()
        before = sum((Decimal(r[5]) for r in rows), Decimal(0))
        changed = 0
        after = Decimal(0)
        with self.db:
            for rid, in_o, out_o, in_c, out_c, gross, key, source in rows:
                row = embedding_row if source == "embedding" else chat_row
                counts = {"o200k_base": (in_o, out_o), "cl100k_base": (in_c, out_c)}
                input_tokens, output_tokens = price_turn_tokens(counts, row)
                new_gross = row.cost(input_tokens, output_tokens)
                after += new_gross
                if key != row.key or Decimal(gross) != new_gross:
                    changed += 1
                self.db.execute(
                    "UPDATE replies SET price_key = ?, comparison_model = ?, price_date = ?, input_per_m = ?, "
                    "output_per_m = ?, tokenizer = ?, token_ratio = ?, approximate = ?, reasoning = ?, "
                    "input_tokens = ?, output_tokens = ?, gross_usd = ? WHERE id = ?",
                    (row.key, row.id, row.effective_date, str(row.input_per_m),
                     None if row.output_per_m is None else str(row.output_per_m), row.tokenizer,
                     str(row.token_ratio), int(row.approximate), int(row.reasoning), input_tokens, output_tokens,
                     str(new_gross), rid))
        return {"replies": len(rows), "changed": changed, "gross_before_usd": before, "gross_after_usd": after,
                "price_key": chat_row.key}

"""The price table: shipped rows in resources/prices.json, the user's own in the data folder.

Every row carries the date its price took effect; a row's ``key`` (id@date)
is what a recorded reply keeps, together with the prices themselves, so
editing the table never rewrites the past. Money is ``Decimal`` throughout.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from app import paths
from app.config import read_json_rows, write_json_atomic
from app.errors import HearthError
from app.resources import resource

log = logging.getLogger(__name__)

PRICES_VERSION = 1
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class PriceRow:
    id: str
    provider: str
    name: str
    input_per_m: Decimal
    output_per_m: Decimal | None
    cached_input_per_m: Decimal | None
    tokenizer: str
    token_ratio: Decimal
    tokens_exact: bool
    reasoning: bool
    effective_date: str
    source: str
    date_basis: str = ""
    user: bool = False

    @property
    def key(self) -> str:
        return f"{self.id}@{self.effective_date}"

    @property
    def approximate(self) -> bool:
        return not self.tokens_exact

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """What a stateless API bills for one turn, unrounded."""
        total = Decimal(input_tokens) * self.input_per_m / MILLION
        if self.output_per_m is not None:
            total += Decimal(output_tokens) * self.output_per_m / MILLION
        return total

    def as_json(self) -> dict:
        data = asdict(self)
        for k in ("input_per_m", "output_per_m", "cached_input_per_m", "token_ratio"):
            data[k] = None if data[k] is None else str(data[k])
        return data



# Document indexing is compared with this embedding API (what a cloud RAG pipeline would call).
EMBEDDING_COMPARISON = "text-embedding-3-small"

def _decimal(value, field: str, row_id: str, optional: bool = False) -> Decimal | None:
    if value is None and optional:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise HearthError(f"price row {row_id!r}: {field} is not a number ({value!r})") from None
    if not number.is_finite() or number < 0:
        raise HearthError(f"price row {row_id!r}: {field} must be zero or more")
    return number


def row_from_json(data: dict, user: bool = False) -> PriceRow:
    row_id = str(data.get("id") or "").strip()
    if not row_id:
        raise HearthError("price row without an id")
    return PriceRow(
        id=row_id, provider=str(data.get("provider", "")), name=str(data.get("name", row_id)),
        input_per_m=_decimal(data.get("input_per_m"), "input_per_m", row_id),
        output_per_m=_decimal(data.get("output_per_m"), "output_per_m", row_id, optional=True),
        cached_input_per_m=_decimal(data.get("cached_input_per_m"), "cached_input_per_m", row_id, optional=True),
        tokenizer=str(data.get("tokenizer", "o200k_base")),
        token_ratio=_decimal(data.get("token_ratio", "1"), "token_ratio", row_id),
        tokens_exact=bool(data.get("tokens_exact", False)), reasoning=bool(data.get("reasoning", False)),
        effective_date=str(data.get("effective_date", "")), source=str(data.get("source", "")),
        date_basis=str(data.get("date_basis", "")), user=user,
    )


def user_prices_file() -> Path:
    return paths.user_prices_file()


def _read(path: Path) -> list[dict]:
    return read_json_rows(path, "prices")


def price_table() -> dict[str, PriceRow]:
    """The current price of every model: the user's rows replace shipped ones with the same id."""
    table: dict[str, PriceRow] = {}
    for data in _read(resource("prices.json")):
        row = row_from_json(data)
        table[row.id] = row
    for data in _read(user_prices_file()):
        try:
            row = row_from_json(data, user=True)
        except HearthError as exc:
            log.warning("ignoring a user price row: %s", exc)
            continue
        table[row.id] = row
    return table


def default_comparison() -> str:
    try:
        return json.loads(resource("prices.json").read_text()).get("default_comparison", "gpt-4o")
    except (OSError, ValueError):
        return "gpt-4o"


def find(model_id: str) -> PriceRow:
    table = price_table()
    if model_id not in table:
        raise HearthError(f"no price for {model_id!r}; known: {', '.join(sorted(table))}")
    return table[model_id]


def save_user_row(data: dict) -> PriceRow:
    """Add or replace one of the user's own rows (validated first)."""
    row = row_from_json(data, user=True)
    try:
        date.fromisoformat(row.effective_date)
    except ValueError:
        raise HearthError(f"a price needs the date it took effect as YYYY-MM-DD, not {row.effective_date!r}") from None
    rows = [r for r in _read(user_prices_file()) if r.get("id") != row.id]
    rows.append({k: v for k, v in row.as_json().items() if k != "user"})
    write_json_atomic(user_prices_file(), {"version": PRICES_VERSION, "prices": rows})
    return row

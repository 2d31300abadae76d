"""Record a reply in the tally with the user's current choices: the one entry point
the GUI, the CLI and (later) the document and server features share."""

from __future__ import annotations

from decimal import Decimal

from app.config import Settings
from app.savings import energy, prices
from app.savings.tally import Record, SavingsStore, Turn


def energy_inputs(settings: Settings, gpu_layers: int = 0) -> tuple[Decimal, Decimal]:
    """(USD per kWh, watts) from the settings."""
    watts = settings.device_watts
    if watts == "auto":
        watts_value = energy.DEFAULT_WATTS[energy.device_class(gpu_layers)]
    else:
        watts_value = Decimal(watts)
    return Decimal(settings.electricity_usd_per_kwh), watts_value


def comparison_row(settings: Settings) -> prices.PriceRow:
    table = prices.price_table()
    return table.get(settings.comparison_model) or table[prices.default_comparison()]


def seen_messages(messages: list[dict], dropped: int) -> list[dict]:
    """The messages the model actually read: the oldest ``dropped`` turns were left out."""
    if not dropped:
        return messages
    first = 1 if messages and messages[0].get("role") == "system" else 0
    return messages[:first] + messages[first + dropped:]


def turn_for_reply(messages: list[dict], reply: str, stats: dict, local_model: str | None,
                   conversation_id: int | None = None, message_id: int | None = None,
                   source: str = "chat") -> Turn:
    """A tally turn from a finished reply's stats (``ReplyStats`` as a dict)."""
    return Turn(messages=seen_messages(messages, stats.get("dropped_messages", 0)), reply=reply, source=source,
                conversation_id=conversation_id, message_id=message_id, local_model=local_model,
                local_prompt_tokens=stats.get("prompt_tokens", 0),
                local_completion_tokens=stats.get("completion_tokens", 0),
                wall_s=stats.get("total_ms", 0) / 1000, energy_j=stats.get("energy_j"),
                remote=bool(stats.get("remote")))


def record_turn(turn: Turn, settings: Settings, store: SavingsStore | None = None,
                row: prices.PriceRow | None = None) -> Record:
    """``row`` prices work that has its own paid counterpart (embeddings); else the comparison model."""
    own = store is None
    store = store or SavingsStore()
    try:
        kwh_price, watts = energy_inputs(settings)
        return store.record(turn, row or comparison_row(settings), kwh_price, watts)
    finally:
        if own:
            store.close()


def stale_prices_note(totals: dict, row) -> str | None:
    """Said wherever totals are shown: which prices they use when some replies were recorded
    with other rows than the comparison model's (after ``savings use``, before a re-price).
    Document indexing keeps its embedding price and does not count as stale."""
    from app.savings import prices

    stale = [k for k in totals.get("price_keys", [])
             if k != row.key and not k.startswith(prices.EMBEDDING_COMPARISON + "@")]
    if not stale:
        return None
    return (f"Totals still use the prices the replies were recorded with ({', '.join(stale)}), not {row.name}'s "
            f"({row.key}): re-price history to compare everything with {row.name}.")

"""``hearth savings``: what the same work would have cost on a paid API, net of electricity."""

from __future__ import annotations

from decimal import Decimal

from app.commands.output import print_json
from app.config import load_settings
from app.savings import prices
from app.savings.service import comparison_row, energy_inputs, stale_prices_note
from app.savings.tally import SavingsStore, usd


def run_savings(args) -> int:
    settings = load_settings()
    if args.savings_command == "prices":
        table = prices.price_table()
        if args.json:
            print_json([row.as_json() for row in table.values()])
        else:
            for row in table.values():
                out = f"{row.output_per_m:>6}" if row.output_per_m is not None else "     -"
                mark = "≈" if row.approximate else " "
                print(f"{row.id:24s} in {row.input_per_m:>6} out {out} /1M  {mark} since {row.effective_date}  "
                      f"{row.source}")
        return 0
    if args.savings_command == "use":
        row = prices.find(args.model)
        settings.set("comparison_model", row.id)
        settings.save()
        print(f"Comparing with {row.name} (prices of {row.effective_date}) from now on; "
              "'hearth savings reprice' applies it to earlier replies too.")
        return 0
    if args.savings_command == "set-price":
        row = prices.save_user_row(price_row_data(args))
        print(f"Saved {row.key}: ${row.input_per_m} input"
              + (f" / ${row.output_per_m} output" if row.output_per_m is not None else "") + " per 1M tokens.")
        return 0
    row = comparison_row(settings)
    store = SavingsStore()
    try:
        if args.savings_command == "reprice":
            report = store.reprice(row)
            print(f"Re-priced {report['replies']} replies with {row.key}: {report['changed']} changed; "
                  f"gross {usd(report['gross_before_usd'], 4)} -> {usd(report['gross_after_usd'], 4)}")
            return 0
        totals = store.totals()
    finally:
        store.close()
    kwh_price, watts = energy_inputs(settings)
    if args.json:
        print_json({
            "comparison_model": row.id,
            "comparison_name": row.name,
            "price_effective_date": row.effective_date,
            "price_source": row.source,
            "replies": totals["replies"],
            "input_tokens": totals["input_tokens"],
            "output_tokens": totals["output_tokens"],
            "gross_usd": str(totals["gross_usd"]),
            "energy_kwh": str(totals["energy_kwh"]),
            "energy_usd": str(totals["energy_usd"]),
            "net_usd": str(totals["net_usd"]),
            "approximate": totals["approximate"],
            "lower_bound": totals["lower_bound"],
            "priced_with": totals["price_keys"],
            "stale_prices_note": stale_prices_note(totals, row),
            "electricity_usd_per_kwh": str(kwh_price),
            "device_watts": str(watts),
            "replies_with_measured_energy": totals["energy_measured"],
        })
        return 0
    approx = "≈" if totals["approximate"] else ""
    stale = stale_prices_note(totals, row)
    print(f"Compared with {row.name} (prices of {row.effective_date}, {row.source})")
    if stale:
        print(f"Note: {stale} ('hearth savings reprice')")
    print(f"Replies       {totals['replies']:,}")
    print(f"Tokens        {totals['input_tokens']:,} input, {totals['output_tokens']:,} output "
          f"(counted with the paid API's tokenizer{', estimated' if approx else ''})")
    print(f"Paid API      {approx}{usd(totals['gross_usd'], 4)}")
    print(f"Electricity   {totals['energy_kwh'].quantize(Decimal('0.0001'))} kWh = "
          f"{usd(totals['energy_usd'], 4)} at ${kwh_price}/kWh")
    print(f"Net saved     {approx}{usd(totals['net_usd'], 4)}")
    if totals["lower_bound"]:
        print("Note: reasoning models also bill hidden reasoning tokens, which cannot be known: "
              "the real bill would be higher.")
    return 0


def price_row_data(args) -> dict:
    """A user price row from ``set-price`` options, keeping what the shipped row knows."""
    base = prices.price_table().get(args.model)
    data = base.as_json() if base else {"tokenizer": "o200k_base", "token_ratio": "1", "tokens_exact": False}
    data.update({"id": args.model, "input_per_m": args.input, "effective_date": args.date,
                 "source": args.source or "entered by the user", "date_basis": "entered by the user"})
    for key, value in (("output_per_m", args.output), ("cached_input_per_m", args.cached),
                       ("name", args.name), ("provider", args.provider)):
        if value:
            data[key] = value
    data.setdefault("name", args.model)
    return data

"""Prices, Decimal money, versioned records, energy, totals across restarts."""

import re
from decimal import Decimal

import pytest

from app import hardware
from app.config import Settings
from app.errors import HearthError
from app.savings import energy, prices
from app.savings.scale import GPT4_AT_SCALE
from app.savings.service import record_turn, seen_messages
from app.savings.tally import SavingsStore, Turn, usd

TURN = Turn(messages=[{"role": "user", "content": "hello world"}], reply="The quick brown fox jumps over the lazy dog.",
            local_model="smol", wall_s=2.0)


def test_price_table_rows_are_sourced_and_dated():
    table = prices.price_table()
    gpt4o = table["gpt-4o"]
    assert (gpt4o.input_per_m, gpt4o.output_per_m, gpt4o.cached_input_per_m) == (
        Decimal("2.50"), Decimal("10.00"), Decimal("1.25"))
    assert gpt4o.key == "gpt-4o@2024-08-06" and not gpt4o.approximate
    for row in table.values():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.effective_date), row.id
        assert row.source.startswith("https://"), row.id
    assert table["claude-sonnet-4.5"].approximate and table["claude-sonnet-4.5"].token_ratio == Decimal("1.25")
    assert table["o3"].reasoning and table["gpt-4"].tokenizer == "cl100k_base"


def test_decimal_arithmetic_to_the_cent():
    gpt4o = prices.find("gpt-4o")
    assert gpt4o.cost(1234, 567) == Decimal("0.008755")
    assert usd(gpt4o.cost(1234, 567)) == "$0.01"
    assert prices.find("gpt-4").cost(1000, 1000) == Decimal("0.09")
    assert usd(Decimal("1234567.891")) == "$1,234,567.89"
    assert prices.find("text-embedding-3-small").cost(1_000_000, 0) == Decimal("0.02")


def test_a_reply_is_billed_as_a_stateless_api_turn(hearth_home):
    record = record_turn(TURN, Settings())
    assert (record.input_tokens, record.output_tokens) == (9, 10)
    assert record.gross_usd == Decimal("0.0001225")  # 9 x 2.50/M + 10 x 10/M
    # No RAPL here: 65 W desktop default x 2 s = 130 J.
    assert record.energy_source in ("estimate", "rapl")
    assert "would have cost $0.000123" in record.tooltip()


def test_price_changes_never_rewrite_history_until_repriced(hearth_home):
    store = SavingsStore()
    old = store.record(TURN, prices.find("gpt-4o"), Decimal("0.20"), Decimal(50))
    prices.save_user_row({"id": "gpt-4o", "provider": "OpenAI", "name": "GPT-4o", "input_per_m": "5.00",
                          "output_per_m": "20.00", "tokenizer": "o200k_base", "tokens_exact": True,
                          "effective_date": "2026-11-01", "source": "https://example.invalid/my-contract"})
    new_row = prices.find("gpt-4o")
    assert new_row.key == "gpt-4o@2026-11-01" and new_row.user
    assert store.get(old.id).gross_usd == Decimal("0.0001225")  # untouched
    store.record(TURN, new_row, Decimal("0.20"), Decimal(50))
    assert store.totals()["price_keys"] == ["gpt-4o@2024-08-06", "gpt-4o@2026-11-01"]
    report = store.reprice(new_row)
    assert report["changed"] == 1 and report["replies"] == 2
    assert report["gross_before_usd"] == Decimal("0.0001225") + Decimal("0.000245")
    assert store.get(old.id).gross_usd == Decimal("0.000245") and store.get(old.id).price_key == new_row.key
    store.close()


def test_reprice_with_an_estimated_tokenizer_is_marked_approximate(hearth_home):
    store = SavingsStore()
    store.record(TURN, prices.find("gpt-4o"), Decimal("0.20"), Decimal(50))
    store.reprice(prices.find("claude-sonnet-4.5"))
    record = store.records()[0]
    assert (record.input_tokens, record.output_tokens) == (11, 13)  # 9 and 10 x 1.25, rounded half up
    assert record.approximate and "≈" in record.tooltip()
    store.close()


def test_energy_from_a_fake_rapl_folder(tmp_path, monkeypatch):
    package = tmp_path / "intel-rapl:0"
    (package / "intel-rapl:0:0").mkdir(parents=True)  # a sub-zone: must not be double-counted
    (package / "energy_uj").write_text("1000000\n")
    (package / "max_energy_range_uj").write_text("262143328850\n")
    (package / "intel-rapl:0:0" / "energy_uj").write_text("999\n")
    monkeypatch.setenv("HEARTH_RAPL_ROOT", str(tmp_path))
    before = hardware.read_energy_uj()
    assert before == {"intel-rapl:0": (1000000, 262143328850)}
    (package / "energy_uj").write_text("4600000\n")
    assert hardware.joules_between(before, hardware.read_energy_uj()) == pytest.approx(3.6)
    # The counter wrapped around.
    wrapped = {"intel-rapl:0": (262143000000, 262143328850)}
    assert hardware.joules_between(wrapped, {"intel-rapl:0": (100, 262143328850)}) == pytest.approx(0.32895)
    assert energy.reply_kwh(3.6, 99.0, Decimal(50)) == (Decimal("0.000001"), "rapl")


def test_unreadable_rapl_falls_back_to_watts_times_time(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_RAPL_ROOT", str(tmp_path / "nothing"))
    assert hardware.read_energy_uj() is None
    assert energy.reply_kwh(None, 7.2, Decimal(50)) == (Decimal("0.0001"), "estimate")


def test_net_is_gross_minus_energy_and_totals_survive_a_restart(hearth_home):
    store = SavingsStore()
    turn = Turn(messages=TURN.messages, reply=TURN.reply, energy_j=3600.0, conversation_id=7)
    store.record(turn, prices.find("gpt-4"), Decimal("0.20"), Decimal(50))
    store.close()
    again = SavingsStore()
    totals = again.totals()
    # gpt-4 counts with cl100k: 9 input, 10 output -> 9x30/M + 10x60/M = 0.00087; 0.001 kWh x 0.20 = 0.0002
    assert totals["gross_usd"] == Decimal("0.00087")
    assert totals["energy_kwh"] == Decimal("0.001") and totals["energy_usd"] == Decimal("0.0002")
    assert totals["net_usd"] == Decimal("0.00067")
    assert again.grouped("conversation")[0][0] == "7"
    again.close()


def test_messages_dropped_from_the_context_are_not_billed():
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]
    assert seen_messages(msgs, 2) == [msgs[0], msgs[3]]
    assert seen_messages(msgs, 0) == msgs


def test_bad_user_price_rows_are_refused_readably(hearth_home):
    with pytest.raises(HearthError, match="input_per_m is not a number"):
        prices.save_user_row({"id": "x", "input_per_m": "cheap", "effective_date": "2026-01-01"})
    with pytest.raises(HearthError, match="date it took effect"):
        prices.save_user_row({"id": "x", "input_per_m": "1"})
    with pytest.raises(HearthError, match="not '2026-13-01'"):
        prices.save_user_row({"id": "x", "input_per_m": "1", "effective_date": "2026-13-01"})


def test_the_scale_preset_reproduces_the_quoted_figures():
    assert GPT4_AT_SCALE.paid_monthly_usd() == Decimal("9999000.00")  # ~$10M
    assert GPT4_AT_SCALE.open_monthly_usd() == Decimal("50663.50")  # ~$50K
    per_user = GPT4_AT_SCALE.paid_monthly_usd() / GPT4_AT_SCALE.monthly_users
    assert round(per_user, 2) == Decimal("2.00")
    cheap = GPT4_AT_SCALE.with_values(paid_input_per_m=Decimal("0.15"), paid_output_per_m=Decimal("0.60"))
    assert cheap.ratio() < 3  # against gpt-4o-mini the gap nearly closes


def test_reprice_keeps_each_rows_kind_embedding_work_stays_at_an_embedding_price(hearth_home):
    store = SavingsStore()
    embed_row = prices.find("text-embedding-3-small")
    indexing = store.record(Turn(messages=[{"role": "user", "content": "passage " * 500}], reply="",
                                 local_model="minilm", wall_s=1.0, source="embedding"),
                            embed_row, Decimal("0.20"), Decimal(50))
    chat = store.record(TURN, prices.find("gpt-4o"), Decimal("0.20"), Decimal(50))
    before = store.get(indexing.id).gross_usd
    store.reprice(prices.find("claude-sonnet-4.5"))
    assert store.get(indexing.id).gross_usd == before  # still priced as embedding work
    assert store.get(indexing.id).price_key == embed_row.key
    assert store.get(chat.id).price_key == prices.find("claude-sonnet-4.5").key
    store.close()


def test_after_choosing_another_comparison_the_totals_say_which_prices_they_use(hearth_home):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    store = SavingsStore()
    store.record(TURN, prices.find("gpt-4o"), Decimal("0.20"), Decimal(50))
    store.close()
    env = dict(os.environ, PYTHONPATH=str(root))
    run = lambda *a: subprocess.run([sys.executable, "-m", "app", "savings", *a], capture_output=True,  # noqa: E731
                                    text=True, env=env, cwd=root, timeout=60)
    assert run("use", "claude-sonnet-4.5").returncode == 0
    shown = run().stdout
    assert "Compared with Claude Sonnet 4.5" in shown
    assert "Totals still use the prices the replies were recorded with (gpt-4o@2024-08-06)" in shown
    assert run("reprice").returncode == 0
    assert "Totals still use" not in run().stdout

"""What a service's traffic would cost per month on a paid API against a hosted open model.

Every assumption is an input; the preset reproduces the often-quoted figure of
5 million monthly users costing about $10M a month on GPT-4 against about
$50K on a hosted open model, and shows exactly which assumptions give it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Scenario:
    name: str
    monthly_users: int
    conversations_per_user: Decimal
    input_tokens_per_conversation: int
    output_tokens_per_conversation: int
    paid_input_per_m: Decimal
    paid_output_per_m: Decimal
    open_input_per_m: Decimal
    open_output_per_m: Decimal
    explanation: str = ""

    def tokens_per_month(self) -> tuple[Decimal, Decimal]:
        conversations = Decimal(self.monthly_users) * self.conversations_per_user
        return (conversations * self.input_tokens_per_conversation,
                conversations * self.output_tokens_per_conversation)

    def paid_monthly_usd(self) -> Decimal:
        inp, out = self.tokens_per_month()
        return (inp * self.paid_input_per_m + out * self.paid_output_per_m) / MILLION

    def open_monthly_usd(self) -> Decimal:
        inp, out = self.tokens_per_month()
        return (inp * self.open_input_per_m + out * self.open_output_per_m) / MILLION

    def ratio(self) -> Decimal:
        open_cost = self.open_monthly_usd()
        return self.paid_monthly_usd() / open_cost if open_cost else Decimal(0)

    def with_values(self, **changes) -> "Scenario":
        return replace(self, **changes)


GPT4_AT_SCALE = Scenario(
    name="GPT-4 at 5M monthly users (the often-quoted $10M vs $50K)",
    monthly_users=5_000_000,
    conversations_per_user=Decimal(10),
    input_tokens_per_conversation=4_000,
    output_tokens_per_conversation=1_333,
    paid_input_per_m=Decimal("30.00"),
    paid_output_per_m=Decimal("60.00"),
    open_input_per_m=Decimal("0.19"),
    open_output_per_m=Decimal("0.19"),
    explanation=(
        "5M users × 10 conversations a month × (4,000 input + 1,333 output tokens) at GPT-4's legacy list "
        "price ($30 / $60 per 1M) is about $2.00 per user, ~$10.0M a month. The same 267B tokens on a hosted "
        "~8B open model at $0.19 per 1M is ~$0.01 per user, ~$50.7K a month: a ~197× gap. Against today's "
        "cheap paid models the gap is far smaller: change the prices to see."
    ),
)


HOURS_PER_MONTH = Decimal(730)
INPUT_SHARE_OF_OUTPUT_PRICE = Decimal("0.1")  # reading a prompt runs ~10x faster than generating


@dataclass(frozen=True)
class SelfHosted:
    """A team's own server, priced from its measured throughput instead of a quoted figure."""

    tokens_per_s: Decimal      # measured total generation throughput (hearth engines bench)
    usd_per_hour: Decimal      # what the server costs to run (a cloud GPU's price, or amortised hardware)
    utilisation: Decimal = Decimal("0.5")  # share of the hours it is busy: traffic is not flat

    def output_per_m(self) -> Decimal:
        if self.tokens_per_s <= 0 or self.utilisation <= 0:
            raise ValueError("throughput and utilisation must be above zero")
        per_hour = self.tokens_per_s * 3600 * self.utilisation
        return (self.usd_per_hour / per_hour * MILLION).quantize(Decimal("0.0001"))

    def input_per_m(self) -> Decimal:
        return (self.output_per_m() * INPUT_SHARE_OF_OUTPUT_PRICE).quantize(Decimal("0.0001"))

    def servers_for(self, scenario: Scenario) -> Decimal:
        _inp, out = scenario.tokens_per_month()
        capacity = self.tokens_per_s * 3600 * HOURS_PER_MONTH * self.utilisation
        return out / capacity

    def explain(self, measured: str) -> str:
        return (f"Open model priced from your own server: {self.tokens_per_s} tokens/s measured ({measured}), "
                f"${self.usd_per_hour} an hour, busy {self.utilisation * 100:.0f}% of the time: "
                f"${self.output_per_m()} per 1M output tokens; input tokens at a tenth of that (reading a "
                "prompt runs about ten times faster than generating). Every figure is an input: change it.")

"""Decimal projections of savings products, year by year. Pure: no Django.

Conventions (stated in the picture's footnote):
- the rate is constant over the whole horizon;
- monthly top-ups arrive at the end of each month;
- ``yearly``: interest is credited once a year; a top-up earns simple interest
  for the months it spent in the account during that year, then compounds;
- ``monthly``: rate/12 is credited every month, then the top-up is added;
- ``simple``: interest is never reinvested: every rouble earns rate × time;
- a balance never goes below zero (a loss cannot exceed what was put in).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

ZERO = Decimal(0)
CENT = Decimal("0.01")
MONTHS = 12

COMPOUNDING_CHOICES = ("yearly", "monthly", "simple")
RISK_CHOICES = ("low", "medium", "high")


@dataclass(frozen=True)
class ProductInput:
    name: str
    rate_pct: Decimal
    compounding: str = "yearly"
    risk: str = "low"


@dataclass(frozen=True)
class Projection:
    """Balances for years 0..horizon and what was paid in by each year."""

    values: tuple[Decimal, ...]
    invested: tuple[Decimal, ...]

    @property
    def final(self) -> Decimal:
        return self.values[-1]

    def gain(self, year: int) -> Decimal:
        return self.values[year] - self.invested[year]

    def gain_pct(self, year: int) -> Decimal | None:
        """Gain relative to money paid in, in %; None when nothing was paid in."""
        paid = self.invested[year]
        if paid <= 0:
            return None
        return (self.gain(year) * 100 / paid).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def _cents(value: Decimal) -> Decimal:
    return max(value, ZERO).quantize(CENT, rounding=ROUND_HALF_EVEN)


def project(initial: Decimal, monthly: Decimal, rate_pct: Decimal, compounding: str, years: int) -> Projection:
    """Project a balance over ``years`` whole years; every yearly value is rounded to cents."""
    if compounding not in COMPOUNDING_CHOICES:
        raise ValueError(f"unknown compounding: {compounding!r}")
    if years < 0:
        raise ValueError("years must be >= 0")
    initial, monthly, rate_pct = Decimal(initial), Decimal(monthly), Decimal(rate_pct)
    # 30 years at 100 % compounded monthly is ~1e12×; 40 digits keep cents exact.
    with localcontext() as ctx:
        ctx.prec = 40
        rate = rate_pct / 100
        values = [_cents(initial)]
        invested = [_cents(initial)]
        balance = initial
        principal = initial  # for simple interest: money paid in so far
        accrued = ZERO  # for simple interest: interest earned so far
        for year in range(1, years + 1):
            if compounding == "monthly":
                monthly_rate = rate / MONTHS
                for _ in range(MONTHS):
                    balance = max(balance * (1 + monthly_rate), ZERO) + monthly
            elif compounding == "yearly":
                # Top-up of month m (1..12) spends 12 - m months in the account this year.
                top_up_interest = monthly * rate * Decimal(sum(MONTHS - m for m in range(1, MONTHS + 1))) / MONTHS
                balance = max(balance * (1 + rate) + monthly * MONTHS + top_up_interest, ZERO)
            else:
                for _ in range(MONTHS):
                    accrued += principal * rate / MONTHS
                    principal += monthly
                balance = max(principal + accrued, ZERO)
            values.append(_cents(balance))
            invested.append(_cents(initial + monthly * MONTHS * year))
    return Projection(values=tuple(values), invested=tuple(invested))


def project_all(initial: Decimal, monthly: Decimal, years: int, products: list[ProductInput]) -> list[Projection]:
    return [project(initial, monthly, p.rate_pct, p.compounding, years) for p in products]

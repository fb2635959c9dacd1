"""Decimal projections: the arithmetic behind every tree."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from illustrations.finance import project


def test_yearly_compounding_without_topups_matches_the_textbook_formula():
    p = project(D(1000), D(0), D(10), "yearly", 3)
    assert p.values == (D("1000.00"), D("1100.00"), D("1210.00"), D("1331.00"))
    assert p.invested == (D("1000.00"),) * 4


def test_monthly_compounding_beats_yearly_at_the_same_nominal_rate():
    monthly = project(D(1000), D(0), D(12), "monthly", 1)
    assert monthly.final == (D(1000) * (D(1) + D("0.01")) ** 12).quantize(D("0.01"))
    assert monthly.final > project(D(1000), D(0), D(12), "yearly", 1).final


def test_simple_interest_never_reinvests():
    p = project(D(1000), D(0), D(10), "simple", 5)
    assert p.values == tuple(D(1000 + 100 * n).quantize(D("0.01")) for n in range(6))


def test_topups_are_counted_as_invested_and_earn_interest_for_their_months():
    p = project(D(0), D(100), D(12), "yearly", 1)
    assert p.invested[1] == D("1200.00")
    # Month m earns 12 % × (12 − m)/12: 100 × 0.12 × (11 + 10 + … + 0)/12 = 66.
    assert p.values[1] == D("1266.00")
    monthly = project(D(0), D(100), D(0), "monthly", 2)
    assert monthly.values == (D("0.00"), D("1200.00"), D("2400.00"))


def test_zero_rate_keeps_exactly_what_was_paid_in():
    for compounding in ("yearly", "monthly", "simple"):
        p = project(D("123456.78"), D(1000), D(0), compounding, 30)
        assert p.values == p.invested
        assert p.gain_pct(30) == 0


def test_negative_rates_lose_money_but_never_go_below_zero():
    yearly = project(D(1000), D(0), D(-50), "yearly", 3)
    assert yearly.values == (D("1000.00"), D("500.00"), D("250.00"), D("125.00"))
    simple = project(D(1000), D(0), D(-50), "simple", 5)
    assert simple.values[2] == D(0) and simple.values[5] == D(0)
    assert simple.gain_pct(5) == D("-100.0")


def test_thirty_years_at_a_hundred_percent_stays_exact_to_the_cent():
    p = project(D(1), D(0), D(100), "yearly", 30)
    assert p.final == D(2**30)
    huge = project(D("100000000000"), D("1000000000"), D(100), "monthly", 30)
    assert huge.final > D(10) ** 23
    assert huge.final == huge.final.quantize(D("0.01"))


def test_unknown_compounding_is_rejected():
    with pytest.raises(ValueError):
        project(D(1), D(0), D(1), "daily", 1)

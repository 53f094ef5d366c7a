"""Portfolio money on one basis: hand-worked restatements of NPVs across dates, rates and price bases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vmo_lib.errors import AnalysisError
from vmo_lib.model import make_case
from vmo_lib.portfolio.basis import PortfolioBasis, basis_factors, basis_totals, restate_portfolio
from vmo_lib.portfolio.register import batch_appraisal


def _case(cid, first, amounts, rate=0.05, length="year", price_base="real", base_year=2026, currency="GBP", **meta):
    return make_case({"case_id": cid, "first_period": first, "period_length": length, "horizon": len(amounts),
                      "discount_rate": rate, "price_base": price_base, "base_year": base_year, "currency": currency,
                      **meta},
                     costs=[{"line_id": "C1", "name": "Build", "category": "capex",
                             "amounts": [max(-a, 0.0) for a in amounts]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [max(a, 0.0) for a in amounts]}])


def test_a_case_on_the_portfolio_basis_keeps_its_npv():
    c = _case("A", "2026Q1", [-100, 30, 40, 50, 60], rate=0.08, length="quarter")
    r = restate_portfolio([c], PortfolioBasis("2026Q1", 0.08)).loc["A"]
    own = batch_appraisal([c]).loc["A"]
    assert r["own_npv"] == pytest.approx(own["npv"], abs=1e-9)
    assert r["npv"] == pytest.approx(own["npv"], abs=1e-9)
    assert r["pv_capex"] == pytest.approx(own["pv_capex"]) and r["pv_benefits"] == pytest.approx(own["pv_benefits"])
    assert bool(r["restated"]) and r["note"] == ""


def test_a_case_starting_two_years_later_is_discounted_two_more_years():
    c = _case("L", "2028Q1", [-100, 30, 40, 50, 60], rate=0.08, length="quarter")
    r = restate_portfolio([c], PortfolioBasis("2026Q1", 0.08)).loc["L"]
    assert r["npv"] == pytest.approx(r["own_npv"] / 1.08 ** 2)
    # and a case that started before the base date is carried forward
    e = _case("E", "2025Q3", [-100, 30, 40, 50, 60], rate=0.08, length="quarter")
    re_ = restate_portfolio([e], PortfolioBasis("2026Q1", 0.08)).loc["E"]
    assert re_["npv"] == pytest.approx(re_["own_npv"] * 1.08 ** 0.5)


def test_a_case_at_another_rate_is_rediscounted_at_the_portfolio_rate():
    c = _case("R", "2026", [-100, 110], rate=0.10)
    r = restate_portfolio([c], PortfolioBasis("2026", 0.05)).loc["R"]
    assert r["own_npv"] == pytest.approx(0.0, abs=1e-9)                 # -100 + 110 / 1.1
    assert r["npv"] == pytest.approx(-100 + 110 / 1.05)                  # 4.7619...
    assert r["pv_costs"] == pytest.approx(100.0) and r["pv_benefits"] == pytest.approx(110 / 1.05)


def test_a_nominal_case_is_deflated_at_the_stated_inflation():
    c = _case("N", "2027", [-102, 104.04], rate=0.0, price_base="nominal")
    basis = PortfolioBasis("2026", 0.05, inflation=0.02)
    r = restate_portfolio([c], basis).loc["N"]
    # 2027: -102 / 1.02 = -100 of 2026 prices, discounted one year; 2028: 104.04 / 1.02^2 = 100, two years
    assert r["npv"] == pytest.approx(-100 / 1.05 + 100 / 1.05 ** 2)
    assert r["own_npv"] == pytest.approx(2.04)
    f, note = basis_factors(c, basis)
    np.testing.assert_allclose(f, [1 / (1.02 * 1.05), 1 / (1.02 ** 2 * 1.05 ** 2)])


def test_a_nominal_case_without_inflation_is_kept_apart_never_mixed():
    real = _case("R", "2026", [-100, 150], rate=0.0)
    nominal = _case("N", "2026", [-100, 120], rate=0.0, price_base="nominal")
    t = restate_portfolio([real, nominal], PortfolioBasis("2026", 0.0))
    assert not bool(t.loc["N", "restated"]) and math.isnan(t.loc["N", "npv"])
    assert "no inflation" in t.loc["N", "note"]
    tot = basis_totals(t).set_index("restated")
    assert tot.loc[True, "cases"] == 1 and tot.loc[True, "npv"] == pytest.approx(50.0)   # the real case only
    assert tot.loc[False, "cases"] == 1 and math.isnan(tot.loc[False, "npv"])
    assert tot.loc[False, "own_npv"] == pytest.approx(20.0)


def test_real_prices_of_another_year_are_moved_to_the_basis_year():
    c = _case("P", "2026", [0, 100], rate=0.0, base_year=2024)
    r = restate_portfolio([c], PortfolioBasis("2026", 0.0, inflation=0.03)).loc["P"]
    assert r["npv"] == pytest.approx(100 * 1.03 ** 2)
    assert not restate_portfolio([c], PortfolioBasis("2026", 0.0)).loc["P", "restated"]


def test_real_case_on_a_nominal_basis_is_inflated_from_its_base_year():
    c = _case("Q", "2026", [-100, 100], rate=0.0, base_year=2026)
    r = restate_portfolio([c], PortfolioBasis("2026", 0.04, price_base="nominal", inflation=0.02)).loc["Q"]
    assert r["npv"] == pytest.approx(-100 + 100 * 1.02 / 1.04)


def test_quarterly_flows_are_discounted_by_the_quarters_from_the_base():
    c = _case("H", "2026Q3", [0, 100], rate=0.0, length="quarter")
    r = restate_portfolio([c], PortfolioBasis("2026Q1", 0.06)).loc["H"]
    assert r["npv"] == pytest.approx(100 / 1.06 ** 0.75)                  # 2026Q4 starts 3 quarters after 2026Q1


def test_green_book_case_is_restated_at_the_flat_portfolio_rate():
    c = _case("G", "2026", [-100, 60, 60], rate=0.035, discount_schedule="standard")
    r = restate_portfolio([c], PortfolioBasis("2026", 0.035)).loc["G"]
    assert r["npv"] == pytest.approx(-100 + 60 / 1.035 + 60 / 1.035 ** 2)
    assert "Green Book" in r["note"] and bool(r["restated"])


def test_a_bad_basis_names_every_problem():
    with pytest.raises(AnalysisError) as e:
        PortfolioBasis("26Q5", 7, price_base="cash", inflation=3)
    msg = str(e.value)
    assert "base_period '26Q5'" in msg and "discount_rate 7" in msg and "price_base 'cash'" in msg and "inflation 3" in msg

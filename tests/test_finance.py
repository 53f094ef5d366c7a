"""Tests of vmo_lib.analysis.finance against Microsoft's documented examples, LibreOffice, hand-worked values,
identities and hypothesis properties. Every test here fails if a number is wrong."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import vmo_lib.analysis.finance
from vmo_lib.analysis import finance as fin
from vmo_lib.errors import AnalysisError

FIXTURE = Path(__file__).parent / "fixtures" / "libreoffice_finance.json"
MS_XIRR_DATES = ["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]
MS_XIRR_FLOWS = [-10_000, 2_750, 4_250, 3_250, 2_750]


def test_docstring_examples_run_and_pass():
    result = doctest.testmod(vmo_lib.analysis.finance, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 25
    assert result.failed == 0


# --------------------------------------------------------------------------------------------------
# Microsoft's documented examples (support.microsoft.com: NPV, XNPV, IRR, XIRR, MIRR)
# --------------------------------------------------------------------------------------------------
def test_ms_npv_example_excel_convention_first_value_discounted():
    assert fin.excel_npv(0.10, [-10_000, 3_000, 4_200, 6_800]) == pytest.approx(1188.44, abs=0.005)


def test_ms_npv_example_reconciles_t0_convention_with_excel():
    flows = [-40_000, 8_000, 9_200, 10_000, 12_000, 14_500]
    assert fin.npv(0.08, flows) == pytest.approx(1922.06, abs=0.005)
    assert fin.npv(0.08, flows) == pytest.approx(flows[0] + fin.excel_npv(0.08, flows[1:]), rel=1e-14)
    assert fin.npv(0.08, [*flows, -9_000]) == pytest.approx(-3749.47, abs=0.005)


def test_ms_xnpv_example():
    assert fin.xnpv(0.09, MS_XIRR_FLOWS, MS_XIRR_DATES) == pytest.approx(2086.65, abs=0.005)


def test_ms_xirr_example():
    # Excel shows 0.373362535; its XIRR stops at 0.000001 %, the exact root is 0.3733625335...
    assert fin.xirr(MS_XIRR_FLOWS, MS_XIRR_DATES) == pytest.approx(0.373362535, abs=5e-9)
    assert fin.xnpv(fin.xirr(MS_XIRR_FLOWS, MS_XIRR_DATES), MS_XIRR_FLOWS, MS_XIRR_DATES) == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize(
    ("periods", "guess", "shown"),
    [(5, 0.1, -0.021), (6, 0.1, 0.087), (3, -0.1, -0.444)],
    ids=["after_four_years", "after_five_years", "after_two_years_with_guess"],
)
def test_ms_irr_examples(periods, guess, shown):
    flows = [-70_000, 12_000, 15_000, 18_000, 21_000, 26_000][:periods]
    assert round(fin.irr(flows, guess), 3) == shown


def test_ms_irr_example_to_more_digits_matches_pyxirr():
    pyxirr = pytest.importorskip("pyxirr")
    flows = [-70_000, 12_000, 15_000, 18_000, 21_000, 26_000]
    assert fin.irr(flows) == pytest.approx(0.0866309480365316, abs=1e-12)
    assert fin.irr(flows) == pytest.approx(pyxirr.irr(flows), abs=1e-10)


def test_ms_mirr_example():
    flows = [-120_000, 39_000, 30_000, 21_000, 37_000, 46_000]
    assert fin.mirr(flows, 0.10, 0.12) == pytest.approx(0.126094, abs=5e-7)
    assert round(fin.mirr(flows, 0.10, 0.12), 4) == 0.1261


# --------------------------------------------------------------------------------------------------
# LibreOffice fixture (tests/fixtures/libreoffice_finance.json, scripts/make_libreoffice_fixture.py)
# --------------------------------------------------------------------------------------------------
def _load_cases():
    return json.loads(FIXTURE.read_text())["cases"]


CASES = _load_cases()


def _libreoffice_irr(values, guess):
    """LibreOffice 7.4's IRR (ScInterpreter::ScIRR): Newton on r, 20 steps, |step| < 1e-7, no guard."""
    v = np.asarray(values, dtype=float)
    t = np.arange(v.size, dtype=float)
    x, eps = (0.1 if guess == -1.0 else guess), 1.0
    with np.errstate(all="ignore"):
        for _ in range(20):
            new = x - np.sum(v / (1 + x) ** t) / np.sum(-t * v / (1 + x) ** (t + 1))
            eps, x = abs(new - x), new
            if eps <= 1e-7 or not math.isfinite(x):
                break
    return x if eps < 1e-7 else None


def _is_root(values, rate):
    """|NPV| <= 1e-9 of the discounted flows' size, or (near -100 %, where a float rate cannot hold
    1 + r precisely) the NPV changes sign within 4 units in the last place of the rate."""
    v = np.asarray(values, dtype=float)
    t = np.arange(v.size, dtype=float)
    if not rate > -1:
        return False
    with np.errstate(all="ignore"):
        df = (1 + rate) ** -t
        if abs(v @ df) <= 1e-9 * (np.abs(v) @ df):
            return True
        step = 4 * np.spacing(abs(rate))
        fv = [v @ (1 + r) ** (v.size - 1 - t) for r in (rate - step, rate + step)]  # NPV x (1+r)^(n-1)
    return rate - step > -1 and np.sign(fv[0]) * np.sign(fv[1]) < 0  # (the product itself can underflow)


def test_fixture_is_big_and_varied():
    kinds = {c["kind"] for c in CASES}
    assert len(CASES) >= 100
    assert {"monthly_long", "multi_sign", "two_roots", "one_sign", "no_real_root", "zeros", "scale", "dated"} <= kinds
    assert max(len(c["values"]) for c in CASES) >= 120


def test_libreoffice_irr_algorithm_is_understood():
    # Our replica of LibreOffice's IRR reproduces every fixture value and every error: so where LO
    # fails below, it is its 20-step limit (or no root), which the replica shows case by case.
    for case in CASES:
        for key, guess in (("irr", 0.1), ("irr_guess", case["guess"])):
            lo, replica = case["libreoffice"][key], _libreoffice_irr(case["values"], guess)
            if isinstance(lo, dict):
                assert replica is None, case["id"]
            else:
                assert replica == pytest.approx(lo, abs=1e-12), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_npv_and_excel_npv_match_libreoffice(case):
    v = np.array(case["values"])
    lo = case["libreoffice"]
    size = np.abs(v) @ np.abs(fin.discount_factors(case["rate"], v.size))
    if "npv_t0" in lo:
        assert fin.npv(case["rate"], v) == pytest.approx(lo["npv_t0"], rel=1e-13, abs=1e-13 * size)
    assert fin.excel_npv(case["rate"], v) == pytest.approx(lo["excel_npv"], rel=1e-13, abs=1e-13 * size)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_mirr_matches_libreoffice(case):
    lo = case["libreoffice"]["mirr"]
    ours = fin.mirr(case["values"], case["finance_rate"], case["reinvest_rate"])
    if isinstance(lo, dict):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(lo, abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("key", ["irr", "irr_guess"])
def test_irr_matches_libreoffice(case, key):
    v = case["values"]
    guess = 0.1 if key == "irr" else case["guess"]
    lo = case["libreoffice"][key]
    ours = fin.irr(v, guess)
    if isinstance(lo, dict):  # LibreOffice: error
        if math.isnan(ours):
            return
        # We found a root where LibreOffice gave up: it must be a real root, and LibreOffice's own
        # algorithm must be shown to stop on its 20-step limit, not on the absence of a root.
        assert _is_root(v, ours), case["id"]
        assert ours in fin.irr_roots(v) or np.isclose(fin.irr_roots(v), ours, atol=1e-9).any()
        assert _libreoffice_irr(v, guess) is None
        return
    if lo > -1:  # LibreOffice ran Excel's documented iteration to a rate: ours is that root
        assert ours == pytest.approx(lo, abs=1e-9), case["id"]
        return
    # LibreOffice's unguarded Newton ended below -100 % (not a rate of return, never returned by us):
    # ours must then be a true root, found by the fall-backs.
    assert _is_root(v, ours), case["id"]
    assert np.isclose(fin.irr_roots(v), ours, atol=1e-9).any()


def test_irr_agrees_with_libreoffice_to_1e9_where_it_converges_to_an_economic_rate():
    compared = 0
    for case in CASES:
        lo = case["libreoffice"]["irr"]
        if isinstance(lo, float) and lo > -1 and len(fin.irr_roots(case["values"])) == 1:
            assert fin.irr(case["values"]) == pytest.approx(lo, abs=1e-9), case["id"]
            compared += 1
    assert compared >= 60


DATED = [c for c in CASES if c["dates"]]


@pytest.mark.parametrize("case", DATED, ids=[c["id"] for c in DATED])
def test_xnpv_and_xirr_match_libreoffice(case):
    v, dates, lo = case["values"], case["dates"], case["libreoffice"]
    size = float(np.abs(v).sum())
    assert fin.xnpv(case["rate"], v, dates) == pytest.approx(lo["xnpv"], rel=1e-13, abs=1e-12 * size)
    for key, guess in (("xirr", 0.1), ("xirr_guess", case["guess"])):
        ours = fin.xirr(v, dates, guess)
        if isinstance(lo[key], dict):
            assert math.isnan(ours), case["id"]
        else:
            assert ours == pytest.approx(lo[key], abs=1e-9), case["id"]


# --------------------------------------------------------------------------------------------------
# IRR behaviour: no root, several roots, residual check, 2-D, raising
# --------------------------------------------------------------------------------------------------
def test_irr_is_nan_without_a_root():
    assert math.isnan(fin.irr([100, 200, 300]))
    assert math.isnan(fin.irr([-100, -200]))
    assert math.isnan(fin.irr([0, 0, 0]))
    assert math.isnan(fin.irr([100, -100, 100]))  # sign changes but no real root
    assert math.isnan(fin.irr([-100, np.nan, 150]))


def test_irr_raises_analysis_error_when_asked():
    with pytest.raises(AnalysisError, match="no IRR"):
        fin.irr([100, 100], raise_on_failure=True)
    with pytest.raises(AnalysisError):
        fin.xirr([100, 100], ["2020-01-01", "2021-01-01"], raise_on_failure=True)


def test_two_root_series_gives_excels_root_and_reports_both():
    flows = [-100, 230, -132]  # roots 10 % and 20 %
    assert fin.irr(flows) == pytest.approx(0.1, abs=1e-12)  # Newton from 0.1
    assert fin.irr(flows, guess=0.25) == pytest.approx(0.2, abs=1e-12)
    rep = fin.irr_report(flows)
    assert rep.roots == pytest.approx((0.1, 0.2), abs=1e-12)
    assert rep.ambiguous and rep.sign_changes == 2
    assert "MIRR" in rep.message


def test_irr_roots_finds_three_roots():
    flows = -np.poly([1 / 1.05, 1 / 1.2, 1 / 1.4])[::-1]
    assert fin.irr_roots(flows) == pytest.approx([0.05, 0.2, 0.4], abs=1e-9)


def test_irr_report_unique_and_missing():
    assert not fin.irr_report([-100, 60, 60]).ambiguous
    rep = fin.irr_report([100, 100])
    assert math.isnan(rep.irr) and rep.roots == () and "No IRR" in rep.message


def test_tiny_flows_get_a_true_root_not_an_absolute_tolerance_artefact():
    flows = np.array([-1.0, 0.6, 0.6]) * 1e-9
    assert fin.irr(flows) == pytest.approx(fin.irr([-1.0, 0.6, 0.6]), abs=1e-13)


def test_irr_2d_returns_one_rate_per_row_and_accepts_row_guesses():
    flows = np.array([[-100, 110, 0], [-100, 0, 121], [-100, 230, -132]])
    assert fin.irr(flows).tolist() == pytest.approx([0.1, 0.1, 0.1], abs=1e-12)
    assert fin.irr(flows, guess=[0.1, 0.1, 0.3])[2] == pytest.approx(0.2, abs=1e-12)


def test_irr_long_monthly_series_where_excel_style_newton_gives_up():
    rng = np.random.default_rng(3)
    flows = rng.uniform(8_000, 12_000, 180)
    flows[0] = -1_000_000
    rate = fin.irr(flows)
    assert _is_root(flows, rate)
    assert fin.npv(rate, flows) == pytest.approx(0, abs=1e-6)


# --------------------------------------------------------------------------------------------------
# hypothesis properties
# --------------------------------------------------------------------------------------------------
amounts = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def investment_series(draw, max_len=30):
    n = draw(st.integers(2, max_len))
    cents = st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2))
    rest = draw(arrays(np.float64, n - 1, elements=cents))
    outlay = draw(st.floats(1, 1e7, allow_nan=False).map(lambda x: round(x, 2)))
    assume(rest.sum() > 0)
    return np.concatenate([[-outlay], rest])


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(2, 25), elements=amounts), st.floats(-0.5, 1.0))
def test_property_returned_irr_is_a_root(flows, guess):
    rate = fin.irr(flows, guess)
    if not math.isnan(rate):
        assert _is_root(flows, rate)


@settings(max_examples=200, deadline=None)
@given(investment_series())
def test_property_conventional_series_always_has_its_irr(flows):
    rate = fin.irr(flows)
    assert _is_root(flows, rate)
    assert len(fin.irr_roots(flows)) == 1


@settings(max_examples=150, deadline=None)
@given(investment_series(), st.floats(1e-6, 1e6), st.sampled_from([1.0, -1.0]))
def test_property_scaling_flows_leaves_irr_unchanged(flows, factor, sign):
    # abs 1e-9 for ordinary rates; relative 1e-12 for extreme ones (an IRR of 907,441 differs in the 16th digit)
    assert fin.irr(flows * factor * sign) == pytest.approx(fin.irr(flows), rel=1e-12, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(2, 15)), elements=amounts))
def test_property_2d_equals_row_by_row(flows):
    together = fin.irr(flows)
    one_by_one = np.array([fin.irr(row) for row in flows])
    np.testing.assert_allclose(together, one_by_one, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fin.npv(0.07, flows), [fin.npv(0.07, row) for row in flows], rtol=1e-12)  # BLAS sums in another order
    np.testing.assert_allclose(fin.mirr(flows, 0.05, 0.1), [fin.mirr(row, 0.05, 0.1) for row in flows])
    np.testing.assert_array_equal(fin.payback(flows), [fin.payback(row) for row in flows])


@settings(max_examples=150, deadline=None)
@given(
    arrays(np.float64, 12, elements=amounts),
    arrays(np.float64, 12, elements=amounts),
    st.floats(-100, 100),
    st.floats(-0.5, 2.0),
)
def test_property_npv_is_linear_in_values(a, b, k, rate):
    size = (np.abs(a) + abs(k) * np.abs(b)) @ fin.discount_factors(rate, 12)
    assert fin.npv(rate, a + k * b) == pytest.approx(fin.npv(rate, a) + k * fin.npv(rate, b), abs=1e-12 * size + 1e-9)


@settings(max_examples=100, deadline=None)
@given(investment_series(max_len=12), st.floats(0.0, 0.3))
def test_property_npv_matches_numpy_financial(flows, rate):
    npf = pytest.importorskip("numpy_financial")
    assert fin.npv(rate, flows) == pytest.approx(npf.npv(rate, flows), rel=1e-12, abs=1e-6)


# --------------------------------------------------------------------------------------------------
# NPV, discounting, Green Book
# --------------------------------------------------------------------------------------------------
def test_npv_period_zero_is_not_discounted():
    assert fin.npv(0.1, [-100, 110]) == pytest.approx(0.0, abs=1e-12)
    assert fin.excel_npv(0.1, [-100, 110]) == pytest.approx(-100 / 1.1 + 110 / 1.21, abs=1e-12)


def test_npv_nan_flow_gives_nan_for_that_row_only():
    out = fin.npv(0.1, [[-100, np.nan], [-100, 110]])
    assert math.isnan(out[0]) and out[1] == pytest.approx(0.0, abs=1e-12)


def test_npv_with_factors_and_argument_errors():
    df = fin.discount_factors(0.05, 4)
    assert fin.npv(None, [1, 2, 3], factors=df) == pytest.approx(fin.npv(0.05, [1, 2, 3]), rel=1e-15)
    with pytest.raises(TypeError):
        fin.npv(0.05, [1, 2], factors=df)
    with pytest.raises(TypeError):
        fin.npv(None, [1, 2])
    with pytest.raises(ValueError):
        fin.npv(None, [1, 2, 3, 4, 5], factors=df)
    with pytest.raises(ValueError):
        fin.npv(0.1, np.zeros((2, 2, 2)))


def test_npv_rate_of_minus_one_or_less_is_nan():
    assert math.isnan(fin.npv(-1.0, [1, 2]))


def test_per_period_rate_compounds():
    assert fin.per_period_rate(0.035, 4) == pytest.approx(1.035**0.25 - 1, rel=1e-14)
    assert (1 + fin.per_period_rate(0.12, 12)) ** 12 == pytest.approx(1.12, rel=1e-14)
    assert fin.per_period_rate(1e-12, 4) == pytest.approx(2.5e-13, rel=1e-9)


def test_green_book_standard_schedule_is_chained():
    df = fin.green_book_discount_factors(400)
    assert df[0] == 1.0
    assert df[30] == pytest.approx(1 / 1.035**30, rel=1e-13)
    assert df[31] == pytest.approx(df[30] / 1.03, rel=1e-13)
    assert df[75] == pytest.approx(df[30] / 1.03**45, rel=1e-13)
    assert df[76] == pytest.approx(df[75] / 1.025, rel=1e-13)
    assert df[126] == pytest.approx(df[125] / 1.02, rel=1e-13)
    assert df[201] == pytest.approx(df[200] / 1.015, rel=1e-13)
    assert df[301] == pytest.approx(df[300] / 1.01, rel=1e-13)
    assert df[399] == pytest.approx(df[300] / 1.01**99, rel=1e-13)
    assert round(df[30], 4) == 0.3563  # Green Book's published factor for year 30


def test_green_book_quarterly_periods_use_fractional_years():
    q = fin.green_book_discount_factors(130, periods_per_year=4)
    a = fin.green_book_discount_factors(33)
    assert q[4 * 30] == pytest.approx(a[30], rel=1e-13)
    assert q[4 * 32] == pytest.approx(a[32], rel=1e-13)
    assert q[1] == pytest.approx(1.035**-0.25, rel=1e-14)
    assert q[121] == pytest.approx(a[30] / 1.03**0.25, rel=1e-13)


def test_green_book_health_schedule():
    df = fin.green_book_discount_factors(80, schedule="health")
    assert df[30] == pytest.approx(1 / 1.015**30, rel=1e-13)
    assert df[31] == pytest.approx(df[30] / 1.0129, rel=1e-13)
    assert df[76] == pytest.approx(df[75] / 1.0107, rel=1e-13)
    with pytest.raises(ValueError):
        fin.green_book_discount_factors(5, schedule="catastrophic")


def test_annuity_and_equivalent_annual_cost():
    assert fin.annuity_factor(0.035, 10) == pytest.approx(sum(1.035**-t for t in range(1, 11)), rel=1e-14)
    assert fin.annuity_factor(0.0, 7) == 7.0
    eac = fin.equivalent_annual_cost(0.035, 1_000_000, 10)
    assert eac == pytest.approx(1_000_000 * 0.035 / (1 - 1.035**-10), rel=1e-14)
    assert fin.npv(0.035, [0] + [eac] * 10) == pytest.approx(1_000_000, rel=1e-13)


# --------------------------------------------------------------------------------------------------
# payback, worked by hand
# --------------------------------------------------------------------------------------------------
def test_payback_interpolates_inside_the_period():
    # cumulative: -100, -70, -30, +20 -> 2 full periods + 30/50 of the third
    assert fin.payback([-100, 30, 40, 50]) == pytest.approx(2.6, abs=1e-15)


def test_payback_exactly_at_period_end():
    assert fin.payback([-100, 50, 50, 50]) == 2.0


def test_payback_never_is_nan_not_zero():
    assert math.isnan(fin.payback([-100, 10, 10, 10]))


def test_payback_zero_when_never_under_water():
    assert fin.payback([0, 10, 10]) == 0.0
    assert fin.payback([50, 10]) == 0.0


def test_payback_counts_first_recovery_after_going_negative():
    # cumulative: 50, -50, +30 -> negative from period 1, recovers in period 2: 1 + 50/80
    assert fin.payback([50, -100, 80]) == pytest.approx(1.625, abs=1e-15)
    # first crossing wins even if the cumulative dips again: -100, +50, -150, +150 -> 100/150
    assert fin.payback([-100, 150, -200, 300]) == pytest.approx(100 / 150, abs=1e-15)


def test_discounted_payback_worked_by_hand():
    # at 10 %: -100, 54.5454..., 49.5867..., cumulative -45.4545 after period 1
    expected = 1 + (100 - 60 / 1.1) / (60 / 1.21)
    assert fin.discounted_payback(0.10, [-100, 60, 60]) == pytest.approx(expected, abs=1e-14)
    assert round(fin.discounted_payback(0.10, [-100, 60, 60]), 4) == 1.9167
    assert math.isnan(fin.discounted_payback(0.10, [-100, 50, 50]))  # pays back undiscounted only
    assert fin.payback([-100, 50, 50]) == 2.0


def test_discounted_payback_with_green_book_factors_and_2d():
    df = fin.green_book_discount_factors(4)
    flows = np.array([[-100, 60, 60, 0], [-100, 10, 10, 10]])
    out = fin.discounted_payback(None, flows, factors=df)
    assert out[0] == pytest.approx(1 + (100 - 60 * df[1]) / (60 * df[2]), abs=1e-14)
    assert math.isnan(out[1])


def test_mirr_needs_both_signs():
    assert math.isnan(fin.mirr([100, 100], 0.1, 0.1))
    assert math.isnan(fin.mirr([-100, -100], 0.1, 0.1))


def test_xnpv_rejects_a_date_before_the_first_and_length_mismatch():
    with pytest.raises(ValueError, match="precedes"):
        fin.xnpv(0.1, [1, 2], ["2020-01-02", "2020-01-01"])
    with pytest.raises(ValueError):
        fin.xnpv(0.1, [1, 2, 3], ["2020-01-01", "2020-02-01"])


def test_xnpv_accepts_excel_serials_and_dates_in_any_order_after_the_first():
    import datetime as dt

    d = [dt.date(2008, 1, 1), dt.date(2009, 4, 1), dt.date(2008, 3, 1)]
    serials = [39448, 39904, 39508]
    flows = [-10_000, 2_750, 8_000]
    assert fin.xnpv(0.09, flows, d) == pytest.approx(fin.xnpv(0.09, flows, serials), rel=1e-15)
    expected = -10_000 + 2_750 / 1.09 ** (456 / 365) + 8_000 / 1.09 ** (60 / 365)
    assert fin.xnpv(0.09, flows, d) == pytest.approx(expected, rel=1e-14)


# --------------------------------------------------------------------------------------------------
# Excel's root on multi-root series (Excel's documented iteration, replicated here independently)
# --------------------------------------------------------------------------------------------------
def _excel_xirr(values, dates, guess=0.1):
    """Excel's XIRR as Microsoft documents it: Newton from the guess until the rate changes by at most
    0.000001 % (1e-8), at most 100 tries, else #NUM! (None)."""
    v = np.asarray(values, dtype=float)
    days = np.array(dates, dtype="datetime64[D]").astype(float)
    t = (days - days[0]) / 365
    x = guess
    with np.errstate(all="ignore"):
        for _ in range(100):
            new = x - np.sum(v * (1 + x) ** -t) / np.sum(-t * v * (1 + x) ** (-t - 1))
            if not math.isfinite(new):
                return None
            if abs(new - x) <= 1e-8:
                return new
            x = new
    return None


def _libreoffice_xirr(values, dates, guess=0.1):
    """LibreOffice 7.4's XIRR (scaddins financial.cxx, getXirr): Newton, 50 steps, stops when the step
    or |XNPV| <= 1e-10; on failure restarts from -0.99, -0.98, ... (200 starts), else Err:502 (None)."""
    v = np.asarray(values, dtype=float)
    days = np.array(dates, dtype="datetime64[D]").astype(float)
    e = (days - days[0]) / 365
    rate, scan, value = guess, 0, math.nan
    while True:
        if scan >= 1:
            rate = -0.99 + (scan - 1) * 0.01
        with np.errstate(all="ignore"):
            for _ in range(50):
                r = rate + 1
                value = v[0] + np.sum(v[1:] / r ** e[1:])
                new = rate - value / -np.sum(e[1:] * v[1:] / r ** (e[1:] + 1))
                step, rate = abs(new - rate), new
                going = step > 1e-10 and abs(value) > 1e-10
                if not going:
                    break
        if not (math.isfinite(rate) and math.isfinite(value)):
            going = True
        scan += 1
        if not going or scan >= 200:
            return None if going else rate


def _is_xroot(values, dates, rate):
    v = np.asarray(values, dtype=float)
    days = np.array(dates, dtype="datetime64[D]").astype(float)
    df = (1 + rate) ** -((days - days[0]) / 365)
    return rate > -1 and abs(v @ df) <= 1e-9 * (np.abs(v) @ df)


def test_libreoffice_xirr_algorithm_is_understood():
    # The replica reproduces every LibreOffice XIRR in the fixture, errors included.
    for case in DATED:
        for key, guess in (("xirr", 0.1), ("xirr_guess", case["guess"])):
            lo, replica = case["libreoffice"][key], _libreoffice_xirr(case["values"], case["dates"], guess)
            if isinstance(lo, dict):
                assert replica is None, case["id"]
            else:
                assert replica == pytest.approx(lo, abs=1e-12), case["id"]


# Two roots, -60 % and +230 %, by construction: in x = 1/(1+r) the flows are -1000 (x - 2.5)(x - 1/3.3),
# one year (365 days) apart. Excel's Newton from 0.1 (and from -0.1) runs to +230 %, as LibreOffice and
# Google Sheets do on pyxirr's many-root "1938" sample (pyxirr issue #57); from -0.5 it finds -60 %.
TWO_ROOT_FLOWS = [-1000 * 2.5 / 3.3, 1000 * (2.5 + 1 / 3.3), -1000.0]
TWO_ROOT_DATES = ["2021-01-01", "2022-01-01", "2023-01-01"]


@pytest.mark.parametrize(("guess", "root"), [(0.1, 2.3), (-0.1, 2.3), (-0.5, -0.6), (1.0, 2.3)])
def test_two_root_xirr_and_irr_give_excels_root_from_the_same_guess(guess, root):
    assert _excel_xirr(TWO_ROOT_FLOWS, TWO_ROOT_DATES, guess) == pytest.approx(root, abs=1e-8)
    assert fin.xirr(TWO_ROOT_FLOWS, TWO_ROOT_DATES, guess) == pytest.approx(root, abs=1e-13)
    assert fin.irr(TWO_ROOT_FLOWS, guess) == pytest.approx(root, abs=1e-13)
    rep = fin.irr_report(TWO_ROOT_FLOWS, guess)
    assert rep.roots == pytest.approx((-0.6, 2.3), abs=1e-12) and rep.ambiguous


dated_flows = st.integers(3, 12).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=st.floats(-1e5, 1e5, allow_nan=False).map(lambda x: round(x, 2))),
        st.lists(st.integers(1, 3000), min_size=n - 1, max_size=n - 1),
    )
)


@settings(max_examples=200, deadline=None)
@given(dated_flows, st.sampled_from([0.1, -0.1, 0.3, -0.5, 1.0]))
def test_property_xirr_is_excels_root_wherever_excels_iteration_gives_one(flows_offsets, guess):
    flows, offsets = flows_offsets
    assume((flows > 0).any() and (flows < 0).any())
    dates = [str(np.datetime64("2020-01-01") + k) for k in [0, *offsets]]
    ours = fin.xirr(flows, dates, guess)
    excel = _excel_xirr(flows, dates, guess)
    if excel is not None and excel > -1 and _is_xroot(flows, dates, excel + 0.0) | _near_root(flows, dates, excel):
        assert ours == pytest.approx(excel, rel=1e-6, abs=1e-6)  # Excel stops within ~1e-8 of its root
    if not math.isnan(ours):
        assert _is_xroot(flows, dates, ours) or _near_root(flows, dates, ours)


def _near_root(values, dates, rate):
    """XNPV changes sign within 1e-7 (relative) of ``rate``: ``rate`` is a root to Excel's precision."""
    v = np.asarray(values, dtype=float)
    days = np.array(dates, dtype="datetime64[D]").astype(float)
    t = (days - days[0]) / 365
    h = 1e-7 * (1 + abs(rate))
    if not rate - h > -1:
        return False
    with np.errstate(all="ignore"):
        a, b = (v @ (1 + r) ** (t.max() - t) for r in (rate - h, rate + h))
    return bool(np.sign(a) * np.sign(b) <= 0)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(2, 15), elements=amounts), st.sampled_from([0.1, -0.1, 0.3, -0.5, 1.0]))
def test_property_irr_is_excels_root_wherever_excels_iteration_gives_one(flows, guess):
    excel = _libreoffice_irr(flows, guess)  # Excel's documented IRR iteration (20 tries, 1e-7)
    ours = fin.irr(flows, guess)
    if excel is not None and excel > -1 and np.isclose(fin.irr_roots(flows), excel, rtol=1e-6, atol=1e-6).any():
        assert ours == pytest.approx(excel, rel=1e-6, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(2, 20), elements=amounts))
def test_property_irr_has_a_value_exactly_when_a_root_exists(flows):
    # the fall-backs (and the proof that a series has no root) never drop a root irr_roots finds
    assert math.isnan(fin.irr(flows)) == (len(fin.irr_roots(flows)) == 0)


# A 16-flow series with ten sign changes, built so that XNPV touches zero twice near -89 % (roots
# -0.89108 and -0.88832, 0.003 apart, no sign change between the scan rates around them). Excel's
# iteration gives #NUM!; LibreOffice's restarts from -0.99 find -0.89108. The XIRR before this change
# (pyxirr, then a residual check) found none; ours finds the root nearest the guess.
MANY_SIGN_FLOWS = [-1616.14, -335.97, 1189.17, -1487.84, 2456.23, -25.84, -231.64, -1664.59,
                   -2247.7, 431.93, -399.73, 1853.51, 988.4, -993.67, -334.43, 204.27]
MANY_SIGN_DATES = ["2020-01-01", "2020-01-11", "2020-02-07", "2020-03-12", "2020-05-06", "2020-06-15",
                   "2020-06-20", "2020-06-26", "2020-09-08", "2020-12-31", "2021-03-11", "2021-03-14",
                   "2021-06-01", "2021-07-01", "2021-10-18", "2021-10-22"]


def test_many_sign_change_xirr_finds_the_root_libreoffice_finds_where_excel_gives_up():
    assert _excel_xirr(MANY_SIGN_FLOWS, MANY_SIGN_DATES) is None
    lo = _libreoffice_xirr(MANY_SIGN_FLOWS, MANY_SIGN_DATES)
    assert lo == pytest.approx(-0.8910834445, abs=1e-9) and _is_xroot(MANY_SIGN_FLOWS, MANY_SIGN_DATES, lo)
    ours = fin.xirr(MANY_SIGN_FLOWS, MANY_SIGN_DATES)
    assert _is_xroot(MANY_SIGN_FLOWS, MANY_SIGN_DATES, ours)
    assert ours == pytest.approx(-0.8883247185, abs=1e-9)  # the other root, nearer the guess 0.1
    # the XNPV is positive between the two roots and negative outside them
    assert fin.xnpv(-0.89, MANY_SIGN_FLOWS, MANY_SIGN_DATES) > 0
    assert fin.xnpv(-0.895, MANY_SIGN_FLOWS, MANY_SIGN_DATES) < 0 and fin.xnpv(-0.885, MANY_SIGN_FLOWS, MANY_SIGN_DATES) < 0
    assert fin.xirr(MANY_SIGN_FLOWS, MANY_SIGN_DATES, guess=-0.95) == pytest.approx(lo, abs=1e-9)


# numpy-financial issue #15 ("Bizarre linalg errors with IRR"): the series numpy's irr raised
# LinAlgError on; numpy's answer for it with the last flow changed slightly is -0.9999999990596069.
NPF_ISSUE_15 = [-3000.0, 2.3926932267015667e-07, 4.1672087103345505e-16, 5.3965110036378706e-25,
                5.1962551071806174e-34, 3.7202955645436402e-43, 1.9804961711632469e-52, 7.8393517651814181e-62,
                2.3072565113911438e-71, 5.0491839233308912e-81, 8.2159177668499263e-91, 9.9403244366963527e-101,
                8.942410813633967e-111, 5.9816122646481191e-121, 2.9750309031844241e-131, 1.1002067043497954e-141,
                3.0252876563518021e-152, 6.1854121948207909e-163, 9.4032980015353301e-174, 1.0629218520017728e-184,
                8.9337141847171845e-196, 5.5830607698467935e-207, 2.5943122036622652e-218, 8.9635842466507006e-230,
                2.3027710094332358e-241, 4.3987510596745562e-253, 6.2476630372575209e-265, 6.598046841695288e-277,
                5.1811095266842017e-289, 3.0250999925830644e-301, 1.3133070599585015e-313]


def test_numpy_financial_linalg_error_series_gives_its_root():
    rate = fin.irr(NPF_ISSUE_15)
    assert rate == pytest.approx(-0.9999999990596069, abs=1e-15)
    assert _is_root(NPF_ISSUE_15, rate)
    assert fin.irr_roots(NPF_ISSUE_15) == pytest.approx([rate], abs=1e-15)
    assert fin.irr_report(NPF_ISSUE_15).irr == rate
    assert fin.irr(np.array([NPF_ISSUE_15, NPF_ISSUE_15])) == pytest.approx([rate, rate], abs=1e-15)
    # an even tinier last flow (subnormal; companion matrix entries would overflow) still works
    assert fin.irr([*NPF_ISSUE_15[:-1], 1e-320]) == pytest.approx(rate, abs=1e-12)


def test_root_within_1e10_of_minus_100_percent():
    # sum_{t=1..32} (1e-10 / (1 + r)) ** t / 32 = 1 at 1 + r = 1e-10; terms overflow a plain NPV there
    flows = [-3000.0] + [3000 / 32 * 1e-10**t for t in range(1, 33)]
    assert (1 + fin.irr(flows)) == pytest.approx(1e-10, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# No numpy exception escapes; one-period and empty series
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flow", [-5.0, 0.0, 7.0])
def test_one_period_series_in_every_function(flow):
    one, date = [flow], ["2020-01-01"]
    assert fin.npv(0.1, one) == flow
    assert fin.excel_npv(0.1, one) == pytest.approx(flow / 1.1, rel=1e-15)
    assert fin.xnpv(0.1, one, date) == flow
    for no_answer in (fin.irr(one), fin.xirr(one, date), fin.mirr(one, 0.1, 0.1), fin.irr_report(one).irr):
        assert math.isnan(no_answer)
    assert fin.irr_roots(one).size == 0
    expected_payback = math.nan if flow < 0 else 0.0  # under water at t = 0 with no later flow: never
    for value in (fin.payback(one), fin.discounted_payback(0.1, one), fin.discounted_payback(None, one, factors=[1.0])):
        assert value == expected_payback or (math.isnan(value) and math.isnan(expected_payback))
    column = np.array([[flow], [-flow]])
    assert fin.irr(column).shape == (2,) and np.isnan(fin.irr(column)).all()
    assert np.isnan(fin.payback(column)).sum() == 1 or flow == 0.0
    with pytest.raises(AnalysisError):
        fin.irr(one, raise_on_failure=True)
    with pytest.raises(AnalysisError):
        fin.xirr(one, date, raise_on_failure=True)


def test_empty_series():
    assert math.isnan(fin.payback([])) and math.isnan(fin.discounted_payback(0.1, []))
    assert math.isnan(fin.irr([])) and math.isnan(fin.xirr([], []))
    assert fin.npv(0.1, []) == 0.0 and fin.xnpv(0.1, [], []) == 0.0


NASTY = [1e308, -1e308, 5e-324, np.inf, -np.inf, np.nan, -1.0, 0.0, 1e-300]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(NASTY) | amounts, min_size=1, max_size=8),
    st.sampled_from([-1.0, -2.0, -0.999999999, 0.0, 1e300, np.inf, np.nan, 0.1]),
)
def test_no_numpy_exception_or_warning_escapes_even_with_errors_raised(values, rate):
    import warnings

    dates = [str(np.datetime64("2020-01-01") + 40 * k) for k in range(len(values))]
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        fin.npv(rate, values)
        fin.excel_npv(rate, values)
        fin.xnpv(rate, values, dates)
        fin.irr(values, rate)
        fin.irr([values, values[::-1]])
        fin.irr_roots(values)
        fin.irr_report(values)
        fin.xirr(values, dates, rate)
        fin.mirr(values, rate, rate)
        fin.payback(values)
        fin.discounted_payback(rate, values)
        fin.discount_factors(rate, len(values))
        fin.annuity_factor(rate, len(values))
        fin.equivalent_annual_cost(rate, values[0], len(values))
        fin.per_period_rate(rate, 4)


def test_irr_report_searches_roots_only_when_read_below_two_sign_changes(monkeypatch):
    """One sign change has one root at most (Descartes): the report's verdict needs no root search, and
    its roots, read later, are irr_roots' (checked against a fresh search on 300 random series)."""
    calls = []
    real = fin.irr_roots
    monkeypatch.setattr(fin, "irr_roots", lambda v: calls.append(1) or real(v))
    fin._IRR_REPORTS.clear()
    rep = fin.irr_report([-1000.0, 300.0, 400.0, 500.0])
    assert calls == [] and rep.message == "IRR 8.90% (unique)." and not rep.ambiguous
    assert rep.roots == (round(float(real([-1000.0, 300.0, 400.0, 500.0])[0]), 12),) and len(calls) == 1
    assert rep.roots and len(calls) == 1  # searched once, kept
    two = fin.irr_report([-100, 230, -132])
    assert len(calls) == 2 and two.ambiguous and two.roots == pytest.approx((0.1, 0.2), abs=1e-12)
    rng = np.random.default_rng(15)
    for _ in range(300):
        v = rng.normal(0, 100, rng.integers(2, 12))
        rep = fin._irr_report(v, 0.1)
        roots = tuple(round(float(r), 12) for r in real(v))
        assert rep.roots == roots
        assert rep.ambiguous == (len(roots) > 1)
        if math.isnan(rep.irr):
            assert rep.message.startswith("No IRR")
        elif len(roots) <= 1:
            assert rep.message == f"IRR {rep.irr:.2%} (unique)."
        else:
            assert rep.message.startswith(f"Ambiguous: {len(roots)} IRRs")

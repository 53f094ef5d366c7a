"""Case appraisal checked against figures worked by hand (arithmetic in the comments)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest

from vmo_lib.analysis.appraisal import appraise, discount_factors, line_matrices, npv_of
from vmo_lib.intake.loader import load_case
from vmo_lib.model import make_case


@pytest.fixture
def yearly_case():
    """Four years at 10 %: build 1,000 now, run 100 a year, save cash, time and take a dis-benefit."""
    return make_case(
        {"case_id": "HW", "first_period": "2026", "period_length": "year", "horizon": 4,
         "discount_rate": 0.10, "currency": "GBP"},
        costs=[
            {"line_id": "C1", "name": "Build", "category": "capex", "amounts": [1000, 0, 0, 0]},
            {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 100, 100, 100]},
        ],
        benefits=[
            {"line_id": "B1", "name": "Licence savings", "benefit_type": "cash-releasing", "amounts": [0, 400, 500, 500]},
            {"line_id": "B2", "name": "Time released", "benefit_type": "non-cash-releasing", "amounts": [0, 100, 100, 100]},
            {"line_id": "B3", "name": "Transition dip", "benefit_type": "dis-benefit", "amounts": [0, -50, 0, 0]},
        ],
    )


# DF = 1, 1/1.1, 1/1.21, 1/1.331
DF = np.array([1.0, 0.9090909090909091, 0.8264462809917354, 0.7513148009015778])


def test_discount_factors_are_period_zero_undiscounted(yearly_case):
    np.testing.assert_allclose(discount_factors(yearly_case), DF, rtol=1e-15)


def test_hand_worked_economic_view(yearly_case):
    a = appraise(yearly_case)
    # PV capex = 1000; PV opex = 100 * (0.90909 + 0.82645 + 0.75131) = 248.68520
    assert a.pv_capex == pytest.approx(1000.0, abs=1e-9)
    assert a.pv_opex == pytest.approx(248.6851990984, abs=1e-6)
    assert a.pv_costs == pytest.approx(1248.6851990984, abs=1e-6)
    # PV B1 = 400*0.90909 + 500*0.82645 + 500*0.75131 = 363.63636 + 413.22314 + 375.65740 = 1152.51690
    assert a.pv_benefits_by_type["cash-releasing"] == pytest.approx(1152.5169045830, abs=1e-6)
    # PV B3 = -50 * 0.90909 = -45.45455
    assert a.pv_disbenefits == pytest.approx(-45.4545454545, abs=1e-6)
    # PVB = 1152.51690 + 248.68520 - 45.45455 = 1355.74756 ; NPV = 1355.74756 - 1248.68520 = 107.06236
    assert a.pv_benefits == pytest.approx(1355.7475582269, abs=1e-6)
    assert a.npv == pytest.approx(107.0623591285, abs=1e-6)
    assert a.roi == pytest.approx(107.0623591285 / 1248.6851990984, rel=1e-12)
    assert a.bcr == pytest.approx(1355.7475582269 / 1248.6851990984, rel=1e-12)
    # net = -1000, 350, 500, 500 ; cumulative -1000, -650, -150, 350 -> 2 + 150/500 = 2.3
    assert a.cashflows["net"].tolist() == [-1000.0, 350.0, 500.0, 500.0]
    assert a.payback == pytest.approx(2.3, abs=1e-12)
    assert a.payback_years == pytest.approx(2.3, abs=1e-12)
    # discounted: -1000, 318.18182, 413.22314, 375.65740 -> cum -268.59504 after t=2 -> 2 + 268.59504/375.65740
    assert a.discounted_payback == pytest.approx(2 + 268.5950413223 / 375.6574004508, abs=1e-9)
    # MIRR at 10 %/10 %: FV of inflows = 350*1.21 + 500*1.1 + 500 = 1473.5 ; (1473.5/1000)^(1/3) - 1
    assert a.mirr == pytest.approx(1.4735 ** (1 / 3) - 1, abs=1e-12)
    # IRR: a second method (numpy-financial) on the same net flows, and NPV(IRR) = 0
    assert a.irr == pytest.approx(npf.irr([-1000, 350, 500, 500]), abs=1e-10)
    assert sum(v / (1 + a.irr) ** t for t, v in enumerate([-1000, 350, 500, 500])) == pytest.approx(0, abs=1e-8)
    # EAC = PVC * r / (1 - 1.1^-4) = 1248.68520 * 0.3154708 = 393.92...
    assert a.equivalent_annual_cost == pytest.approx(1248.6851990984 * 0.1 / (1 - 1.1 ** -4), rel=1e-12)
    assert a.undiscounted_costs == 1300.0 and a.undiscounted_benefits == 1650.0


def test_cash_view_counts_only_cash_releasing_net_of_disbenefits(yearly_case):
    a = appraise(yearly_case, view="cash")
    # PVB = 1152.51690 - 45.45455 = 1107.06236 ; NPV = 1107.06236 - 1248.68520 = -141.62284
    assert a.pv_benefits == pytest.approx(1107.0623591285, abs=1e-6)
    assert a.npv == pytest.approx(-141.6228399699, abs=1e-6)
    assert "non-cash-releasing" not in a.pv_benefits_by_type
    costs, benefits = line_matrices(yearly_case, view="cash")
    assert benefits.index.tolist() == ["B1", "B3"] and costs.index.tolist() == ["C1", "C2"]


def test_quarterly_rate_compounds_not_divides():
    case = make_case({"case_id": "Q", "first_period": "2026Q1", "horizon": 5, "discount_rate": 0.08},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 300, 300, 300, 300]}])
    rq = 1.08 ** 0.25 - 1  # 1.9427 % a quarter, not 2 %
    expected = -1000 + sum(300 / (1 + rq) ** t for t in range(1, 5))
    a = appraise(case)
    assert a.npv == pytest.approx(expected, abs=1e-9)
    assert a.npv == pytest.approx(143.91005, abs=1e-4)
    # Excel: =-1000 + NPV((1.08)^(1/4)-1, 300, 300, 300, 300) ; IRR per quarter, annualised
    assert a.irr_per_period == pytest.approx(npf.irr([-1000, 300, 300, 300, 300]), abs=1e-10)
    assert a.irr == pytest.approx((1 + a.irr_per_period) ** 4 - 1, abs=1e-15)
    assert a.payback == pytest.approx(3 + 100 / 300) and a.payback_years == pytest.approx((3 + 100 / 300) / 4)


def test_green_book_schedule_declines_after_year_30():
    amounts = [0.0] * 32 + [1_000_000.0]
    case = make_case({"case_id": "GB", "first_period": "2026", "period_length": "year", "horizon": 33,
                      "discount_schedule": "green book", "discount_rate": 0.08},
                     benefits=[{"line_id": "B1", "name": "Far benefit", "amounts": amounts}],
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [1]}])
    # year 32: 1/1.035^30 /1.03^2 (the 8 % in the case is ignored by the schedule)
    df32 = 1 / 1.035 ** 30 / 1.03 ** 2
    assert npv_of(case) == pytest.approx(1_000_000 * df32 - 1, rel=1e-12)
    # an explicit rate overrides the schedule
    assert npv_of(case, annual_rate=0.05) == pytest.approx(1_000_000 / 1.05 ** 32 - 1, rel=1e-12)


def test_never_paying_back_is_nan_not_zero():
    case = make_case({"case_id": "N", "first_period": "2026", "period_length": "year", "horizon": 3, "discount_rate": 0.05},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 10, 10]}])
    a = appraise(case)
    assert math.isnan(a.payback) and math.isnan(a.discounted_payback)
    assert a.npv < 0


def test_regulatory_case_without_benefits_has_nan_ratios_only_when_no_costs():
    case = make_case({"case_id": "R", "first_period": "2026", "period_length": "year", "horizon": 2, "discount_rate": 0.05},
                     costs=[{"line_id": "C1", "name": "Comply", "amounts": [100, 105]}])
    a = appraise(case)
    assert a.npv == pytest.approx(-200.0, abs=1e-9)  # 100 + 105/1.05
    assert a.bcr == 0.0 and a.roi == -1.0
    assert math.isnan(a.irr) and "No IRR" in a.irr_note


def test_multiple_irrs_are_flagged():
    case = make_case({"case_id": "M", "first_period": "2026", "period_length": "year", "horizon": 3, "discount_rate": 0.05},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 132]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 230, 0]}])
    a = appraise(case)
    assert a.irr == pytest.approx(0.1, abs=1e-10)  # roots 10 % and 20 %; Excel's guess finds 10 %
    assert "Ambiguous" in a.irr_note and any("MIRR" in n for n in a.notes)


# --- sample cases appraised a second way: spreadsheet formulas recalculated by LibreOffice ------------
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "appraisal_sample_cases.json").read_text())
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.mark.parametrize("case_id", sorted(FIXTURE["cases"]))
def test_sample_case_appraisal_equals_libreoffice(case_id):
    """scripts/make_appraisal_fixture.py lays the case's period totals out in a sheet of formulas
    (SUMPRODUCT present values, =v0+NPV(...), IRR/MIRR annualised, PMT, a cumulative payback column)
    and LibreOffice recalculates it: every metric must agree."""
    expected = FIXTURE["cases"][case_id]
    case = load_case(SAMPLE / f"{case_id}.xlsx", as_of="2026Q3")
    costs, benefits = line_matrices(case)
    # the fixture's inputs are this case's: regenerate it if the sample portfolio changes
    np.testing.assert_allclose(costs.to_numpy().sum(axis=0), expected["costs"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(benefits.to_numpy().sum(axis=0), expected["benefits"], rtol=0, atol=1e-9)
    a = appraise(case)
    for name, lo in expected["libreoffice"].items():
        ours = getattr(a, name)
        if lo is None:
            assert math.isnan(ours), name
        else:
            assert ours == pytest.approx(lo, rel=1e-9, abs=1e-6), name

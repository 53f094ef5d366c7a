"""The portfolio at scale and at the edges: a case whose figures are not finite is named, and neither
fails the portfolio review and pack nor changes any other case (issue 15)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.model import make_case
from vmo_lib.portfolio.basis import PortfolioBasis
from vmo_lib.portfolio.review import TOTAL_COLUMNS, nonfinite_cases, review_portfolio
from vmo_lib.portfolio.settings import PortfolioSettings

AS_OF = "2026Q3"
SETTINGS = PortfolioSettings(basis=PortfolioBasis("2026Q1", 0.035, "real"))


def _case(case_id: str, amount: float, status: str) -> object:
    # built in code, so no validation stops it: 1e308 a period overflows (2 x 1e308 = inf benefits, a total
    # of costs = inf) and every NPV of the case is inf - inf = NaN
    with np.errstate(over="ignore"):
        return make_case(
            {"case_id": case_id, "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.035, "status": status},
            costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [amount] * 8,
                    "low": 0.9 * 8 * amount, "likely": 8 * amount, "high": 1.2 * 8 * amount}],
            benefits=[{"line_id": "B1", "name": "Saving", "kpi": "Cost", "amounts": [0, 0] + [2 * amount] * 6,
                       "low": 0.8 * 12 * amount, "likely": 12 * amount, "high": 1.1 * 12 * amount}],
            actuals=[{"period": "2026Q1", "line_id": "C1", "amount": amount}])


@pytest.fixture(scope="module")
def reviews():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings: the point of the case
        cases = [_case("OK-1", 100.0, "in delivery"), _case("BIG-1", 1e308, "in delivery"),
                 _case("OK-2", 50.0, "proposed")]
        return {c.case_id: review_case(c, AS_OF, iterations=2000) for c in cases}


def test_the_overflowing_case_really_has_non_finite_figures(reviews):
    d = reviews["BIG-1"].to_dict(detail=False)
    assert math.isnan(d["expected_npv"]) and math.isnan(d["approved_npv"])
    assert math.isfinite(reviews["OK-1"].to_dict(detail=False)["expected_npv"])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_non_finite_case_is_named_and_left_out_of_totals_and_selection(reviews):
    pr = review_portfolio(reviews.values(), AS_OF, settings=SETTINGS, annual_budget=1e9)
    ok = review_portfolio([reviews["OK-1"], reviews["OK-2"]], AS_OF, settings=SETTINGS, annual_budget=1e9)
    assert pr.nonfinite == ("BIG-1",)
    assert "BIG-1" in pr.nonfinite_note and "BIG-1" in pr.selection_note
    assert pr.to_dict()["nonfinite"] == ["BIG-1"]
    # the case stays in the register with its figures (NaN), the others are unchanged
    reg = pr.register.set_index("case_id")
    assert math.isnan(reg.loc["BIG-1", "expected_npv"])
    other = ok.register.set_index("case_id")
    for cid in ("OK-1", "OK-2"):
        for col in ("expected_npv", "forward_npv", "expected_npv_pb", "risk_p50", "vfm"):
            assert reg.loc[cid, col] == other.loc[cid, col]
    # totals: the two finite cases only, the same as a portfolio of those two, each the sum of its column
    t = pr.totals.iloc[0]
    assert int(t["cases"]) == 2
    for col in TOTAL_COLUMNS:
        assert t[col] == pytest.approx(float(reg.loc[["OK-1", "OK-2"], col].sum()), rel=1e-12)
        assert t[col] == ok.totals.iloc[0][col]
    # the selection ran on the finite cases
    assert pr.selection is not None and not pr.selection_infeasible
    assert "BIG-1" not in str(pr.selection.decisions.index.tolist())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_portfolio_pack_renders_with_a_non_finite_case(reviews, tmp_path):
    from vmo_lib.outputs import charts, excel, portfolio_pack
    from vmo_lib.outputs import html as report
    from vmo_lib.portfolio import review as portfolio_review

    pr = review_portfolio(reviews.values(), AS_OF, settings=SETTINGS, annual_budget=1e9)
    # every call the portfolio notebook makes (vmo_lib/notebooks/portfolio_review.py)
    report.write_results(tmp_path, portfolio_pack.portfolio_results(pr))
    excel.export_pack_into(tmp_path, pr, name="portfolio.xlsx")
    summary = str(portfolio_pack.portfolio_summary(pr))
    assert "nan" not in summary.lower().replace("financ", "")
    portfolio_pack.decisions_table(pr)
    assert "BIG-1" in str(portfolio_pack.register_table(pr.register))
    portfolio_pack.load_failures_table(pr.failures)
    for _, g in pr.register.groupby("currency"):
        charts.value_risk_map(g)
    portfolio_pack.selection_table(pr)
    report.table(portfolio_review.double_counting_table(pr))
    report.table(portfolio_review.realisation_by_type(pr))


def test_nonfinite_cases_reads_every_money_column():
    t = pd.DataFrame({"case_id": ["A", "B", "C"], "expected_npv": [1.0, 2.0, 3.0],
                      "forward_npv_pb": [0.0, -np.inf, 1.0], "budget": [np.nan, 1.0, 1.0]})
    assert nonfinite_cases(t) == ["A", "B"]

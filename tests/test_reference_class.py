"""The organisation's own reference class and the public UK GMPP reference data."""

from __future__ import annotations

import csv
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from vmo_lib.model import make_case
from vmo_lib.portfolio import reference_class as R


def _hand_quantile(values, q):
    """Type-7 quantile by hand: sort, h = (n - 1) q, interpolate between neighbours."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    j = int(math.floor(h))
    return xs[j] if j + 1 >= len(xs) else xs[j] + (h - j) * (xs[j + 1] - xs[j])


def _history_case(case_id, cost_actual, case_type="IT: equipment/development", status="closed"):
    """Baseline cost 100 in 2025Q1; actual as given; benefit 50 a quarter as planned."""
    return make_case({"case_id": case_id, "case_type": case_type, "status": status, "first_period": "2025Q1",
                      "horizon": 4, "go_live_period": "2025Q1"},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 50, 50, 50]}],
                     actuals=[{"period": "2025Q1", "line_id": "C1", "amount": cost_actual}]
                     + [{"period": p, "line_id": "B1", "amount": 50} for p in ("2025Q2", "2025Q3", "2025Q4")])


def test_uplift_from_a_hand_made_history():
    cases = [_history_case(f"H{i}", 100 * r) for i, r in enumerate([1.0, 1.1, 1.2, 1.5, 2.0])]
    h = R.history_ratios(cases, "2025Q4")
    np.testing.assert_allclose(sorted(h["cost_ratio"]), [1.0, 1.1, 1.2, 1.5, 2.0])
    u = R.reference_class_uplifts(h).set_index("measure")
    assert u.loc["cost", "n"] == 5
    assert u.loc["cost", "ratio_p50"] == pytest.approx(1.2)
    assert u.loc["cost", "adjustment_p50"] == pytest.approx(0.20)
    # P80 by hand: h = 4 x 0.8 = 3.2 -> 1.5 + 0.2 x (2.0 - 1.5) = 1.6 -> +60 %
    assert u.loc["cost", "ratio_p80"] == pytest.approx(1.6)
    assert u.loc["cost", "adjustment_p80"] == pytest.approx(0.60)
    assert u.loc["benefit", "adjustment_p80"] == pytest.approx(0.0)      # benefits as planned
    s = R.reference_class_sentence("IT: equipment/development", h)
    assert "n=5" in s and "+60% cost uplift (P80" in s and "+200%" in s and "indicative" in s


def test_history_uses_the_original_baseline_and_skips_young_or_proposed_cases():
    rebased = make_case({"case_id": "RB", "status": "live", "first_period": "2025Q1", "horizon": 2},
                        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0]}],
                        actuals=[{"period": "2025Q1", "line_id": "C1", "amount": 150}],
                        rebaselines=[{"version": "RB1", "approved": "2025-03-01", "reason": "scope",
                                      "amounts": {"C1": [150, 0]}}])
    young = make_case({"case_id": "Y", "status": "in delivery", "first_period": "2025Q1", "horizon": 4},
                      costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100]}],
                      actuals=[{"period": "2025Q1", "line_id": "C1", "amount": 130}])   # one period reported
    proposed = make_case({"case_id": "P", "status": "proposed", "horizon": 2},
                         costs=[{"line_id": "C1", "name": "Build", "amounts": [1, 1]}])
    h = R.history_ratios([rebased, young, proposed], "2025Q4")
    assert h["case_id"].tolist() == ["RB"]
    assert h["cost_ratio"].iloc[0] == pytest.approx(1.5)


def test_in_delivery_case_counts_once_enough_periods_are_reported():
    c = _history_case("D", 130, status="in delivery")
    assert R.history_ratios([c], "2025Q4", min_reported_periods=4)["case_id"].tolist() == ["D"]
    assert R.history_ratios([c], "2025Q3", min_reported_periods=4).empty


def test_to_date_basis_and_schedule_slip():
    c = make_case({"case_id": "S", "status": "live", "first_period": "2025Q1", "horizon": 6, "go_live_period": "2025Q2"},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100]}],
                  benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 40, 40, 40, 40]}],
                  actuals=[{"period": "2025Q1", "line_id": "C1", "amount": 120},
                           {"period": "2025Q2", "line_id": "C1", "amount": 100},
                           {"period": "2025Q3", "line_id": "B1", "amount": 0},
                           {"period": "2025Q4", "line_id": "B1", "amount": 20}])
    out = R.history_ratios([c], "2025Q4").iloc[0]
    # outturn: costs 220 / 200; benefits 0 + 20 + 40 + 40 = 100 / 160; first benefit 2025Q4, planned 2025Q3
    assert out["cost_ratio"] == pytest.approx(1.1)
    assert out["benefit_ratio"] == pytest.approx(100 / 160)
    assert out["slip_periods"] == 1 and out["schedule_ratio"] == pytest.approx((2 + 1) / 2)
    td = R.history_ratios([c], "2025Q4", basis="to_date").iloc[0]
    assert td["benefit_ratio"] == pytest.approx(20 / 80)


def test_small_sample_falls_back_to_every_case_and_says_n():
    cases = [_history_case("A", 150), _history_case("B", 110, case_type="Business change"),
             _history_case("C", 100, case_type="Business change"), _history_case("D", 130, case_type="Infrastructure")]
    h = R.history_ratios(cases, "2025Q4")
    s = R.reference_class_sentence("IT: equipment/development", h)
    assert "Too few" in s and "n=1" in s and "the 4 cases" in s


def _gmpp_by_hand():
    path = resources.files("vmo_lib").joinpath("data", R.GMPP_FILE)
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by = {}
    for r in rows:
        cat = "ICT" if r["category"] in ("ICT", "Information and Communications Technology (ICT)") else r["category"]
        if r["fy_budget_variance_pct"].strip():
            by.setdefault(cat, []).append(float(r["fy_budget_variance_pct"]))
    return by


def test_gmpp_p50_p80_computed_independently_by_sorting():
    by = _gmpp_by_hand()
    t = R.gmpp_budget_variance().set_index("category")
    assert list(t.index) == ["Government Transformation and Service Delivery", "ICT"]
    for cat in t.index:
        assert t.loc[cat, "n"] == len(by[cat])
        assert t.loc[cat, "p50"] == pytest.approx(_hand_quantile(by[cat], 0.5))
        assert t.loc[cat, "p80"] == pytest.approx(_hand_quantile(by[cat], 0.8))
    assert t.loc["ICT", "n"] == 39     # 22 named "ICT" in 2024-25 + 17 under the long name in 2025-26


def test_gmpp_unknown_category_is_named():
    with pytest.raises(ValueError, match="unknown GMPP categories"):
        R.gmpp_budget_variance(["IT"])


def test_bundled_data_matches_the_shared_copy_when_present():
    shared = resources.files("vmo_lib").joinpath("..", "..", "shared", "data", "reference", R.GMPP_FILE)
    try:
        text = shared.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        pytest.skip("no shared/ folder beside the clone")
    assert resources.files("vmo_lib").joinpath("data", R.GMPP_FILE).read_bytes() == text


def test_empirical_overrun_is_a_reference_class_distribution_for_the_monte_carlo():
    d = R.EmpiricalOverrun.from_ratios([1.0, 1.1, 1.2, 1.5, 2.0])
    assert d.ppf(0.8) == pytest.approx(0.6)
    draws = d.sample(np.random.default_rng(0), 10_000)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    assert np.median(draws) == pytest.approx(0.2, abs=0.02)


def test_green_book_values_come_from_the_scenarios_module():
    from vmo_lib.analysis.scenarios import MOTT_MACDONALD_2002

    gb = R.green_book_uplifts("IT: equipment/development")
    assert gb["capex"] == MOTT_MACDONALD_2002["Equipment/development"]["capex"][0] == 2.0


def test_percentile_is_excel_percentile_inc():
    assert R.percentile([3.0, 1.0, 2.0, 4.0], 0.25) == pytest.approx(1.75)   # PERCENTILE.INC({1,2,3,4}, 0.25)
    assert math.isnan(R.percentile([], 0.5))
    assert isinstance(R.percentile(pd.Series([1.0, np.nan, 3.0]), 0.5), float)

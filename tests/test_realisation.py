"""Benefits realisation: hand-worked cases (arithmetic in the comments) and exact-bridge properties."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vmo_lib.analysis import finance
from vmo_lib.analysis.realisation import (
    STATUS_KEYS,
    Thresholds,
    case_status,
    expected_case,
    expected_flows,
    forward_npv,
    kpi_progress,
    measurement_gaps,
    realisation_by_benefit,
    realisation_by_line,
    realisation_by_period,
    realisation_by_type,
    value_bridge,
    verdict,
)
from vmo_lib.cli import dump_json
from vmo_lib.model import make_case

YEARLY_10 = {"first_period": "2026", "period_length": "year", "discount_rate": 0.10}
PROFILE = {"owner": "Ops director", "kpi": "Cost per order", "unit": "GBP", "baseline_value": 10,
           "baseline_date": "2025-12-01", "target_value": 8, "target_date": "2027-12-31",
           "frequency": "quarterly", "data_source": "ERP"}


def quarterly(case_id="Q", horizon=4, rate=0.0, **kw):
    return make_case({"case_id": case_id, "first_period": "2026Q1", "horizon": horizon, "discount_rate": rate}, **kw)


# --- realisation to date -----------------------------------------------------------------------------
def test_over_delivery_shows_positive_variance_and_green():
    # Plan 100 a quarter from Q2; actuals 120 in Q2 and Q3. As of Q3:
    # plan to date 200, actual 240, variance +40, realisation 240/200 = 120 %.
    case = quarterly(benefits=[{"line_id": "B1", "name": "Upsell", **PROFILE, "amounts": [0, 100, 100, 100]}],
                     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 120},
                              {"period": "2026Q3", "line_id": "B1", "amount": 120}])
    r = realisation_by_benefit(case, "2026Q3").iloc[0]
    assert (r["plan_to_date"], r["actual_to_date"], r["variance_to_date"]) == (200.0, 240.0, 40.0)
    assert (r["plan_period"], r["actual_period"], r["variance_period"]) == (100.0, 120.0, 20.0)
    assert r["realisation_pct"] == pytest.approx(1.2)
    assert r["rag"] == "green"


def test_cost_overrun_shows_negative_cost_variance():
    # Capex plan 100 + 100; spent 130 + 130. Variance (plan − actual) = 200 − 260 = −60;
    # spend 260/200 = 130 %; performance 1 − 60/200 = 70 % → red (below the 80 % amber line).
    case = quarterly(costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 0, 50, 50]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 130},
                              {"period": "2026Q2", "line_id": "C1", "amount": 130}])
    c = realisation_by_line(case, "2026Q2").set_index("line_id").loc["C1"]
    assert c["variance_to_date"] == -60.0
    assert c["performance_pct"] == pytest.approx(0.7)
    assert c["rag"] == "red"
    s = case_status(case, "2026Q2")
    assert s.cost_spend_pct == pytest.approx(1.3)
    assert s.totals["cost_variance_to_date"] == -60.0
    assert s.rag == "red"


def test_unreported_cost_period_is_not_an_underspend():
    # Plan 100 in Q1 and Q2; only Q1 reported (100). Like-for-like: variance 0, not +100;
    # the unreported plan (100) is shown apart and the outlook keeps the plan for Q2 (estimated).
    case = quarterly(costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100, 0, 0]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100}])
    c = realisation_by_line(case, "2026Q2").iloc[0]
    assert (c["variance_to_date"], c["plan_unreported"], c["periods_unreported"]) == (0.0, 100.0, 1)
    e = expected_flows(case, "2026Q2").set_index("period")
    assert e.loc["2026Q2", "amount"] == 100.0 and e.loc["2026Q2", "source"] == "plan"
    assert bool(e.loc["2026Q2", "estimated"])
    gaps = measurement_gaps(case, "2026Q2")
    assert gaps[gaps["gap"] == "unreported periods"]["periods"].tolist() == ["2026Q2"]


def test_unreported_past_period_uses_the_forecast_when_given():
    case = quarterly(benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [10, 10, 10, 10]}],
                     forecast=[{"period": "2026Q2", "line_id": "B1", "amount": 4},
                               {"period": "2026Q4", "line_id": "B1", "amount": 7}])
    e = expected_flows(case, "2026Q2")
    assert e["amount"].tolist() == [10.0, 4.0, 10.0, 7.0]
    assert e["source"].tolist() == ["plan", "forecast", "plan", "forecast"]
    assert e["estimated"].tolist() == [True, True, False, False]


def test_actuals_after_the_review_date_are_ignored():
    case = quarterly(benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [10, 10, 10, 10]}],
                     actuals=[{"period": p, "line_id": "B1", "amount": 20} for p in ("2026Q1", "2026Q2", "2026Q3")])
    r = realisation_by_benefit(case, "2026Q2").iloc[0]
    assert r["actual_to_date"] == 40.0      # Q3's 20 is after the review date
    assert expected_flows(case, "2026Q2")["amount"].tolist() == [20.0, 20.0, 10.0, 10.0]


# --- KPIs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("baseline", "target", "measured", "progress"), [
    (100, 200, 150, 0.5),        # up: 50 of the 100 to gain
    (12, 4, 10, 0.25),           # down: 2 of the 8 days to cut
    (12, 4, 13, -0.125),         # down target but the KPI rose: wrong way
    (12, 4, 2, 1.25),            # beyond target
    (5, 5, 6, math.nan),         # no movement asked: undefined
])
def test_kpi_progress_is_direction_aware(baseline, target, measured, progress):
    got = kpi_progress(baseline, target, measured)
    assert (math.isnan(got) and math.isnan(progress)) or got == pytest.approx(progress)


def test_kpi_progress_uses_the_latest_measurement_to_date():
    # Handling time 12 → target 4; measured 11 (Q1), 10 (Q2), 3 (Q4, after the review date).
    profile = {**PROFILE, "baseline_value": 12, "target_value": 4, "unit": "days"}
    case = quarterly(benefits=[{"line_id": "B1", "name": "Faster claims", **profile, "amounts": [0, 0, 0, 0]}],
                     actuals=[{"period": "2026Q1", "line_id": "B1", "kpi_value": 11},
                              {"period": "2026Q2", "line_id": "B1", "kpi_value": 10},
                              {"period": "2026Q4", "line_id": "B1", "kpi_value": 3}])
    r = realisation_by_benefit(case, "2026Q3").iloc[0]
    assert (r["kpi_latest"], r["kpi_latest_period"]) == (10.0, "2026Q2")
    assert r["kpi_progress_pct"] == pytest.approx(0.25)     # (10 − 12) / (4 − 12)


def test_kpis_with_different_units_are_never_combined():
    case = quarterly(horizon=1, benefits=[
        {"line_id": "B1", "name": "a", "benefit_type": "quantifiable non-financial", "unit": "%",
         "baseline_value": 50, "target_value": 70, "amounts": [0]},
        {"line_id": "B2", "name": "b", "benefit_type": "quantifiable non-financial", "unit": "count",
         "baseline_value": 10, "target_value": 20, "amounts": [0]},
    ], actuals=[{"period": "2026Q1", "line_id": "B1", "kpi_value": 60},
                {"period": "2026Q1", "line_id": "B2", "kpi_value": 20}])
    row = realisation_by_type(case, "2026Q1").iloc[0]
    assert math.isnan(row["kpi_latest"]) and "units differ" in row["kpi_note"]


def test_percentage_kpis_roll_up_by_mean_not_sum():
    # Two "%" KPIs: baselines 50, 60 → mean 55; targets 70, 80 → 75; latest 60, 70 → 65;
    # progress (65 − 55) / (75 − 55) = 0.5. A sum would give 110 % → 150 %, meaningless.
    case = quarterly(horizon=1, benefits=[
        {"line_id": "B1", "name": "a", "unit": "%", "baseline_value": 50, "target_value": 70, "amounts": [10]},
        {"line_id": "B2", "name": "b", "unit": "%", "baseline_value": 60, "target_value": 80, "amounts": [10]},
    ], actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 10, "kpi_value": 60},
                {"period": "2026Q1", "line_id": "B2", "amount": 8, "kpi_value": 70}])
    row = realisation_by_type(case, "2026Q1").iloc[0]
    assert (row["kpi_rollup"], row["kpi_baseline"], row["kpi_latest"]) == ("mean", 55.0, 65.0)
    assert row["kpi_progress_pct"] == pytest.approx(0.5)
    assert row["realisation_pct"] == pytest.approx(18 / 20)


# --- value bridge ----------------------------------------------------------------------------------------
def slipped_case():
    # Yearly, 10 %. Build 100 in 2026 (spent as planned). Benefit planned 100 in 2027 and 2028;
    # nothing came in 2027 (actual 0) and the owner forecasts 100 in 2028 and 2029: a one-year slip.
    return make_case({"case_id": "SLIP", "horizon": 4, **YEARLY_10},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 100, 100, 0]}],
                     actuals=[{"period": "2026", "line_id": "C1", "amount": 100},
                              {"period": "2027", "line_id": "B1", "amount": 0}],
                     forecast=[{"period": "2028", "line_id": "B1", "amount": 100},
                               {"period": "2029", "line_id": "B1", "amount": 100}])


def test_slipped_case_shows_timing_only():
    # Baseline NPV = −100 + 100/1.1 + 100/1.21 = −100 + 90.909091 + 82.644628 = 73.553719
    # Expected NPV = −100 + 100/1.21 + 100/1.331 = −100 + 82.644628 + 75.131480 = 57.776108
    # Same amounts later: timing = 57.776108 − 73.553719 = −15.777611, cost 0, benefit 0.
    b = value_bridge(slipped_case(), "2027")
    assert b.start == pytest.approx(73.553719, abs=1e-6)
    assert b.end == pytest.approx(57.776108, abs=1e-6)
    assert b.timing == pytest.approx(-15.777611, abs=1e-6)
    assert b.cost == pytest.approx(0.0, abs=1e-9) and b.benefit == pytest.approx(0.0, abs=1e-9)


def test_proportional_overrun_is_cost_only():
    # Yearly 10 %: build planned 50 + 50, spent 60 + 60 (20 % more, same timing).
    # Cost effect = −(10 + 10/1.1) = −19.090909; timing 0; benefit 0.
    case = make_case({"case_id": "OVR", "horizon": 3, **YEARLY_10},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [50, 50, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 0, 200]}],
                     actuals=[{"period": "2026", "line_id": "C1", "amount": 60},
                              {"period": "2027", "line_id": "C1", "amount": 60}])
    b = value_bridge(case, "2027")
    assert b.cost == pytest.approx(-19.090909, abs=1e-6)
    assert b.timing == pytest.approx(0.0, abs=1e-9)
    assert b.benefit == pytest.approx(0.0, abs=1e-9)


def test_slip_and_overrun_together_split_as_documented():
    # Benefit 100 planned in 2027 arrives as 80 in 2028 (yearly, 10 %).
    # B = 100, E = 80, PV_b = 100/1.1 = 90.909091, PV_e = 80/1.21 = 66.115702.
    # timing = B·(PV_e/E − PV_b/B) = 100·(1/1.21 − 1/1.1) = −8.264463
    # benefit = (PV_e − PV_b) − timing = −24.793388 + 8.264463 = −16.528926 (= −20/1.21)
    case = make_case({"case_id": "MIX", "horizon": 3, **YEARLY_10},
                     benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [0, 100, 0]}],
                     actuals=[{"period": "2027", "line_id": "B1", "amount": 0}],
                     forecast=[{"period": "2028", "line_id": "B1", "amount": 80}])
    b = value_bridge(case, "2027")
    assert b.timing == pytest.approx(-8.264463, abs=1e-6)
    assert b.benefit == pytest.approx(-16.528926, abs=1e-6)


def messy_case(extra_actuals=()):
    """Quarterly, Green Book, 12 quarters: overrun, shortfall, slip, a dis-benefit, a new cost line."""
    return make_case(
        {"case_id": "MESSY", "first_period": "2026Q1", "horizon": 12, "discount_schedule": "green book"},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [300_000.37, 250_000, 0]},
               {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0] + [20_000] * 10},
               {"line_id": "C3", "name": "Unplanned support", "category": "opex", "amounts": []}],
        benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 0, 50_000] + [90_000.11] * 9},
                  {"line_id": "B2", "name": "Time saved", "benefit_type": "non-cash-releasing", **PROFILE,
                   "amounts": [0, 0, 0, 30_000] + [30_000] * 8},
                  {"line_id": "B3", "name": "Disruption", "benefit_type": "dis-benefit", **PROFILE,
                   "amounts": [0, 0, -15_000, -5_000]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 333_333.33},
                 {"period": "2026Q2", "line_id": "C1", "amount": 290_000},
                 {"period": "2026Q3", "line_id": "C1", "amount": 41_000},
                 {"period": "2026Q3", "line_id": "C3", "amount": 7_777.77},
                 {"period": "2026Q3", "line_id": "B1", "amount": 12_345.67},
                 {"period": "2026Q4", "line_id": "B1", "amount": 70_000},
                 {"period": "2026Q3", "line_id": "B3", "amount": -22_000},
                 {"period": "2026Q4", "line_id": "B3", "amount": -9_000}, *extra_actuals],
        forecast=[{"period": f"2027Q{q}", "line_id": "B2", "amount": 0} for q in (1, 2)]
        + [{"period": "2028Q4", "line_id": "B2", "amount": 60_000},
           {"period": "2027Q1", "line_id": "C3", "amount": 7_000}],
    )


@pytest.mark.parametrize("view", ["economic", "cash"])
def test_bridge_components_sum_to_the_npv_difference_to_the_cent(view):
    case = messy_case()
    b = value_bridge(case, "2026Q4", view=view)
    assert abs(b.start + b.cost + b.benefit + b.timing - b.end) < 0.005
    # Second method: the expected NPV rebuilt by hand from the rule (actuals, then forecast, else plan).
    df = finance.green_book_discount_factors(12, 4, "standard")
    signs = {"C1": -1, "C2": -1, "C3": -1, "B1": 1, "B2": 1, "B3": 1}
    rows = {lid: np.zeros(12) for lid in signs}
    plan = case.matrix("baseline")
    for lid in signs:
        rows[lid][:] = plan.loc[lid].to_numpy()
    for f in case.flows[case.flows["scenario"] == "forecast"].itertuples():
        rows[f.line_id][f.t] = f.amount
    for f in case.flows[case.flows["scenario"] == "actual"].itertuples():
        rows[f.line_id][f.t] = f.amount
    if view == "cash":
        rows.pop("B2")
    net = sum(signs[lid] * v for lid, v in rows.items())
    assert b.end == pytest.approx(float(net @ df), abs=0.005)
    # and the reference is the appraised baseline, as appraise() reports it
    from vmo_lib.analysis.appraisal import appraise
    assert b.start == pytest.approx(appraise(case, "baseline", view).npv, abs=1e-6)


# Money in whole cents (as in a workbook); sub-cent values such as 1e-221 are not amounts.
profiles = st.lists(st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2)), min_size=8, max_size=8)


def two_profile_case(base, exp, cost_base, cost_exp, rate):
    """Baselines ``base``/``cost_base``; the forecast (reviewed before period 0) is ``exp``/``cost_exp``."""
    return make_case({"case_id": "H", "first_period": "2026Q1", "horizon": len(base), "discount_rate": rate},
                     costs=[{"line_id": "C1", "name": "c", "amounts": cost_base}],
                     benefits=[{"line_id": "B1", "name": "b", "amounts": base}],
                     forecast=[{"period": f"{2026 + t // 4}Q{t % 4 + 1}", "line_id": lid, "amount": a}
                               for lid, amounts in (("B1", exp), ("C1", cost_exp)) for t, a in enumerate(amounts)])


@settings(max_examples=30, deadline=None)
@given(base=profiles, exp=profiles, cost_base=profiles, cost_exp=profiles, rate=st.floats(0.0, 0.3))
def test_bridge_is_exact_for_any_profiles(base, exp, cost_base, cost_exp, rate):
    b = value_bridge(two_profile_case(base, exp, cost_base, cost_exp, rate), "2025Q4")
    scale = 1.0 + sum(base) + sum(exp) + sum(cost_base) + sum(cost_exp)
    assert abs(b.start + b.cost + b.benefit + b.timing - b.end) <= 1e-9 * scale


@settings(max_examples=30, deadline=None)
@given(base=profiles, slip=st.integers(0, 7), k=st.floats(0.1, 3.0), rate=st.floats(0.0, 0.3))
def test_bridge_slip_is_timing_and_scaling_is_amount(base, slip, k, rate):
    scale = 1.0 + 3 * sum(base)
    # A pure slip, the tail falling past the horizon: timing only. (A profile pushed wholly past the
    # horizon leaves no start to compare: documented as an amount change.)
    slipped = [0.0] * slip + base[:8 - slip]
    assume(any(x > 0 for x in slipped))
    b = value_bridge(two_profile_case(base, slipped, base, base, rate), "2025Q4")
    assert abs(b.benefit) + abs(b.cost) <= 1e-9 * scale
    # The same profile scaled by k (over- or under-delivery at the planned timing): amount only.
    b = value_bridge(two_profile_case(base, [k * x for x in base], base, [k * x for x in base], rate), "2025Q4")
    assert abs(b.timing) <= 1e-9 * scale


def test_slip_past_the_horizon_is_timing_not_lost_benefit():
    # Quarterly, 0 % (to show the point): benefit 10 a quarter from Q2 to Q4; a one-quarter slip
    # pushes the Q4 amount past the horizon. NPV falls 10, all of it timing (the delay's cost).
    case = quarterly(benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [0, 10, 10, 10]}],
                     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 0}],
                     forecast=[{"period": p, "line_id": "B1", "amount": 10} for p in ("2026Q3", "2026Q4")])
    assert value_bridge(case, "2026Q2").components == pytest.approx({"cost": 0.0, "benefit": 0.0, "timing": -10.0})


def test_rephasing_spend_with_the_same_total_is_timing_only():
    # Yearly 10 %: build planned 100 + 100, spent 50 now and 150 next year (same start, same total).
    # Cost PV falls by 50 − 50/1.1 = 4.545455: a timing gain, no cost effect.
    case = make_case({"case_id": "PH", "horizon": 2, **YEARLY_10},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100]}],
                     actuals=[{"period": "2026", "line_id": "C1", "amount": 50},
                              {"period": "2027", "line_id": "C1", "amount": 150}])
    b = value_bridge(case, "2027")
    assert b.timing == pytest.approx(4.545455, abs=1e-6) and b.cost == pytest.approx(0.0, abs=1e-9)


# --- forward NPV -------------------------------------------------------------------------------------------
def test_forward_npv_ignores_sunk_cost_and_discounts_to_the_next_period():
    # Yearly 10 %; build 100 (2026, sunk) + 20 (2027); benefits 50 (2027), 110 (2028).
    # Forward as of 2026 = (50 − 20) + 110/1.1 = 130, valued at 2027 (not at 2026: 130/1.1 = 118.18).
    case = make_case({"case_id": "F", "horizon": 3, **YEARLY_10},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 20, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 50, 110]}])
    assert forward_npv(case, "2026") == pytest.approx(130.0)
    s = case_status(case, "2026")
    assert (s.forward_discounted_to, s.continue_signal) == ("2027", "continue")
    # Review after the end of the horizon: nothing remains.
    assert forward_npv(case, "2030") == 0.0
    assert case_status(case, "2030").continue_signal == "complete"


def test_negative_forward_npv_says_rethink_even_if_past_benefits_were_good():
    # Benefit of 500 already banked in 2026; what remains is 100 of cost for 10 of benefit.
    case = make_case({"case_id": "R", "horizon": 2, **YEARLY_10},
                     costs=[{"line_id": "C1", "name": "Run", "amounts": [0, 100]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [500, 10]}],
                     actuals=[{"period": "2026", "line_id": "B1", "amount": 500}])
    s = case_status(case, "2026")
    assert s.forward_npv == pytest.approx(-90.0)         # (10 − 100) valued at 2027
    assert s.continue_signal == "rethink"
    assert s.verdict.label == "on track"  # the past was as planned ...
    # ... but what remains costs more than it returns: the one decision rule says stop, and the verdict
    # sentence ends with it
    assert (s.decision, s.decision_reason) == (
        "stop", "forward NPV −£90: what remains costs more than it returns, whatever was spent")
    assert "Forward NPV of what remains −£90." in s.verdict_sentence
    assert s.verdict_sentence.endswith(f"Decision: stop ({s.decision_reason}).")


# --- verdicts ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("reference", "expected", "label"), [
    (100, 160, "value created"),     # +60 of PV cost 1000 = +6 % > 5 %
    (100, 150, "on track"),          # +5 %: not more than 5 %
    (100, 50, "on track"),           # −5 %: not more than 5 % below
    (100, 40, "at risk"),            # −6 %
    (400, 160, "at risk"),           # −24 %
    (800, 100, "at risk"),           # −70 %, but still expected to return more than it costs
    (100, -1, "value destroyed"),    # promised value, now negative (only −10.1 %)
    (-500, -540, "on track"),        # mandatory: −4 % vs a negative-by-design baseline, not vs zero
    (-500, -600, "at risk"),         # mandatory: −10 %
    (-500, -800, "value destroyed"),  # mandatory: −30 %
    (-500, -400, "value created"),   # mandatory: cheaper than approved by 10 %
])
def test_verdict_thresholds(reference, expected, label):
    assert verdict(reference, expected, pv_costs=1000).label == label


def test_verdict_thresholds_are_configurable():
    th = Thresholds(value_created=0.10, at_risk=0.10, value_destroyed=0.50, value_destroyed_any=0.60)
    assert verdict(100, 160, 1000, th).label == "on track"       # +6 % < 10 %
    assert verdict(100, 40, 1000, th).label == "on track"        # −6 % < 10 %
    assert verdict(800, 100, 1000, th).label == "value destroyed"  # −70 % > 60 % (stricter rule on)
    assert verdict(-500, -800, 1000, th).label == "at risk"      # mandatory −30 % < 50 %
    with pytest.raises(ValueError):
        Thresholds(at_risk=0.3, value_destroyed=0.2)


# --- re-baselining ----------------------------------------------------------------------------------------
def rebaselined_case():
    # No discounting. Build 150. Original benefits 100 × 3 quarters; re-baseline RB1 (approved
    # 2026-06-01) cut them to 60 × 3. Q2 actual 60.
    return quarterly(case_id="RB", costs=[{"line_id": "C1", "name": "Build", "amounts": [150, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 100, 100, 100]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 150},
                              {"period": "2026Q2", "line_id": "B1", "amount": 60}],
                     rebaselines=[{"version": "RB1", "approved": "2026-06-01", "reason": "scope cut",
                                   "amounts": {"C1": [150, 0, 0, 0], "B1": [0, 60, 60, 60]}}])


def test_rebaselining_keeps_the_original_and_reports_both():
    case = rebaselined_case()
    s = case_status(case, "2026Q2")
    # Original NPV 300 − 150 = 150; RB1 NPV 180 − 150 = 30; expected 60 + 60 + 60 − 150 = 30.
    assert (s.baseline_npv, s.current_baseline_npv, s.expected_npv) == (150.0, 30.0, 30.0)
    assert s.baseline_in_force == "rebaseline:RB1"
    assert s.verdict.label == "on track"                      # against RB1: no change
    assert s.verdict_vs_original.label == "at risk"           # −120 of PV cost 150 = −80 %, NPV still > 0
    assert s.bridge.components == pytest.approx({"cost": 0.0, "benefit": -120.0, "timing": 0.0})
    assert s.bridge_current.components == pytest.approx({"cost": 0.0, "benefit": 0.0, "timing": 0.0})
    b = s.benefits.iloc[0]
    assert (b["plan_to_date"], b["variance_to_date"], b["original_variance_to_date"]) == (60.0, 0.0, -40.0)
    # the approved baseline is untouched, in the case and in the expected copy
    assert case.matrix("baseline").loc["B1"].tolist() == [0.0, 100.0, 100.0, 100.0]
    assert expected_case(case, "2026Q2").matrix("baseline").loc["B1"].tolist() == [0.0, 100.0, 100.0, 100.0]
    d = s.to_dict()
    assert d["baseline_npv"] == 150.0 and d["current_baseline_npv"] == 30.0
    assert "re-baseline" in d["verdict_sentence"] and "original baseline" in d["verdict_sentence"]


# --- readiness ----------------------------------------------------------------------------------------------
def test_readiness_catches_a_benefit_not_measured_for_longer_than_its_frequency():
    # Annual measurement in a quarterly case allows 4 quarters between reports.
    # Last report 2026Q1 (t=0). As of 2027Q1 (t=4): 4 quarters → fine. As of 2027Q2 (t=5): 5 > 4 → overdue.
    profile = {**PROFILE, "frequency": "annually"}
    case = quarterly(horizon=8, benefits=[{"line_id": "B1", "name": "S", **profile, "amounts": [0] * 8}],
                     actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 0, "kpi_value": 9.5}])
    assert "overdue" not in measurement_gaps(case, "2027Q1")["gap"].tolist()
    gaps = measurement_gaps(case, "2027Q2")
    row = gaps[gaps["gap"] == "overdue"].iloc[0]
    assert row["line_id"] == "B1" and row["periods"] == "2026Q2, 2026Q3, 2026Q4, 2027Q1, 2027Q2"


def test_readiness_lists_missing_owner_baseline_target_date_and_kpi():
    bad = {"line_id": "B2", "name": "Vague", "kpi": "Satisfaction", "unit": "score", "frequency": "quarterly",
           "target_value": 8, "amounts": [0, 10, 10, 10]}
    good = {"line_id": "B1", "name": "Good", **PROFILE, "amounts": [0, 10, 10, 10]}
    case = quarterly(benefits=[good, bad],
                     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 10, "kpi_value": 9.8},
                              {"period": "2026Q2", "line_id": "B2", "amount": 10}])
    gaps = measurement_gaps(case, "2026Q2")
    assert gaps[gaps["line_id"] == "B1"].empty
    assert set(gaps[gaps["line_id"] == "B2"]["gap"]) == {
        "no owner", "no baseline measurement", "no target date", "no KPI measurement"}


def test_benefit_not_yet_due_is_grey_and_raises_no_gap():
    case = quarterly(benefits=[{"line_id": "B1", "name": "Later", **PROFILE, "amounts": [0, 0, 0, 50]}])
    r = realisation_by_benefit(case, "2026Q2").iloc[0]
    assert r["rag"] == "grey" and "not started" in r["rag_reason"]
    assert measurement_gaps(case, "2026Q2").empty


# --- status object and its dictionary ----------------------------------------------------------------------
def test_status_dict_has_the_documented_keys_and_a_bridge_that_sums():
    s = case_status(messy_case(), "2026Q4")
    d = s.to_dict()
    assert tuple(d) == STATUS_KEYS
    assert set(d["bridge"]) == {"cost", "benefit", "timing"}
    assert abs(sum(d["bridge"].values()) - (d["expected_npv"] - d["baseline_npv"])) < 0.005
    assert "positive = better than plan" in d["variance_note"]
    buf = io.StringIO()
    dump_json(d, buf)
    assert json.loads(buf.getvalue())["case_id"] == "MESSY"


def test_case_realisation_counts_benefits_in_the_view_only():
    # Realisation is gross: dis-benefits have their own totals and are not netted into it.
    # Cash view: only B1 (cash-releasing) 12,345.67 + 70,000 against plan 50,000 + 90,000.11.
    # B2 (non-cash-releasing) has no actual in messy_case, so no reported plan either: the economic view
    # gives the same figure there; with a B2 actual of 24,000 in 2026Q4 (plan 30,000) only the economic
    # view counts it: (82,345.67 + 24,000) / (140,000.11 + 30,000).
    # B3 (dis-benefit) −22,000 − 9,000 against −15,000 − 5,000 is reported apart, in both views:
    # variance (actual − plan) = −31,000 − (−20,000) = −11,000 (worse than plan).
    gross = 82_345.67 / 140_000.11
    dis = {"disbenefit_plan_to_date": -20_000.0, "disbenefit_actual_to_date": -31_000.0,
           "disbenefit_variance_to_date": -11_000.0}
    for view, extra, pct in (("cash", [], gross), ("economic", [], gross),
                             ("cash", [{"period": "2026Q4", "line_id": "B2", "amount": 24_000}], gross),
                             ("economic", [{"period": "2026Q4", "line_id": "B2", "amount": 24_000}],
                              (82_345.67 + 24_000) / (140_000.11 + 30_000))):
        s = case_status(messy_case(extra_actuals=extra), "2026Q4", view=view)
        assert s.realisation_pct == pytest.approx(pct), (view, extra)
        assert s.totals["benefit_actual_to_date"] == pytest.approx(82_345.67 + sum(a["amount"] for a in extra
                                                                                    if view == "economic"))
        for key, value in dis.items():
            assert s.totals[key] == pytest.approx(value), (view, key)
            assert s.to_dict()[key] == pytest.approx(value), (view, key)


def test_review_before_period_zero_is_all_plan():
    case = quarterly(costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [0, 60, 60, 60]}])
    s = case_status(case, "2025Q4")
    assert s.expected_npv == s.baseline_npv == s.forward_npv == 80.0
    assert (s.verdict.label, s.rag) == ("on track", "grey")
    assert math.isnan(s.realisation_pct)


def test_bad_review_period_is_a_clear_error():
    from vmo_lib.errors import UsageError

    with pytest.raises(UsageError, match="2026-13"):
        case_status(quarterly(), "2026-13")


def test_yearly_case_reviewed_mid_year_covers_its_last_completed_year():
    # The one review-period rule (vmo_lib.periods.review_period): as of 2026Q3 the 2026 return of a
    # yearly case is not yet due, so the review covers 2025; as of 2026Q4 it covers 2026.
    from vmo_lib.analysis.realisation import review_period
    from vmo_lib.model import make_case
    from vmo_lib.portfolio.core import case_as_of

    y = make_case({"first_period": "2025", "period_length": "year", "horizon": 3})
    assert review_period(y, "2026Q3") == case_as_of(y, "2026Q3") == "2025"
    assert review_period(y, "2026Q4") == case_as_of(y, "2026Q4") == "2026"


def test_cumulative_curve_table():
    # Plan 10 a quarter; actual 12 in Q1 and Q2; as of Q2 → cumulative actual 12, 24, then NaN;
    # expected 12, 24, 34, 44.
    case = quarterly(benefits=[{"line_id": "B1", "name": "S", **PROFILE, "amounts": [10, 10, 10, 10]}],
                     actuals=[{"period": p, "line_id": "B1", "amount": 12} for p in ("2026Q1", "2026Q2")])
    t = realisation_by_period(case, "2026Q2")
    assert t["cum_benefit_plan"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert t["cum_benefit_actual"].tolist()[:2] == [12.0, 24.0] and t["cum_benefit_actual"].isna().tolist()[2:] == [True, True]
    assert t["cum_benefit_expected"].tolist() == [12.0, 24.0, 34.0, 44.0]


# --- the sample portfolio (data/sample/README.md tells each case's story) -----------------------------------
SAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_status():
    if not (SAMPLE / "CRM-2025.xlsx").exists():
        pytest.skip("sample portfolio not generated (make sample)")
    from vmo_lib.intake.loader import load_case
    return {p.stem: case_status(load_case(p, as_of="2026Q3"), "2026Q3") for p in sorted(SAMPLE.glob("*.xlsx"))}


@pytest.mark.parametrize(("case_id", "label"), [
    ("CRM-2025", "value created"),      # over-delivering
    ("CLOUD-2025", "on track"),
    ("DATA-2025", "at risk"),           # benefits ~85 %, costs +10 %, NPV still positive
    ("CHATBOT-2025", "value destroyed"),  # expected NPV below zero, baseline positive
    ("PAY-2024", "on track"),           # against its re-baseline RB1
    ("M365-2022", "on track"),          # closed, benefits as planned
    ("REG-2026", "on track"),           # mandatory: negative by design, judged against its baseline
])
def test_sample_cases_get_the_verdicts_their_story_claims(sample_status, case_id, label):
    assert sample_status[case_id].verdict.label == label


def test_sample_stories_behind_the_verdicts(sample_status):
    s = sample_status
    assert s["CHATBOT-2025"].expected_npv < 0 < s["CHATBOT-2025"].baseline_npv
    assert s["DATA-2025"].expected_npv > 0
    assert ("B3", "overdue") in set(zip(s["DATA-2025"].gaps["line_id"], s["DATA-2025"].gaps["gap"], strict=True))
    erp = s["ERP-2024"].bridge          # slipped two quarters: mostly a timing effect
    assert erp.timing < 0 and abs(erp.timing) > max(abs(erp.cost), abs(erp.benefit))
    pay = s["PAY-2024"]                  # behind the original, on track against RB1
    assert pay.baseline_in_force == "rebaseline:RB1" and pay.expected_npv < pay.baseline_npv
    assert s["HR-2027"].rag == "grey" and math.isnan(s["HR-2027"].realisation_pct)
    assert s["M365-2022"].continue_signal == "complete"
    assert s["REG-2026"].baseline_npv < 0
    for st_ in s.values():
        assert abs(sum(st_.bridge.components.values()) - (st_.expected_npv - st_.baseline_npv)) < 0.005


# --- work shared within one call (performance, issue 6 §6) -------------------------------------------
def _rebaselined_case():
    return make_case(
        {"case_id": "SH", "first_period": "2026Q1", "horizon": 6, "discount_rate": 0.08},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 50, 0, 0, 0, 0]},
               {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0, 10, 10, 10, 10]}],
        benefits=[{"line_id": "B1", "name": "Cash", "amounts": [0, 0, 40, 60, 60, 60], "kpi": "Cost",
                   "unit": "GBP", "baseline_value": 100, "target_value": 50},
                  {"line_id": "B2", "name": "Time", "benefit_type": "non-cash-releasing",
                   "amounts": [0, 0, 20, 20, 20, 20], "unit": "%", "baseline_value": 10, "target_value": 30}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 120},
                 {"period": "2026Q2", "line_id": "B1", "amount": 5, "kpi_value": 95},
                 {"period": "2026Q3", "line_id": "B2", "amount": 15, "kpi_value": 14},
                 {"period": "2026Q3", "line_id": "B1", "kpi_value": 90}],
        forecast=[{"period": "2026Q4", "line_id": "B1", "amount": 50}],
        rebaselines=[{"version": "RB1", "approved": "2026-05-01", "reason": "scope",
                      "amounts": {"C1": [100, 70, 0, 0, 0, 0], "B1": [0, 0, 30, 60, 60, 60]}}],
    )


def test_shared_npv_and_net_flows_equal_appraisal_exactly():
    from vmo_lib.analysis import appraisal
    from vmo_lib.analysis.realisation import _net_flows, _npv_of, shared_work

    c = _rebaselined_case()
    ec = expected_case(c, "2026Q3")
    with shared_work():
        for case, scenario in ((c, "baseline"), (c, "rebaseline:RB1"), (ec, "expected"), (ec, "baseline")):
            for view in ("economic", "cash"):
                assert _npv_of(case, scenario, view) == appraisal.npv_of(case, scenario, view)
                assert _net_flows(case, scenario, view).tolist() == appraisal.net_flows(case, scenario, view).tolist()


def test_case_status_tables_equal_the_functions_called_one_by_one():
    """Inside case_status the grid, expected case and matrices are shared; alone, nothing is."""
    import pandas as pd

    c = _rebaselined_case()
    s = case_status(c, "2026Q3")
    pd.testing.assert_frame_equal(s.benefits, realisation_by_benefit(c, "2026Q3"))
    pd.testing.assert_frame_equal(s.by_type, realisation_by_type(c, "2026Q3"))
    pd.testing.assert_frame_equal(s.gaps, measurement_gaps(c, "2026Q3"))
    pd.testing.assert_frame_equal(s.expected, expected_flows(c, "2026Q3"))
    assert s.forward_npv == forward_npv(c, "2026Q3")
    assert s.bridge.end == value_bridge(c, "2026Q3").end == s.expected_npv
    assert s.baseline_in_force == "rebaseline:RB1"
    # the KPI latest of B1 is its 2026Q3 measurement (90), not the 2026Q2 one
    assert s.benefits.set_index("line_id").loc["B1", "kpi_latest"] == 90.0

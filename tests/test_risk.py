"""Risk and uncertainty: every expected number is worked by hand or by a second method."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vmo_lib.analysis import appraisal, realisation
from vmo_lib.analysis.risk import (
    appraisal_with_optimism_bias,
    monte_carlo,
    npv_by_delay,
    switching_values,
    three_point_npv,
    tornado,
)
from vmo_lib.analysis.scenarios import (
    CaseMatrices,
    WhatIf,
    apply_what_if,
    optimism_bias,
    optimism_bias_adjusted,
    three_point_factors,
    three_point_scenarios,
    what_if_npv,
)
from vmo_lib.errors import AnalysisError
from vmo_lib.model import make_case
from vmo_lib.portfolio.reference_class import SplicedParetoOverrun, flyvbjerg_it_overrun

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def yearly(costs=(), benefits=(), horizon=4, rate=0.0, **meta):
    return make_case({"case_id": "T", "first_period": "2026", "period_length": "year", "horizon": horizon,
                      "discount_rate": rate, **meta}, costs=list(costs), benefits=list(benefits))


def line(lid, amounts, **kw):
    return {"line_id": lid, "name": lid, "amounts": list(amounts), **kw}


def pv_by_hand(amounts, rate):
    return sum(a / (1 + rate) ** t for t, a in enumerate(amounts))


# --------------------------------------------------------------------------------------------------
# optimism bias
# --------------------------------------------------------------------------------------------------
def test_it_case_gets_green_book_upper_bounds_and_documented_benefit_haircut():
    case = yearly(case_type="IT: equipment/development", go_live_period="2028", status="proposed")   # g = 2 years
    ob = optimism_bias(case)
    assert (ob.capex, ob.opex, ob.duration, ob.benefits) == (2.0, 0.0, 0.54, 0.25)
    assert ob.delay_periods == 1            # floor(0.54 * 2 + 0.5) = floor(1.58)
    assert ob.reference_class == "Equipment/development"
    assert optimism_bias(case, bound="lower").capex == 0.10


def test_outsourcing_uplifts_opex_and_case_fields_override_defaults():
    ob = optimism_bias(yearly(case_type="IT: outsourcing", ob_capex=0.3, ob_benefits=0.0, status="proposed"))
    assert (ob.capex, ob.opex, ob.benefits) == (0.3, 0.41, 0.0)
    assert set(ob.from_case) == {"ob_capex", "ob_benefits"}


def test_optimism_bias_applied_by_hand_on_a_small_case():
    # capex 100 at t0, opex 10 a year, benefits 60 a year from t2, a dis-benefit of -5 at t2, 0 %.
    case = yearly(
        costs=[line("C1", [100, 0, 0, 0], category="capex"), line("C2", [0, 10, 10, 10], category="opex")],
        benefits=[line("B1", [0, 0, 60, 60], benefit_type="cash-releasing"),
                  line("D1", [0, 0, -5, 0], benefit_type="dis-benefit")],
        case_type="IT: equipment/development", go_live_period="2027", ob_opex=0.1,   # g = 1 -> delay 1
        status="proposed",                                                          # outline stage: upper bound
    )
    # capex x3 = 300; opex x1.1 = 33; benefits x0.75 moved one year: only t3 survives = 45;
    # the dis-benefit is moved (t3) but not haircut: -5.
    expected = 45 - 5 - 300 - 33
    adjusted = optimism_bias_adjusted(case)
    assert appraisal.npv_of(adjusted, "baseline+ob") == pytest.approx(expected)
    table = appraisal_with_optimism_bias(case)
    assert table.loc["npv", "before"] == pytest.approx(100 + 20 - 5 - 130)
    assert table.loc["npv", "after"] == pytest.approx(expected)
    assert table.loc["pv_capex", "after"] == pytest.approx(300)
    assert table.loc["npv", "change"] == pytest.approx(expected - (-15))
    assert "baseline+ob" not in case.scenarios          # the loaded case is never changed


# --------------------------------------------------------------------------------------------------
# what-if: one mechanism, two paths that agree
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("what_if", [
    WhatIf(),
    WhatIf(cost_overrun=0.3, name="a"),
    WhatIf(benefit_realisation=0.6, delay_periods=3, name="b"),
    WhatIf(discount_rate=0.12, optimism_bias=True, name="c"),
    WhatIf(cost_overrun=-0.2, benefit_realisation=1.3, delay_periods=1, discount_rate=0.0, name="d"),
])
@pytest.mark.parametrize("schedule", ["flat", "green book"])
def test_fast_what_if_npv_equals_appraising_the_what_if_case(what_if, schedule):
    rng = np.random.default_rng(7)
    case = make_case({"horizon": 16, "discount_rate": 0.08, "discount_schedule": schedule, "go_live_period": "2026Q4"},
                     costs=[line(f"C{i}", rng.random(16) * 50, category=("capex", "opex")[i % 2]) for i in range(4)],
                     benefits=[line("B1", rng.random(16) * 80), line("B2", rng.random(16) * 40, benefit_type="cost avoidance"),
                               line("D1", -rng.random(16) * 10, benefit_type="dis-benefit")])
    fast = what_if_npv(CaseMatrices.from_case(case), what_if)
    slow = appraisal.npv_of(apply_what_if(case, what_if), what_if.scenario_name())
    assert fast == pytest.approx(slow, rel=1e-12, abs=1e-9)


def test_what_if_round_trips_through_plain_data_and_rejects_unknown_fields():
    w = WhatIf(cost_overrun=0.25, delay_periods=2, discount_rate=0.05, optimism_bias=True, name="board")
    assert WhatIf.from_dict(json.loads(json.dumps(w.to_dict()))) == w
    with pytest.raises(ValueError, match="delay"):
        WhatIf.from_dict({"dealy": 2})
    with pytest.raises(ValueError, match="whole number"):
        WhatIf(delay_periods=1.5)


def test_three_point_scenarios_take_the_worst_estimate_for_dis_benefits_too():
    case = yearly(costs=[line("C1", [100], low=90, likely=100, high=130)],
                  benefits=[line("B1", [0, 100, 100], low=150, likely=200, high=220),
                            line("D1", [0, -10, -10], benefit_type="dis-benefit", low=-30, likely=-20, high=-15)])
    c = three_point_scenarios(case)
    assert appraisal.npv_of(c, "pessimistic") == pytest.approx(150 - 30 - 130)
    assert appraisal.npv_of(c, "likely") == pytest.approx(appraisal.npv_of(case))
    assert appraisal.npv_of(c, "optimistic") == pytest.approx(220 - 15 - 90)


def test_likely_outside_the_range_is_an_error_naming_sheet_and_row():
    case = yearly(costs=[line("C1", [100], low=120, likely=100, high=130, row=7)])
    with pytest.raises(AnalysisError, match=r"Costs!row 7 \(line C1\).*low ≤ likely ≤ high"):
        three_point_factors(case)


# --------------------------------------------------------------------------------------------------
# switching values
# --------------------------------------------------------------------------------------------------
def _ten_percent_case():
    return yearly(costs=[line("C1", [100, 20, 0, 0], category="capex")],
                  benefits=[line("B1", [0, 50, 60, 70]), line("D1", [0, -5, -5, -5], benefit_type="dis-benefit")],
                  horizon=4, rate=0.10)


def test_switching_values_have_the_closed_form_and_put_npv_at_zero_when_substituted_back():
    case = _ten_percent_case()
    pv_c = pv_by_hand([100, 20, 0, 0], 0.10)
    pv_b = pv_by_hand([0, 50, 60, 70], 0.10)
    pv_d = pv_by_hand([0, -5, -5, -5], 0.10)
    npv = pv_b + pv_d - pv_c
    sv = switching_values(case).set_index("driver")
    assert sv.loc["cost uplift", "value"] == pytest.approx(npv / pv_c)
    assert sv.loc["benefit shortfall", "value"] == pytest.approx(npv / pv_b)
    # substitute back through the case path (apply_what_if + appraisal), not the fast path
    x = sv.loc["cost uplift", "value"]
    s = sv.loc["benefit shortfall", "value"]
    for w in (WhatIf(cost_overrun=x, name="x"), WhatIf(benefit_realisation=1 - s, name="s")):
        assert appraisal.npv_of(apply_what_if(case, w), w.scenario_name()) == pytest.approx(0, abs=1e-9)
    r = sv.loc["discount rate", "value"]
    assert appraisal.npv_of(case, annual_rate=r) == pytest.approx(0, abs=1e-9)
    # delay: whole periods bracket the zero, and the split-delay interpolation is exactly zero there
    d = sv.loc["delay", "value"]
    lo, hi = math.floor(d), math.ceil(d)
    npv_lo = appraisal.npv_of(apply_what_if(case, WhatIf(delay_periods=lo, name="lo")), "baseline+lo")
    npv_hi = appraisal.npv_of(apply_what_if(case, WhatIf(delay_periods=hi, name="hi")), "baseline+hi")
    assert npv_lo > 0 >= npv_hi
    f = d - lo
    assert (1 - f) * npv_lo + f * npv_hi == pytest.approx(0, abs=1e-9)
    assert sv["npv_at_value"].abs().max() < 1e-9


def test_npv_by_delay_matches_shifting_each_profile_by_hand():
    case = _ten_percent_case()
    got = npv_by_delay(CaseMatrices.from_case(case))
    ben = np.array([0, 45, 55, 65.0])
    for d in range(5):
        shifted = np.concatenate([np.zeros(d), ben])[:4]
        assert got[d] == pytest.approx(pv_by_hand(shifted, 0.1) - pv_by_hand([100, 20, 0, 0], 0.1))


def test_switching_values_say_none_when_npv_cannot_reach_zero():
    no_costs = yearly(benefits=[line("B1", [0, 10])])
    sv = switching_values(no_costs).set_index("driver")
    assert math.isnan(sv.loc["cost uplift", "value"]) and "no costs" in sv.loc["cost uplift", "note"]
    assert sv.loc["benefit shortfall", "value"] == pytest.approx(1.0)       # all of it, exactly
    mandatory = yearly(costs=[line("C1", [50])], benefits=[line("D1", [0, -10], benefit_type="dis-benefit")])
    sv = switching_values(mandatory).set_index("driver")
    assert math.isnan(sv.loc["cost uplift", "value"]) and "even with no cost" in sv.loc["cost uplift", "note"]
    assert math.isnan(sv.loc["benefit shortfall", "value"]) and "no benefits" in sv.loc["benefit shortfall", "note"]
    assert math.isnan(sv.loc["delay", "value"]) and math.isnan(sv.loc["discount rate", "value"])


def test_negative_npv_gives_the_cost_cut_needed():
    case = yearly(costs=[line("C1", [100])], benefits=[line("B1", [0, 80])])
    sv = switching_values(case).set_index("driver")
    assert sv.loc["cost uplift", "value"] == pytest.approx(-0.2)
    assert "must fall 20.0%" in sv.loc["cost uplift", "note"]


# --------------------------------------------------------------------------------------------------
# tornado
# --------------------------------------------------------------------------------------------------
def test_tornado_orders_groups_by_hand_computed_swing():
    case = yearly(
        costs=[line("C1", [100], category="capex", low=90, likely=100, high=160, driver="vendor"),
               line("C2", [0, 10, 10, 10], category="opex", low=27, likely=30, high=33)],
        benefits=[line("B1", [0, 50, 50, 50], low=100, likely=150, high=160, driver="vendor")],
    )
    t = tornado(case, delay_periods=1, rate_change=0.0).set_index("driver")
    base = 150 - 130
    assert t.loc["capex", ["npv_low", "npv_high"]].tolist() == pytest.approx([base + 10, base - 60])
    assert t.loc["opex", "swing"] == pytest.approx(6)
    assert t.loc["cash-releasing", ["npv_low", "npv_high"]].tolist() == pytest.approx([base - 50, base + 10])
    # the driver moves C1 and B1 together: low = C1 90 & B1 100, high = C1 160 & B1 160
    assert t.loc["vendor", ["npv_low", "npv_high"]].tolist() == pytest.approx([100 - 90 - 30, 160 - 160 - 30])
    assert t.loc["benefit realisation", "swing"] == pytest.approx(0.4 * 150)
    assert t.loc["cost overrun", "swing"] == pytest.approx(0.4 * 130)
    assert t.loc["delay", "npv_high"] == pytest.approx(100 - 130)
    assert t.loc["discount rate", "swing"] == 0
    order = list(t.index)
    swings = {"capex": 70, "cash-releasing": 60, "benefit realisation": 60, "cost overrun": 52,
              "delay": 50, "vendor": 40, "opex": 6, "discount rate": 0}
    assert order == sorted(swings, key=lambda k: (-swings[k], k))
    # capex can grow by NPV / PV capex = 20 % before NPV is zero
    assert t.loc["capex", "switching_change"] == pytest.approx(0.2)


# --------------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------------
def _quarterly(costs=(), benefits=(), rate=0.08, horizon=12):
    return make_case({"case_id": "Q", "horizon": horizon, "discount_rate": rate}, costs=list(costs), benefits=list(benefits))


def test_degenerate_ranges_make_every_iteration_the_appraisal_npv():
    case = _quarterly(costs=[line("C1", [100, 50], low=150, likely=150, high=150), line("C2", [0, 5, 5, 5])],
                      benefits=[line("B1", [0, 0, 40, 40, 40, 40], low=160, likely=160, high=160, distribution="pert")])
    r = monte_carlo(case, iterations=5_000, seed=3)
    assert r.settings["stochastic_lines"] == 0
    np.testing.assert_allclose(r.npv, appraisal.npv_of(case), rtol=1e-12)
    assert r.std == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("kind", ["cost", "benefit"])
def test_triangular_line_has_the_known_mean_and_variance_of_its_pv(kind):
    amounts = [0, 30, 40, 30]          # likely total 100
    a, c, b = 70.0, 100.0, 180.0
    spec = line("L", amounts, low=a, likely=c, high=b)
    case = _quarterly(costs=[spec]) if kind == "cost" else _quarterly(benefits=[spec])
    n = 200_000
    r = monte_carlo(case, iterations=n, seed=11)
    pv = pv_by_hand(amounts, (1.08) ** 0.25 - 1)            # PV of the likely profile
    sign = -1 if kind == "cost" else 1
    scale = pv / c                                           # PV per unit of whole-life total
    mean = sign * scale * (a + b + c) / 3
    var = scale**2 * (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    assert abs(r.mean - mean) < 4 * math.sqrt(var / n)
    se_var = var * math.sqrt((2.4 - 1) / n)                  # kurtosis of a triangular law is 2.4
    assert abs(r.npv.var(ddof=1) - var) < 4 * se_var


def test_pert_line_has_mean_a_plus_4m_plus_b_over_6():
    a, m, b = 50.0, 100.0, 250.0
    case = _quarterly(benefits=[line("B1", [100], low=a, likely=m, high=b, distribution="pert")], rate=0.0)
    n = 200_000
    r = monte_carlo(case, iterations=n, seed=5)
    mean = (a + 4 * m + b) / 6
    sd = math.sqrt((mean - a) * (b - mean) / 7)              # PERT variance
    assert abs(r.mean - mean) < 4 * sd / math.sqrt(n)
    assert r.std == pytest.approx(sd, rel=0.01)
    assert r.npv.min() >= a - 1e-9 and r.npv.max() <= b + 1e-9


def test_same_seed_reproduces_bit_for_bit_whatever_the_chunk_size():
    case = _quarterly(
        costs=[line("C1", [100, 50], low=140, likely=150, high=200, driver="vendor"),
               line("C2", [10, 10, 10], low=25, likely=30, high=45, distribution="pert", driver="vendor"),
               line("C3", [5, 5], low=9, likely=10, high=14)],
        benefits=[line("B1", [0, 0, 60, 60, 60], low=120, likely=180, high=200, driver="adoption"),
                  line("B2", [0, 0, 20, 20], low=30, likely=40, high=45, distribution="pert")],
    )
    kw = dict(cost_overrun="reference-class", delay={0: 0.6, 1: 0.3, 3: 0.1})
    r1 = monte_carlo(case, iterations=30_000, seed=42, **kw)
    r2 = monte_carlo(case, iterations=30_000, seed=42, chunk_size=7_001, **kw)
    r3 = monte_carlo(case, iterations=1_000, seed=42, **kw)
    assert r1.npv.tobytes() == r2.npv.tobytes()
    assert r3.npv.tobytes() == r1.npv[:1_000].tobytes()
    assert not np.array_equal(r1.npv, monte_carlo(case, iterations=30_000, seed=43, **kw).npv)


def test_correlation_one_doubles_the_spread_and_zero_gives_root_two():
    spec = dict(amounts=[100], low=60, likely=100, high=200)
    one = _quarterly(costs=[line("C1", **spec)], rate=0.0)
    two = _quarterly(costs=[line("C1", **spec, driver="d"), line("C2", **spec, driver="d")], rate=0.0)
    n = 100_000
    s1 = monte_carlo(one, iterations=n, seed=1).std
    tied = monte_carlo(two, iterations=n, seed=2, rho=1.0)
    loose = monte_carlo(two, iterations=n, seed=3, rho=0.0)
    assert tied.std / s1 == pytest.approx(2.0, rel=0.015)
    assert loose.std / s1 == pytest.approx(math.sqrt(2.0), rel=0.015)
    half = monte_carlo(two, iterations=n, seed=4, rho={"d": 0.5}).std   # Var = 2 s^2 (1 + rho_ranks)
    assert math.sqrt(2) * s1 < half < 2 * s1


def test_delay_distribution_gives_the_what_if_npvs_with_their_probabilities():
    case = _quarterly(costs=[line("C1", [100])], benefits=[line("B1", [0, 30, 30, 30, 30, 30])], horizon=6)
    r = monte_carlo(case, iterations=40_000, seed=9, delay={0: 0.5, 2: 0.5})
    m = CaseMatrices.from_case(case)
    values = {what_if_npv(m, WhatIf(delay_periods=d)): d for d in (0, 2)}
    got, counts = np.unique(r.npv.round(9), return_counts=True)
    assert set(got) == set(np.round(list(values), 9))
    assert counts[0] / r.iterations == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / r.iterations))


def test_reference_class_overrun_multiplies_costs_and_its_median_shows_in_the_npv():
    d = SplicedParetoOverrun(body_low=-0.2, body_mode=0.0, threshold=0.5, tail_probability=0.2, tail_index=3.0)
    case = _quarterly(costs=[line("C1", [100])], benefits=[line("B1", [300])], rate=0.0)
    r = monte_carlo(case, iterations=50_000, seed=4, cost_overrun=d)
    # NPV = 300 - 100 (1 + X) is decreasing in X, so its quantiles are those of X reversed
    for q in (0.1, 0.5, 0.9):
        assert r.percentile(100 * q) == pytest.approx(300 - 100 * (1 + d.ppf(1 - q)), abs=1.0)
    assert np.mean(100 * d.sample(np.random.default_rng(0), 200_000)) == pytest.approx(100 * d.mean(), rel=0.02)


def test_flyvbjerg_reference_class_reproduces_the_published_figures():
    d = flyvbjerg_it_overrun()
    assert d.mean() == pytest.approx(0.27)
    assert 1 - d.cdf(d.threshold) == pytest.approx(1 / 6)
    assert d.tail_mean() == pytest.approx(2.0)
    q = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(d.cdf(d.ppf(q)), q, atol=1e-12)


def test_summary_figures_are_those_of_the_npv_array():
    case = _quarterly(costs=[line("C1", [100], low=80, likely=100, high=190)], benefits=[line("B1", [0, 150])])
    r = monte_carlo(case, iterations=10_001, seed=0)
    s = r.summary()
    x = np.sort(r.npv)
    assert s["p10"] == pytest.approx(np.quantile(x, 0.1)) and s["p90"] == pytest.approx(np.quantile(x, 0.9))
    assert s["prob_negative"] == pytest.approx((x < 0).mean())
    assert s["expected_shortfall_worst_decile"] == pytest.approx(x[:1001].mean())
    assert s["deterministic_npv"] == pytest.approx(appraisal.npv_of(case))


@pytest.mark.skipif(not (SAMPLE / "ERP-2024.xlsx").exists(), reason="sample portfolio not generated")
def test_sample_case_runs_end_to_end_and_json_cli_has_stable_keys(capsys):
    from vmo_lib.cli import main

    assert main(["risk", str(SAMPLE / "ERP-2024.xlsx"), "--iterations", "2000", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"case_id", "scenario", "view", "monte_carlo", "switching_values", "tornado",
                        "optimism_bias", "optimism_bias_appraisal"}
    assert set(out["monte_carlo"]) == {"basis", "as_of", "iterations", "seed", "deterministic_npv", "mean", "std",
                                       "p10", "p50", "p90", "prob_negative", "prob_below_zero", "reference_npv",
                                       "prob_reach_approved", "expected_shortfall_worst_decile"}
    assert out["monte_carlo"]["iterations"] == 2000


# --------------------------------------------------------------------------------------------------
# risk on the outlook (issue 11): actuals to date fixed, uncertainty on what remains
# --------------------------------------------------------------------------------------------------
def outlook_npv_by_hand(case, as_of, *, cost_mult=1.0, ben_mult=1.0, delay=0, rate=None, view="economic"):
    """NPV of the expected flows with only the periods after the review changed, by a second path: the
    ``expected_flows`` table row by row and appraisal's discount factors (no CaseMatrices)."""
    flows = realisation.expected_flows(case, as_of)
    tau = case.t_of(realisation.review_period(case, as_of))
    btype = case.lines.set_index("line_id")["benefit_type"]
    df = appraisal.discount_factors(case, rate)
    net = np.zeros(case.horizon)
    for r in flows.itertuples():
        if r.kind == "benefit" and btype[r.line_id] not in appraisal.VIEW_BENEFIT_TYPES[view]:
            continue
        amount, t = r.amount, r.t
        if t > tau:
            if r.kind == "cost":
                amount *= cost_mult
            else:
                amount *= 1.0 if btype[r.line_id] == "dis-benefit" else ben_mult
                t += delay
        if t < case.horizon:
            net[t] += -amount if r.kind == "cost" else amount
    return float(net @ df)


def _two_years_in(**ranges):
    """Yearly, 10 %: plan C1 100, 50; C2 10 a year from 2027; B1 80, 90, 200 from 2027. Reviewed as of 2027Q4 (tau = 1):
    C1 spent 120 and 70, B1 brought 60 in 2027, and its owner forecasts 85 for 2028."""
    return make_case(
        {"case_id": "O", "first_period": "2026", "period_length": "year", "horizon": 4, "discount_rate": 0.10},
        costs=[line("C1", [100, 50], **ranges.get("C1", {})), line("C2", [0, 10, 10, 10], category="opex",
                                                                    **ranges.get("C2", {}))],
        benefits=[line("B1", [0, 80, 90, 200], **ranges.get("B1", {}))],
        actuals=[{"period": "2026", "line_id": "C1", "amount": 120}, {"period": "2027", "line_id": "C1", "amount": 70},
                 {"period": "2026", "line_id": "C2", "amount": 0}, {"period": "2027", "line_id": "C2", "amount": 12},
                 {"period": "2027", "line_id": "B1", "amount": 60}],
        forecast=[{"period": "2028", "line_id": "B1", "amount": 85}])


# expected: costs 120, 70 + 12, 10, 10; benefits 0, 60, 85, 200 -- by hand at 10 %
TWO_YEARS_EXPECTED_NPV = (-120 + (60 - 82) / 1.1 + (85 - 10) / 1.1**2 + (200 - 10) / 1.1**3)


def test_outlook_with_degenerate_ranges_is_the_expected_npv_in_every_iteration():
    flat = {"low": 150, "likely": 150, "high": 150}
    case = _two_years_in(C1=flat, B1={"low": 370, "likely": 370, "high": 370, "distribution": "pert"})
    r = monte_carlo(case, iterations=3_000, seed=5, as_of="2027Q4")
    assert r.settings["stochastic_lines"] == 0 and r.settings["fixed_through"] == "2027"
    assert r.deterministic_npv == pytest.approx(TWO_YEARS_EXPECTED_NPV, rel=1e-12)
    # a second method: the realisation module's expected NPV of the same review
    assert realisation.case_status(case, "2027Q4").expected_npv == pytest.approx(TWO_YEARS_EXPECTED_NPV, rel=1e-12)
    np.testing.assert_allclose(r.npv, TWO_YEARS_EXPECTED_NPV, rtol=1e-12)
    assert r.std == pytest.approx(0, abs=1e-9)
    assert (r.basis, r.as_of, r.scenario) == ("outlook as of 2027Q4", "2027Q4", "expected")
    # the approved plan of the same case is still there, labelled (no actuals), not the outlook
    plan = monte_carlo(case, iterations=3_000, seed=5)
    np.testing.assert_allclose(plan.npv, appraisal.npv_of(case), rtol=1e-12)
    assert plan.basis == "approved plan" and plan.as_of is None


def test_outlook_has_no_spread_when_nothing_remains_after_the_review():
    wide = {"C1": {"low": 50, "likely": 150, "high": 600, "driver": "v"},
            "C2": {"low": 10, "likely": 30, "high": 90, "distribution": "pert", "driver": "v"},
            "B1": {"low": 150, "likely": 370, "high": 400}}
    case = _two_years_in(**wide)
    kw = dict(iterations=4_000, seed=1, cost_overrun="reference-class", delay={0: 0.5, 2: 0.5})
    # as of the last year and after the horizon, every flow is an actual (or a measurement gap, fixed)
    for as_of in ("2029Q4", "2031Q2"):
        r = monte_carlo(case, as_of=as_of, **kw)
        assert np.ptp(r.npv) == 0.0, as_of
        assert r.npv[0] == pytest.approx(outlook_npv_by_hand(case, as_of), rel=1e-12)
    # whereas the approved plan, with the same ranges, spreads
    assert monte_carlo(case, **kw).std > 50


def test_outlook_spread_is_that_of_the_remaining_flows_only():
    # C1 planned 100 + 100 (likely 200, range 140..320); 130 spent in 2026: only 2027's 100 is uncertain.
    case = make_case({"case_id": "S", "first_period": "2026", "period_length": "year", "horizon": 2,
                      "discount_rate": 0.0},
                     costs=[line("C1", [100, 100], low=140, likely=200, high=320)],
                     benefits=[line("B1", [0, 400])],
                     actuals=[{"period": "2026", "line_id": "C1", "amount": 130}])
    n = 200_000
    r = monte_carlo(case, iterations=n, seed=8, as_of="2026Q4")
    a, c, b = 0.7, 1.0, 1.6                                   # factors 140/200, 1, 320/200 of the 100 left
    mean = 400 - 130 - 100 * (a + b + c) / 3
    var = 100**2 * (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    assert abs(r.mean - mean) < 4 * math.sqrt(var / n)
    assert r.npv.var(ddof=1) == pytest.approx(var, rel=4 * math.sqrt((2.4 - 1) / n))
    assert r.npv.max() <= 400 - 130 - 70 + 1e-9 and r.npv.min() >= 400 - 130 - 160 - 1e-9


def test_probability_below_zero_and_of_reaching_the_approved_npv_in_closed_form():
    # Plan: cost 85 in 2026, benefit 100 in 2027 (0 %): approved NPV 15. 90 was spent in 2026.
    # Outlook NPV = 100 L - 90 with L ~ triangular(0.6, 1, 1.4), so
    # P(NPV < 0) = P(L < 0.9) = 0.3^2 / (0.8 * 0.4) = 0.28125 and
    # P(NPV >= 15) = P(L >= 1.05) = 0.35^2 / (0.8 * 0.4) = 0.3828125.
    case = make_case({"case_id": "P", "first_period": "2026", "period_length": "year", "horizon": 2,
                      "discount_rate": 0.0},
                     costs=[line("C1", [85])], benefits=[line("B1", [0, 100], low=60, likely=100, high=140)],
                     actuals=[{"period": "2026", "line_id": "C1", "amount": 90}])
    n = 200_000
    r = monte_carlo(case, iterations=n, seed=13, as_of="2026Q4")
    s = r.summary()
    se = math.sqrt(0.25 / n)
    assert s["basis"] == "outlook as of 2026Q4" and s["reference_npv"] == pytest.approx(15.0)
    assert s["prob_below_zero"] == pytest.approx(0.28125, abs=4 * se)
    assert s["prob_below_zero"] == s["prob_negative"]
    assert s["prob_reach_approved"] == pytest.approx(0.3828125, abs=4 * se)
    assert s["mean"] == pytest.approx(10.0, abs=4 * 100 * math.sqrt(0.4**2 / 6 / n))   # Var L = (0.4^2)/6
    # the approved plan: NPV = 100 L - 85, P(L < 0.85) = 0.25^2 / 0.32 = 0.1953125
    plan = monte_carlo(case, iterations=n, seed=13).summary()
    assert plan["basis"] == "approved plan"
    assert plan["prob_below_zero"] == pytest.approx(0.1953125, abs=4 * se)
    # a reference passed in is used as given: P(100 L - 90 >= 0) = 1 - 0.28125
    assert monte_carlo(case, iterations=n, seed=13, as_of="2026Q4", reference_npv=0.0).prob_reach_approved == \
        pytest.approx(1 - 0.28125, abs=4 * se)


def test_outlook_delay_and_overrun_move_only_the_future():
    class Fixed:
        """An overrun distribution that always draws +50 %."""

        def ppf(self, q):
            return np.full(np.shape(q), 0.5)

        def sample(self, rng, size):
            return self.ppf(rng.random(size))

    case = _two_years_in()
    r = monte_carlo(case, iterations=500, seed=2, as_of="2027Q4", cost_overrun=Fixed(), delay={1: 1.0})
    # future costs 10 + 10 at x1.5; future benefits 85, 200 one year later: 85 in 2029, 200 off the horizon
    by_hand = -120 + (60 - 82) / 1.1 - 15 / 1.1**2 + (85 - 15) / 1.1**3
    np.testing.assert_allclose(r.npv, by_hand, rtol=1e-12)
    assert by_hand == pytest.approx(outlook_npv_by_hand(case, "2027Q4", cost_mult=1.5, delay=1), rel=1e-12)


def test_outlook_is_reproducible_whatever_the_chunk_size():
    ranges = {"C1": {"low": 140, "likely": 150, "high": 200, "driver": "vendor"},
              "C2": {"low": 25, "likely": 30, "high": 45, "distribution": "pert", "driver": "vendor"},
              "B1": {"low": 300, "likely": 370, "high": 400, "driver": "adoption"}}
    case = _two_years_in(**ranges)
    kw = dict(cost_overrun="reference-class", delay={0: 0.6, 1: 0.4}, as_of="2027Q4")
    r1 = monte_carlo(case, iterations=20_000, seed=42, **kw)
    r2 = monte_carlo(case, iterations=20_000, seed=42, chunk_size=3_001, **kw)
    assert r1.npv.tobytes() == r2.npv.tobytes()
    assert monte_carlo(case, iterations=500, seed=42, **kw).npv.tobytes() == r1.npv[:500].tobytes()


def test_outlook_rejects_a_plan_scenario_and_precomputed_matrices():
    case = _two_years_in()
    with pytest.raises(ValueError, match="expected outlook"):
        monte_carlo(case, iterations=10, scenario="forecast", as_of="2027Q4")
    with pytest.raises(ValueError, match="as_of needs a BusinessCase"):
        switching_values(CaseMatrices.from_case(case), as_of="2027Q4")


def test_outlook_switching_values_put_the_expected_npv_at_zero_when_substituted_back():
    case = _two_years_in()                        # expected NPV > 0
    npv = TWO_YEARS_EXPECTED_NPV
    assert npv > 0
    sv = switching_values(case, as_of="2027Q4")
    assert sv.attrs["basis"] == "outlook as of 2027Q4"
    sv = sv.set_index("driver")
    pv_future_costs = 10 / 1.1**2 + 10 / 1.1**3
    pv_future_benefits = 85 / 1.1**2 + 200 / 1.1**3
    x, s = sv.loc["cost uplift", "value"], sv.loc["benefit shortfall", "value"]
    assert x == pytest.approx(npv / pv_future_costs) and s == pytest.approx(npv / pv_future_benefits)
    assert "Future costs can rise" in sv.loc["cost uplift", "note"]
    assert outlook_npv_by_hand(case, "2027Q4", cost_mult=1 + x) == pytest.approx(0, abs=1e-9)
    assert outlook_npv_by_hand(case, "2027Q4", ben_mult=1 - s) == pytest.approx(0, abs=1e-9)
    r = sv.loc["discount rate", "value"]
    assert outlook_npv_by_hand(case, "2027Q4", rate=r) == pytest.approx(0, abs=1e-9)
    d = sv.loc["delay", "value"]
    lo, hi = math.floor(d), math.ceil(d)
    npv_lo, npv_hi = (outlook_npv_by_hand(case, "2027Q4", delay=k) for k in (lo, hi))
    assert npv_lo > 0 >= npv_hi
    assert (1 - (d - lo)) * npv_lo + (d - lo) * npv_hi == pytest.approx(0, abs=1e-9)
    assert sv["npv_at_value"].abs().max() < 1e-9


def test_outlook_already_negative_says_so_and_gives_the_rise_in_future_benefits_needed():
    # 2027 cost 200 instead of 50: expected NPV < 0
    case = _two_years_in()
    flows = case.flows.copy()
    flows.loc[(flows["scenario"] == "actual") & (flows["line_id"] == "C1") & (flows["period"] == "2027"), "amount"] = 200
    case = case.with_flows(flows)
    npv = TWO_YEARS_EXPECTED_NPV - 130 / 1.1
    assert npv < 0 and realisation.case_status(case, "2027Q4").expected_npv == pytest.approx(npv)
    sv = switching_values(case, as_of="2027Q4").set_index("driver")
    s = sv.loc["benefit shortfall", "value"]
    assert s == pytest.approx(npv / (85 / 1.1**2 + 200 / 1.1**3)) and s < 0
    assert sv.loc["benefit shortfall", "note"] == (
        f"The expected NPV is already negative: future benefits must rise {-s:.1%} for it to reach zero.")
    assert outlook_npv_by_hand(case, "2027Q4", ben_mult=1 - s) == pytest.approx(0, abs=1e-9)
    # future costs of 20 (PV 15.8) cannot absorb a gap of 53.5: no cost switching value, said in words
    assert math.isnan(sv.loc["cost uplift", "value"])
    assert sv.loc["cost uplift", "note"] == "None: the expected NPV stays negative even with no future cost at all."
    assert math.isnan(sv.loc["delay", "value"]) and "already negative" in sv.loc["delay", "note"]
    assert not any("can rise" in n or "can fall" in n for n in sv["note"])


def test_outlook_tornado_and_three_point_scale_only_the_remaining_flows():
    case = _two_years_in(C2={"low": 27, "likely": 30, "high": 45},      # factors 0.9 .. 1.5
                         B1={"low": 185, "likely": 370, "high": 407})   # factors 0.5 .. 1.1
    t = tornado(case, as_of="2027Q4", delay_periods=1, rate_change=0.0)
    assert t.attrs["basis"] == "outlook as of 2027Q4"
    t = t.set_index("driver")
    fut_c, fut_b = 10 / 1.1**2 + 10 / 1.1**3, 85 / 1.1**2 + 200 / 1.1**3
    npv = TWO_YEARS_EXPECTED_NPV
    assert t.loc["opex", ["npv_low", "npv_high"]].tolist() == pytest.approx([npv + 0.1 * fut_c, npv - 0.5 * fut_c])
    assert t.loc["cash-releasing", ["npv_low", "npv_high"]].tolist() == pytest.approx(
        [npv - 0.5 * fut_b, npv + 0.1 * fut_b])
    assert t.loc["capex", "swing"] == 0                       # C1 has nothing left to spend
    assert t.loc["cost overrun", "npv_high"] == pytest.approx(npv - 0.2 * fut_c)
    assert t.loc["delay", "npv_high"] == pytest.approx(outlook_npv_by_hand(case, "2027Q4", delay=1))
    assert t["base_npv"].tolist() == pytest.approx([npv] * len(t))
    tp = three_point_npv(case, as_of="2027Q4")
    assert tp["pessimistic"] == pytest.approx(npv - 0.5 * fut_c - 0.5 * fut_b)
    assert tp["optimistic"] == pytest.approx(npv + 0.1 * fut_c + 0.1 * fut_b)
    # on the approved plan three_point_npv is the NPV of three_point_scenarios
    c = three_point_scenarios(case)
    for k, v in three_point_npv(case).items():
        assert v == pytest.approx(appraisal.npv_of(c, k))


def outlook_simulation_by_hand(case, as_of, n, seed, rho=0.8):
    """The outlook Monte Carlo written the plain way: scipy's distributions, a Gaussian copula per
    driver, each line's remaining expected PV scaled by its level, actuals to date added as they are."""
    from scipy import stats

    tau = case.t_of(realisation.review_period(case, as_of))
    flows = realisation.expected_flows(case, as_of)
    plan = case.matrix(case.current_baseline)
    df = appraisal.discount_factors(case)
    rng = np.random.default_rng(seed)
    lines = case.lines.set_index("line_id")
    drivers = {d for d in lines["driver"] if isinstance(d, str)}
    common = {d: rng.standard_normal(n) for d in sorted(drivers)}
    npv = np.zeros(n)
    for lid, ln in lines.iterrows():
        rows = flows[flows["line_id"] == lid]
        sign = -1.0 if ln["kind"] == "cost" else 1.0
        pv = rows["amount"].to_numpy() * df[rows["t"].to_numpy()] * sign
        past, future = pv[rows["t"].to_numpy() <= tau].sum(), pv[rows["t"].to_numpy() > tau].sum()
        likely = ln["likely"] if ln["likely"] == ln["likely"] else plan.loc[lid].sum()
        a, b = ln["low"] / likely, ln["high"] / likely
        z = rng.standard_normal(n)
        if isinstance(ln["driver"], str):
            z = math.sqrt(rho) * common[ln["driver"]] + math.sqrt(1 - rho) * z
        u = stats.norm.cdf(z)
        if ln["distribution"] == "pert":
            level = a + (b - a) * stats.beta.ppf(u, 1 + 4 * (1 - a) / (b - a), 1 + 4 * (b - 1) / (b - a))
        else:
            level = stats.triang.ppf(u, (1 - a) / (b - a), loc=a, scale=b - a)
        npv += past + level * future
    return npv


@pytest.mark.skipif(not (SAMPLE / "CHATBOT-2025.xlsx").exists(), reason="sample portfolio not generated")
def test_chatbot_sample_outlook_as_of_2026q3_is_likely_to_lose_money():
    from vmo_lib.intake.loader import load_case

    case = load_case(SAMPLE / "CHATBOT-2025.xlsx", as_of="2026Q3")
    status = realisation.case_status(case, "2026Q3")
    assert status.verdict.label == "value destroyed"
    n = 100_000
    r = monte_carlo(case, iterations=n, seed=0, as_of="2026Q3")
    plan = monte_carlo(case, iterations=n, seed=0)
    assert r.deterministic_npv == pytest.approx(status.expected_npv, rel=1e-12)
    assert r.reference_npv == pytest.approx(status.current_baseline_npv, rel=1e-12)
    # the approved plan never loses money; the outlook loses it in every iteration: even with every
    # remaining line at its best estimate the expected NPV stays below zero
    assert plan.prob_below_zero == 0.0
    assert three_point_npv(case, as_of="2026Q3")["optimistic"] < 0
    assert r.prob_below_zero == 1.0 and r.prob_reach_approved == 0.0
    # and the distribution is the one the plain computation gives
    by_hand = outlook_simulation_by_hand(case, "2026Q3", n=50_000, seed=99)
    assert np.mean(by_hand < 0) == 1.0
    se = math.sqrt(by_hand.var() / 50_000 + r.npv.var() / n)
    assert r.mean == pytest.approx(by_hand.mean(), abs=4 * se)
    for q in (10, 50, 90):
        assert r.percentile(q) == pytest.approx(np.percentile(by_hand, q), rel=0.01), q
    assert r.std == pytest.approx(by_hand.std(ddof=1), rel=0.02)
    # its switching values say the outlook is already negative rather than "costs can rise 302.5%"
    sv = switching_values(case, as_of="2026Q3").set_index("driver")
    assert sv.loc["benefit shortfall", "note"].startswith("The expected NPV is already negative: future benefits must rise")
    assert outlook_npv_by_hand(case, "2026Q3", ben_mult=1 - sv.loc["benefit shortfall", "value"]) == \
        pytest.approx(0, abs=1e-6)


@pytest.mark.skipif(not (SAMPLE / "CHATBOT-2025.xlsx").exists(), reason="sample portfolio not generated")
def test_risk_cli_simulates_the_outlook_by_default_and_the_plan_with_approved(capsys):
    from vmo_lib.cli import main
    from vmo_lib.intake.loader import load_case
    from vmo_lib.periods import review_quarter

    path = str(SAMPLE / "CHATBOT-2025.xlsx")
    case = load_case(path, as_of="2026Q3")
    assert main(["risk", path, "--as-of", "2026Q3", "--iterations", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["basis"], out["as_of"], out["scenario"]) == ("outlook as of 2026Q3", "2026Q3", "expected")
    assert out["monte_carlo"]["basis"] == "outlook as of 2026Q3"
    assert out["monte_carlo"]["deterministic_npv"] == pytest.approx(realisation.case_status(case, "2026Q3").expected_npv)
    assert out["monte_carlo"]["prob_below_zero"] == 1.0
    assert out["monte_carlo_settings"]["fixed_through"] == "2026Q3"
    assert main(["risk", path, "--approved", "--iterations", "2000", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["basis"], plan["as_of"], plan["scenario"]) == ("approved plan", None, "baseline")
    assert plan["monte_carlo"]["deterministic_npv"] == pytest.approx(appraisal.npv_of(case))
    assert main(["risk", path, "--iterations", "500", "--json"]) == 0          # default: today's quarter
    assert json.loads(capsys.readouterr().out)["as_of"] == review_quarter(None)
    assert main(["risk", path, "--as-of", "2026Q3", "--iterations", "2000"]) == 0
    text = capsys.readouterr().out
    assert "outlook as of 2026Q3" in text and "Costs can rise" not in text
    assert "P(NPV < 0)            100.0%" in text
    assert main(["risk", path, "--as-of", "2026Q9"]) == 2
    assert "--as-of must be a quarter" in capsys.readouterr().err
    assert main(["risk", path, "--as-of", "2026Q3", "--scenario", "forecast"]) == 2
    assert "add --approved" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# charts (in vmo_lib.outputs.charts)
# --------------------------------------------------------------------------------------------------
def test_risk_charts_draw_the_result_numbers_on_a_given_axes():
    from matplotlib.figure import Figure

    from vmo_lib.outputs.charts import npv_distribution_chart, npv_s_curve, tornado_chart

    case = _quarterly(costs=[line("C1", [100], low=80, likely=100, high=190, driver="v")],
                      benefits=[line("B1", [0, 150], low=100, likely=150, high=160, driver="v")])
    r = monte_carlo(case, iterations=5_000, seed=0)
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert npv_distribution_chart(r, "GBP", ax=axes[0]) is fig
    heights = sum(p.get_height() for p in axes[0].patches)
    inside = np.mean((r.npv >= np.percentile(r.npv, 0.5)) & (r.npv <= np.percentile(r.npv, 99.5)))
    assert heights == pytest.approx(inside)
    npv_s_curve(r, "GBP", ax=axes[1])
    curve = axes[1].lines[0]
    assert curve.get_xdata()[-1] == pytest.approx(r.npv.max()) and curve.get_ydata()[-1] == 1.0
    assert sorted(float(ln.get_xdata()[0]) for ln in axes[1].lines[1:4]) == pytest.approx([r.p10, r.p50, r.p90])
    t = tornado(case, delay_periods=1)
    tornado_chart(t, "GBP", ax=axes[2])
    assert len(axes[2].patches) == 2 * int((t["swing"] > 0).sum())
    assert [x.get_text() for x in axes[2].get_yticklabels()][0] == t.loc[t["swing"] > 0, "driver"].iloc[0]

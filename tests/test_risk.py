"""Risk and uncertainty: every expected number is worked by hand or by a second method."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vmo_lib.analysis import appraisal
from vmo_lib.analysis.risk import (
    appraisal_with_optimism_bias,
    monte_carlo,
    npv_by_delay,
    switching_values,
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
    case = yearly(case_type="IT: equipment/development", go_live_period="2028")   # g = 2 years
    ob = optimism_bias(case)
    assert (ob.capex, ob.opex, ob.duration, ob.benefits) == (2.0, 0.0, 0.54, 0.25)
    assert ob.delay_periods == 1            # floor(0.54 * 2 + 0.5) = floor(1.58)
    assert ob.reference_class == "Equipment/development"
    assert optimism_bias(case, bound="lower").capex == 0.10


def test_outsourcing_uplifts_opex_and_case_fields_override_defaults():
    ob = optimism_bias(yearly(case_type="IT: outsourcing", ob_capex=0.3, ob_benefits=0.0))
    assert (ob.capex, ob.opex, ob.benefits) == (0.3, 0.41, 0.0)
    assert set(ob.from_case) == {"ob_capex", "ob_benefits"}


def test_optimism_bias_applied_by_hand_on_a_small_case():
    # capex 100 at t0, opex 10 a year, benefits 60 a year from t2, a dis-benefit of -5 at t2, 0 %.
    case = yearly(
        costs=[line("C1", [100, 0, 0, 0], category="capex"), line("C2", [0, 10, 10, 10], category="opex")],
        benefits=[line("B1", [0, 0, 60, 60], benefit_type="cash-releasing"),
                  line("D1", [0, 0, -5, 0], benefit_type="dis-benefit")],
        case_type="IT: equipment/development", go_live_period="2027", ob_opex=0.1,   # g = 1 -> delay 1
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
    assert set(out["monte_carlo"]) == {"iterations", "seed", "deterministic_npv", "mean", "std", "p10", "p50",
                                       "p90", "prob_negative", "expected_shortfall_worst_decile"}
    assert out["monte_carlo"]["iterations"] == 2000


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

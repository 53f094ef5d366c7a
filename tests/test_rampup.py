"""Early warning (vmo_lib.analysis.rampup): the plan-shape fit, its projection and the flag, checked
against hand-worked figures and a second method (brute-force least squares with numpy.linalg.lstsq)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vmo_lib.analysis import rampup
from vmo_lib.analysis.review import review_case
from vmo_lib.model import make_case

PLAN = [0, 0, 25, 50, 75, 100, 100, 100, 100, 100, 100, 100]  # ramp-up over 2026Q3..2027Q2, flat after
NAN = math.nan


def _case(actuals, *, target_date="2028-09-30", plan=PLAN, line="B1"):
    return make_case({"case_id": "EW", "first_period": "2026Q1", "horizon": len(plan), "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
                     benefits=[{"line_id": line, "name": "Savings <b>", "owner": "Ops", "target_date": target_date,
                                "amounts": plan}],
                     actuals=[{"period": p, "line_id": line, "amount": a} for p, a in actuals])


def _scaled_shifted(scale, shift, upto):
    """The plan scaled and delayed, as actuals for the periods 0..upto (worked by hand below)."""
    out = []
    for t in range(upto + 1):
        k = t - shift
        out.append(scale * PLAN[k] if 0 <= k < len(PLAN) else 0.0)
    return out


def _acts(values):
    return list(zip(LABELS[:len(values)], values, strict=True))


LABELS = ["2026Q1", "2026Q2", "2026Q3", "2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4", "2028Q1", "2028Q2",
          "2028Q3", "2028Q4"]


def test_exact_scale_and_shift_recovered_with_perfect_fit():
    # 0.6 x plan, two periods late, actuals to 2027Q4 (t=7): 0, 0, 0, 0, 15, 30, 45, 60
    acts = _scaled_shifted(0.6, 2, 7)
    assert acts == [0, 0, 0, 0, 15.0, 30.0, 45.0, 60.0]
    fit = rampup.fit_plan_shape(PLAN, acts + [NAN] * 4)
    assert fit.scale == pytest.approx(0.6, abs=1e-12)
    assert fit.shift == 2
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.rmse == pytest.approx(0.0, abs=1e-9)
    assert fit.n_points == 6  # fitted from the plan's first period with money (t=2) to t=7

    case = _case(_acts(acts))
    w = rampup.early_warning(case, "2027Q4", rag={"B1": "green"}).set_index("line_id").loc["B1"]
    # target date 2028-09-30 -> 2028Q3 (t=10), plan there 100, projection 0.6 x 100 (flat part of the plan)
    assert (w["target_period"], w["target_source"], w["target_amount"]) == ("2028Q3", "target date", 100.0)
    assert w["projected"] == pytest.approx(0.6 * 100.0)
    assert w["shortfall_pct"] == pytest.approx(0.4)
    assert w["status"] == "projected to miss" and bool(w["flag"])
    assert w["r2"] == pytest.approx(1.0) and int(w["n_points"]) == 6


def test_noisy_actuals_fit_agrees_with_brute_force_least_squares():
    acts = np.array(_scaled_shifted(0.6, 2, 9)) + np.array([0, 0, 0, 0, 2.0, -3.0, 1.5, -1.0, 2.5, -2.0])
    actual = list(acts) + [NAN, NAN]
    fit = rampup.fit_plan_shape(PLAN, actual)
    t = np.arange(2, 10)  # the fitted periods: from the plan's first money (t=2) to the review (t=9)
    a = acts[t]
    # second method: for every shift, least squares through the origin with lstsq; keep the best
    best = None
    for d in range(-8, 9):
        x = np.array([PLAN[k - d] if 0 <= k - d < len(PLAN) else 0.0 for k in t])
        if not x.any():
            continue
        s = np.linalg.lstsq(x[:, None], a, rcond=None)[0][0]
        sse = float(((a - s * x) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, d, s, x)
    sse, d, s, x = best
    assert (fit.shift, fit.scale) == (d, pytest.approx(s, rel=1e-12))
    assert fit.shift == 2 and fit.scale == pytest.approx(0.6, abs=0.02)
    r2 = 1 - sse / float(((a - a.mean()) ** 2).sum())
    assert fit.r2 == pytest.approx(r2, rel=1e-12) and 0.98 < fit.r2 < 1.0
    assert fit.rmse == pytest.approx(math.sqrt(sse / 8), rel=1e-12)
    assert fit.n_points == 8


def test_heavy_noise_gives_a_poor_fit_quality_shown_not_hidden():
    acts = [0, 0, 40, 0, 90, 10, 120, 20]  # noise around no clear ramp
    fit = rampup.fit_plan_shape(PLAN, acts + [NAN] * 4)
    assert fit is not None and fit.r2 < 0.5
    t = np.arange(2, 8)
    a = np.array(acts, dtype=float)[t]
    x = rampup.shifted(PLAN, fit.shift, t)
    assert fit.scale == pytest.approx(float(x @ a / (x @ x)))


def test_minimum_points_rule():
    # reported zeros before the plan's first money do not count: only t=2 and t=3 are fitted
    acts = [("2026Q1", 0), ("2026Q2", 0), ("2026Q3", 10), ("2026Q4", 20)]
    case = _case(acts)
    w = rampup.early_warning(case, "2026Q4").iloc[0]
    assert w["status"] == "too few actuals" and int(w["n_points"]) == 2 and math.isnan(w["scale"])
    assert not bool(w["flag"])
    w2 = rampup.early_warning(case, "2026Q4", min_points=2).iloc[0]
    assert int(w2["n_points"]) == 2 and w2["scale"] == pytest.approx(0.4) and int(w2["shift"]) == 0
    # a third period reaches the default minimum of 3
    w3 = rampup.early_warning(_case(acts + [("2027Q1", 30)]), "2027Q1").iloc[0]
    assert int(w3["n_points"]) == rampup.MIN_POINTS == 3 and w3["scale"] == pytest.approx(0.4)
    # an unreported period is not a zero: the gap is skipped, not fitted
    w4 = rampup.early_warning(_case([("2026Q3", 10), ("2027Q1", 30)]), "2027Q1").iloc[0]
    assert w4["status"] == "too few actuals" and int(w4["n_points"]) == 2


def test_flag_only_before_the_plan_says_late_and_threshold_overridable():
    acts = _acts(_scaled_shifted(0.6, 2, 7))
    case = _case(acts)
    assert rampup.early_warning(case, "2027Q4", rag={"B1": "red"}).iloc[0]["status"] == "already late (RAG red)"
    assert rampup.early_warning(case, "2027Q4", rag={"B1": "amber"}).iloc[0]["status"] == "projected to miss"
    on = rampup.early_warning(case, "2027Q4", rag={"B1": "amber"}, threshold=0.45).iloc[0]
    assert on["status"] == "on course" and not bool(on["flag"])  # 40% short is within a 45% threshold
    # a target period already reached is not projected
    gone = rampup.early_warning(_case(acts, target_date="2027-06-30"), "2027Q4", rag={"B1": "green"}).iloc[0]
    assert gone["status"] == "target passed" and gone["target_period"] == "2027Q2"
    # no target date: the end of the plan's ramp-up (first period at its peak, 2027Q2) stands in
    assert rampup.ramp_end(PLAN) == 5
    no_date = rampup.early_warning(_case(acts[:6], target_date=None), "2027Q2").iloc[0]
    assert (no_date["target_source"], no_date["status"]) == ("end of plan ramp-up", "target passed")
    # a closed or cancelled case is fitted but never flagged
    done = _case(acts)
    done.meta["status"] = "cancelled"
    w = rampup.early_warning(done, "2027Q4", rag={"B1": "green"}).iloc[0]
    assert w["status"] == "case closed" and not bool(w["flag"]) and w["scale"] == pytest.approx(0.6)
    # a faithful ramp-up is on course
    ok = rampup.early_warning(_case(_acts(PLAN[:6])), "2027Q2", rag={"B1": "green"}).iloc[0]
    assert ok["status"] == "on course" and ok["shortfall_pct"] == pytest.approx(0.0, abs=1e-12)


def test_disbenefit_shortfall_sign():
    plan = [0, -10, -20, -20, -20, -20, -20, -20]
    case = make_case({"case_id": "D", "first_period": "2026Q1", "horizon": 8},
                     benefits=[{"line_id": "D1", "name": "Dip", "amounts": plan, "target_date": "2027-12-31"}],
                     actuals=[{"period": p, "line_id": "D1", "amount": a} for p, a in
                              [("2026Q2", -15), ("2026Q3", -30), ("2026Q4", -30)]])
    w = rampup.early_warning(case, "2026Q4", rag={"D1": "amber"}).iloc[0]
    assert w["scale"] == pytest.approx(1.5) and w["projected"] == pytest.approx(-30.0)
    assert w["shortfall_pct"] == pytest.approx(0.5) and w["status"] == "projected to miss"


def test_logistic_alternative_recovers_a_known_curve():
    t = np.arange(12)
    act = 80 / (1 + np.exp(-0.9 * (t - 4.0)))
    act[8:] = np.nan
    fit = rampup.fit_logistic([0] + [100] * 11, act)
    assert fit.params["L"] == pytest.approx(80, rel=1e-4)
    assert fit.params["k"] == pytest.approx(0.9, rel=1e-4)
    assert fit.params["t0"] == pytest.approx(4.0, abs=1e-4)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert rampup.fit_logistic([0] + [100] * 11, list(act[:3]) + [np.nan] * 9) is None  # too few points


def test_case_review_carries_the_early_warning():
    case = _case(_acts(_scaled_shifted(0.6, 2, 7)))
    r = review_case(case, "2027Q4", iterations=0)
    ew = r.early_warning.set_index("line_id")
    assert list(r.early_warning.columns) == list(rampup.EARLY_WARNING_COLUMNS)
    assert ew.loc["B1", "rag"] == r.status.benefits.set_index("line_id").loc["B1", "rag"]
    assert ew.loc["B1", "scale"] == pytest.approx(0.6) and int(ew.loc["B1", "shift"]) == 2
    assert ew.loc["B1", "projected"] == pytest.approx(60.0)


def test_amber_line_flagged_under_the_default_threshold_and_shown_in_the_pack_block():
    from vmo_lib.outputs.early_warning import early_warning_block

    plan = [0, 0, 40, 60, 80, 100, 100, 100, 100, 100]
    # 0.85 x the plan, on time: 85% of plan to date (amber: 80-95%), projected 15% short at 2028Q2
    case = make_case({"case_id": "AMB", "first_period": "2026Q1", "horizon": 10},
                     benefits=[{"line_id": "B1", "name": "Savings & <more>", "target_date": "2028-06-30",
                                "amounts": plan}],
                     actuals=[{"period": p, "line_id": "B1", "amount": 0.85 * a}
                              for p, a in zip(LABELS[2:6], plan[2:6], strict=True)])
    r = review_case(case, "2027Q2", iterations=0)
    w = r.early_warning.iloc[0]
    assert r.status.benefits.iloc[0]["rag"] == "amber"
    assert rampup.THRESHOLD == 0.1
    assert w["status"] == "projected to miss" and w["shortfall_pct"] == pytest.approx(0.15)
    assert rampup.early_warning(r.case, "2027Q2", rag={"B1": "amber"}, threshold=0.2).iloc[0]["status"] == "on course"
    h = early_warning_block(r).html
    assert "<more>" not in h and "Savings &amp; &lt;more&gt;" in h
    assert h.count("<img ") == 1 and 'alt="Benefit B1 Savings &amp; &lt;more&gt;' in h
    assert "£85 in 2028Q2 against a plan of £100" in h


def test_sample_portfolio_flags_the_amber_benefits_running_short():
    from vmo_lib import load_case

    root = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "sample"
    r = review_case(load_case(root / "DATA-2025.xlsx"), "2026Q3", iterations=0)
    w = r.early_warning.set_index("line_id")
    # B1: amber, 0.862 x its plan on time (3 reported periods), target 2027Q2 (plan £420,000)
    assert w.loc["B1", "status"] == "projected to miss" and w.loc["B1", "rag"] == "amber"
    assert w.loc["B1", "target_amount"] == 420_000
    assert w.loc["B1", "projected"] == pytest.approx(420_000 * w.loc["B1", "scale"])
    assert w.loc["B2", "status"] == "target passed"  # target 2026-09-30 = the review period
    assert w.loc["B3", "status"] == "no monetised plan"

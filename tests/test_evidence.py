"""Issue 13: evidence behind the claims, forecast credibility, go-live timing (hand-worked numbers)."""

from __future__ import annotations

import math

import pytest

from vmo_lib.analysis.evidence import evidence_review, go_live_shift, implied_value
from vmo_lib.analysis.realisation import case_status, realisation_by_benefit
from vmo_lib.analysis.review import REVIEW_KEYS, review_case
from vmo_lib.analysis.verdict import Thresholds
from vmo_lib.model import make_case

KPI = {"owner": "Ops", "kpi": "FTE", "unit": "FTE", "frequency": "quarterly", "data_source": "HR",
       "confidence": "medium", "baseline_date": "2025-12-31", "target_date": "2027-12-31"}


def _fte_case(claimed=110_000.0, measured=51.0, evidence="owner's claim", **meta):
    # £8,000 per FTE released per quarter; baseline 60 FTE, target 40 (a falling KPI)
    return make_case(
        {"case_id": "FTE", "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.0,
         "go_live_period": "2026Q1", **meta},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [50_000]}],
        benefits=[{"line_id": "B1", "name": "Staff released", **KPI, "kpi_basis": "change",
                   "value_per_unit": 8_000, "baseline_value": 60, "target_value": 40,
                   "amounts": [0, 100_000, 100_000, 100_000, 100_000, 100_000, 100_000, 100_000]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 50_000},
                 {"period": "2026Q2", "line_id": "B1", "amount": claimed, "kpi_value": measured,
                  "evidence": evidence, "evidence_source": "HR headcount report"}])


# --- 1. the claim against its KPI ------------------------------------------------------------------
def test_a_claim_the_kpi_does_not_support_is_flagged_with_the_difference():
    # 60 - 51 = 9 FTE released x £8,000 = £72,000 implied; £110,000 claimed: +£38,000 (+52.8 %)
    e = evidence_review(_fte_case(), "2026Q2")
    r = e.reconciliation.iloc[0]
    assert (r["period"], r["claimed"], r["implied"], r["difference"]) == ("2026Q2", 110_000.0, 72_000.0, 38_000.0)
    assert r["difference_pct"] == pytest.approx(38 / 72)
    assert bool(r["flagged"]) and r["evidence_source"] == "HR headcount report"
    b = e.by_benefit.iloc[0]
    assert (b["implied_to_date"], b["difference_to_date"], bool(b["flagged"])) == (72_000.0, 38_000.0, True)
    assert e.tolerance == 0.10


def test_within_the_tolerance_is_not_flagged_and_the_tolerance_can_be_overridden():
    # £75,000 claimed for £72,000 implied: +£3,000 = 4.2 % of the implied value
    case = _fte_case(claimed=75_000.0)
    assert not bool(evidence_review(case, "2026Q2").by_benefit.iloc[0]["flagged"])
    assert bool(evidence_review(case, "2026Q2", Thresholds(kpi_tolerance=0.04)).by_benefit.iloc[0]["flagged"])
    assert not bool(evidence_review(case, "2026Q2", Thresholds(kpi_tolerance=0.05)).by_benefit.iloc[0]["flagged"])


def test_implied_value_level_and_change_by_hand():
    assert implied_value("level", 2.5, None, None, 1_200) == 3_000.0          # 1,200 x £2.50
    assert implied_value("change", 10, 100, 200, 130) == 300.0                # up 30 x £10
    assert implied_value("change", 10, 100, 50, 130) == -300.0                # target down, KPI rose: negative
    assert math.isnan(implied_value(None, 10, 100, 200, 130))                 # no basis: not reconciled
    assert math.isnan(implied_value("change", 10, None, 200, 130))            # no baseline


def test_a_kpi_moving_the_wrong_way_makes_the_benefit_red_whatever_the_money_says():
    # money £100,000 as planned (performance 100 %: green on money), but FTE rose 60 -> 61.2 (+2 %)
    b = realisation_by_benefit(_fte_case(claimed=100_000.0, measured=61.2), "2026Q2").iloc[0]
    assert b["performance_pct"] == pytest.approx(1.0)
    assert b["kpi_progress_pct"] == pytest.approx(-1.2 / 20)
    assert b["rag"] == "red"
    assert b["rag_reason"].startswith("KPI moved the wrong way (-6% of the way to target")
    e = evidence_review(_fte_case(claimed=100_000.0, measured=61.2), "2026Q2",
                        benefits=realisation_by_benefit(_fte_case(claimed=100_000.0, measured=61.2), "2026Q2"))
    assert bool(e.by_benefit.iloc[0]["wrong_way"])
    # implied: (61.2 - 60) x -1 x 8,000 = -9,600: a £100,000 claim against a KPI that implies a loss
    assert e.reconciliation.iloc[0]["implied"] == pytest.approx(-9_600.0)


def test_the_share_of_realised_value_that_is_measured():
    case = make_case({"case_id": "E", "first_period": "2026Q1", "horizon": 4},
                     benefits=[{"line_id": "B1", "name": "a", "amounts": [100, 100, 100, 100]},
                               {"line_id": "B2", "name": "b", "amounts": [50, 50, 50, 50]},
                               {"line_id": "D1", "name": "d", "benefit_type": "dis-benefit", "amounts": [-10] * 4}],
                     actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 100, "evidence": "measured"},
                              {"period": "2026Q2", "line_id": "B1", "amount": 60, "evidence": "estimated"},
                              {"period": "2026Q1", "line_id": "B2", "amount": 30, "evidence": "owner's claim"},
                              {"period": "2026Q2", "line_id": "B2", "amount": 10},
                              {"period": "2026Q1", "line_id": "D1", "amount": -10, "evidence": "measured"}])
    e = evidence_review(case, "2026Q2")
    # realised 100 + 60 + 30 + 10 = 200 (the dis-benefit is not realised value); measured 100
    assert (e.realised, e.evidenced, e.evidenced_pct) == (200.0, 100.0, 0.5)
    assert e.evidence_mix == {"measured": 100.0, "estimated": 60.0, "owner's claim": 30.0, "not stated": 10.0}


# --- the planned KPI: trajectory, else a straight line from go-live ---------------------------------
def _kpi_only(**kw):
    return make_case({"case_id": "K", "first_period": "2026Q1", "horizon": 12, "go_live_period": "2026Q2",
                      **kw.pop("meta", {})},
                     benefits=[{"line_id": "B1", "name": "NPS", **KPI, "unit": "score", "baseline_value": 20,
                                "target_value": 40, "benefit_type": "quantifiable non-financial",
                                "baseline_date": "2025-12-31", "target_date": "2027-06-30", "amounts": []}],
                     actuals=[{"period": "2026Q4", "line_id": "B1", "kpi_value": 26}], **kw)


def test_without_a_kpi_plan_the_straight_line_runs_from_go_live():
    # go-live 2026Q2 ends 2026-06-30; target 2027-06-30 (365 days); review 2026Q4 ends 2026-12-31: 184 days
    b = realisation_by_benefit(_kpi_only(), "2026Q4").iloc[0]
    assert b["kpi_planned_progress_pct"] == pytest.approx(184 / 365)
    assert b["kpi_planned"] == pytest.approx(20 + 20 * 184 / 365)
    assert b["kpi_planned_basis"] == "straight line from go-live to the target date"
    # progress 6/20 = 30 % against 50.4 % planned: 0.595 of plan -> red (below 80 %)
    assert b["kpi_progress_pct"] == pytest.approx(0.3) and b["rag"] == "red"
    # an actual go-live of 2026Q3 (ends 2026-09-30): 92 of 273 days
    late = realisation_by_benefit(_kpi_only(meta={"actual_go_live": "2026Q3"}), "2026Q4").iloc[0]
    assert late["kpi_planned_progress_pct"] == pytest.approx(92 / 273)


def test_a_kpi_plan_replaces_the_straight_line():
    case = _kpi_only(kpi_plan=[{"period": "2026Q3", "line_id": "B1", "kpi_value": 22},
                               {"period": "2026Q4", "line_id": "B1", "kpi_value": 25},
                               {"period": "2027Q1", "line_id": "B1", "kpi_value": 32}])
    b = realisation_by_benefit(case, "2026Q4").iloc[0]
    # planned 25 at 2026Q4: (25 - 20) / 20 = 25 %; measured 26: 30 %, 1.2 x plan -> green
    assert (b["kpi_planned"], b["kpi_planned_progress_pct"]) == (25.0, 0.25)
    assert b["kpi_planned_basis"] == "KPI plan (2026Q4)"
    assert b["rag"] == "green"
    assert realisation_by_benefit(case, "2026Q2").iloc[0]["kpi_planned_basis"] == "KPI plan (not started)"


# --- 2. forecast credibility -----------------------------------------------------------------------
def test_future_benefits_graded_and_the_npv_without_the_unevidenced_ones():
    # 0 % discount: PVs are plain sums. Review 2026Q2 (t = 1); future = t 2..3.
    case = make_case(
        {"case_id": "G", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0, "go_live_period": "2026Q1"},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [300, 0, 0, 0]}],
        benefits=[{"line_id": "B1", "name": "moving", **KPI, "baseline_value": 60, "target_value": 40,
                   "amounts": [0, 50, 50, 50]},
                  {"line_id": "B2", "name": "flat", **KPI, "baseline_value": 10, "target_value": 20,
                   "amounts": [0, 100, 100, 100]},
                  {"line_id": "B3", "name": "later", **KPI, "baseline_value": 1, "target_value": 2,
                   "amounts": [0, 0, 0, 40]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 300},
                 {"period": "2026Q2", "line_id": "B1", "amount": 50, "kpi_value": 55},
                 {"period": "2026Q2", "line_id": "B2", "amount": 100, "kpi_value": 10}])
    s = case_status(case, "2026Q2")
    g = s.evidence.by_benefit.set_index("line_id")
    assert g["grade"].tolist() == ["evidenced", "unevidenced", "not yet due"]
    assert g["future_pv"].tolist() == [100.0, 200.0, 40.0]
    e = s.evidence
    # expected NPV = -300 + 150 + 300 + 40 = 190; without the unevidenced 200: -10
    assert (s.expected_npv, e.future_benefit_pv, e.unevidenced_future_pv, e.not_yet_due_future_pv) == (190.0, 340.0,
                                                                                                        200.0, 40.0)
    assert e.expected_npv_evidenced == -10.0
    assert e.unevidenced_future_pct == pytest.approx(200 / 340)
    assert s.decision_reason.endswith("; but the outlook rests mainly on unevidenced forecasts: £200 of the £340 "
                                      "future benefits (59%, PV) show no evidence of progress (no KPI movement "
                                      "toward target, no recorded go-live); expected NPV without them −£10")
    # below the share (59 % < 60 %): no warning
    assert "unevidenced" not in case_status(case, "2026Q2", Thresholds(unevidenced_share=0.6)).decision_reason
    # a recorded go-live evidences a benefit whose KPI is not yet measured
    assert go_live_shift(case) == 0


def npfit_like():
    """NPfIT as the NAO reported it in 2011 (figures in £m, illustrative in the published proportions):
    a 2011 baseline, spend and a little claimed benefit reported to March 2012 (the year 2011 here),
    and £7bn of benefits still forecast for 2012-2016 (raised from the baseline's £6.1bn) with no KPI
    ever measured and no go-live recorded."""
    return make_case(
        {"case_id": "NPFIT", "title": "National Programme for IT (detailed care records)", "status": "in delivery",
         "first_period": "2011", "period_length": "year", "horizon": 6, "go_live_period": "2011",
         "discount_rate": 0.035, "discount_schedule": "flat"},
        costs=[{"line_id": "C1", "name": "Programme spend", "amounts": [2_000, 1_200, 900, 700, 500, 500]}],
        benefits=[{"line_id": "B1", "name": "Care records benefits", **KPI, "kpi": "Trusts with a detailed record",
                   "unit": "count", "baseline_value": 0, "target_value": 160,
                   "amounts": [300, 900, 1_300, 1_500, 1_500, 900]}],
        actuals=[{"period": "2011", "line_id": "C1", "amount": 2_000},
                 {"period": "2011", "line_id": "B1", "amount": 330, "evidence": "owner's claim"}],
        forecast=[{"period": str(y), "line_id": "B1", "amount": a}
                  for y, a in zip(range(2012, 2017), [1_000, 1_500, 1_800, 1_700, 1_000], strict=True)])


def test_npfit_no_longer_reads_simply_value_created_continue():
    r = review_case(npfit_like(), "2012Q1", iterations=0)
    d = r.to_dict()
    # what it said before issue 13: value created, continue, and nothing more
    assert (d["verdict"], d["decision"]) == ("value created", "continue")
    assert "the outlook rests mainly on unevidenced forecasts" in d["decision_reason"]
    assert "the outlook rests mainly on unevidenced forecasts" in d["verdict_sentence"]
    # all £7.0bn (undiscounted) of the future benefit is unevidenced; the 2011 claim is not measured
    assert d["unevidenced_future_pct"] == 1.0 and d["evidenced_pct"] == 0.0
    df = [1.035 ** -t for t in range(6)]
    future = sum(a * f for a, f in zip([0, 1_000, 1_500, 1_800, 1_700, 1_000], df, strict=True))
    assert d["unevidenced_future_pv"] == pytest.approx(future)
    assert d["expected_npv_evidenced"] == pytest.approx(d["expected_npv"] - future)
    assert d["expected_npv_evidenced"] < 0 < d["expected_npv"]


def test_review_carries_the_evidence_keys():
    d = review_case(_fte_case(), "2026Q2", iterations=0).to_dict()
    assert [k for k in REVIEW_KEYS if k not in d] == []
    assert d["kpi_reconciliation"][0]["difference_to_date"] == 38_000.0
    assert d["evidence_mix"]["owner's claim"] == 110_000.0 and d["evidenced_pct"] == 0.0
    assert "kpi_reconciliation" not in review_case(_fte_case(), "2026Q2", iterations=0).to_dict(detail=False)


# --- 3. go-live slips: benefits tied to it move with it, and the bridge calls it timing --------------
def _slip_case(actual_go_live=None, rate=0.0):
    meta = {"case_id": "SLIP", "first_period": "2026Q1", "horizon": 8, "discount_rate": rate,
            "go_live_period": "2026Q2"}
    if actual_go_live:
        meta["actual_go_live"] = actual_go_live
    return make_case(meta,
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0, 0, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Ramp", "go_live_tied": "yes",
                                "amounts": [0, 0, 10, 20, 30, 30, 30, 30]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100},
                              {"period": "2026Q3", "line_id": "B1", "amount": 0},
                              {"period": "2026Q4", "line_id": "B1", "amount": 0}])


def test_a_two_quarter_go_live_slip_is_timing_not_benefit():
    # Plan 0,0,10,20,30,30,30,30 (150). Go-live 2026Q2 -> 2026Q4: two quarters. Nothing realised in
    # 2026Q3-Q4, then the ramp resumes where it would have started: 0,0,0,0,10,20,30,30 (90); the last
    # two 30s fall past the horizon. At 0 %: timing = 90 - 150 = -60, benefit 0.
    s = case_status(_slip_case("2026Q4"), "2026Q4")
    assert go_live_shift(_slip_case("2026Q4")) == 2
    assert s.expected.loc[s.expected["line_id"] == "B1", "amount"].tolist() == [0, 0, 0, 0, 10, 20, 30, 30]
    assert s.bridge.components == {"cost": 0.0, "benefit": 0.0, "timing": -60.0}
    # before issue 13 (no actual go-live recorded): the plan resumes at full rate 30,30,30,30 (120),
    # and the bridge shows a benefit effect +30 beside timing -60 (slip of the ramp: b_s = 0,0,0,0,10,20,30,30)
    before = case_status(_slip_case(), "2026Q4")
    assert before.bridge.components == {"cost": 0.0, "benefit": 30.0, "timing": -60.0}


def test_the_go_live_slip_at_ten_percent_is_still_all_timing():
    q = 1.10 ** -0.25
    plan = [0, 0, 10, 20, 30, 30, 30, 30]
    slipped = [0, 0, 0, 0, 10, 20, 30, 30]
    pv = lambda xs: sum(x * q ** t for t, x in enumerate(xs))  # noqa: E731
    s = case_status(_slip_case("2026Q4", rate=0.10), "2026Q4")
    assert s.bridge.benefit == pytest.approx(0.0, abs=1e-9)
    assert s.bridge.cost == pytest.approx(0.0, abs=1e-9)
    assert s.bridge.timing == pytest.approx(pv(slipped) - pv(plan))


def test_an_untied_benefit_does_not_move():
    case = _slip_case("2026Q4")
    case.lines.loc[case.lines["line_id"] == "B1", "go_live_tied"] = "no"
    s = case_status(case, "2026Q4")
    assert s.expected.loc[s.expected["line_id"] == "B1", "amount"].tolist() == [0, 0, 0, 0, 30, 30, 30, 30]


"""The case review's rules, each on a hand-worked case: baseline in force by approval date, gross
realisation with dis-benefits apart, one decision per case, and one review shown by every output."""

from __future__ import annotations

import math

import pytest

from vmo_lib.analysis.realisation import case_status
from vmo_lib.analysis.review import REVIEW_KEYS, review_case
from vmo_lib.model import make_case
from vmo_lib.outputs import case_pack

META = {"case_id": "X", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0, "status": "live",
        "case_type": "IT: equipment/development"}


def _case(meta=None, **kw):
    return make_case({**META, **(meta or {})}, **kw)


# --- the baseline in force at the review date -------------------------------------------------------
def _rebaselined(approved: str):
    return _case(costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                 benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 50, 50, 50]}],
                 rebaselines=[{"version": "RB1", "approved": approved,
                               "amounts": {"C1": [100, 0, 0, 0], "B1": [0, 20, 20, 20]}}])


def test_a_rebaseline_approved_after_the_review_period_is_not_yet_in_force():
    # Original NPV = 150 - 100 = 50; RB1 NPV = 60 - 100 = -40 (no discounting).
    before = review_case(_rebaselined("2026-10-20"), "2026Q3", iterations=0)   # review ends 2026-09-30
    after = review_case(_rebaselined("2026-10-20"), "2026Q4", iterations=0)
    assert before.status.baseline_in_force == "baseline" and before.in_force.npv == pytest.approx(50.0)
    assert after.status.baseline_in_force == "rebaseline:RB1" and after.in_force.npv == pytest.approx(-40.0)
    # approved on the last day of the review quarter counts
    on_the_day = review_case(_rebaselined("2026-09-30"), "2026Q3", iterations=0)
    assert on_the_day.status.baseline_in_force == "rebaseline:RB1"
    assert on_the_day.to_dict()["approved_npv"] == pytest.approx(50.0)      # the original stays shown
    assert on_the_day.to_dict()["in_force_npv"] == pytest.approx(-40.0)


# --- realisation is gross; dis-benefits stand apart ---------------------------------------------------
def _with_disbenefit(actuals):
    return _case(benefits=[{"line_id": "B1", "name": "Saving", "benefit_type": "cash-releasing",
                            "amounts": [0, 0, 100, 100]},
                           {"line_id": "D1", "name": "Disruption", "benefit_type": "dis-benefit",
                            "amounts": [0, -40, 0, 0]}],
                 costs=[{"line_id": "C1", "name": "Build", "amounts": [50, 0, 0, 0]}], actuals=actuals)


def test_a_quarter_with_only_a_dis_benefit_due_shows_nothing_due_not_a_ratio():
    # As of 2026Q2 only D1 (-40) was due; it came in at -50. Netted, this read "benefits 125% of plan".
    s = case_status(_with_disbenefit([{"period": "2026Q1", "line_id": "C1", "amount": 50},
                                      {"period": "2026Q2", "line_id": "D1", "amount": -50}]), "2026Q2")
    assert math.isnan(s.realisation_pct)
    assert s.totals["disbenefit_plan_to_date"] == pytest.approx(-40.0)
    assert s.totals["disbenefit_actual_to_date"] == pytest.approx(-50.0)
    r = review_case(_with_disbenefit([{"period": "2026Q1", "line_id": "C1", "amount": 50},
                                      {"period": "2026Q2", "line_id": "D1", "amount": -50}]), "2026Q2", iterations=0)
    card = next(c for c in case_pack.case_cards(r) if c["label"] == "Benefits realised")
    assert card["note"] == "nothing due yet" and card["value"] is None


def test_realisation_counts_benefits_gross_of_dis_benefits():
    # As of 2026Q3: B1 planned 100, actual 68; D1 planned -40, actual -40. Gross: 68 / 100 = 68%.
    # Netted it would have been (68 - 40) / (100 - 40) = 47%.
    s = case_status(_with_disbenefit([{"period": "2026Q1", "line_id": "C1", "amount": 50},
                                      {"period": "2026Q2", "line_id": "D1", "amount": -40},
                                      {"period": "2026Q3", "line_id": "B1", "amount": 68}]), "2026Q3")
    assert s.realisation_pct == pytest.approx(0.68)
    assert s.totals["benefit_plan_to_date"] == pytest.approx(100.0)
    assert s.totals["disbenefit_variance_to_date"] == pytest.approx(0.0)


# --- one decision per case ------------------------------------------------------------------------------
def _simple(status="live", actual_cost=100.0, case_type="IT: equipment/development", benefits=(0, 100, 100, 100)):
    return _case({"status": status, "case_type": case_type},
                 costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                 benefits=[{"line_id": "B1", "name": "Saving", "amounts": list(benefits)}],
                 actuals=[{"period": "2026Q1", "line_id": "C1", "amount": actual_cost}])


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_an_ended_case_is_closed_never_continue(status):
    r = review_case(_simple(status), "2026Q1", iterations=0)
    assert r.decision == "closed" and "continue" not in r.status.verdict_sentence.split("Decision:")[-1]


def test_a_proposed_case_is_not_started_in_verdict_and_decision():
    r = review_case(_simple("proposed"), "2026Q1", iterations=0)
    assert (r.decision, r.status.verdict.label, r.status.rag) == ("not started", "not started", "grey")


def test_decision_rule_on_hand_worked_cases():
    # Plan NPV 200. Spend 100 as planned: expected 200, forward 300 -> continue.
    assert review_case(_simple(), "2026Q1", iterations=0).decision == "continue"
    # Overrun to 150: expected 150 (-25% of PV costs 100... at risk), forward 300 -> recover.
    assert review_case(_simple(actual_cost=150), "2026Q1", iterations=0).decision == "recover"
    # Overrun to 350: expected -50 < 0 while the promise was +200 -> value destroyed; forward 300 -> re-plan.
    r = review_case(_simple(actual_cost=350), "2026Q1", iterations=0)
    assert (r.status.verdict.label, r.decision) == ("value destroyed", "re-plan")
    # What remains loses money (future benefits 10 while a future cost of 100 remains) -> stop.
    c = _case(costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100, 0, 0]}],
              benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 150, 150]}],
              forecast=[{"period": "2026Q3", "line_id": "B1", "amount": 5}, {"period": "2026Q4", "line_id": "B1", "amount": 5}],
              actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100}])
    r = review_case(c, "2026Q1", iterations=0)
    assert r.status.forward_npv == pytest.approx(-90.0) and r.decision == "stop"
    # The same for a regulatory case: it must be done, so it is not "stop".
    c.meta["case_type"] = "Regulatory/mandatory"
    assert review_case(c, "2026Q1", iterations=0).decision != "stop"


def test_review_dict_has_every_documented_key_and_one_decision():
    r = review_case(_simple(), "2026Q1", iterations=200, seed=1)
    d = r.to_dict()
    assert set(d) == set(REVIEW_KEYS)
    assert d["decision"] == r.status.decision == r.decision
    assert d["prob_below_zero"] == pytest.approx(r.simulation.summary()["prob_below_zero"])

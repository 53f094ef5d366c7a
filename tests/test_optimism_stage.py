"""Optimism bias by stage (HM Treasury Green Book supplementary guidance): the uplift starts at the
upper bound at the outline-case stage and comes down towards the lower bound as the case matures.
Every figure below is worked by hand from the Mott MacDonald (2002) table."""

from __future__ import annotations

import pytest

from vmo_lib.analysis import appraisal
from vmo_lib.analysis.scenarios import STAGE_MITIGATION, optimism_bias, optimism_bias_adjusted
from vmo_lib.model import make_case


def it_case(status, **meta):
    # yearly, 0 %, go-live 2 years in: capex 100 at t0, benefits 60 a year from t2.
    return make_case({"case_id": "T", "first_period": "2026", "period_length": "year", "horizon": 4,
                      "discount_rate": 0.0, "case_type": "IT: equipment/development", "go_live_period": "2028",
                      "status": status, **meta},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0], "category": "capex"}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 60, 60]}])


# IT equipment/development: capex 200 % upper / 10 % lower, duration 54 % / 10 %, benefits 25 % / 0 %.
@pytest.mark.parametrize(("status", "capex", "duration", "benefits", "delay"), [
    ("proposed", 2.00, 0.54, 0.25, 1),       # upper bound; delay floor(0.54*2 + 0.5) = 1
    ("approved", 1.05, 0.32, 0.125, 1),      # halfway: 2 - 0.5*1.9; 0.54 - 0.5*0.44; floor(0.64 + 0.5) = 1
    ("in delivery", 0.48, 0.188, 0.05, 0),   # 80 %: 2 - 0.8*1.9; 0.54 - 0.8*0.44 = 0.188; floor(0.876) = 0
    ("live", 0.10, 0.10, 0.0, 0),            # lower bound
    ("closed", 0.10, 0.10, 0.0, 0),
])
def test_uplift_comes_down_stage_by_stage(status, capex, duration, benefits, delay):
    ob = optimism_bias(it_case(status))
    assert ob.capex == pytest.approx(capex)
    assert ob.duration == pytest.approx(duration)
    assert ob.benefits == pytest.approx(benefits)
    assert ob.delay_periods == delay
    assert ob.stage == status


def test_stage_npv_after_optimism_bias_by_hand():
    # approved: capex 100 x 2.05 = 205; benefits x 0.875 = 52.5 moved one year: only t3 survives.
    case = it_case("approved")
    adjusted = optimism_bias_adjusted(case)
    assert appraisal.npv_of(adjusted, "baseline+ob") == pytest.approx(52.5 - 205)
    # live: capex x 1.1 = 110, benefits untouched and not moved: 120 - 110.
    assert appraisal.npv_of(optimism_bias_adjusted(it_case("live")), "baseline+ob") == pytest.approx(10.0)


def test_stage_shares_are_overridable_and_case_fields_still_win():
    case = it_case("approved")
    ob = optimism_bias(case, stage_mitigation={"approved": 0.25})   # a quarter of the way: 2 - 0.25*1.9
    assert ob.capex == pytest.approx(1.525)
    assert ob.stage_mitigation == 0.25
    assert STAGE_MITIGATION["approved"] == 0.5                       # the defaults are not changed
    own = optimism_bias(it_case("live", ob_capex=0.7))
    assert own.capex == 0.7 and own.duration == pytest.approx(0.10)
    assert optimism_bias(case, bound="upper").capex == 2.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        optimism_bias(case, stage_mitigation={"approved": 1.5})


def test_outsourcing_opex_by_stage():
    # Outsourcing: opex 41 % upper / 0 % lower; in delivery 0.41 * 0.2 = 0.082.
    case = make_case({"case_id": "O", "case_type": "IT: outsourcing", "status": "in delivery"})
    assert optimism_bias(case).opex == pytest.approx(0.082)

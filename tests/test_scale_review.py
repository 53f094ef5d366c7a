"""Issue 15 (portfolio at scale): the parts of a case review computed on first use, and the portfolio's
reviews computed in worker processes, are the same figures as computing them eagerly in this process.

The eager computation checked against is the one :func:`vmo_lib.analysis.review.review_case` did before:
:func:`vmo_lib.analysis.risk.switching_values` and :func:`vmo_lib.analysis.risk.tornado` on the case as
known at the review date, inside the same shared-work block as its status, and
:func:`vmo_lib.analysis.rampup.early_warning` with the status's benefit RAGs.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from vmo_lib.analysis import outlook, rampup, realisation, risk
from vmo_lib.analysis.review import review_case
from vmo_lib.errors import AnalysisError
from vmo_lib.intake.loader import load_portfolio
from vmo_lib.model import make_case

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
AS_OF = "2026Q3"


@pytest.fixture(scope="module")
def sample_cases():
    return load_portfolio(SAMPLE, as_of=AS_OF, workers=1).cases


def _eager(case, as_of, view="economic"):
    """switching, tornado, early warning as review_case computed them with the review."""
    known = outlook.known_at(case, as_of)
    current = known.current_baseline
    with outlook.shared_work():
        status = realisation.case_status(known, as_of, None, view)
        try:
            switching = risk.switching_values(known, current, view, as_of=as_of)
            tornado = risk.tornado(known, current, view, as_of=as_of)
        except AnalysisError:
            switching = tornado = pd.DataFrame()
    b = status.benefits
    early = rampup.early_warning(known, as_of, rag=b.set_index("line_id")["rag"] if "rag" in b else None,
                                 logistic=False)
    return switching, tornado, early


def test_parts_on_first_use_equal_the_eager_ones(sample_cases):
    assert len(sample_cases) >= 10
    some_tornado = False
    for case in sample_cases:
        r = review_case(case, AS_OF, iterations=0)
        assert r._parts == {}  # nothing computed yet
        switching, tornado, early = _eager(case, AS_OF)
        assert_frame_equal(r.switching, switching)
        assert_frame_equal(r.tornado, tornado)
        assert_frame_equal(r.early_warning, early)
        assert r.tornado is r.tornado  # computed once, kept
        some_tornado |= len(tornado) > 0
    assert some_tornado  # the comparison is not between empty tables only


def test_the_approved_simulation_on_first_read_is_the_one_drawn_with_the_outlook(sample_cases):
    """review_case drew the approved plan's run together with the outlook's (same seed, shared levels);
    it now draws it when first read: the same 20,000 NPVs, bit for bit, for every sample case."""
    drawn = 0
    for case in sample_cases:
        r = review_case(case, AS_OF)
        assert "simulation_approved" not in r._parts  # not drawn by the review
        known = outlook.known_at(case, AS_OF)
        try:
            joint_outlook, joint_approved = risk.monte_carlo_runs(
                known, [{"as_of": AS_OF, "reference_npv": r.status.current_baseline_npv},
                        {"scenario": known.current_baseline}], iterations=20_000, seed=0)
        except AnalysisError:
            assert r.simulation is None and r.simulation_approved is None
            continue
        assert (r.simulation.npv == joint_outlook.npv).all()
        assert (r.simulation_approved.npv == joint_approved.npv).all()
        assert r.simulation_approved.p10 == joint_approved.p10 and r.simulation_approved is r.simulation_approved
        drawn += 1
    assert drawn >= 8
    assert review_case(sample_cases[0], AS_OF, iterations=0).simulation_approved is None


def test_a_pickled_review_computes_the_same_parts(sample_cases):
    case = next(c for c in sample_cases if c.case_id == "CRM-2025")
    r = review_case(case, AS_OF, iterations=200)
    back = pickle.loads(pickle.dumps(r))
    assert back._parts == {}
    r.complete()
    assert set(r._parts) == {"switching", "tornado", "early_warning", "simulation_approved"}
    for name in ("switching", "tornado", "early_warning"):
        assert_frame_equal(getattr(back, name), getattr(r, name))
    assert (back.simulation_approved.npv == r.simulation_approved.npv).all()
    assert _plain(back.to_dict()) == _plain(r.to_dict())  # every figure, NaN included


def _plain(d) -> str:
    """Plain data as text: equal text, equal figures (NaN reads NaN on both sides)."""
    return json.dumps(d, sort_keys=True, default=str)


def test_tornado_by_hand():
    """A hand-worked tornado read through the part computed on first use: no discounting, a cost of 100
    then benefits of 60 and 60 (NPV 20), reviewed before it starts. Benefits at 80 % / 120 %:
    -100 + 96 = -4 and -100 + 144 = 44; costs -20 % / +20 %: 120 - 80 = 40 and 120 - 120 = 0; a year's
    delay (four quarters) pushes every benefit past the horizon: -100."""
    case = make_case({"case_id": "T", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 60, 60]}])
    r = review_case(case, "2025Q4", iterations=0)
    assert r.expected.npv == pytest.approx(20.0)
    t = r.tornado.set_index("driver")
    assert t.loc["benefit realisation", ["npv_low", "npv_high"]].tolist() == pytest.approx([-4.0, 44.0])
    assert t.loc["cost overrun", ["npv_low", "npv_high"]].tolist() == pytest.approx([40.0, 0.0])
    assert t.loc["delay", ["npv_low", "npv_high"]].tolist() == pytest.approx([20.0, -100.0])
    assert_frame_equal(r.tornado, _eager(case, "2025Q4")[1])


def test_to_dict_is_built_once_and_each_call_gets_its_own_copy(sample_cases):
    """to_dict is kept by the review; a caller changing its copy (nested dicts and lists included) never
    changes what the next caller reads."""
    case = next(c for c in sample_cases if c.case_id == "CRM-2025")
    r = review_case(case, AS_OF, iterations=200)
    first = r.to_dict()
    reference = _plain(first)
    first["expected_npv"] = -1.0
    first["bridge"].clear() if isinstance(first["bridge"], (dict, list)) else None
    first["npv_basis"]["annual_rate"] = 99.0
    first["benefits"][0]["line_id"] = "changed"
    first["thresholds"].clear()
    assert _plain(r.to_dict()) == reference
    assert r.to_dict() is not r.to_dict()
    assert r.to_dict()["benefits"][0] is not r.to_dict()["benefits"][0]


def test_risk_figures_are_the_simulations_own_summary(sample_cases):
    """risk_figures sorts the 20,000 NPVs once for its three percentiles: the same numbers as the
    MonteCarloResult's summary (numpy.percentile of each q alone) for every sample case."""
    checked = 0
    for case in sample_cases:
        r = review_case(case, AS_OF)
        if r.simulation is None:
            continue
        s, f = r.simulation.summary(), r.risk_figures()
        assert (f["risk_p10"], f["risk_p50"], f["risk_p90"]) == (s["p10"], s["p50"], s["p90"])
        assert f["prob_below_zero"] == s["prob_below_zero"]
        assert f["prob_reach_approved"] == s["prob_reach_approved"] or (
            math.isnan(f["prob_reach_approved"]) and math.isnan(s["prob_reach_approved"]))
        checked += 1
    assert checked >= 8

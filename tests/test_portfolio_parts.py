"""Issue 15 (portfolio at scale): the per-case parts of the portfolio review (each case's register row on
the portfolio basis, double-counting claims, reference-class row, forward costs and benefit-register
columns) built in the worker that reviewed the case (:func:`vmo_lib.portfolio.review.review_folder`
inside an ``outlook.shared_work`` block, as ``vmo portfolio`` runs it) give the portfolio review that
building them in this process gives: every table equal, value for value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vmo_lib.analysis.outlook import shared_work
from vmo_lib.analysis.review import review_case
from vmo_lib.intake.loader import load_portfolio
from vmo_lib.model import make_case
from vmo_lib.portfolio import double_counting, reference_class, register, selection
from vmo_lib.portfolio import review as portfolio_review
from vmo_lib.portfolio.review import default_basis, review_folder, review_portfolio
from vmo_lib.portfolio.settings import load_portfolio_settings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
AS_OF = "2026Q3"
BUDGET = 9_000_000.0


def _tables(pr) -> dict[str, pd.DataFrame]:
    return {"register": pr.register, "benefits": pr.benefits, "totals": pr.totals, "decisions": pr.decisions,
            "groups": pr.double_counting.groups, "pairs": pr.double_counting.pairs, "history": pr.history,
            "uplifts": pr.uplifts, "selection": pr.selection.decisions, "budget": pr.selection.budget}


@pytest.fixture(scope="module")
def here():
    """The portfolio review built in this process from reviews computed here (no parts handed over)."""
    pf = load_portfolio(SAMPLE, as_of=AS_OF, workers=1)
    settings = load_portfolio_settings(SAMPLE, {"budget": BUDGET})
    reviews = [review_case(c, AS_OF, iterations=500, seed=2) for c in pf.cases]
    return settings, review_portfolio(reviews, AS_OF, settings=settings, failures=pf.failures, seed=2)


def test_parts_from_the_workers_give_the_same_portfolio_review(here, monkeypatch):
    settings, expected = here
    basis = settings.basis or default_basis(AS_OF)
    with shared_work():
        pf, reviews = review_folder(SAMPLE, AS_OF, workers=2, iterations=500, seed=2, basis=basis)

        # from here on, building any part in this process fails: the review below must use the workers' parts
        def boom(*a, **k):
            raise AssertionError("a per-case part was built again in the main process")

        for mod, name in ((double_counting, "case_claims"), (reference_class, "history_row"),
                          (register, "benefit_columns"), (selection, "forward_costs"),
                          (portfolio_review, "register_row")):
            monkeypatch.setattr(mod, name, boom)
        got = review_portfolio(reviews, AS_OF, settings=settings, failures=pf.failures, seed=2)
    monkeypatch.undo()
    assert len(got.register) == len(pf.cases) > 10
    assert got.double_counting.claims == expected.double_counting.claims > 0
    assert len(got.history) and len(got.selection.decisions)
    for name, table in _tables(expected).items():
        pd.testing.assert_frame_equal(_tables(got)[name], table, check_exact=True, obj=name)
    # the same figures as the plain data of each case (register rows are read from the reviews)
    row = got.register.set_index("case_id").loc[reviews[0].case_id]
    assert row["expected_npv"] == reviews[0].status.expected_npv


def test_without_a_block_the_parts_are_built_here(here):
    """review_folder outside a shared_work block (a notebook's load_or_review): nothing is kept, the
    portfolio review builds every part itself, with the same result."""
    settings, expected = here
    pf, reviews = review_folder(SAMPLE, AS_OF, workers=2, iterations=500, seed=2,
                                basis=settings.basis or default_basis(AS_OF))
    got = review_portfolio(reviews, AS_OF, settings=settings, failures=pf.failures, seed=2)
    for name, table in _tables(expected).items():
        pd.testing.assert_frame_equal(_tables(got)[name], table, check_exact=True, obj=name)


def test_case_claims_by_hand():
    """A quarterly case's claims: one per benefit line with a KPI (a dis-benefit is not a claim, a line
    without a KPI neither), each claimed quarter a cell with its absolute amount; a yearly amount is spread
    over its four quarters."""
    c = make_case({"case_id": "A", "org_unit": "Ops", "first_period": "2026Q3", "horizon": 3},
                  benefits=[{"line_id": "B1", "name": "Hours", "kpi": "Hours (%)", "amounts": [0, 5, -7]},
                            {"line_id": "B2", "name": "No KPI", "amounts": [1, 1, 1]},
                            {"line_id": "B3", "name": "Noise", "kpi": "Noise", "benefit_type": "dis-benefit",
                             "amounts": [-1, -1, -1]}])
    cols, claim, q, amount = double_counting.case_claims(c)
    assert cols["line_id"] == ["B1"] and cols["kpi_key"] == ["hours percent"] and cols["org_unit"] == ["Ops"]
    # 2026Q4 = 2026 * 4 + 3, 2027Q1 = 2027 * 4 + 0
    assert claim.tolist() == [0, 0] and q.tolist() == [8107, 8108] and amount.tolist() == [5.0, 7.0]
    y = make_case({"case_id": "Y", "first_period": "2027", "period_length": "year", "horizon": 1},
                  benefits=[{"line_id": "B1", "name": "S", "kpi": "Calls", "amounts": [40]}])
    _, claim, q, amount = double_counting.case_claims(y)
    assert q.tolist() == [8108, 8109, 8110, 8111] and amount.tolist() == [10.0] * 4 and claim.tolist() == [0] * 4


def test_forward_costs_by_hand():
    """Costs after the review period, undiscounted, per calendar year: actuals to date replace the plan."""
    c = make_case({"case_id": "P", "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.1},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [1, 2, 3, 4, 5, 6, 7, 8]}],
                  benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 0, 0, 9, 9, 9, 9]}],
                  actuals=[{"period": "2026Q3", "line_id": "C1", "amount": 30}])
    got = selection.forward_costs(c, "2026Q3")
    assert got.to_dict() == {2026: 4.0, 2027: 26.0}  # 2026Q4; 5 + 6 + 7 + 8
    assert isinstance(got.index[0], (int, np.integer))

"""BusinessCase.matrix and its derived index: same sums as a pivot table, never stale."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from vmo_lib.model import FLOW_COLUMNS, make_case


@pytest.fixture
def case():
    return make_case(
        {"case_id": "M1", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 20, 0, 0]},
               {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 5, 5, 5]}],
        benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 30, 40, 50]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
                 {"period": "2026Q2", "line_id": "B1", "amount": 25}],
    )


def _pivot(case, scenario, kind=None):
    """The matrix by a second method: filter, pivot_table, reindex (rows = lines, columns = t)."""
    lines = case.lines if kind is None else case.lines[case.lines["kind"] == kind]
    f = case.flows[(case.flows["scenario"] == scenario) & case.flows["line_id"].isin(lines["line_id"])
                   & (case.flows["t"] >= 0) & (case.flows["t"] < case.horizon) & case.flows["amount"].notna()]
    if kind is not None:
        f = f[f["kind"] == kind]
    p = f.pivot_table(index="line_id", columns="t", values="amount", aggfunc="sum")
    return p.reindex(index=lines["line_id"], columns=range(case.horizon)).fillna(0.0).to_numpy()


def _with_extra_flows(case, rows):
    extra = pd.DataFrame([{**dict.fromkeys(FLOW_COLUMNS), "case_id": case.case_id, **r} for r in rows],
                         columns=list(FLOW_COLUMNS))
    return case.with_flows(pd.concat([case.flows, extra], ignore_index=True).astype({"t": "int64", "amount": float}))


def test_matrix_sums_repeats_and_drops_unknown_lines_nan_and_periods_outside_horizon(case):
    c = _with_extra_flows(case, [
        {"line_id": "B1", "kind": "benefit", "period": "2026Q2", "t": 1, "scenario": "baseline", "amount": 7.0},
        {"line_id": "ZZ", "kind": "benefit", "period": "2026Q2", "t": 1, "scenario": "baseline", "amount": 1e6},
        {"line_id": "C2", "kind": "cost", "period": "2026Q3", "t": 2, "scenario": "baseline", "amount": np.nan},
        {"line_id": "C2", "kind": "cost", "period": "2027Q1", "t": 4, "scenario": "baseline", "amount": 9.0},
        {"line_id": "C1", "kind": "cost", "period": "2025Q4", "t": -1, "scenario": "baseline", "amount": 9.0},
    ])
    m = c.matrix("baseline")
    # by hand: B1 in 2026Q2 = 30 + 7; nothing else changes
    assert m.loc["B1"].tolist() == [0.0, 37.0, 40.0, 50.0]
    assert m.loc["C2"].tolist() == [0.0, 5.0, 5.0, 5.0]
    assert list(m.index) == ["C1", "C2", "B1"] and m.index.name == "line_id"
    for scenario in ("baseline", "actual", "forecast"):
        for kind in (None, "cost", "benefit"):
            np.testing.assert_array_equal(c.matrix(scenario, kind).to_numpy(), _pivot(c, scenario, kind))


def test_matrix_of_a_kind_has_only_its_lines(case):
    assert case.line_ids("cost") == ["C1", "C2"]
    assert case.matrix("actual", "cost").to_numpy().tolist() == [[110.0, 0, 0, 0], [0, 0, 0, 0]]
    assert case.matrix("actual", "benefit").loc["B1"].tolist() == [0.0, 25.0, 0.0, 0.0]
    assert case.matrix("no such scenario").to_numpy().sum() == 0.0


def test_matrix_follows_new_tables_and_in_place_amount_edits(case):
    assert case.matrix("actual").loc["C1", 0] == 110.0
    # with_flows: a new case, the old one unchanged
    changed = case.flows.copy()
    changed.loc[changed["scenario"] == "actual", "amount"] = 1.0
    other = case.with_flows(changed)
    assert other.matrix("actual").loc["C1", 0] == 1.0
    assert case.matrix("actual").loc["C1", 0] == 110.0
    # assigning a new table to the same case
    case.flows = changed.reset_index(drop=True)
    assert case.matrix("actual").loc["C1", 0] == 1.0
    # an amount edited in place is seen (amounts are read on every call)
    case.flows.loc[(case.flows["scenario"] == "actual") & (case.flows["line_id"] == "C1"), "amount"] = 42.0
    assert case.matrix("actual").loc["C1", 0] == 42.0
    # a row appended in place changes the length: the index is rebuilt
    case.flows.loc[len(case.flows)] = {"case_id": "M1", "line_id": "C2", "kind": "cost", "period": "2026Q2", "t": 1,
                                       "scenario": "actual", "amount": 6.0, "kpi_value": np.nan, "comment": None}
    assert case.matrix("actual").loc["C2", 1] == 6.0
    # new lines
    case.lines = case.lines[case.lines["line_id"] != "C2"].reset_index(drop=True)
    assert list(case.matrix("actual").index) == ["C1", "B1"]


def test_pickled_or_copied_case_carries_no_derived_index(case):
    before = case.matrix("baseline")
    assert "_flow_index_cache" in case.__dict__
    for other in (pickle.loads(pickle.dumps(case)), copy.deepcopy(case), case.copy()):
        assert "_flow_index_cache" not in other.__dict__
        pd.testing.assert_frame_equal(other.matrix("baseline"), before)
    assert b"_FlowIndex" not in pickle.dumps(case)  # nothing derived travels to a worker process

"""The faster forms in the status and evidence tables give what the pandas forms gave.

``plain_records`` against the ``to_dict(orient="records")`` rule it replaced; the KPI roll-ups of
``realisation_by_type`` against ``roll_up`` on the same values (hand-worked figures beside them).
"""

import math

import numpy as np
import pandas as pd
import pytest

from vmo_lib.analysis.evidence import plain_records
from vmo_lib.analysis.realisation import realisation_by_type, roll_up
from vmo_lib.formatting import is_missing
from vmo_lib.model import make_case


def _old_records(df):
    def blank(v):
        return is_missing(v) or (isinstance(v, str) and not v.strip())
    return [{k: (None if blank(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def test_plain_records_match_the_records_rule():
    df = pd.DataFrame({"id": ["A", "B", None], "n": [1, 2, 3], "x": [1.5, np.nan, -0.0],
                       "ok": [True, False, True], "note": ["  ", "kept", np.nan],
                       "mixed": [np.float64(2.5), "t", None]})
    got = plain_records(df)
    assert got == [{"id": "A", "n": 1, "x": 1.5, "ok": True, "note": None, "mixed": 2.5},
                   {"id": "B", "n": 2, "x": None, "ok": False, "note": "kept", "mixed": "t"},
                   {"id": None, "n": 3, "x": -0.0, "ok": True, "note": None, "mixed": None}]
    old = _old_records(df)
    assert repr(got) == repr(old)
    assert [[type(v) for v in r.values()] for r in got] == [[type(v) for v in r.values()] for r in old]
    assert plain_records(df.iloc[:0]) == []


@pytest.mark.parametrize("rule, expected", [("sum", 70.0), ("mean", 35.0), ("max", 40.0), ("min", 30.0),
                                            ("latest", 40.0)])
def test_type_kpi_roll_up_matches_roll_up(rule, expected):
    # B1 measured 30, B2 never measured (NaN dropped), B3 measured 40: the group rolls up 30 and 40
    benefits = [{"line_id": f"B{i}", "name": f"b{i}", "benefit_type": "cash", "unit": "hours", "kpi_rollup": rule,
                 "baseline_value": 10 * i, "target_value": 100, "amounts": [5]} for i in (1, 2, 3)]
    c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 1}, benefits=benefits,
                  actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 5, "kpi_value": 30},
                           {"period": "2026Q1", "line_id": "B3", "amount": 5, "kpi_value": 40}])
    r = realisation_by_type(c, "2026Q1").iloc[0]
    assert r["kpi_rollup"] == rule
    assert float(r["kpi_latest"]) == expected
    order = pd.Series([0.0, 1.0, 2.0])
    assert float(r["kpi_latest"]) == roll_up(pd.Series([30.0, math.nan, 40.0]), rule, order)
    assert float(r["kpi_baseline"]) == roll_up(pd.Series([10.0, 20.0, 30.0]), rule, order)

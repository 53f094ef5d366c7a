"""The sample history (scripts/make_sample_history.py): the story it builds, with hand-checkable amounts.

DATA-2025 B1: at a quarter k quarters before 2026Q3 the owner forecast every later period at
(1 + 0.04 k) x today's figure. So between 2026Q2 (k = 1) and 2026Q3 (today's workbook, k = 0) the
expected total falls by exactly 0.04 x S, S = today's B1 figures (actual, else forecast) summed over
the periods after 2026Q2 -- computed here straight from the workbook's rows.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.history import movement as mv
from vmo_lib.history.records import records_from_review
from vmo_lib.history.store import open_history
from vmo_lib.intake.loader import load_case

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def _script():
    spec = importlib.util.spec_from_file_location("make_sample_history", ROOT / "scripts" / "make_sample_history.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = tmp_path_factory.mktemp("hist") / "h.duckdb"
    mod = _script()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 2026Q1-2026Q2 from the script, then 2026Q3 reviewed from today's files (what `vmo review` records)
        res = mod.build(SAMPLE, path, first="2026Q1", last="2026Q2")
        today = {n: load_case(SAMPLE / f"{n}.xlsx", as_of="2026Q3") for n in ("DATA-2025", "CHATBOT-2025")}
    assert res["recorded"] == ["2026Q1", "2026Q2"]
    with open_history(path) as h:
        runs = h.runs()
        frames = h.frames()
    assert set(runs["kind"]) == {"sample"}
    now = mv.concat_frames([records_from_review(review_case(c, "2026Q3", seed=0)) for c in today.values()])
    return mv.concat_frames([frames, now]), today, path, mod


def _sum_after(case, period_t, line="B1"):
    f = case.flows
    rows = f[(f["line_id"] == line) & (f["t"] > period_t)]
    act = rows[rows["scenario"] == "actual"].groupby("t")["amount"].sum()
    fc = rows[rows["scenario"] == "forecast"].groupby("t")["amount"].sum()
    return float(sum(act.get(t, fc.get(t, 0.0)) for t in sorted(set(act.index) | set(fc.index))))


def test_drifting_benefit_is_flagged_with_the_constructed_amounts(history):
    frames, today, _, _ = history
    case = today["DATA-2025"]
    d = mv.forecast_drift(mv.one_case(frames, "DATA-2025"))
    b1 = d[d["line_id"] == "B1"].set_index("quarter")
    s_q2 = _sum_after(case, case.t_of("2026Q2"))
    # 2026Q2's forecast was 1.04 x today's figures after 2026Q2: the total fell by 0.04 x S
    assert b1.loc["2026Q3", "total_change"] == pytest.approx(-0.04 * s_q2, abs=1.0)
    assert bool(b1.loc["2026Q2", "slip"]) and bool(b1.loc["2026Q3", "slip"])
    assert bool(b1.loc["2026Q3", "slipped_twice"])
    flags = mv.drift_flags(mv.one_case(frames, "DATA-2025"), "2026Q3").set_index("line_id")
    assert bool(flags.loc["B1", "flagged"])


def test_replan_not_followed(history):
    frames, _, _, _ = history
    out = mv.decision_followed(mv.one_case(frames, "CHATBOT-2025"), "2026Q3")
    assert out["previous_quarter"] == "2026Q2" and out["decision"] == "re-plan"
    assert out["followed"] == "not yet"


def test_rebaseline_appears_in_what_changed():
    mod = _script()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "h.duckdb"
        mod.build(SAMPLE, path, first="2025Q2", last="2025Q3")
        with open_history(path) as h:
            frames = mv.one_case(h.frames(), "PAY-2024")
    ch = mv.what_changed(frames, "2025Q3")
    rb = ch[ch["kind"] == "re-baseline"]
    assert rb[["before", "after"]].values.tolist() == [["baseline", "rebaseline:RB1"]]
    t = mv.trend(frames).set_index("quarter")
    assert rb["amount"].iloc[0] == pytest.approx(t.loc["2025Q3", "in_force_npv"] - t.loc["2025Q2", "in_force_npv"])


def test_second_run_is_skipped(history):
    _, _, path, mod = history
    assert mod.build(SAMPLE, path, first="2026Q1", last="2026Q2") == {"recorded": [], "cases": {}}


def test_drift_cell_of_a_benefit_expecting_no_money_reads_none_expected():
    # DATA-2025 B3 records no expected start (NaN from the store): the pack said "£0 from nan"
    import pandas as pd

    from vmo_lib.outputs.movement import drift_table

    lq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X"] * 2, "line_id": ["B3"] * 2,
                       "kind": ["benefit"] * 2, "name": ["S"] * 2, "expected_total": [0.0, 0.0],
                       "expected_start": [None, float("nan")]})
    cq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X"] * 2, "currency": ["GBP"] * 2})
    h = drift_table({"case_quarter": cq, "line_quarter": lq}).html
    assert "nan" not in h and h.count("(none expected)") == 2

"""Movement between review quarters (vmo_lib.history.movement) and its pack blocks (vmo_lib.outputs.movement).

Every history here is built the way the store will be filled: the same case reviewed at several
quarters (make_case with the returns and forecasts as they stood each quarter, review_case, then
records_from_review), so the figures checked by hand are the figures each quarter's pack showed.
Discount rate 0 throughout so every NPV is a plain sum that can be checked by eye.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import pickle
import re

import pandas as pd
import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.history import movement as mv
from vmo_lib.history.records import records_from_review
from vmo_lib.model import make_case
from vmo_lib.outputs import movement as mo
from vmo_lib.outputs.html import render_index

Q = ["2026Q1", "2026Q2", "2026Q3"]
SIX = ["2026Q3", "2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4"]


def _records(case, q, warnings=()):
    if warnings:
        case = dataclasses.replace(case, issues=pd.DataFrame({"message": list(warnings)}))
    return records_from_review(review_case(case, q, iterations=0))


def drifting_case(case_id="X", b1_name="Savings", title="Drifting case"):
    """Costs C1 100 + 50; benefits B1 50 a quarter from 2026Q3, B2 30 a quarter from 2026Q2.

    2026Q1: C1 actual 100, no forecast.                 expected NPV = 300 + 210 - 150 = 360
    2026Q2: C1 50, B2 30 actual; B1 forecast 40 x 6.    expected NPV = 240 + 210 - 150 = 300
    2026Q3: B1 0, B2 30 actual; B1 forecast 40 x 5.     expected NPV = 200 + 210 - 150 = 260
    """
    meta = {"case_id": case_id, "title": title, "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.0,
            "status": "in delivery"}
    costs = [{"line_id": "C1", "name": "Build", "amounts": [100, 50, 0, 0, 0, 0, 0, 0]}]
    bens = [{"line_id": "B1", "name": b1_name, "amounts": [0, 0, 50, 50, 50, 50, 50, 50]},
            {"line_id": "B2", "name": "Fees", "amounts": [0, 30, 30, 30, 30, 30, 30, 30]}]
    actuals = {"2026Q1": [{"period": "2026Q1", "line_id": "C1", "amount": 100}],
               "2026Q2": [{"period": "2026Q2", "line_id": "C1", "amount": 50},
                          {"period": "2026Q2", "line_id": "B2", "amount": 30}],
               "2026Q3": [{"period": "2026Q3", "line_id": "B1", "amount": 0},
                          {"period": "2026Q3", "line_id": "B2", "amount": 30}]}
    forecast = {"2026Q1": [],
                "2026Q2": [{"period": p, "line_id": "B1", "amount": 40} for p in SIX],
                "2026Q3": [{"period": p, "line_id": "B1", "amount": 40} for p in SIX[1:]]}
    warnings = {"2026Q1": [], "2026Q2": ["B2: owner missing"],
                "2026Q3": ["B2: owner missing", "B1: <script>alert('w')</script> KPI has no target"]}
    parts, so_far = [], []
    for q in Q:
        so_far = so_far + actuals[q]
        parts.append(_records(make_case(meta, costs, bens, so_far, forecast[q]), q, warnings[q]))
    return mv.concat_frames(parts)


@pytest.fixture(scope="module")
def hist():
    return drifting_case()


def upto(frames, q):
    return {k: v[v["quarter"] <= q].reset_index(drop=True) for k, v in frames.items()}


# --- trend -------------------------------------------------------------------------------------------------
def test_trend_is_each_quarters_recorded_figures(hist):
    t = mv.trend(hist)
    assert t["quarter"].tolist() == Q
    assert t["approved_npv"].tolist() == [360.0, 360.0, 360.0]
    assert t["expected_npv"].tolist() == [360.0, 300.0, 260.0]
    # forward = what remains after the review period: Q1 510 - 50; Q2 240 + 180; Q3 200 + 150
    assert t["forward_npv"].tolist() == [460.0, 420.0, 350.0]
    # realisation = benefits actual / plan to date: Q1 nothing due; Q2 30/30; Q3 (0 + 60) / (50 + 60)
    assert math.isnan(t["realisation_pct"].iloc[0])
    assert t["realisation_pct"].iloc[1] == pytest.approx(1.0)
    assert t["realisation_pct"].iloc[2] == pytest.approx(60 / 110)
    s = mv.status_by_quarter(hist)
    assert s["rag"].tolist() == ["green", "amber", "red"]
    assert s["decision"].tolist() == ["continue", "recover", "recover"]


# --- what changed ------------------------------------------------------------------------------------------
def test_what_changed_q1_to_q2(hist):
    ch = mv.what_changed(hist, "2026Q2")
    new = ch[ch["kind"] == "new actual"]
    assert sorted(zip(new["line_id"], new["period"], new["amount"], strict=True)) == [
        ("B2", "2026Q2", 30.0), ("C1", "2026Q2", 50.0)]
    rev = ch[ch["kind"] == "forecast revision"].set_index("line_id")
    assert list(rev.index) == ["B1"]                          # B2 and C1 came in as planned
    assert (rev.at["B1", "before"], rev.at["B1", "after"]) == (300.0, 240.0)
    assert rev.at["B1", "amount"] == -60.0                     # 6 x (40 - 50)
    assert rev.at["B1", "forecast_change"] == 240.0            # no forecast -> 6 x 40
    st = ch[ch["kind"] == "status change"]
    assert sorted(zip(st["detail"], st["before"], st["after"], strict=True)) == [
        ("RAG", "green", "amber"), ("decision", "continue", "recover"), ("verdict", "on track", "at risk")]
    assert ch.loc[ch["kind"] == "new warning", "detail"].tolist() == ["B2: owner missing"]
    assert not (ch["kind"] == "re-baseline").any()


def test_what_changed_q2_to_q3_default_is_latest(hist):
    ch = mv.what_changed(hist)
    new = ch[ch["kind"] == "new actual"]
    assert sorted(zip(new["line_id"], new["amount"], strict=True)) == [("B1", 0.0), ("B2", 30.0)]
    rev = ch[ch["kind"] == "forecast revision"].set_index("line_id")
    assert rev.at["B1", "amount"] == -40.0                     # 240 -> 0 actual + 5 x 40
    assert rev.at["B1", "forecast_change"] == -40.0            # 240 -> 200
    st = ch[ch["kind"] == "status change"]
    assert list(zip(st["detail"], st["before"], st["after"], strict=True)) == [("RAG", "amber", "red")]
    # only the warning that is new this quarter
    assert ch.loc[ch["kind"] == "new warning", "detail"].tolist() == [
        "B1: <script>alert('w')</script> KPI has no target"]


def test_nothing_changed_and_first_quarter():
    h = drifting_case()
    q1 = upto(h, "2026Q1")
    assert mv.what_changed(q1).empty
    assert mv.decision_followed(q1) is None
    # the same quarter recorded again under a later label: nothing moved
    again = {k: v.assign(quarter="2026Q2") for k, v in q1.items()}
    assert mv.what_changed(mv.concat_frames([q1, again])).empty


# --- drift -------------------------------------------------------------------------------------------------
def test_forecast_drift_and_slipped_twice_flag(hist):
    d = mv.forecast_drift(hist)
    b1 = d[d["line_id"] == "B1"]
    assert b1["expected_total"].tolist() == [300.0, 240.0, 200.0]
    assert b1["expected_start"].tolist() == ["2026Q3", "2026Q3", "2026Q4"]
    assert b1["total_change"].tolist()[1:] == [-60.0, -40.0]
    assert b1["start_shift"].tolist()[1:] == [0.0, 1.0]
    assert b1["slip"].tolist() == [False, True, True]
    assert b1["slipped_twice"].tolist() == [False, False, True]
    b2 = d[d["line_id"] == "B2"]
    assert not b2["slip"].any()
    flags = mv.drift_flags(hist).set_index("line_id")
    assert bool(flags.at["B1", "flagged"]) and not bool(flags.at["B2", "flagged"])
    # as of 2026Q2 B1 had slipped once only: not flagged yet
    assert not mv.drift_flags(hist, "2026Q2")["flagged"].any()


def test_a_recovered_forecast_breaks_the_run():
    """Slip, recover, slip: never two running, so never flagged."""
    h = drifting_case()
    cq, lq = h["case_quarter"], h["line_quarter"].copy()
    q4 = {k: v[v["quarter"] == "2026Q3"].assign(quarter="2026Q4") for k, v in h.items()}
    q5 = {k: v[v["quarter"] == "2026Q3"].assign(quarter="2027Q1") for k, v in h.items()}
    q4["line_quarter"] = q4["line_quarter"].copy()
    q4["line_quarter"].loc[q4["line_quarter"]["line_id"] == "B1", "expected_total"] = 260.0   # up: no slip
    q5["line_quarter"] = q5["line_quarter"].copy()
    q5["line_quarter"].loc[q5["line_quarter"]["line_id"] == "B1", "expected_total"] = 250.0   # down: slip
    h5 = mv.concat_frames([{"case_quarter": cq, "line_quarter": lq, "period_quarter": h["period_quarter"]}, q4, q5])
    b1 = mv.forecast_drift(h5).query("line_id == 'B1'")
    assert b1["slip"].tolist() == [False, True, True, False, True]
    assert b1["slipped_twice"].tolist() == [False, False, True, False, False]
    # a fall within SLIP_SHARE (0.5 % of 260 = 1.3) is not a slip
    q5["line_quarter"].loc[q5["line_quarter"]["line_id"] == "B1", "expected_total"] = 259.0
    h5 = mv.concat_frames([{"case_quarter": cq, "line_quarter": lq, "period_quarter": h["period_quarter"]}, q4, q5])
    assert mv.forecast_drift(h5).query("line_id == 'B1'")["slip"].tolist()[-1] is False


# --- decisions ---------------------------------------------------------------------------------------------
def test_recover_not_followed(hist):
    d = mv.decision_followed(hist)
    assert (d["previous_quarter"], d["decision"], d["followed"]) == ("2026Q2", "recover", "not yet")
    assert d["evidence"] == "RAG red (was amber); expected NPV down by £40"


def _stopper(q2_status="in delivery", q2_cost=None):
    """Forward NPV after Q1 = 20 - 200 < 0: decision stop. Q2 as given."""
    meta = {"case_id": "S", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0, "status": "in delivery"}
    costs = [{"line_id": "C1", "name": "Build", "amounts": [100, 100, 100, 0]}]
    bens = [{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 10, 10]}]
    a1 = [{"period": "2026Q1", "line_id": "C1", "amount": 100}]
    a2 = a1 + ([{"period": "2026Q2", "line_id": "C1", "amount": q2_cost}] if q2_cost is not None else [])
    r1 = _records(make_case(meta, costs, bens, a1), "2026Q1")
    r2 = _records(make_case({**meta, "status": q2_status}, costs, bens, a2), "2026Q2")
    return mv.concat_frames([r1, r2])


def test_stop_followed_by_cancelling():
    h = _stopper(q2_status="cancelled")
    assert h["case_quarter"]["decision"].tolist() == ["stop", "closed"]
    d = mv.decision_followed(h)
    assert (d["decision"], d["followed"], d["evidence"]) == ("stop", "yes", "the case is now cancelled")


def test_stop_followed_by_no_spend_and_not_followed_by_spending():
    d = mv.decision_followed(_stopper(q2_cost=0))
    assert (d["followed"], d["evidence"]) == ("yes", "no cost reported after 2026Q1")
    d = mv.decision_followed(_stopper(q2_cost=80))
    assert d["followed"] == "not yet"
    assert d["evidence"].startswith("still spending: £80 of cost reported after 2026Q1")


def _replanner(rebaseline_approved):
    """Approved NPV 300 - 200 = 100; Q1 cost actual 350: expected -50, forward +300 -> re-plan."""
    meta = {"case_id": "R", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0, "status": "in delivery"}
    costs = [{"line_id": "C1", "name": "Build", "amounts": [200, 0, 0, 0]}]
    bens = [{"line_id": "B1", "name": "Saving", "amounts": [0, 100, 100, 100]}]
    acts = [{"period": "2026Q1", "line_id": "C1", "amount": 350}]
    rb = [{"version": "v2", "approved": rebaseline_approved, "reason": "overrun",
           "amounts": {"C1": [350, 0, 0, 0], "B1": [0, 120, 120, 120]}}]
    case = make_case(meta, costs, bens, acts, rebaselines=rb)
    return mv.concat_frames([_records(case, "2026Q1"), _records(case, "2026Q2")])


def test_replan_followed_by_a_rebaseline_and_the_rebaseline_listed():
    h = _replanner(dt.date(2026, 5, 1))         # approved during 2026Q2: in force from the Q2 review
    cq = h["case_quarter"]
    assert cq["decision"].tolist()[0] == "re-plan"
    assert cq["baseline_in_force"].tolist() == ["baseline", "rebaseline:v2"]
    d = mv.decision_followed(h)
    assert (d["decision"], d["followed"]) == ("re-plan", "yes")
    rb = mv.what_changed(h).query("kind == 're-baseline'")
    assert len(rb) == 1
    assert (rb["before"].iloc[0], rb["after"].iloc[0]) == ("baseline", "rebaseline:v2")
    assert rb["amount"].iloc[0] == pytest.approx((360 - 350) - (300 - 200))   # NPV in force 100 -> 10


def test_replan_not_yet_without_a_rebaseline():
    h = _replanner(dt.date(2026, 11, 1))        # approved after 2026Q2 ends: not known at the Q2 review
    d = mv.decision_followed(h)
    assert (d["decision"], d["followed"]) == ("re-plan", "not yet")


def test_recover_followed_and_continue_needs_nothing():
    base = {"case_id": ["K", "K"], "quarter": ["2026Q1", "2026Q2"], "period": ["2026Q1", "2026Q2"],
            "currency": ["GBP", "GBP"], "case_status": ["live", "live"], "baseline_in_force": ["baseline"] * 2,
            "decision_reason": ["", ""]}
    cq = pd.DataFrame({**base, "decision": ["recover", "continue"], "rag": ["red", "amber"],
                       "expected_npv": [100.0, 90.0]})
    assert mv.decision_followed({"case_quarter": cq})["followed"] == "yes"        # RAG improved
    cq = pd.DataFrame({**base, "decision": ["recover", "recover"], "rag": ["red", "red"],
                       "expected_npv": [100.0, 130.0]})
    d = mv.decision_followed({"case_quarter": cq})
    assert (d["followed"], d["evidence"]) == ("yes", "expected NPV up by £30")
    cq = pd.DataFrame({**base, "decision": ["continue", "stop"], "rag": ["green", "red"],
                       "expected_npv": [100.0, -5.0]})
    assert mv.decision_followed({"case_quarter": cq})["followed"] == "nothing needed"


# --- index and portfolio -----------------------------------------------------------------------------------
def test_index_movement(hist):
    one = upto(drifting_case("Z"), "2026Q1")
    m = mv.index_movement({"X": hist, "Z": one})
    x = m["X"]
    assert x["quarters"] == Q and x["expected_npv"] == [360.0, 300.0, 260.0]
    assert (x["change"], x["previous_quarter"], x["flagged"], x["followed"]) == (-40.0, "2026Q2", 1, "not yet")
    assert x["n_changes"] == len(mv.what_changed(hist))
    assert m["Z"]["first_review"] and m["Z"]["change"] is None and m["Z"]["followed"] is None
    # one frames mapping holding both cases gives the same
    assert mv.index_movement(mv.concat_frames([hist, one])) == m


def test_portfolio_by_quarter_sums_per_currency(hist):
    y = drifting_case("Y")
    e = drifting_case("E")
    e = {k: v.assign(currency="EUR") if k == "case_quarter" else v for k, v in e.items()}
    p = mv.portfolio_by_quarter(mv.concat_frames([hist, y, e])).set_index(["quarter", "currency"])
    assert p.loc[("2026Q3", "GBP"), "cases"] == 2
    assert p.loc[("2026Q3", "GBP"), "expected_npv"] == 520.0
    assert p.loc[("2026Q3", "GBP"), "approved_npv"] == 720.0
    assert p.loc[("2026Q3", "GBP"), "realised"] == 120.0        # 2 x (30 + 0 + 30)
    assert p.loc[("2026Q3", "EUR"), "expected_npv"] == 260.0    # never added to the pounds
    assert p.loc[("2026Q1", "EUR"), "realised"] == 0.0


def test_load_history_reads_the_batch_pickle(tmp_path, hist):
    path = tmp_path / "history.pkl"
    path.write_bytes(pickle.dumps(hist))
    back = mv.load_history(path)
    pd.testing.assert_frame_equal(back["line_quarter"], hist["line_quarter"])
    assert mv.load_history(None) is None


# --- HTML blocks -------------------------------------------------------------------------------------------
HOSTILE = '<script>alert("x")</script>'


def test_case_movement_escapes_hostile_text():
    h = drifting_case(case_id="<img src=x onerror=alert(1)>", b1_name=HOSTILE, title=HOSTILE)
    page = mo.case_movement(h).html
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    for block in ("Value by quarter", "What changed since 2026Q2", "Forecast drift per benefit",
                  "slipped two quarters running", "not yet"):
        assert block in page
    # the alt text of the chart is there, escaped and in the img tag
    alt = re.search(r'<img [^>]*alt="([^"]*)"', page).group(1)
    assert "expected NPV went from £360 to £260" in alt and "&lt;img" in alt


def test_case_movement_amounts_in_the_blocks(hist):
    page = mo.changes_table(hist).html
    assert "−£40" in page and "£240 → £200" in page
    assert "RAG: amber → red" in page
    page = mo.drift_table(hist).html
    start = '<span class="vmo-drift-start">'
    assert f"£200{start}from 2026Q4</span>" in page and f"£300{start}from 2026Q3</span>" in page
    assert "1 benefit flagged" in page


def test_single_quarter_says_first_review_in_every_block(hist):
    one = upto(hist, "2026Q1")
    for block in (mo.trend_block(one), mo.status_table(one), mo.changes_table(one), mo.drift_table(one),
                  mo.decision_block(one)):
        assert block.html == f'<p class="vmo-empty vmo-first-review">{mo.FIRST_REVIEW}</p>'
    for block in (mo.case_movement(one), mo.portfolio_movement(one)):
        assert "First review on record" in block.html and "<table" not in block.html
    assert "First review on record" in mo.case_movement(None).html
    assert mo.index_cells(mv.index_movement({"X": one}))["X"].html.count("first review on record") == 1


def test_index_column_escapes_and_only_appears_with_movement(hist):
    bad = {k: v.assign(case_id=HOSTILE) for k, v in hist.items()}
    cells = mo.index_cells(mv.index_movement(bad))
    entries = [{"case_id": HOSTILE, "title": "t", "status": "ok", "verdict": "at risk", "rag": "red", "links": []}]
    page = render_index(entries, as_of="2026Q3", source="s", movement=cells)
    assert "<th>Movement</th>" in page and "<svg" in page and "<polyline" in page
    assert "<script>alert" not in page
    assert "−£40 since 2026Q2; 1 benefit slipping; decision not yet followed" in page
    assert "Movement" not in render_index(entries, as_of="2026Q3", source="s")


def test_portfolio_movement_block(hist):
    page = mo.portfolio_movement(mv.concat_frames([hist, drifting_case("Y")])).html
    assert "not restated to the portfolio's one basis" in page
    assert page.count("<img") == 1 and "£520" in page and "£720" in page


def test_dollar_signs_in_workbook_text_are_not_mathtext():
    h = drifting_case(case_id="A$\\frac{1$_^", b1_name="$x^$")
    page = mo.case_movement(h).html          # would raise a mathtext ParseSyntaxException
    assert page.count("<img") == 1 and "A$\\frac{1$_^" in page


def test_a_pack_never_shows_a_later_quarter(hist):
    page = mo.case_movement(hist, "X", quarter="2026Q2").html
    assert "2 quarters on record, 2026Q1 to 2026Q2" in page
    assert "Followed by 2026Q2?" in page and "Followed by 2026Q3?" not in page
    assert "RAG: green → amber" in page and "amber → red" not in page
    assert "First review on record" in mo.portfolio_movement(hist, quarter="2026Q1").html


def test_many_cases_at_once_equal_each_case_alone(hist):
    """what_changed and index_movement compare all cases in one pass: the same as case by case."""
    others = [drifting_case("A"), _stopper(q2_cost=80), _replanner(dt.date(2026, 5, 1))]
    both = mv.concat_frames([hist, *others])
    together = mv.what_changed(both, "2026Q3")
    alone = pd.concat([mv.what_changed(hist, "2026Q3"), mv.what_changed(others[0], "2026Q3")], ignore_index=True)
    pd.testing.assert_frame_equal(together.reset_index(drop=True), alone.sort_values("case_id", kind="stable")
                                  .reset_index(drop=True), check_dtype=False)
    m = mv.index_movement(both)
    assert m["S"]["followed"] == "not yet" and m["R"]["followed"] == "yes" and m["X"]["followed"] == "not yet"
    assert m["S"]["quarter"] == "2026Q2" and m["S"]["n_changes"] == len(mv.what_changed(others[1]))
    assert m["R"]["n_changes"] == len(mv.what_changed(others[2]))
    assert m["A"]["flagged"] == 1 and m["R"]["flagged"] == 0


# --- vmo review: the packs and the index show the movement ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.xdist_group("papermill")
def test_vmo_review_shows_movement_in_the_pack_and_the_index(tmp_path):
    """Two quarters backfilled, the third reviewed with the real notebooks (expected NPV 70, 60, 40 as
    worked by hand in tests/test_history_review.py)."""
    from test_history_review import case as history_case

    from vmo_lib.batch import run_review
    from vmo_lib.history.replay import backfill
    from vmo_lib.history.store import open_history
    from vmo_lib.intake.template import write_case_workbook

    folder = tmp_path / "cases"
    folder.mkdir()
    write_case_workbook(history_case(), folder / "hist-1.xlsx")
    write_case_workbook(history_case(case_id="HIST-2"), folder / "hist-2.xlsx")
    backfill(folder, "2024Q1", "2024Q2", folder / "vmo-history.duckdb")
    out = tmp_path / "out"
    res = run_review(folder, "2024Q3", out, workers=1, progress="off")
    assert res.ok
    pack = (out / "cases" / "HIST-1" / "pack.html").read_text()
    assert "Movement since last quarter" in pack and "What changed since 2024Q2" in pack
    assert "3 quarters on record, 2024Q1 to 2024Q3" in pack
    index = (out / "index.html").read_text()
    assert "<th>Movement</th>" in index and index.count("<svg") == 2
    assert "−£20 since 2024Q2" in index                              # 60 -> 40
    assert "Portfolio value by quarter" in (out / "portfolio.html").read_text()
    # the portfolio block's sums equal the store's own (summed in DuckDB): two methods, one answer
    with open_history(folder / "vmo-history.duckdb") as h:
        store_sums = h.portfolio_trend()
        frames = h.frames()
    mine = mv.portfolio_by_quarter(frames)
    assert mine["expected_npv"].tolist() == store_sums["expected_npv"].tolist() == [140.0, 120.0, 80.0]
    assert mine["realised"].tolist() == store_sums["benefit_actual_to_date"].fillna(0).tolist()


@pytest.mark.slow
def test_every_trend_figure_is_the_figure_of_that_quarters_pack(tmp_path):
    """Three quarters each reviewed at the time with `vmo review` (packs and history): the trend the
    2024Q3 pack draws holds, for every quarter, exactly the figures that quarter's own pack showed."""
    import json

    from test_history_review import case as history_case

    from vmo_lib.batch import run_review
    from vmo_lib.formatting import format_money
    from vmo_lib.history.store import open_history
    from vmo_lib.intake.template import write_case_workbook

    folder = tmp_path / "cases"
    folder.mkdir()
    write_case_workbook(history_case(), folder / "hist-1.xlsx")
    packs = {}
    for q in ("2024Q1", "2024Q2", "2024Q3"):
        out = tmp_path / f"out-{q}"
        assert run_review(folder, q, out, workers=1, progress="off").ok
        packs[q] = json.loads((out / "cases" / "HIST-1" / "results.json").read_text())
    with open_history(folder / "vmo-history.duckdb") as h:
        t = mv.trend(h.case_frames("HIST-1")).set_index("quarter")
    assert list(t.index) == ["2024Q1", "2024Q2", "2024Q3"]
    for q, res in packs.items():
        for key in ("approved_npv", "in_force_npv", "expected_npv", "forward_npv", "realisation_pct"):
            a, b = t.loc[q, key], res[key]
            assert (a == b) or (b is None and math.isnan(a)), (q, key, a, b)
    # and the 2024Q3 pack prints each quarter's expected NPV as that quarter's pack printed it
    last = (tmp_path / "out-2024Q3" / "cases" / "HIST-1" / "pack.html").read_text()
    for q, res in packs.items():
        assert format_money(res["expected_npv"], "GBP") in last, q


def test_the_sparkline_colour_says_the_direction_of_the_last_move():
    from vmo_lib.outputs.charts import PALETTE
    from vmo_lib.outputs.movement import sparkline_svg

    fell, rose, flat = (sparkline_svg(v, [100.0] * 3) for v in ([80.0, 70.0, 60.0], [60.0, 50.0, 70.0], [5.0, 5.0, 5.0]))
    assert f'stroke="{PALETTE["loss"]}"' in fell and PALETTE["gain"] not in fell
    assert f'stroke="{PALETTE["gain"]}"' in rose and PALETTE["loss"] not in rose
    assert f'stroke="{PALETTE["ink"]}"' in flat

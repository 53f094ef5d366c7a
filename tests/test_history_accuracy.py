"""Estimating accuracy (vmo_lib.history.accuracy) on a small history built in code, every figure worked
by hand: closed cases' cost, benefit and schedule ratios, their t-intervals, the minimum-cases rule,
owners' forecast bias quarter to quarter, and the learned ratios fed to the reference class."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.history import accuracy as A
from vmo_lib.history.records import records_from_review
from vmo_lib.model import make_case
from vmo_lib.portfolio import reference_class

# t quantiles (two-sided 95%) from tables: t(0.975, 2) and t(0.975, 1)
T_975_2 = 4.302652729911275
T_975_1 = 12.706204736174707


def _closed(cid, *, sponsor, unit, ctype, go_live, cost_plan, cost_act, ben_plan, ben_act, conf="high",
            status="closed", btype="cash-releasing"):
    periods = ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    acts = [{"period": p, "line_id": "C1", "amount": a} for p, a in zip(periods, cost_act, strict=True) if a is not None]
    acts += [{"period": p, "line_id": "B1", "amount": a} for p, a in zip(periods, ben_act, strict=True) if a is not None]
    return make_case({"case_id": cid, "status": status, "sponsor": sponsor, "org_unit": unit, "case_type": ctype,
                      "first_period": "2026Q1", "horizon": 4, "go_live_period": go_live, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": cost_plan}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": ben_plan, "confidence": conf,
                                "benefit_type": btype, "owner": "Olga"}],
                     actuals=acts)


def _history(reviews):
    recs = [records_from_review(r) for r in reviews]
    return {k: pd.concat([x[k] for x in recs], ignore_index=True) for k in recs[0]}


CASES = {
    # cost 120/100 = 1.2; benefit 120/150 = 0.8; first benefit actual 2026Q3 (t2) vs approved 2026Q2 (t1):
    # slip 1, go-live 2026Q1 (t0): schedule (1 + 1) / 1 = 2.0, actual go-live 2026Q2
    "A": dict(sponsor="S1", unit="Finance", ctype="IT: outsourcing", go_live="2026Q1", cost_plan=[100, 0, 0, 0],
              cost_act=[120, 0, 0, 0], ben_plan=[0, 50, 50, 50], ben_act=[0, 0, 50, 70], conf="high"),
    # cost 0.9, benefit 1.0, on time: schedule 1.0
    "B": dict(sponsor="S1", unit="Finance", ctype="IT: outsourcing", go_live="2026Q1", cost_plan=[100, 0, 0, 0],
              cost_act=[90, 0, 0, 0], ben_plan=[0, 50, 50, 50], ben_act=[0, 50, 50, 50], conf="high"),
    # cost 300/200 = 1.5, benefit 80/100 = 0.8, go-live 2026Q2 (t1), benefits as planned from t2: schedule 1.0
    "C": dict(sponsor="S2", unit="Sales", ctype="Business change", go_live="2026Q2", cost_plan=[100, 100, 0, 0],
              cost_act=[150, 150, 0, 0], ben_plan=[0, 0, 50, 50], ben_act=[0, 0, 40, 40], conf="low",
              btype="non-cash-releasing"),
    # live: not counted
    "D": dict(sponsor="S1", unit="Finance", ctype="IT: outsourcing", go_live="2026Q1", cost_plan=[100, 0, 0, 0],
              cost_act=[500, 0, 0, 0], ben_plan=[0, 50, 50, 50], ben_act=[0, 10, 10, 10], status="live"),
    # closed but its last benefit period never reported: whole life not known, not counted
    "E": dict(sponsor="S1", unit="Finance", ctype="IT: outsourcing", go_live="2026Q1", cost_plan=[100, 0, 0, 0],
              cost_act=[500, 0, 0, 0], ben_plan=[0, 50, 50, 50], ben_act=[0, 10, 10, None]),
    # cancelled: counted only on request
    "F": dict(sponsor="S2", unit="Sales", ctype="Business change", go_live="2026Q2", cost_plan=[100, 100, 0, 0],
              cost_act=[130, 0, 0, 0], ben_plan=[0, 0, 50, 50], ben_act=[0, 0, 0, 0], status="cancelled"),
}


@pytest.fixture(scope="module")
def frames():
    reviews = []
    for q in ("2026Q3", "2026Q4"):  # two quarters on record: the latest one counts
        for cid, spec in CASES.items():
            reviews.append(review_case(_closed(cid, **spec), q, iterations=0))
    return _history(reviews)


def test_closed_case_outturns_by_hand(frames):
    o = A.case_outturns(frames).set_index("case_id")
    assert sorted(o.index) == ["A", "B", "C"]  # D live, E whole life not known, F cancelled
    assert (o["quarter"] == "2026Q4").all()
    assert o["cost_ratio"].to_dict() == pytest.approx({"A": 1.2, "B": 0.9, "C": 1.5})
    assert o["benefit_ratio"].to_dict() == pytest.approx({"A": 0.8, "B": 1.0, "C": 0.8})
    assert o["slip_periods"].to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0}
    assert o["schedule_ratio"].to_dict() == pytest.approx({"A": 2.0, "B": 1.0, "C": 1.0})
    assert o.loc["A", "actual_go_live_period"] == "2026Q2" and o.loc["A", "go_live_period"] == "2026Q1"
    assert (o.loc["C", "approved_cost"], o.loc["C", "actual_cost"]) == (200.0, 300.0)
    with_cancelled = A.case_outturns(frames, statuses=("closed", "cancelled")).set_index("case_id")
    assert with_cancelled.loc["F", "cost_ratio"] == pytest.approx(0.65)
    assert with_cancelled.loc["F", "benefit_ratio"] == 0.0 and math.isnan(with_cancelled.loc["F", "schedule_ratio"])


def test_accuracy_table_intervals_and_minimum_cases(frames):
    t = A.accuracy_table(frames).set_index(["dimension", "group", "measure"])
    allc = t.loc[("all", "all", "cost")]
    # cost ratios 1.2, 0.9, 1.5: mean 1.2, sample sd 0.3, t-interval 1.2 +- 4.3027 * 0.3 / sqrt(3)
    half = T_975_2 * 0.3 / math.sqrt(3)
    assert (allc["n"], allc["figure"]) == (3, "")
    assert allc["mean_ratio"] == pytest.approx(1.2) and allc["median_ratio"] == pytest.approx(1.2)
    assert (allc["ci_low"], allc["ci_high"]) == (pytest.approx(1.2 - half), pytest.approx(1.2 + half))
    assert round(allc["ci_low"], 4) == 0.4548 and round(allc["ci_high"], 4) == 1.9452
    # benefit 0.8, 1.0, 0.8: mean 0.8667, sd 0.11547
    b = t.loc[("all", "all", "benefit")]
    assert b["mean_ratio"] == pytest.approx(2.6 / 3) and b["median_ratio"] == pytest.approx(0.8)
    assert b["ci_high"] - b["mean_ratio"] == pytest.approx(T_975_2 * math.sqrt(0.04 / 3) / math.sqrt(3))
    # schedule 2.0, 1.0, 1.0
    assert t.loc[("all", "all", "schedule"), "mean_ratio"] == pytest.approx(4 / 3)
    # sponsor S1 has 2 cases: below the minimum of 3, shown as too few
    s1 = t.loc[("sponsor", "S1", "cost")]
    assert (s1["n"], s1["figure"]) == (2, "too few") and math.isnan(s1["mean_ratio"])
    assert t.loc[("sponsor", "S2", "cost"), "n"] == 1
    assert t.loc[("org_unit", "Finance", "benefit"), "figure"] == "too few"
    assert t.loc[("confidence", "high", "benefit"), "n"] == 2
    assert t.loc[("benefit_type", "cash-releasing", "benefit"), "n"] == 2
    assert t.loc[("benefit_type", "non-cash-releasing", "benefit"), "n"] == 1
    assert ("benefit_type", "cash-releasing", "cost") not in t.index  # benefit only
    # with a minimum of 2, S1's cost figure appears: 1.2 and 0.9, mean 1.05, sd 0.212132
    t2 = A.accuracy_table(frames, min_cases=2).set_index(["dimension", "group", "measure"])
    s1 = t2.loc[("sponsor", "S1", "cost")]
    assert s1["mean_ratio"] == pytest.approx(1.05)
    assert s1["ci_high"] == pytest.approx(1.05 + T_975_1 * math.sqrt(0.045) / math.sqrt(2))
    assert t2.loc[("confidence", "high", "benefit"), "mean_ratio"] == pytest.approx(0.9)
    assert t2.loc[("sponsor", "S2", "cost"), "figure"] == "too few"  # one case


def _owner_case(actuals, forecast):
    return make_case({"case_id": "FC", "status": "live", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
                     benefits=[{"line_id": "B1", "name": "Saving", "owner": "Olga", "amounts": [100, 100, 100, 100]},
                               {"line_id": "B2", "name": "Other", "owner": "Omar", "amounts": [50, 50, 50, 50]}],
                     actuals=[{"period": p, "line_id": lid, "amount": a} for p, lid, a in actuals],
                     forecast=[{"period": p, "line_id": lid, "amount": a} for p, lid, a in forecast])


def test_owner_forecast_bias_quarter_to_quarter():
    q1 = _owner_case([("2026Q1", "B1", 100), ("2026Q1", "B2", 50)],
                     [("2026Q2", "B1", 100), ("2026Q3", "B1", 100), ("2026Q2", "B2", 40)])
    q2 = _owner_case([("2026Q1", "B1", 100), ("2026Q2", "B1", 80), ("2026Q1", "B2", 50), ("2026Q2", "B2", 50)],
                     [("2026Q3", "B1", 90)])
    q3 = _owner_case([("2026Q1", "B1", 100), ("2026Q2", "B1", 80), ("2026Q3", "B1", 90),
                      ("2026Q1", "B2", 50), ("2026Q2", "B2", 50)], [])
    fr = _history([review_case(q1, "2026Q1", iterations=0), review_case(q2, "2026Q2", iterations=0),
                   review_case(q3, "2026Q3", iterations=0)])
    p = A.forecast_pairs(fr)
    got = {(r.owner, r.quarter, r.period): (r.forecast, r.actual, r.actual_quarter) for r in p.itertuples()}
    # Olga: at 2026Q1 forecast 100 for Q2 (actual 80) and 100 for Q3 (actual 90, reported 2026Q3);
    # at 2026Q2 forecast 90 for Q3 (actual 90). Omar: at 2026Q1 forecast 40 for Q2 (actual 50)
    assert got == {("Olga", "2026Q1", "2026Q2"): (100.0, 80.0, "2026Q3"),
                   ("Olga", "2026Q1", "2026Q3"): (100.0, 90.0, "2026Q3"),
                   ("Olga", "2026Q2", "2026Q3"): (90.0, 90.0, "2026Q3"),
                   ("Omar", "2026Q1", "2026Q2"): (40.0, 50.0, "2026Q3")}
    b = A.owner_forecast_bias(fr).set_index("owner")
    assert b.loc["Olga", "n"] == 3 and b.loc["Olga", "cases"] == 1
    assert b.loc["Olga", "mean_ratio"] == pytest.approx((0.8 + 0.9 + 1.0) / 3)
    assert b.loc["Olga", "ratio_of_totals"] == pytest.approx(260 / 290)
    assert (b.loc["Omar", "n"], b.loc["Omar", "figure"]) == (1, "too few") and math.isnan(b.loc["Omar", "mean_ratio"])
    assert A.owner_forecast_bias(fr, min_forecasts=1).loc[lambda d: d["owner"] == "Omar", "mean_ratio"].item() == 1.25


def test_learned_ratios_feed_the_reference_class(frames):
    learned = A.learned_ratios(frames)
    assert list(learned.columns) == ["case_id", "case_type", "status", "periods_reported", "cost_ratio",
                                     "benefit_ratio", "schedule_ratio", "slip_periods"]
    # the portfolio's own history has case A measured differently (stale) and one other case
    own = pd.DataFrame({"case_id": ["A", "Z"], "case_type": ["IT: outsourcing"] * 2, "cost_ratio": [9.0, 1.0],
                        "benefit_ratio": [1.0, 1.0], "schedule_ratio": [1.0, 1.0]})
    u = reference_class.reference_class_uplifts(own, by=None, learned=learned).set_index("measure")
    # pooled cost ratios: Z 1.0 and learned A 1.2, B 0.9, C 1.5 (A's stale 9.0 replaced):
    # sorted 0.9, 1.0, 1.2, 1.5; P50 = 1.1, P80 = h=2.4 -> 1.2 + 0.4 * 0.3 = 1.32
    assert int(u.loc["cost", "n"]) == 4
    assert u.loc["cost", "ratio_p50"] == pytest.approx(1.1) and u.loc["cost", "adjustment_p80"] == pytest.approx(0.32)
    # without learned ratios: unchanged behaviour
    u0 = reference_class.reference_class_uplifts(own, by=None).set_index("measure")
    assert int(u0.loc["cost", "n"]) == 2 and u0.loc["cost", "ratio_p50"] == pytest.approx(5.0)


def test_an_empty_history_gives_empty_tables():
    empty = {k: pd.DataFrame(columns=list(cols)) for k, cols in __import__(
        "vmo_lib.history.records", fromlist=["TABLES"]).TABLES.items()}
    assert len(A.case_outturns(empty)) == 0 and len(A.owner_forecast_bias(empty)) == 0
    t = A.accuracy_table(empty)
    assert len(t) == 0


def test_vmo_history_accuracy_json_and_text(frames, tmp_path, capsys):
    import json

    from vmo_lib.cli import main
    from vmo_lib.history.store import open_history

    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        for q in ("2026Q3", "2026Q4"):
            h.record_quarter(q, {k: v[v["quarter"] == q] for k, v in frames.items()}, run_id=f"run-{q}")
    before = path.read_bytes()
    assert main(["history", "accuracy", "--history", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quarters"] == ["2026Q3", "2026Q4"] and out["rules"]["min_cases"] == 3
    assert [c["case_id"] for c in out["closed_cases"]] == ["A", "B", "C"]
    row = next(r for r in out["accuracy"] if (r["dimension"], r["measure"]) == ("all", "cost"))
    assert row["n"] == 3 and row["mean_ratio"] == pytest.approx(1.2)
    assert row["ci_low"] == pytest.approx(1.2 - T_975_2 * 0.3 / math.sqrt(3))
    s1 = next(r for r in out["accuracy"] if (r["dimension"], r["group"], r["measure"]) == ("sponsor", "S1", "cost"))
    assert s1["figure"] == "too few" and s1["mean_ratio"] is None
    assert main(["history", "accuracy", "--history", str(path), "--include-cancelled", "--json"]) == 0
    assert [c["case_id"] for c in json.loads(capsys.readouterr().out)["closed_cases"]] == ["A", "B", "C", "F"]
    assert main(["history", "accuracy", "--history", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Closed cases counted (closed, whole life known): 3 — A, B, C" in text
    assert "1.20    0.45 – 1.95" in text
    assert main(["history", "accuracy", "--history", str(path), "--min-cases", "1"]) == 2
    assert "--min-cases must be at least 2" in capsys.readouterr().err
    assert path.read_bytes() == before  # read only


def test_portfolio_pack_section(frames):
    from types import SimpleNamespace

    from vmo_lib.outputs.accuracy import accuracy_section

    fr = {k: v.copy() for k, v in frames.items()}
    fr["case_quarter"].loc[fr["case_quarter"]["case_id"] == "C", "sponsor"] = "<b>S2</b>"
    own = pd.DataFrame({"case_id": ["Z"], "case_type": ["IT: outsourcing"], "cost_ratio": [1.0],
                        "benefit_ratio": [1.0], "schedule_ratio": [1.0]})
    h = accuracy_section(fr, SimpleNamespace(history=own)).html
    assert "<b>S2</b>" not in h and "&lt;b&gt;S2&lt;/b&gt;" in h
    assert "3 closed cases with their whole life known" in h
    assert "0.45 – 1.95" in h  # all cases' cost: 1.2, t-interval 0.4548 - 1.9452
    assert "too few" in h
    assert "3 closed case(s) from the history pooled with 1 case(s)" in h
    assert "No benefit forecast on record" in h
    assert "No quarterly history" in accuracy_section(None).html
    one = {k: v[v["case_id"].isin(["A", "D"])] for k, v in frames.items()}  # one closed case: nothing to show
    h1 = accuracy_section(one)
    assert "Too few closed cases for any figure yet: 1 on record, at least 3 needed" in h1.html
    assert "Interval 95" not in h1.html


def test_pack_section_does_not_repeat_appendix_c_and_fits_the_go_live_in_one_column(frames):
    from types import SimpleNamespace

    from vmo_lib.outputs.accuracy import accuracy_section
    from vmo_lib.portfolio import reference_class

    rep = A.accuracy_report(frames)
    own = pd.DataFrame({"case_id": ["Z"], "case_type": ["IT: outsourcing"], "cost_ratio": [1.0],
                        "benefit_ratio": [1.0], "schedule_ratio": [1.0]})
    pooled = reference_class.reference_class_uplifts(own, learned=rep["learned"])
    same = accuracy_section(frames, SimpleNamespace(history=own, uplifts=pooled)).html
    assert "same figures as the reference class of Appendix C" in same
    other = pooled.assign(ratio_p50=pooled["ratio_p50"] + 0.1)
    differs = accuracy_section(frames, SimpleNamespace(history=own, uplifts=other)).html
    assert "Appendix C" not in differs and differs.count("<table") == same.count("<table") + 1
    # case A went live one period late (2026Q1 approved, 2026Q2 actual): one column says it
    assert "2026Q1 → 2026Q2 (+1)" in same

"""Reviewing with the quarterly history: earlier quarters, replay as recorded, backfill, and `vmo review`.

One small case worked by hand (discount rate 0, so NPV = the sum of the flows), quarterly from 2024Q1
(all in the past whatever today is), six quarters:

* plan: cost C1 100 in 2024Q1; benefit B1 50 a quarter from 2024Q2 → approved NPV −100 + 5 × 50 = 150;
* actuals today: C1 120 (2024Q1), B1 40 (2024Q2) and 30 (2024Q3);
* forecast today: B1 20 in 2024Q4 and 2025Q1;
* forecast made in 2024Q2: B1 45 in 2024Q3 and 2024Q4.

Expected NPV as of 2024Q3: −120 + 40 + 30 + 20 + 20 + 50 = 40.
As of 2024Q2 from today's files (the 2024Q3 actual left out, no forecast for 2024Q3 → plan 50):
−120 + 40 + 50 + 20 + 20 + 50 = 60 ("reconstructed from today's files").
As of 2024Q2 with the forecasts recorded then: −120 + 40 + 45 + 45 + 50 + 50 = 110.
As of 2024Q1 from today's files: −120 + 50 + 50 + 20 + 20 + 50 = 70.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.batch import run_review
from vmo_lib.history.records import TABLES, records_from_review
from vmo_lib.history.replay import (
    AS_RECORDED,
    CURRENT,
    RECONSTRUCTED,
    backfill,
    case_as_recorded,
    case_upto,
    quarter_range,
    replay,
)
from vmo_lib.history.store import open_history
from vmo_lib.intake.loader import load_case
from vmo_lib.intake.template import write_case_workbook
from vmo_lib.model import make_case

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("papermill")

PROFILE = {"owner": "Ops", "kpi": "Cost", "unit": "GBP", "baseline_value": 100.0, "baseline_date": "2023-11-01",
           "target_value": 50.0, "target_date": "2025-12-31", "frequency": "quarterly", "data_source": "Ledger",
           "confidence": "medium"}
META = {"case_id": "HIST-1", "title": "History test", "sponsor": "CFO", "strategic_objective": "Save",
        "org_unit": "Ops", "approval_date": "2023-12-15", "first_period": "2024Q1", "horizon": 6,
        "go_live_period": "2024Q2", "discount_rate": 0.0}
ACTUALS = [{"period": "2024Q1", "line_id": "C1", "amount": 120.0}, {"period": "2024Q2", "line_id": "B1", "amount": 40.0},
           {"period": "2024Q3", "line_id": "B1", "amount": 30.0}]
FORECAST_TODAY = [{"period": "2024Q4", "line_id": "B1", "amount": 20.0},
                  {"period": "2025Q1", "line_id": "B1", "amount": 20.0}]
FORECAST_THEN = [{"period": "2024Q3", "line_id": "B1", "amount": 45.0},
                 {"period": "2024Q4", "line_id": "B1", "amount": 45.0}]


def case(actuals=ACTUALS, forecast=FORECAST_TODAY, case_id="HIST-1"):
    return make_case({**META, "case_id": case_id},
                     costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 0, 0, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Savings", "benefit_type": "cash-releasing", **PROFILE,
                                "amounts": [0, 50, 50, 50, 50, 50]}],
                     actuals=actuals, forecast=forecast)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal rows and values, missing text as None on both sides (the store gives None, pandas 3 NaN)."""
    def norm(df):
        return df.reset_index(drop=True).astype(object).where(df.reset_index(drop=True).notna(), None)
    pd.testing.assert_frame_equal(norm(got), norm(want), check_dtype=False)


def npv(c, q):
    return review_case(c, q, iterations=0).to_dict(detail=False)["expected_npv"]


# --- pure: the case as known then -------------------------------------------------------------------------
def test_hand_worked_figures():
    assert npv(case(), "2024Q3") == pytest.approx(40.0)
    assert npv(case(ACTUALS[:2], FORECAST_THEN), "2024Q2") == pytest.approx(110.0)


def test_earlier_quarter_uses_only_its_actuals_second_route():
    today = case()
    earlier = case_upto(today, "2024Q2")
    assert earlier.flows.query("scenario == 'actual'")["period"].tolist() == ["2024Q1", "2024Q2"]
    # second route: the same case written without the later actual
    assert npv(earlier, "2024Q2") == pytest.approx(npv(case(ACTUALS[:2]), "2024Q2")) == pytest.approx(60.0)


def test_case_as_recorded_puts_back_the_forecasts_of_then():
    rec = records_from_review(review_case(case(ACTUALS[:2], FORECAST_THEN), "2024Q2", iterations=0))
    replayed = case_as_recorded(case(), rec, "2024Q2")
    fc = replayed.flows[replayed.flows["scenario"] == "forecast"]
    assert fc[["period", "amount"]].values.tolist() == [["2024Q3", 45.0], ["2024Q4", 45.0]]
    assert npv(replayed, "2024Q2") == pytest.approx(110.0)
    # the replayed review gives back exactly the records of then
    again = records_from_review(review_case(replayed, "2024Q2", iterations=0))
    for t in ("line_quarter", "period_quarter"):
        assert_same(again[t], rec[t])
    with pytest.raises(KeyError, match="no 2024Q3 record"):
        case_as_recorded(case(), rec, "2024Q3")


def test_replay_says_which_basis():
    rec = records_from_review(review_case(case(ACTUALS[:2], FORECAST_THEN), "2024Q2", iterations=0))
    assert replay(case(), "2024Q3", None)[1] == CURRENT
    c, basis = replay(case(), "2024Q2", rec, latest="2024Q3")
    assert basis == AS_RECORDED and npv(c, "2024Q2") == pytest.approx(110.0)
    c, basis = replay(case(), "2024Q2", None)  # the later actual makes it an earlier quarter
    assert basis == RECONSTRUCTED and npv(c, "2024Q2") == pytest.approx(60.0)
    assert replay(case(ACTUALS[:2]), "2024Q2", None, latest="2024Q2")[1] == CURRENT  # a re-run of the latest


def test_quarter_range():
    assert quarter_range("2025Q1", "2026Q3") == ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2",
                                                 "2026Q3"]


# --- the loader and status: later actuals are left out with a note ----------------------------------------
@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    write_case_workbook(case(), d / "hist-1.xlsx")
    write_case_workbook(case(case_id="HIST-2"), d / "hist-2.xlsx")
    return d


def test_loading_an_earlier_quarter_leaves_later_actuals_out_with_a_warning(folder):
    c = load_case(folder / "hist-1.xlsx", as_of="2024Q2")
    assert c.flows.query("scenario == 'actual'")["period"].tolist() == ["2024Q1", "2024Q2"]
    left = c.issues[c.issues["rule"] == "actuals.after_review"]
    assert left["severity"].tolist() == ["warning"] and "2024Q3" in left["message"].iloc[0]
    assert npv(c, "2024Q2") == pytest.approx(60.0)


def _vmo(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "vmo_lib.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, **(env or {})})


def test_status_of_an_earlier_quarter_notes_what_it_is_built_from(folder):
    r = _vmo("status", folder / "hist-1.xlsx", "--as-of", "2024Q2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["expected_npv"] == pytest.approx(60.0)
    assert "1 later actual(s) or return(s) left out; figures reconstructed from today's files" in r.stderr
    history = folder / "vmo-history.duckdb"
    with open_history(history, read_only=False) as h:
        h.record_quarter("2024Q2", records_from_review(review_case(case(ACTUALS[:2], FORECAST_THEN), "2024Q2")),
                         run_id="then")
    r = _vmo("status", folder / "hist-1.xlsx", "--as-of", "2024Q2", "--json")
    assert json.loads(r.stdout)["expected_npv"] == pytest.approx(110.0)
    assert "the forecasts as recorded in 2024Q2" in r.stderr
    r = _vmo("status", folder / "hist-1.xlsx", "--as-of", "2024Q3", "--json")
    assert json.loads(r.stdout)["expected_npv"] == pytest.approx(40.0) and "note" not in r.stderr


# --- backfill ----------------------------------------------------------------------------------------------
def test_backfill_fills_exactly_the_missing_quarters(folder):
    history = folder / "vmo-history.duckdb"
    then = records_from_review(review_case(case(ACTUALS[:2], FORECAST_THEN), "2024Q2"))
    with open_history(history, read_only=False) as h:
        h.record_quarter("2024Q2", then, run_id="reviewed-then")

    got = backfill(folder, "2024Q1", "2024Q3", history)
    assert got == {"recorded": ["2024Q1", "2024Q3"], "skipped": ["2024Q2"], "failed": []}
    with open_history(history) as h:
        assert h.quarters() == ["2024Q1", "2024Q2", "2024Q3"]
        runs = h.runs()
        cq = h.frames()["case_quarter"]
        assert runs["kind"].tolist() == ["review", "backfill", "backfill"]
        assert [json.loads(x) for x in runs["reconstructed"]] == [[], ["HIST-1", "HIST-2"], ["HIST-1", "HIST-2"]]
        inputs = h.run_inputs(runs["run_id"].iloc[1])
        assert inputs["role"].tolist() == ["workbook", "workbook"] and inputs["sha256"].str.len().tolist() == [64, 64]
        # the recorded quarter untouched (110 with the forecasts of then), the backfilled ones from today's files:
        # 2024Q1: -120 + 50 + 50 + 20 + 20 + 50 = 70 (today's forecasts); 2024Q3: 40
        assert cq[cq["case_id"] == "HIST-1"][["quarter", "expected_npv"]].values.tolist() == [
            ["2024Q1", 70.0], ["2024Q2", 110.0], ["2024Q3", 40.0]]
        # a backfilled quarter equals the quarter reviewed with the same inputs
        want = records_from_review(review_case(load_case(folder / "hist-1.xlsx", as_of="2024Q3"), "2024Q3"))
        mine = h.case_frames("HIST-1")
        for t in TABLES:
            assert_same(mine[t][mine[t]["quarter"] == "2024Q3"], want[t])

    assert backfill(folder, "2024Q1", "2024Q3", history)["recorded"] == []
    r = _vmo("history", "backfill", folder, "--from", "2024Q2", "--to", "2024Q2", "--replace")
    assert r.returncode == 0 and "recorded 2024Q2" in r.stdout
    with open_history(history) as h:
        assert h.revisions()[["quarter", "replaced_run_id"]].values.tolist() == [["2024Q2", "reviewed-then"]]
        assert h.case_frames("HIST-1", upto="2024Q2")["case_quarter"]["expected_npv"].tolist() == [70.0, 60.0]
    r = _vmo("history", "show", "HIST-1", "--history", folder, "--json")
    assert [q["expected_npv"] for q in json.loads(r.stdout)["quarters"]] == [70.0, 60.0, 40.0]


# --- vmo review with the history ---------------------------------------------------------------------------
HISTORY_NB = '''# %% tags=["parameters"]
case_path = ""
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
review_file = ""
history_file = None

# %%
from vmo_lib.history.store import load_frames
from vmo_lib.outputs import html as report
frames = load_frames(history_file)
cq = None if frames is None else frames["case_quarter"]
report.write_results(out_dir, {"case_id": "x", "verdict": "on track", "rag": "green", "cards": [],
    "history_file": history_file,
    "quarters": None if cq is None else cq["quarter"].tolist(),
    "npvs": None if cq is None else cq["expected_npv"].tolist()})
'''


def _review(folder, out, as_of, nb, **kw):
    return run_review(folder, as_of, out, workers=1, progress="off", case_notebook=nb, portfolio_notebook="", **kw)


def _results(out, case_id="HIST-1"):
    return json.loads((out / "cases" / case_id / "results.json").read_text())


@pytest.mark.slow
def test_review_records_the_quarter_and_hands_the_notebook_its_history(folder, tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(HISTORY_NB)
    history = folder / "vmo-history.duckdb"
    backfill(folder, "2024Q1", "2024Q2", history)

    res = _review(folder, tmp_path / "out", "2024Q3", nb)
    assert res.ok
    got = _results(tmp_path / "out")
    assert got["quarters"] == ["2024Q1", "2024Q2", "2024Q3"] and got["npvs"] == [70.0, 60.0, 40.0]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["history"]["recorded"] is True and manifest["history"]["file"] == str(history)
    assert manifest["history"]["earlier_quarters"] == ["2024Q1", "2024Q2"]
    with open_history(history) as h:
        assert h.quarters() == ["2024Q1", "2024Q2", "2024Q3"]
        assert h.runs()["run_id"].iloc[-1] == manifest["run_id"]
        assert h.case_frames("HIST-2")["case_quarter"]["expected_npv"].tolist() == [70.0, 60.0, 40.0]

    # an earlier quarter reviewed again: the recorded (backfilled) forecasts, labelled, and a revision
    res = _review(folder, tmp_path / "out-q2", "2024Q2", nb)
    assert [c["basis"] for c in res.cases] == [AS_RECORDED, AS_RECORDED]
    assert _results(tmp_path / "out-q2")["npvs"] == [70.0, 60.0]  # only quarters up to 2024Q2
    pack = (tmp_path / "out-q2" / "cases" / "HIST-1" / "pack.html").read_text()
    assert f"actuals up to 2024Q2, {AS_RECORDED} (from the history)" in pack
    with open_history(history) as h:
        assert h.revisions()["quarter"].tolist() == ["2024Q2"]
        assert json.loads(h.runs()["reconstructed"].iloc[-1]) == ["HIST-1", "HIST-2"]  # still from today's files


def test_review_of_an_unrecorded_earlier_quarter_is_labelled_reconstructed(folder, tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(HISTORY_NB)
    res = _review(folder, tmp_path / "out", "2024Q2", nb)
    assert [c["basis"] for c in res.cases] == [RECONSTRUCTED, RECONSTRUCTED]
    assert _results(tmp_path / "out")["npvs"] == [60.0]
    assert RECONSTRUCTED in (tmp_path / "out" / "cases" / "HIST-1" / "pack.html").read_text()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["history"]["basis"] == {RECONSTRUCTED: ["HIST-1", "HIST-2"]}


def test_no_history_neither_reads_nor_writes(folder, tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(HISTORY_NB)
    res = _review(folder, tmp_path / "out", "2024Q3", nb, history=False)
    assert res.ok and _results(tmp_path / "out")["history_file"] is None
    assert not (folder / "vmo-history.duckdb").exists()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["history"] == {
        "file": None, "recorded": False, "reason": "--no-history"}


REVIEW = ("import sys\nfrom vmo_lib.batch import run_review\n"
          "run_review(sys.argv[1], '2024Q3', sys.argv[2], workers=1, progress='off', case_notebook=sys.argv[3], "
          "portfolio_notebook='', history=sys.argv[4])")


@pytest.mark.slow
def test_a_review_killed_while_recording_leaves_packs_and_history_as_before(folder, tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(HISTORY_NB)
    history = tmp_path / "h.duckdb"
    out = tmp_path / "out"
    backfill(folder, "2024Q1", "2024Q3", history)
    args = [sys.executable, "-c", REVIEW, str(folder), str(out), str(nb), str(history)]
    subprocess.run(args, cwd=ROOT, check=True, timeout=300)  # a first complete run
    with open_history(history) as h:
        before = (h.frames(), h.runs()["run_id"].tolist())
    first_run = json.loads((out / "manifest.json").read_text())["run_id"]
    assert before[1][-1] == first_run
    marker = tmp_path / "in-transaction"
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "VMO_TEST_HISTORY_PAUSE": "120", "VMO_TEST_HISTORY_MARKER": str(marker)})
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)  # inside the history transaction: packs built, not yet switched
    proc.wait()
    with open_history(history) as h:
        frames, runs = h.frames(), h.runs()["run_id"].tolist()
    assert runs == before[1]
    for t in TABLES:
        assert_same(frames[t], before[0][t])
    assert json.loads((out / "manifest.json").read_text())["run_id"] == first_run  # OUT: the previous run
    subprocess.run(args, cwd=ROOT, check=True, timeout=300)  # and a re-run records and switches
    with open_history(history) as h:
        assert h.revisions()["replaced_run_id"].tolist()[-1] == first_run
    assert json.loads((out / "manifest.json").read_text())["history"]["replaced_run_id"] == first_run


def test_a_locked_history_stops_the_review_with_exit_2(folder, tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text(HISTORY_NB)
    history = folder / "vmo-history.duckdb"
    backfill(folder, "2024Q1", "2024Q1", history)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, duckdb\ncon = duckdb.connect(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(600)"),
        str(history)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = _vmo("review", folder, "--as-of", "2024Q2", "--out", tmp_path / "out", "--history-wait", "0.5",
                 "--progress", "off")
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"vmo: {history}: the history is locked by another process" in r.stderr
    assert "waited 0.5 s, nothing was written" in r.stderr
    assert f"the review was not written and {tmp_path / 'out'} still holds the previous run" in r.stderr
    assert not (tmp_path / "out").exists()


PORTFOLIO_NB = '''# %% tags=["parameters"]
folder = ""
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
review_file = ""
history_file = None

# %%
from vmo_lib.history.store import load_frames
from vmo_lib.outputs import html as report
cq = load_frames(history_file)["case_quarter"]
report.write_results(out_dir, {"rows": cq[["quarter", "case_id", "expected_npv"]].values.tolist()})
'''


def test_the_portfolio_notebook_gets_every_case_of_every_quarter(folder, tmp_path):
    nb, pf = tmp_path / "nb.py", tmp_path / "pf.py"
    nb.write_text(HISTORY_NB)
    pf.write_text(PORTFOLIO_NB)
    backfill(folder, "2024Q1", "2024Q1", folder / "vmo-history.duckdb")
    res = run_review(folder, "2024Q2", tmp_path / "out", workers=1, progress="off", case_notebook=nb,
                     portfolio_notebook=pf)
    assert res.portfolio["status"] == "ok", res.portfolio
    rows = json.loads((tmp_path / "out" / "portfolio.results.json").read_text())["rows"]
    assert rows == [["2024Q1", "HIST-1", 70.0], ["2024Q1", "HIST-2", 70.0],
                    ["2024Q2", "HIST-1", 60.0], ["2024Q2", "HIST-2", 60.0]]

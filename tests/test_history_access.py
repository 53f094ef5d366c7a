"""Access to the quarterly history: `vmo history FOLDER [--case ID]`, `vmo history export DIR`, the
DataFrames of vmo_lib.history and the notebook notebooks/history.py.

A small history worked by hand (discount rate 0, so every NPV is the plain sum of the flows), two
cases reviewed at three quarters, each quarter with the actuals as they stood then:

* A (GBP): cost C1 100 in 2026Q1; benefit B1 50 a quarter 2026Q2-Q4 → approved NPV −100 + 150 = 50.
  Actuals: C1 100 (2026Q1), B1 40 (2026Q2), B1 30 (2026Q3).
  Expected NPV: 2026Q1 −100 + 150 = 50; 2026Q2 −100 + 40 + 50 + 50 = 40; 2026Q3 −100 + 40 + 30 + 50 = 20.
  Realisation (benefit actual ÷ plan to date): 2026Q2 40/50 = 0.8; 2026Q3 70/100 = 0.7.
* B (EUR): cost C1 200 in 2026Q1; benefit B1 100 a quarter 2026Q2-Q4 → approved 100.
  Actuals as planned: C1 200, B1 100, B1 100 → expected 100 every quarter; realisation 1.0.

Portfolio by quarter and currency: GBP expected 50, 40, 20 (one case); EUR 100, 100, 100. With both
in GBP (the ``same_currency`` history) the sums are 150, 140, 120 and the realisation of the sums
2026Q2 (40 + 100)/(50 + 100) = 0.9333, 2026Q3 (70 + 200)/(100 + 200) = 0.9.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from vmo_lib import history
from vmo_lib.analysis.review import review_case
from vmo_lib.cli import main
from vmo_lib.history import access
from vmo_lib.history.records import records_from_review
from vmo_lib.history.store import open_history
from vmo_lib.model import make_case

Q = ["2026Q1", "2026Q2", "2026Q3"]
ACTUALS = {
    "A": [("2026Q1", "C1", 100.0), ("2026Q2", "B1", 40.0), ("2026Q3", "B1", 30.0)],
    "B": [("2026Q1", "C1", 200.0), ("2026Q2", "B1", 100.0), ("2026Q3", "B1", 100.0)],
}


def _case(cid: str, quarter: str, currency: str):
    k = 1.0 if cid == "A" else 2.0
    actuals = [{"period": p, "line_id": line, "amount": a} for p, line, a in ACTUALS[cid] if p <= quarter]
    return make_case({"case_id": cid, "title": f"Case {cid}", "first_period": "2026Q1", "horizon": 4,
                      "discount_rate": 0.0, "currency": currency},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100 * k, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 50 * k, 50 * k, 50 * k]}],
                     actuals=actuals)


def build_history(path: Path, currencies=("GBP", "EUR")) -> Path:
    """The worked history above, recorded quarter by quarter as `vmo review` records it."""
    with open_history(path, read_only=False) as h:
        for q in Q:
            recs = [records_from_review(review_case(_case(cid, q, cur), q, iterations=0))
                    for cid, cur in zip(("A", "B"), currencies, strict=True)]
            frames = {t: pd.concat([r[t] for r in recs], ignore_index=True) for t in recs[0]}
            h.record_quarter(q, frames, run_id=f"run-{q}", kind="review", parameters={"as_of": q},
                             inputs=[{"case_id": "A", "path": "a.xlsx", "sha256": "0" * 64}])
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cases")
    build_history(d / "vmo-history.duckdb")
    return d


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def _nan_list(values):
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 6) for v in values]


# --- the DataFrames --------------------------------------------------------------------------------------------
def test_one_case_trend_is_the_figures_worked_by_hand(folder):
    t = history.trend(folder, "A")
    assert list(t.columns) == list(access.CASE_TREND_COLUMNS)
    assert t["quarter"].tolist() == Q
    assert t["approved_npv"].tolist() == [50.0, 50.0, 50.0]
    assert t["in_force_npv"].tolist() == [50.0, 50.0, 50.0]
    assert t["expected_npv"].tolist() == [50.0, 40.0, 20.0]
    assert _nan_list(t["realisation_pct"])[1:] == [0.8, 0.7]
    # verdict, RAG and decision: exactly what each quarter's review recorded
    for q, row in zip(Q, t.itertuples(index=False), strict=True):
        r = review_case(_case("A", q, "GBP"), q, iterations=0)
        d = r.to_dict(detail=False)
        assert (row.verdict, row.rag, row.decision) == (d["verdict"], d["rag"], r.decision)
    b = history.trend(folder / "vmo-history.duckdb", "B")       # the file itself works as well as its folder
    assert b["expected_npv"].tolist() == [100.0, 100.0, 100.0] and b["currency"].tolist() == ["EUR"] * 3


def test_portfolio_trend_sums_per_currency(folder):
    p = history.trend(folder)
    assert list(p.columns) == list(access.PORTFOLIO_TREND_COLUMNS)
    assert p[["quarter", "currency"]].values.tolist() == [[q, c] for q in Q for c in ("EUR", "GBP")]
    gbp, eur = p[p["currency"] == "GBP"], p[p["currency"] == "EUR"]
    assert gbp["expected_npv"].tolist() == [50.0, 40.0, 20.0] and eur["expected_npv"].tolist() == [100.0] * 3
    assert gbp["approved_npv"].tolist() == [50.0] * 3 and eur["approved_npv"].tolist() == [100.0] * 3
    assert gbp["cases"].tolist() == [1, 1, 1]
    assert _nan_list(gbp["realisation_pct"])[1:] == [0.8, 0.7] and _nan_list(eur["realisation_pct"])[1:] == [1.0, 1.0]


def test_portfolio_trend_of_one_currency_and_the_movement_sums_agree(tmp_path):
    path = build_history(tmp_path / "h.duckdb", currencies=("GBP", "GBP"))
    p = history.trend(path)
    assert p["expected_npv"].tolist() == [150.0, 140.0, 120.0]
    assert p["cases"].tolist() == [2, 2, 2]
    assert _nan_list(p["realisation_pct"])[1:] == [round(140 / 150, 6), 0.9]
    # a second method: the portfolio pack's sums (pandas, vmo_lib.history.movement) over the same frames
    from vmo_lib.history.movement import portfolio_by_quarter

    mine = portfolio_by_quarter(history.frames(path))
    assert mine["expected_npv"].tolist() == p["expected_npv"].tolist()
    assert mine["realised"].tolist() == p["benefit_actual_to_date"].fillna(0).tolist() == [0.0, 140.0, 270.0]


def test_frames_of_one_case_and_errors(folder, tmp_path):
    f = history.frames(folder, "A")
    assert set(f["case_quarter"]["case_id"]) == {"A"} and len(f["case_quarter"]) == 3
    assert set(f["line_quarter"]["line_id"]) == {"B1", "C1"}
    with pytest.raises(Exception, match=r"no quarter recorded for case 'Z'; cases recorded: A, B"):
        history.trend(folder, "Z")
    with pytest.raises(Exception, match=r"has no vmo-history.duckdb; `vmo review FOLDER` records"):
        history.trend(tmp_path)


# --- the command line ------------------------------------------------------------------------------------------
def test_vmo_history_folder_prints_the_portfolio_trend(folder, capsys):
    code, out, err = run(capsys, "history", folder)
    assert code == 0, err
    assert "Portfolio value by review quarter" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("2026Q3") and "GBP" in ln]
    assert len(lines) == 1 and "£20" in lines[0] and "70%" in lines[0]
    code, out2, _ = run(capsys, "history", "trend", folder)     # the long form says the same
    assert code == 0 and out2 == out


def test_vmo_history_folder_case_json(folder, capsys):
    code, out, err = run(capsys, "history", folder, "--case", "A", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["case_id"] == "A" and d["title"] == "Case A" and d["currency"] == "GBP"
    assert [r["quarter"] for r in d["trend"]] == Q
    assert [r["expected_npv"] for r in d["trend"]] == [50.0, 40.0, 20.0]
    assert [r["realisation_pct"] for r in d["trend"]][1:] == [0.8, 0.7]
    assert set(d["trend"][0]) == {"quarter", "approved_npv", "in_force_npv", "expected_npv", "forward_npv",
                                  "realisation_pct", "verdict", "rag", "decision", "case_status", "baseline_in_force"}
    code, out, err = run(capsys, "history", "trend", "--history", folder / "vmo-history.duckdb", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["case_id"] is None
    gbp = [r for r in d["trend"] if r["currency"] == "GBP"]
    assert [r["expected_npv"] for r in gbp] == [50.0, 40.0, 20.0] and gbp[0]["realisation_pct"] is None
    code, out, _ = run(capsys, "history", folder, "--case", "A")
    assert code == 0 and "A — Case A" in out and "£40" in out


def test_vmo_history_bad_words_and_missing_histories_say_what_is_wrong(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "history", "quartrs")
    assert code == 2 and "neither a sub-command (quarters, runs" in err and "Traceback" not in err
    code, out, err = run(capsys, "history", tmp_path)
    assert code == 2 and "has no vmo-history.duckdb" in err
    code, out, err = run(capsys, "history", folder, "--case", "Z")
    assert code == 1 and "no quarter recorded for case 'Z'; cases recorded: A, B" in err
    # the sub-commands are still sub-commands
    code, out, err = run(capsys, "history", "quarters", "--history", folder, "--json")
    assert code == 0 and [q["quarter"] for q in json.loads(out)["quarters"]] == Q


# --- Parquet export --------------------------------------------------------------------------------------------
def _read_back(table_dir: Path) -> pd.DataFrame:
    return duckdb.sql(f"SELECT * FROM read_parquet('{table_dir}/**/*.parquet', hive_partitioning = true, "
                      "hive_types_autocast = false)").df()


def _norm(df: pd.DataFrame, cols, keys) -> pd.DataFrame:
    df = df[list(cols)].sort_values(list(keys), kind="stable").reset_index(drop=True)
    return df.astype(object).where(df.notna(), None)


def test_export_writes_one_folder_per_table_partitioned_by_quarter_equal_to_the_tables(folder, tmp_path, capsys):
    out = tmp_path / "pq"
    code, text, err = run(capsys, "history", "export", out, "--history", folder, "--json")
    assert code == 0, err
    rows = json.loads(text)["rows"]
    assert sorted(p.name for p in out.iterdir()) == sorted(access.EXPORT_TABLES)
    assert sorted(p.name for p in (out / "case_quarter").iterdir()) == [f"quarter={q}" for q in Q]
    assert rows["case_quarter"] == 6 and rows["runs"] == 3 and rows["revisions"] == 0
    with open_history(folder / "vmo-history.duckdb") as h:
        frames, runs, inputs = h.frames(), h.runs(), h.run_inputs()
    keys = {"case_quarter": ("quarter", "case_id"), "line_quarter": ("quarter", "case_id", "kind", "line_id"),
            "period_quarter": ("quarter", "case_id", "kind", "line_id", "period")}
    for name, df in frames.items():
        back = _read_back(out / name)
        assert len(back) == len(df) == rows[name]
        pd.testing.assert_frame_equal(_norm(back, df.columns, keys[name]), _norm(df, df.columns, keys[name]))
    back = _read_back(out / "runs")
    assert sorted(back["run_id"]) == sorted(runs["run_id"]) == ["run-2026Q1", "run-2026Q2", "run-2026Q3"]
    assert dict(zip(back["run_id"], back["quarter"], strict=True)) == dict(zip(runs["run_id"], runs["quarter"],
                                                                              strict=True))
    back = _read_back(out / "run_inputs")
    assert len(back) == len(inputs) == 3 and set(back["quarter"]) == set(Q)
    assert duckdb.sql(f"SELECT version FROM read_parquet('{out}/schema_info/*.parquet')").fetchall() == [(2,)]


def test_export_refuses_a_folder_in_use_replaces_on_request_and_a_failure_leaves_nothing(folder, tmp_path,
                                                                                          capsys, monkeypatch):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "history", "export", out, "--history", folder)
    assert code == 1 and "exists and is not empty" in err and (out / "keep.txt").read_text() == "mine"
    # a failure half-way (after some tables were written): the old folder intact, no temporary left
    real = access.EXPORT_TABLES
    monkeypatch.setattr(access, "EXPORT_TABLES", (*real[:2], "no_such_table"))
    with pytest.raises(KeyError):
        access.export_parquet(folder, out, replace=True)
    assert sorted(os.listdir(tmp_path)) == ["pq"] and os.listdir(out) == ["keep.txt"]
    with pytest.raises(KeyError):
        access.export_parquet(folder, tmp_path / "new")
    assert sorted(os.listdir(tmp_path)) == ["pq"]
    monkeypatch.setattr(access, "EXPORT_TABLES", real)
    code, text, err = run(capsys, "history", "export", out, "--history", folder, "--replace")
    assert code == 0, err
    assert not (out / "keep.txt").exists() and (out / "case_quarter" / "quarter=2026Q3").is_dir()
    assert sorted(os.listdir(tmp_path)) == ["pq"]


def test_dask_reads_the_export(folder, tmp_path):
    pytest.importorskip("pyarrow")        # dask.dataframe.read_parquet needs pyarrow
    import dask.dataframe as dd

    out = tmp_path / "pq"
    access.export_parquet(folder, out)
    ddf = dd.read_parquet(str(out / "case_quarter"))
    got = ddf.compute().sort_values(["quarter", "case_id"])
    assert got["expected_npv"].tolist() == [50.0, 100.0, 40.0, 100.0, 20.0, 100.0]


# --- the notebook ----------------------------------------------------------------------------------------------
@pytest.mark.xdist_group("papermill")
def test_history_notebook_runs_with_papermill(folder, tmp_path):
    import nbformat
    import papermill

    from vmo_lib.batch import NOTEBOOK_DIR, prepare_notebook

    src = NOTEBOOK_DIR / "history.py"
    assert src.is_symlink() and src.resolve() == (Path(__file__).resolve().parents[1] / "notebooks" / "history.py")
    nb = prepare_notebook(src, tmp_path / "history.ipynb", required=("history_path", "case_id"))
    assert not any(c.get("outputs") for c in nbformat.read(str(nb), as_version=4).cells)  # committed without outputs
    done = tmp_path / "done.ipynb"
    papermill.execute_notebook(str(nb), str(done), parameters={"history_path": str(folder), "case_id": "A"},
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path), start_timeout=60)
    cells = nbformat.read(str(done), as_version=4).cells
    text = "\n".join(json.dumps(o.get("data", {})) + o.get("text", "") for c in cells for o in c.get("outputs", []))
    assert "3 quarters on record (2026Q1 to 2026Q3), 2 cases; looking at A" in text
    assert "Portfolio value by quarter" in text and "Movement since last quarter" in text
    assert "What changed since 2026Q2" in text

"""The quarterly history store (vmo_lib.history.store): round trip, revisions, kills, locks, schema versions.

The figures are those of a small case worked by hand (discount rate 0, so NPV = sum of flows):
costs C1 = 100 in 2026Q1 (actual 110), benefit B1 = 100 in 2026Q2 and 2026Q3 (actual 80 in 2026Q2).
As of 2026Q1 the expected NPV is -110 + 100 + 100 = 90; as of 2026Q2 it is -110 + 80 + 100 = 70.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.history.records import TABLES, records_from_review
from vmo_lib.history.store import (
    SCHEMA_VERSION,
    HistoryLocked,
    HistorySchemaError,
    empty_frames,
    load_frames,
    open_history,
    save_frames,
)
from vmo_lib.model import make_case

ROOT = Path(__file__).resolve().parents[1]


def small_case(case_id: str = "X"):
    return make_case({"case_id": case_id, "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
                              {"period": "2026Q2", "line_id": "B1", "amount": 80}])


def quarter_frames(quarter: str, ids=("X", "Y")) -> dict[str, pd.DataFrame]:
    recs = [records_from_review(review_case(small_case(i), quarter, iterations=0)) for i in ids]
    return {t: pd.concat([r[t] for r in recs], ignore_index=True) for t in TABLES}


def assert_frames_equal(got, want):
    for t in TABLES:
        pd.testing.assert_frame_equal(got[t].reset_index(drop=True), want[t].reset_index(drop=True),
                                      check_dtype=False, obj=t)


def test_round_trip_gives_back_records_from_review(tmp_path):
    q1 = quarter_frames("2026Q1")
    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        h.record_quarter("2026Q1", q1, run_id="run-1", inputs=[{"case_id": "X", "path": "x.xlsx", "sha256": "ab"}])
    with open_history(path) as h:
        assert h.version == SCHEMA_VERSION
        assert h.quarters() == ["2026Q1"]
        assert_frames_equal(h.frames(), q1)
        x = h.case_frames("X")
        assert x["case_quarter"]["expected_npv"].tolist() == [90.0]
        assert x["period_quarter"]["amount"].tolist() == [110.0, 0.0, 0.0, 0.0, 100.0, 100.0]
        assert h.run_inputs("run-1")[["case_id", "role", "path", "sha256"]].values.tolist() == [
            ["X", "workbook", "x.xlsx", "ab"]]
        assert h.runs()["cases"].tolist() == [2]


def test_case_frames_upto_and_sorted_by_quarter(tmp_path):
    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        h.record_quarter("2026Q2", quarter_frames("2026Q2"), run_id="b")  # recorded out of order
        h.record_quarter("2026Q1", quarter_frames("2026Q1"), run_id="a")
    with open_history(path) as h:
        x = h.case_frames("X")
        assert x["case_quarter"][["quarter", "expected_npv"]].values.tolist() == [["2026Q1", 90.0], ["2026Q2", 70.0]]
        assert h.case_frames("X", upto="2026Q1")["case_quarter"]["quarter"].tolist() == ["2026Q1"]
        assert h.frames(upto="2026Q1")["case_quarter"]["case_id"].tolist() == ["X", "Y"]
        assert h.case_frames("nobody")["line_quarter"].empty


def test_missing_file_reads_as_empty_history(tmp_path):
    with open_history(tmp_path / "none.duckdb") as h:
        assert h.quarters() == [] and h.frames()["case_quarter"].empty and h.runs().empty
    assert not (tmp_path / "none.duckdb").exists()


def test_rerunning_a_quarter_replaces_its_rows_and_logs_a_revision(tmp_path):
    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        h.record_quarter("2026Q1", quarter_frames("2026Q1"), run_id="first")
        h.record_quarter("2026Q2", quarter_frames("2026Q2"), run_id="q2")
        h.record_quarter("2026Q1", quarter_frames("2026Q1", ids=("X",)), run_id="second")
    with open_history(path) as h:
        cq = h.frames()["case_quarter"]
        assert cq[["quarter", "case_id"]].values.tolist() == [["2026Q1", "X"], ["2026Q2", "X"], ["2026Q2", "Y"]]
        rev = h.revisions()
        assert rev[["quarter", "run_id", "replaced_run_id"]].values.tolist() == [["2026Q1", "second", "first"]]
        assert h.runs()["run_id"].tolist() == ["first", "q2", "second"]
        # identical inputs give identical records
        assert_frames_equal(h.frames(upto="2026Q1"), quarter_frames("2026Q1", ids=("X",)))


def test_a_quarter_with_rows_of_another_quarter_is_refused(tmp_path):
    with open_history(tmp_path / "h.duckdb", read_only=False) as h, pytest.raises(Exception, match="2026Q2"):
        h.record_quarter("2026Q2", quarter_frames("2026Q1"), run_id="x")


def test_frames_hand_over_file_round_trip(tmp_path):
    q1 = quarter_frames("2026Q1")
    p = save_frames(q1, tmp_path / "x" / "frames.pickle")
    assert_frames_equal(load_frames(p), q1)
    assert sorted(load_frames(save_frames({}, tmp_path / "e.pickle"))) == sorted(TABLES)
    assert load_frames(None) is None
    assert all(list(df.columns) == list(TABLES[t]) for t, df in empty_frames().items())


# --- kills, locks -----------------------------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from test_history_store import quarter_frames
    from vmo_lib.history.store import open_history
    frames = quarter_frames("2026Q2")
    with open_history(sys.argv[1], read_only=False, timeout=float(sys.argv[2])) as h:
        h.record_quarter("2026Q2", frames, run_id="killed")
    print("recorded")
""")


def _writer(path: Path, env: dict | None = None, timeout: float = 30.0) -> subprocess.Popen:
    code = WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"))
    return subprocess.Popen([sys.executable, "-c", code, str(path), str(timeout)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def _previous_state(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        h.record_quarter("2026Q1", quarter_frames("2026Q1"), run_id="kept")
        h.record_quarter("2026Q2", quarter_frames("2026Q2", ids=("X",)), run_id="old-q2")
    with open_history(path) as h:
        return path, {"frames": h.frames(), "runs": h.runs()["run_id"].tolist(), "rev": len(h.revisions())}


def test_kill_inside_the_transaction_leaves_the_history_as_before(tmp_path):
    path, before = _previous_state(tmp_path)
    marker = tmp_path / "in-transaction"
    proc = _writer(path, {"VMO_TEST_HISTORY_PAUSE": "600", "VMO_TEST_HISTORY_MARKER": str(marker)})
    _wait_for(marker, proc)  # the old 2026Q2 rows are deleted and the new ones inserted, not committed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_history(path) as h:
        assert_frames_equal(h.frames(), before["frames"])
        assert h.frames()["case_quarter"][["quarter", "case_id"]].values.tolist() == [
            ["2026Q1", "X"], ["2026Q1", "Y"], ["2026Q2", "X"]]
        assert h.runs()["run_id"].tolist() == ["kept", "old-q2"] and h.revisions().empty
    with open_history(path, read_only=False) as h:  # and it can be written again
        h.record_quarter("2026Q2", quarter_frames("2026Q2"), run_id="again")
    with open_history(path) as h:
        assert h.frames()["case_quarter"]["case_id"].tolist() == ["X", "Y", "X", "Y"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_a_random_moment_leaves_either_the_old_or_the_whole_new_quarter(tmp_path, seed):
    path, before = _previous_state(tmp_path)
    new = quarter_frames("2026Q2")
    proc = _writer(path)
    time.sleep(random.Random(seed).uniform(0.5, 4.0))  # somewhere in start-up, review or the write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_history(path) as h:
        runs = h.runs()["run_id"].tolist()
        frames = h.frames()
    if runs == before["runs"]:
        assert_frames_equal(frames, before["frames"])
    else:
        assert runs == [*before["runs"], "killed"]
        assert_frames_equal({t: frames[t][frames[t]["quarter"] == "2026Q2"] for t in TABLES}, new)


def test_a_second_writer_waits_then_exits_naming_the_file(tmp_path):
    path, before = _previous_state(tmp_path)
    marker = tmp_path / "in-transaction"
    holder = _writer(path, {"VMO_TEST_HISTORY_PAUSE": "600", "VMO_TEST_HISTORY_MARKER": str(marker)})
    try:
        _wait_for(marker, holder)
        second = _writer(path, timeout=1.0)
        out, err = second.communicate(timeout=300)
        assert second.returncode != 0
        assert "HistoryLocked" in err and f"{path}: the history is locked by another process" in err
        assert "waited 1 s, nothing was written" in err
        # the CLI says the same in one line and exits 2
        cli = subprocess.run([sys.executable, "-m", "vmo_lib.cli", "history", "quarters", "--history", str(path),
                              "--wait", "0.5"], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert cli.returncode == 2 and "Traceback" not in cli.stderr
        assert cli.stderr.startswith(f"vmo: {path}: the history is locked by another process")
    finally:
        holder.kill()
        holder.wait()
    with open_history(path) as h:
        assert_frames_equal(h.frames(), before["frames"])


def test_locked_error_is_raised_in_process_for_a_held_lock(tmp_path):
    path, _ = _previous_state(tmp_path)
    marker = tmp_path / "in-transaction"
    holder = _writer(path, {"VMO_TEST_HISTORY_PAUSE": "600", "VMO_TEST_HISTORY_MARKER": str(marker)})
    try:
        _wait_for(marker, holder)
        with pytest.raises(HistoryLocked, match="locked by another process"), open_history(path, timeout=0.2):
            pass
    finally:
        holder.kill()
        holder.wait()


# --- schema versions ---------------------------------------------------------------------------------------
def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path, _ = _previous_state(tmp_path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE schema_info SET version = ?", [SCHEMA_VERSION + 1])
    con.close()
    for read_only in (True, False):
        with pytest.raises(HistorySchemaError, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer"), \
                open_history(path, read_only=read_only):
            pass
    cli = subprocess.run([sys.executable, "-m", "vmo_lib.cli", "history", "runs", "--history", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert cli.returncode == 2 and "newer VMO Workbench" in cli.stderr and "Traceback" not in cli.stderr


def test_a_file_that_is_not_a_history_is_refused(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    with pytest.raises(HistorySchemaError, match="not a VMO history"), open_history(path, read_only=False):
        pass


def _version_1_file(path: Path) -> None:
    """A history as version 1 wrote it: run inputs as JSON in runs.inputs, no run_inputs table, and
    line_quarter without its last column (as if records.py gained it later)."""
    q1 = quarter_frames("2026Q1")
    con = duckdb.connect(str(path))
    for name, cols in TABLES.items():
        cols = {**cols, "_row": "INTEGER"}
        if name == "line_quarter":
            cols.pop("rag_reason")
        con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols.items())})")
        df = q1[name].drop(columns=["rag_reason"] if name == "line_quarter" else [])
        df["_row"] = range(len(df))
        con.register("df", df)
        con.execute(f"INSERT INTO {name} SELECT * FROM df")
        con.unregister("df")
    con.execute("CREATE TABLE runs (run_id VARCHAR, quarter VARCHAR, kind VARCHAR, started TIMESTAMP, "
                "finished TIMESTAMP, tool_version VARCHAR, parameters VARCHAR, inputs VARCHAR, cases INTEGER, "
                "reconstructed VARCHAR)")
    inputs = json.dumps([{"case_id": "X", "path": "x.xlsx", "sha256": "aa"},
                         {"case_id": "Y", "path": "y.xlsx", "sha256": "bb"}])
    con.execute("INSERT INTO runs VALUES ('v1-run', '2026Q1', 'review', TIMESTAMP '2026-04-01 09:00:00', "
                "TIMESTAMP '2026-04-01 09:05:00', '0.1.0', '{}', ?, 2, '[]')", [inputs])
    con.execute("CREATE TABLE revisions (quarter VARCHAR, run_id VARCHAR, replaced_run_id VARCHAR, "
                "replaced_at TIMESTAMP)")
    con.execute("CREATE TABLE schema_info (version INTEGER, written_by VARCHAR, migrated_at TIMESTAMP)")
    con.execute("INSERT INTO schema_info VALUES (1, '0.1.0', TIMESTAMP '2026-04-01 09:00:00')")
    con.close()


def test_an_older_schema_is_read_as_is_and_migrated_when_written(tmp_path):
    path = tmp_path / "v1.duckdb"
    _version_1_file(path)
    q1 = quarter_frames("2026Q1")
    with open_history(path) as h:  # read-only: nothing changes, the missing column reads as empty
        assert h.version == 1
        lq = h.frames()["line_quarter"]
        assert lq["rag_reason"].isna().all()
        assert_frames_equal({**h.frames(), "line_quarter": lq.drop(columns="rag_reason")},
                            {**q1, "line_quarter": q1["line_quarter"].drop(columns="rag_reason")})
    with open_history(path, read_only=False) as h:
        assert h.version == SCHEMA_VERSION
        h.record_quarter("2026Q2", quarter_frames("2026Q2"), run_id="v2-run",
                         inputs=[{"case_id": "X", "path": "x.xlsx", "sha256": "cc"}])
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT version FROM schema_info").fetchall() == [(SCHEMA_VERSION,)]
    assert "inputs" not in [r[0] for r in con.execute("DESCRIBE runs").fetchall()]
    con.close()
    with open_history(path) as h:
        assert h.run_inputs()[["run_id", "case_id", "sha256"]].values.tolist() == [
            ["v1-run", "X", "aa"], ["v1-run", "Y", "bb"], ["v2-run", "X", "cc"]]
        q2 = quarter_frames("2026Q2")
        got = h.frames()
        assert_frames_equal({t: got[t][got[t]["quarter"] == "2026Q2"] for t in TABLES}, q2)
        assert got["case_quarter"]["expected_npv"].tolist() == [90.0, 90.0, 70.0, 70.0]


def test_portfolio_trend_sums_the_cases_of_each_quarter(tmp_path):
    path = tmp_path / "h.duckdb"
    with open_history(path, read_only=False) as h:
        h.record_quarter("2026Q1", quarter_frames("2026Q1"), run_id="a")
        h.record_quarter("2026Q2", quarter_frames("2026Q2", ids=("X", "Y", "Z")), run_id="b")
    with open_history(path) as h:
        trend = h.portfolio_trend()
        # approved NPV of each case: -100 + 100 + 100 = 100; expected 90 as of 2026Q1, 70 as of 2026Q2;
        # benefit actuals 80 each by 2026Q2 (none due by 2026Q1: no figure)
        assert trend[["quarter", "cases", "approved_npv", "expected_npv"]].values.tolist() == [
            ["2026Q1", 2, 200.0, 180.0], ["2026Q2", 3, 300.0, 210.0]]
        assert trend["benefit_actual_to_date"].isna().tolist() == [True, False]
        assert trend["benefit_actual_to_date"].iloc[1] == 240.0
        assert h.case_rows(upto="2026Q1")["case_id"].tolist() == ["X", "Y"]

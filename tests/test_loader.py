"""load_case / load_portfolio and the `vmo validate` command, on workbooks written by the template."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import VALID_META

from vmo_lib import load_case, load_portfolio, schema
from vmo_lib.cli import main
from vmo_lib.errors import ValidationError, WorkbookError
from vmo_lib.intake.loader import validate_workbook, workbook_files
from vmo_lib.model import make_case

AS_OF = "2026Q3"


def _flows(case) -> pd.DataFrame:
    f = case.flows[["line_id", "kind", "period", "t", "scenario", "amount", "kpi_value"]]
    return f.sort_values(["scenario", "line_id", "t"]).reset_index(drop=True).astype(
        {"line_id": object, "kind": object, "period": object, "scenario": object})


# --- load_case ---------------------------------------------------------------------------------------
def test_round_trip_reproduces_the_case_written(workbook_factory, case_factory):
    case = case_factory()
    loaded = load_case(workbook_factory(case), as_of=AS_OF)
    # RB1 lists only C1; the workbook restates C2, B1 and B2 as a 0 in period 0 (zero under RB1 in
    # the model and in the workbook alike), so the loaded flows hold those three zeros more.
    f = _flows(loaded)
    restated = f["scenario"].eq("rebaseline:RB1") & f["line_id"].isin(["C2", "B1", "B2"])
    assert f[restated][["line_id", "t", "amount"]].values.tolist() == [["B1", 0, 0.0], ["B2", 0, 0.0], ["C2", 0, 0.0]]
    pd.testing.assert_frame_equal(f[~restated].reset_index(drop=True), _flows(case))
    for scenario in case.scenarios:
        pd.testing.assert_frame_equal(loaded.matrix(scenario), case.matrix(scenario))
    assert loaded.lines["line_id"].tolist() == ["C1", "C2", "B1", "B2"]
    assert loaded.lines["kind"].tolist() == ["cost", "cost", "benefit", "benefit"]
    assert loaded.rebaseline_versions == ["RB1"]
    assert loaded.baselines["approved"].tolist() == [dt.date(2026, 6, 30)]
    assert loaded.issues.empty


def test_net_flow_matches_the_hand_worked_sums(workbook_factory):
    loaded = load_case(workbook_factory(), as_of=AS_OF)
    # costs C1 100,100,50 and C2 0,0,10x6; benefits B1 0,0,0,40x5 and dis-benefit B2 0,0,-5,-5
    assert loaded.net_flow("baseline").tolist() == [-100, -100, -65, 25, 30, 30, 30, 30]
    actual = loaded.flows[loaded.flows["scenario"] == "actual"].set_index(["period", "line_id"])
    assert actual.loc[("2026Q2", "C1"), "amount"] == 120.0
    assert actual.loc[("2026Q2", "C1"), "comment"] == "licence true-up"
    assert actual.loc[("2026Q3", "B2"), "kpi_value"] == 35.0


def test_meta_is_typed(workbook_factory):
    m = load_case(workbook_factory(), as_of=AS_OF).meta
    assert m["approval_date"] == dt.date(2025, 12, 15) and type(m["approval_date"]) is dt.date
    assert m["horizon"] == 8 and type(m["horizon"]) is int
    assert m["base_year"] == 2026 and type(m["base_year"]) is int
    assert m["discount_rate"] == 0.08 and type(m["discount_rate"]) is float
    assert (m["first_period"], m["go_live_period"], m["template_version"]) == ("2026Q1", "2026Q3", schema.TEMPLATE_VERSION)
    assert m["ob_capex"] is None


def test_benefit_profile_dates_are_dates(workbook_factory):
    lines = load_case(workbook_factory(), as_of=AS_OF).lines.set_index("line_id")
    assert lines.loc["B1", "baseline_date"] == dt.date(2025, 11, 1)
    assert lines.loc["B1", "target_value"] == 90.0
    assert lines.loc["C1", "likely"] == 250.0


def test_a_yearly_case_round_trips_with_year_labels(workbook_factory, case_factory):
    case = case_factory(first_period="2026", period_length="year", horizon=5, go_live_period="2027",
                        costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [500, 100]}],
                        benefits=[{**case_factory().lines.iloc[2].dropna().to_dict(), "amounts": [0, 0, 300, 300, 300]}],
                        actuals=[{"period": "2026", "line_id": "C1", "amount": 520.0}], forecast=[], rebaselines=[])
    loaded = load_case(workbook_factory(case), as_of=AS_OF)
    assert loaded.periods == ["2026", "2027", "2028", "2029", "2030"]
    assert loaded.net_flow().tolist() == [-500, -100, 300, 300, 300]


def test_warnings_travel_with_the_case(workbook_factory):
    def edit(wb):
        wb["Case"]["A40"], wb["Case"]["B40"] = "Colour", "blue"
    case = load_case(workbook_factory(edit=edit), as_of=AS_OF)
    assert case.issues[["sheet", "cell", "rule", "severity"]].values.tolist() == [
        ["Case", "A40", "case.unknown_field", "warning"]]


def test_number_stored_as_text_is_used_as_the_number(workbook_factory):
    def edit(wb):
        wb["Costs"]["K5"] = " 110 "  # C1, 2026Q1 (was 100; periods start at K); likely 250 stays within 10%
    case = load_case(workbook_factory(edit=edit), as_of=AS_OF)
    assert case.matrix("baseline").loc["C1", 0] == 110.0
    assert case.issues["rule"].tolist() == ["value.number_as_text"]


def test_errors_raise_one_exception_with_the_whole_table(workbook_factory):
    def edit(wb):
        wb["Costs"]["L6"] = -100
        wb["Benefits"]["D5"] = None
        wb["Case"]["A40"] = "Colour"
    with pytest.raises(ValidationError) as err:
        load_case(workbook_factory(edit=edit), as_of=AS_OF)
    issues = err.value.issues
    assert sorted(issues["rule"]) == ["benefits.missing_owner", "case.unknown_field", "costs.negative_amount"]
    assert "2 error(s)" in str(err.value) and "Costs!L6" in str(err.value)


def test_non_strict_load_keeps_the_errors_in_the_issues(workbook_factory):
    def edit(wb):
        wb["Costs"]["L5"] = "lots"
    case = load_case(workbook_factory(edit=edit), as_of=AS_OF, strict=False)
    assert case.issues.loc[case.issues["severity"] == "error", "cell"].tolist() == ["L5"]
    assert case.matrix("baseline").loc["C1"].tolist()[:3] == [100, 0, 50]


def test_the_workbook_is_never_modified(workbook_factory):
    path = workbook_factory()
    old = os.stat(path).st_mtime_ns
    before = path.read_bytes()
    time.sleep(0.01)
    case = load_case(path, as_of=AS_OF)
    validate_workbook(path, as_of=AS_OF)
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == old
    import hashlib
    assert case.sha256 == hashlib.sha256(before).hexdigest() and case.source == str(path)


def test_an_unreadable_file_is_a_workbook_error(tmp_path):
    bad = tmp_path / "notes.xlsx"
    bad.write_text("case_id,title\nX,Y\n")
    with pytest.raises(WorkbookError, match="plain-text"):
        load_case(bad)


# --- load_portfolio ----------------------------------------------------------------------------------
@pytest.fixture
def portfolio_folder(workbook_factory, case_factory, tmp_path):
    workbook_factory(case_factory(case_id="A-1"), name="a.xlsx")
    workbook_factory(case_factory(case_id="B-2"), name="b.xlsm")

    def negative(wb):
        wb["Costs"]["L6"] = -1
    workbook_factory(case_factory(case_id="C-3"), name="c.xlsx", edit=negative)
    (tmp_path / "d.xlsx").write_bytes(os.urandom(2000))
    workbook_factory(case_factory(case_id="A-1"), name="e.xlsx")
    workbook_factory(case_factory(case_id="LOCK"), name="~$a.xlsx")
    workbook_factory(case_factory(case_id="HIDDEN"), name=".hidden.xlsx")
    (tmp_path / "notes.txt").write_text("not a case")
    (tmp_path / "sub.xlsx").mkdir()
    return tmp_path


def test_workbook_files_are_sorted_and_skip_locks_hidden_and_folders(portfolio_folder):
    assert [p.name for p in workbook_files(portfolio_folder)] == ["a.xlsx", "b.xlsm", "c.xlsx", "d.xlsx", "e.xlsx"]


def test_one_bad_case_never_sinks_the_portfolio(portfolio_folder):
    p = load_portfolio(portfolio_folder, as_of=AS_OF)
    assert p.case_ids == ["A-1", "B-2"]
    f = p.failures.set_index(p.failures["path"].map(lambda s: os.path.basename(s)))
    assert f.loc["c.xlsx", "kind"] == "validation" and "1 error(s)" in f.loc["c.xlsx", "error"]
    assert f.loc["c.xlsx", "issues"]["cell"].tolist() == ["L6"]
    assert f.loc["d.xlsx", "kind"] == "workbook"
    assert f.loc["e.xlsx", "kind"] == "validation"
    dup = f.loc["e.xlsx", "issues"]
    assert dup[["sheet", "cell", "rule"]].values.tolist() == [["Case", "B4", "portfolio.duplicate_case_id"]]
    assert "a.xlsx" in f.loc["e.xlsx", "error"]
    assert p["B-2"].issues["rule"].tolist() == ["workbook.file_warning"]  # .xlsm: macros never run


def test_worker_processes_load_the_same_portfolio_in_the_same_order(portfolio_folder):
    serial = load_portfolio(portfolio_folder, as_of=AS_OF, workers=1)
    parallel = load_portfolio(portfolio_folder, as_of=AS_OF, workers=2)
    assert parallel.case_ids == serial.case_ids == ["A-1", "B-2"]
    for a, b in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(a.flows, b.flows)
        pd.testing.assert_frame_equal(a.lines, b.lines)
        assert a.meta == b.meta and a.sha256 == b.sha256
        pd.testing.assert_frame_equal(a.matrix("baseline"), b.matrix("baseline"))
    assert serial.failures[["path", "kind", "error"]].values.tolist() == \
        parallel.failures[["path", "kind", "error"]].values.tolist()


def test_worker_processes_by_default_only_for_many_workbooks(monkeypatch):
    import multiprocessing

    from vmo_lib.intake.loader import AUTO_WORKERS_FROM, auto_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert auto_workers(AUTO_WORKERS_FROM - 1, None) == 1
    assert auto_workers(AUTO_WORKERS_FROM, None) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert auto_workers(1000, None) == 4           # at most 4
    assert auto_workers(1000, 1) == 1 and auto_workers(3, 3) == 3 and auto_workers(1000, 0) == 1
    monkeypatch.setattr(multiprocessing.current_process(), "_config", {"daemon": True})
    assert auto_workers(1000, None) == 1           # a daemonic process may not start children


def test_load_portfolio_of_a_missing_folder_is_a_workbook_error(tmp_path):
    with pytest.raises(WorkbookError, match="no such folder"):
        load_portfolio(tmp_path / "nowhere")


# --- vmo validate ------------------------------------------------------------------------------------
def _run(capsys, *argv):
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_cli_valid_workbook_exits_0(workbook_factory, capsys):
    path = workbook_factory()
    code, out, _ = _run(capsys, str(path), "--as-of", AS_OF)
    assert code == 0
    assert f"{path}: OK" in out and "1 workbook: 1 valid" in out


def test_cli_errors_exit_1_and_name_the_cell(workbook_factory, capsys):
    def edit(wb):
        wb["Costs"]["L6"] = -100
        wb["Case"]["A40"] = "Colour"
    code, out, _ = _run(capsys, str(workbook_factory(edit=edit)), "--as-of", AS_OF)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith("1 error, 1 warning")
    assert any(ln.split()[:3] == ["error", "Costs!L6", "costs.negative_amount"] for ln in lines)
    # columns are aligned: the rule starts at the same offset on every issue line
    issue_lines = [ln for ln in lines if ln.startswith("  ")]
    starts = {ln.index(r) for ln in issue_lines for r in ("costs.negative_amount", "case.unknown_field") if r in ln}
    assert len(issue_lines) == 2 and len(starts) == 1


def test_cli_unreadable_or_missing_exits_2(tmp_path, workbook_factory, capsys):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    code, out, _ = _run(capsys, str(workbook_factory()), str(bad), str(tmp_path / "missing.xlsx"), "--as-of", AS_OF)
    assert code == 2
    assert out.count("UNREADABLE") == 2 and "2 unreadable" in out


def test_cli_folder_means_its_workbooks_and_json_lists_each(portfolio_folder, capsys):
    code, out, _ = _run(capsys, str(portfolio_folder), "--json", "--as-of", AS_OF)
    assert code == 2  # d.xlsx is random bytes
    res = json.loads(out)
    assert [os.path.basename(r["path"]) for r in res] == ["a.xlsx", "b.xlsm", "c.xlsx", "d.xlsx", "e.xlsx"]
    # e.xlsx reuses a.xlsx's case id A-1: refused by `vmo validate FOLDER` as by load_portfolio
    assert [r["status"] for r in res] == ["ok", "warnings", "errors", "unreadable", "errors"]
    assert res[2]["issues"][0]["cell"] == "L6" and res[2]["errors"] == 1
    assert [(i["sheet"], i["cell"], i["rule"]) for i in res[4]["issues"]] == [
        ("Case", "B4", "portfolio.duplicate_case_id")]
    assert "already used by a.xlsx" in res[4]["issues"][0]["message"]
    assert set(res[2]["issues"][0]) == {"file", "sheet", "cell", "field", "rule", "message", "severity"}
    assert res[3]["reason"]


def test_cli_empty_folder_and_bad_as_of_exit_2(tmp_path, workbook_factory, capsys):
    (tmp_path / "empty").mkdir()
    code, out, _ = _run(capsys, str(tmp_path / "empty"))
    assert code == 2 and "holds no .xlsx" in out
    code, _, err = _run(capsys, str(workbook_factory()), "--as-of", "someday")
    assert code == 2 and "2026Q3" in err


def test_cli_never_echoes_terminal_control_characters_from_a_workbook(workbook_factory, capsys):
    def edit(wb):
        wb["Case"]["A40"] = "Colour\x9b31m"
    code, out, _ = _run(capsys, str(workbook_factory(edit=edit)), "--as-of", AS_OF)
    assert code == 0 and "\x9b" not in out and "case.unknown_field" in out


def test_make_case_defaults_differ_from_a_loaded_case_only_where_the_workbook_says_so(workbook_factory):
    """The model built in code and the loaded one agree on the header fields the workbook carries."""
    loaded = load_case(workbook_factory(), as_of=AS_OF)
    built = make_case(VALID_META)
    for key in ("case_id", "first_period", "horizon", "discount_rate", "price_base", "go_live_period"):
        assert loaded.meta[key] == built.meta[key], key
    assert np.isclose(loaded.meta["discount_rate"], 0.08)


# --- duplicate case ids, compared case-insensitively (issue 15) -----------------------------------------------
@pytest.fixture
def same_id_folder(workbook_factory, case_factory, tmp_path):
    workbook_factory(case_factory(case_id="CRM-2025"), name="a-crm.xlsx")
    workbook_factory(case_factory(case_id="crm-2025"), name="b-crm.xlsx")
    workbook_factory(case_factory(case_id="ERP-1"), name="c-erp.xlsx")
    return tmp_path


def test_load_portfolio_refuses_a_case_id_differing_only_in_case(same_id_folder):
    p = load_portfolio(same_id_folder, as_of=AS_OF)
    assert p.case_ids == ["CRM-2025", "ERP-1"]
    f = p.failures.iloc[0]
    assert os.path.basename(f["path"]) == "b-crm.xlsx" and f["kind"] == "validation"
    assert f["error"].startswith("case id 'crm-2025' in b-crm.xlsx is already used by a-crm.xlsx (as 'CRM-2025')")
    assert f["issues"][["sheet", "cell", "rule"]].values.tolist() == [["Case", "B4", "portfolio.duplicate_case_id"]]


def test_cli_validate_folder_refuses_it_the_same_way(same_id_folder, capsys):
    code, out, _ = _run(capsys, str(same_id_folder), "--json", "--as-of", AS_OF)
    assert code == 1
    res = {os.path.basename(r["path"]): r for r in json.loads(out)}
    assert [r["status"] for r in res.values()] == ["ok", "errors", "ok"]
    issue = res["b-crm.xlsx"]["issues"][0]
    assert (issue["sheet"], issue["cell"], issue["rule"]) == ("Case", "B4", "portfolio.duplicate_case_id")
    assert "already used by a-crm.xlsx" in issue["message"]


def test_duplicate_case_ids_accepts_cases_as_the_batch_has_them(case_factory):
    from vmo_lib.intake.loader import duplicate_case_ids

    a, b, c = case_factory(case_id="X-1"), case_factory(case_id="Y-1"), case_factory(case_id="x-1")
    a.source, b.source, c.source = "/d/one.xlsx", "/d/two.xlsx", "/d/three.xlsx"
    got = duplicate_case_ids([a, b, c])
    assert list(got) == [2]
    assert got[2].loc[0, "file"] == "/d/three.xlsx" and "already used by one.xlsx (as 'X-1')" in got[2].loc[0, "message"]


def test_the_same_workbook_named_twice_is_not_a_duplicate_case(workbook_factory, capsys):
    path = str(workbook_factory())
    code, out, _ = _run(capsys, path, path, "--json", "--as-of", AS_OF)
    assert code == 0 and [r["status"] for r in json.loads(out)] == ["ok", "ok"]


# --- issue 13 item 7: Amount units (a £000 table entered as printed) ----------------------------------------
def test_a_case_entered_in_thousands_loads_equal_to_the_same_case_in_units(workbook_factory, case_factory):
    from conftest import VALID_ACTUALS, VALID_BENEFITS, VALID_COSTS, VALID_FORECAST, VALID_REBASELINES

    from vmo_lib.analysis.appraisal import appraise

    def times(rows, k):
        out = []
        for r in rows:
            r = dict(r)
            for key in ("amount", "low", "likely", "high"):
                if r.get(key) is not None:
                    r[key] = r[key] * k
            if "amounts" in r:
                a = r["amounts"]
                r["amounts"] = {x: [v * k for v in y] for x, y in a.items()} if isinstance(a, dict) else [v * k for v in a]
            out.append(r)
        return out

    in_units = case_factory(costs=times(VALID_COSTS, 1000), benefits=times(VALID_BENEFITS, 1000),
                            actuals=times(VALID_ACTUALS, 1000), forecast=times(VALID_FORECAST, 1000),
                            rebaselines=times(VALID_REBASELINES, 1000))
    a = load_case(workbook_factory(in_units, name="units.xlsx"), as_of=AS_OF)
    b = load_case(workbook_factory(case_factory(units="thousands"), name="thousands.xlsx"), as_of=AS_OF)
    assert (b.meta["units_entered"], b.meta["units"], a.meta["units_entered"]) == ("thousands", "units", "units")
    for scenario in a.scenarios:
        pd.testing.assert_frame_equal(b.matrix(scenario), a.matrix(scenario))
    assert b.lines.set_index("line_id").loc["C1", ["low", "likely", "high"]].tolist() == [200_000, 250_000, 400_000]
    # hand-worked: net flow in £000 -100,-100,-65,25,30,30,30,30 (test_net_flow_matches_the_hand_worked_sums),
    # discounted at 8% a year compounded per quarter, times 1,000
    net = [-100, -100, -65, 25, 30, 30, 30, 30]
    npv = 1000 * sum(v * 1.08 ** (-t / 4) for t, v in enumerate(net))
    assert appraise(b).npv == pytest.approx(npv, rel=1e-12) and appraise(a).npv == pytest.approx(npv, rel=1e-12)
    assert round(npv) == -129_068
    # written back, the case reads in units (not multiplied twice)
    from vmo_lib.intake.template import write_case_workbook

    c = load_case(write_case_workbook(b, workbook_factory(name="x.xlsx").parent / "back.xlsx"), as_of=AS_OF)
    pd.testing.assert_frame_equal(c.matrix("baseline"), a.matrix("baseline"))


def test_millions_and_an_unknown_unit(workbook_factory, case_factory):
    m = load_case(workbook_factory(case_factory(units="millions")), as_of=AS_OF)
    assert m.matrix("baseline").loc["C1"].tolist()[:3] == [100e6, 100e6, 50e6]
    issues = validate_workbook(workbook_factory(case_factory(units="£000"), name="bad.xlsx"), as_of=AS_OF)
    row = issues[issues["rule"] == "choice.not_allowed"]
    assert row["field"].tolist() == ["units"] and "units, thousands, millions" in row["message"].iloc[0]


# --- issue 13: a workbook made by the previous template still loads (migrated, with a warning) --------------
OLD_TEMPLATE = Path(__file__).parent / "fixtures" / "template_1.0_CRM-2025.xlsx"


def test_a_workbook_of_the_previous_template_loads_with_a_migration_warning():
    # the sample CRM case as committed before the evidence columns, KPI plan, Benefit map and Amount units
    # (git show 15c4c8c:data/sample/CRM-2025.xlsx): version 1.0 in Case!B2
    before = OLD_TEMPLATE.read_bytes()
    case = load_case(OLD_TEMPLATE, as_of="2026Q3")
    assert OLD_TEMPLATE.read_bytes() == before  # never modified
    assert case.meta["template_version"] == "1.0" and case.meta["units_entered"] == "units"
    w = case.issues[case.issues["rule"] == "template.older_version"]
    assert w[["sheet", "cell", "severity"]].values.tolist() == [["Case", "B2", "warning"]]
    msg = w["message"].iloc[0]
    assert msg.startswith(f"made by template 1.0, read as the current template {schema.TEMPLATE_VERSION} (migrated)")
    for absent in ("Case field 'Amount units'", "Costs column 'Owner'", "Actuals column 'Evidence'",
                   "sheet 'KPI plan'", "sheet 'Benefit map'"):
        assert absent in msg
    assert set(case.issues["rule"]) == {"template.older_version"}
    # its figures read as they are: £3.93m present value of costs, £5.25m NPV (vmo appraise, before and after)
    from vmo_lib.analysis.appraisal import appraise

    a = appraise(case)
    assert (round(a.pv_costs, -4), round(a.npv, -4)) == (3_930_000, 5_250_000)


def test_the_current_template_version_gets_no_migration_warning(workbook_factory):
    assert load_case(workbook_factory(), as_of=AS_OF).issues.empty

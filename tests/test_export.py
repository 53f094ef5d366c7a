"""The Excel packs for finance: their numbers are `vmo status --json`'s, text never becomes a formula,
and a file under its final name is always complete.

Workbooks are read back with openpyxl (an independent reader). Every pack renders one case review
(:func:`vmo_lib.analysis.review.review_case`) or one portfolio review; Monte Carlo runs with few
iterations to keep the tests fast, and the Risk sheet is compared with `vmo risk --as-of ... --json` (the
expected outlook) at the same seed and iterations.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from vmo_lib import cli
from vmo_lib.analysis.realisation import case_status
from vmo_lib.analysis.review import review_case
from vmo_lib.intake.loader import load_case
from vmo_lib.model import make_case
from vmo_lib.outputs import excel as export
from vmo_lib.outputs.excel import CASE_SHEETS, PORTFOLIO_SHEETS, export_case_pack, export_portfolio_pack
from vmo_lib.portfolio.review import review_portfolio

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
ITER = 2000

#: Text an author might type that a spreadsheet would run as a formula (OWASP CSV injection list).
HOSTILE = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "-2+3", "\t=1+1",
           "\r=1+1"]

#: Summary label → `vmo status --json` key, written out here so the test does not trust the module's map.
SUMMARY_KEYS = {
    "Baseline NPV (approved)": "baseline_npv", "Baseline NPV (in force)": "current_baseline_npv",
    "Expected NPV": "expected_npv", "NPV change vs baseline in force": "npv_change",
    "NPV change, % of PV costs": "npv_change_pct_of_cost", "Forward NPV (what remains)": "forward_npv",
    "Benefits realised, % of plan to date": "realisation_pct", "Benefit plan to date": "benefit_plan_to_date",
    "Benefit actual to date": "benefit_actual_to_date", "Benefit variance to date": "benefit_variance_to_date",
    "Cost spend, % of plan to date": "cost_spend_pct", "Cost plan to date": "cost_plan_to_date",
    "Cost actual to date": "cost_actual_to_date", "Cost variance to date": "cost_variance_to_date",
}


def label_values(ws, label_col: int = 1, value_col: int = 2) -> dict[str, object]:
    """``{label: value}`` of a two-column block (the last occurrence of a label wins)."""
    return {row[label_col - 1]: row[value_col - 1] for row in ws.iter_rows(values_only=True)
            if isinstance(row[label_col - 1], str)}


def table_rows(ws, first_header: str) -> list[dict[str, object]]:
    """Rows of the table whose header row starts with ``first_header``, as dicts, until a blank row."""
    rows = list(ws.iter_rows(values_only=True))
    top = next(i for i, r in enumerate(rows) if r[0] == first_header)
    header = rows[top]
    out = []
    for r in rows[top + 1:]:
        if r[0] is None:
            break
        out.append(dict(zip(header, r, strict=False)))
    return out


def status_json(path: Path, as_of: str, capsys) -> dict:
    capsys.readouterr()
    assert cli.main(["status", str(path), "--as-of", as_of, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def cents(x: object) -> object:
    return None if x is None else round(float(x), 2)


def case_pack(case, as_of: str, path: Path, *, seed: int = 0, iterations: int = ITER) -> Path:
    """The case pack of ``case`` reviewed as of ``as_of`` (the review every output renders)."""
    return export_case_pack(review_case(case, as_of, seed=seed, iterations=iterations), path)


def portfolio_pack(cases, as_of: str, path: Path, *, iterations: int = 200) -> Path:
    """The portfolio pack of ``cases`` reviewed as of ``as_of`` (one case review each, then the portfolio's)."""
    reviews = [review_case(c, as_of, iterations=iterations) for c in cases]
    return export_portfolio_pack(review_portfolio(reviews, as_of), path)


@pytest.fixture
def hand_case():
    """No discounting, so every figure can be worked by hand (see test_hand_worked_figures)."""
    return make_case(
        {"case_id": "HAND", "title": "Hand-worked", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
        benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
                 {"period": "2026Q2", "line_id": "B1", "amount": 90}])


# --- numbers ------------------------------------------------------------------------------------------
def test_hand_worked_figures(hand_case, tmp_path):
    # Plan: -100, +100, +100 → NPV 100. Expected: -110 (actual), +90 (actual), +100 (plan) → 80.
    # Forward NPV after 2026Q2: the 2026Q3 benefit, 100. Realisation 90/100, spend 110/100.
    # Bridge: cost -10, benefit -10, timing 0. BCR expected 190/110; payback 1 + 20/100 periods = 0.3 years.
    path = case_pack(hand_case, "2026Q2", tmp_path / "pack.xlsx")
    wb = openpyxl.load_workbook(path)
    s = label_values(wb["Summary"])
    assert s["Baseline NPV (approved)"] == pytest.approx(100)
    assert s["Baseline NPV (in force)"] == pytest.approx(100)  # never re-baselined
    assert s["Expected NPV"] == pytest.approx(80)
    assert s["NPV change vs baseline in force"] == pytest.approx(-20)
    assert s["Forward NPV (what remains)"] == pytest.approx(100)
    assert s["Benefits realised, % of plan to date"] == pytest.approx(0.9)
    assert s["Cost spend, % of plan to date"] == pytest.approx(1.1)
    assert s["Benefit-cost ratio, expected"] == pytest.approx(190 / 110)
    assert s["Payback (years), expected"] == pytest.approx(0.3)
    assert s["Verdict"] == "at risk"  # 20 below plan = 20 % of PV costs (> 5 %), still positive
    # at risk with what remains still paying (forward NPV 100 >= 0): a recovery plan is due
    assert s["Decision"] == "recover"
    assert s["Decision reason"] == "at risk: expected NPV £80 against £100 in force; a recovery plan is due"
    bridge = {r["Step"]: r["Amount"] for r in table_rows(wb["Bridge"], "Step")}
    assert bridge == pytest.approx({"Approved baseline NPV": 100, "Cost effect": -10, "Benefit effect": -10,
                                    "Timing effect": 0, "Expected NPV": 80})
    metrics = {r["Metric"]: r for r in table_rows(wb["Metrics"], "Metric")}
    assert metrics["NPV"]["Approved baseline"] == pytest.approx(100)
    assert metrics["NPV"]["Expected outlook"] == pytest.approx(80)  # a second route to the same figure
    # Risk: the expected outlook as of 2026Q2. Q1 and Q2 are actuals (fixed) and the one flow left, the
    # 2026Q3 benefit of 100, has no range: every simulated NPV is exactly 80, so P10 = P50 = P90 = 80,
    # never below zero, and never back to the 100 in force.
    risk = label_values(wb["Risk"])
    for label in ("NPV as planned", "Mean", "P10", "P50", "P90"):
        assert risk[label] == pytest.approx(80), label
    assert risk["Standard deviation"] == pytest.approx(0)
    assert risk["Probability NPV < 0"] == 0
    assert risk["Probability of getting back to the NPV in force"] == 0
    assert risk["Iterations"] == ITER


@pytest.mark.parametrize("source", ["fixture", "sample"])
def test_summary_equals_vmo_status_json_to_the_cent(source, case_factory, workbook_factory, capsys, tmp_path):
    path = workbook_factory(case_factory()) if source == "fixture" else SAMPLE / "PAY-2024.xlsx"
    as_of = "2026Q3"
    case = load_case(path, as_of=as_of)
    review = review_case(case, as_of, iterations=ITER)
    out = export_case_pack(review, tmp_path / "pack.xlsx")
    wb = openpyxl.load_workbook(out)
    shown = label_values(wb["Summary"])
    cli_json = status_json(path, as_of, capsys)  # a second process route: file -> CLI -> JSON
    api = review.to_dict()
    realisation = case_status(case, as_of).to_dict()  # a third: the realisation module on its own
    for label, key in SUMMARY_KEYS.items():
        assert cents(shown[label]) == cents(cli_json[key]), label
        expected_api = None if isinstance(api[key], float) and math.isnan(api[key]) else api[key]
        assert cents(shown[label]) == cents(expected_api), label
        direct = realisation[key]
        assert cents(shown[label]) == cents(None if isinstance(direct, float) and math.isnan(direct) else direct), label
    # the two approved figures are the review's approved (original) and in-force NPVs
    assert cents(shown["Baseline NPV (approved)"]) == cents(cli_json["approved_npv"])
    assert cents(shown["Baseline NPV (in force)"]) == cents(cli_json["in_force_npv"])
    if source == "fixture":  # RB1 (approved 2026-06-30) re-plans C1 up: in force differs from approved
        assert cli_json["baseline_in_force"] == "rebaseline:RB1"
        assert cents(cli_json["in_force_npv"]) != cents(cli_json["approved_npv"])
    for label, key in (("Verdict", "verdict"), ("RAG", "rag"), ("Case id", "case_id"), ("Decision", "decision"),
                       ("Decision reason", "decision_reason")):
        assert shown[label] == cli_json[key] == api[key], label
    # the bridge sheet's effects are the JSON's, and they add up to expected - baseline
    bridge = {r["Step"]: r["Amount"] for r in table_rows(wb["Bridge"], "Step")}
    for key, step in (("cost", "Cost effect"), ("benefit", "Benefit effect"), ("timing", "Timing effect")):
        assert cents(bridge[step]) == cents(cli_json["bridge"][key])
    assert sum(cli_json["bridge"].values()) == pytest.approx(cli_json["expected_npv"] - cli_json["baseline_npv"])
    # per-benefit realisation equals the JSON's benefits list
    rows = {r["Line"]: r for r in table_rows(wb["Benefits"], "Line")}
    for b in cli_json["benefits"]:
        assert cents(rows[b["line_id"]]["Actual to date"]) == cents(b["actual_to_date"])
        assert rows[b["line_id"]]["RAG"] == b["rag"]


@pytest.mark.parametrize("sample", [
    "CRM-2025",  # approved baseline in force, no chance below zero
    "PAY-2024",  # re-baselined (RB1 in force); about half the outcomes below zero
    "FIELD-2025",  # re-baselined after the review date: the original baseline is still in force
])
def test_risk_sheet_equals_vmo_risk_json(sample, capsys, tmp_path):
    path = SAMPLE / f"{sample}.xlsx"
    case = load_case(path, as_of="2026Q3")
    out = case_pack(case, "2026Q3", tmp_path / "pack.xlsx", seed=7)
    capsys.readouterr()
    assert cli.main(["risk", str(path), "--as-of", "2026Q3", "--iterations", str(ITER), "--seed", "7",
                     "--json"]) == 0
    risk = json.loads(capsys.readouterr().out)
    assert risk["basis"] == "outlook as of 2026Q3" and risk["scenario"] == "expected"
    mc = risk["monte_carlo"]
    shown = label_values(openpyxl.load_workbook(out)["Risk"])
    for label, key in (("P10", "p10"), ("P50", "p50"), ("P90", "p90"), ("Mean", "mean"),
                       ("Standard deviation", "std"), ("NPV as planned", "deterministic_npv"),
                       ("Probability NPV < 0", "prob_below_zero"),
                       ("Probability of getting back to the NPV in force", "prob_reach_approved"),
                       ("Mean of the worst decile", "expected_shortfall_worst_decile")):
        assert cents(shown[label]) == cents(mc[key]), label
    assert shown["Iterations"] == mc["iterations"] == ITER
    assert shown["Seed"] == mc["seed"] == 7
    # the outlook's Monte Carlo is centred on the expected NPV (not the approved plan's NPV) and its
    # "get back to" reference is the NPV in force, as `vmo status --json` states them
    status = status_json(path, "2026Q3", capsys)
    assert cents(mc["deterministic_npv"]) == cents(status["expected_npv"])
    assert cents(mc["reference_npv"]) == cents(status["in_force_npv"])


def test_lines_by_period_totals_match_the_inputs(case_factory, tmp_path):
    # conftest: C1 planned 100 + 100 + 50 = 250; actuals 90 + 120 = 210; RB1 re-plans C1 to 300.
    case = case_factory()
    out = case_pack(case, "2026Q3", tmp_path / "pack.xlsx")
    rows = table_rows(openpyxl.load_workbook(out)["Lines by period"], "Line")
    total = {(r["Line"], r["Scenario"]): r["Total"] for r in rows}
    assert total[("C1", "approved baseline")] == pytest.approx(250)
    assert total[("C1", "actual")] == pytest.approx(210)
    assert total[("C1", "plan in force (rebaseline:RB1)")] == pytest.approx(300)
    assert total[("C1", "forecast")] is None  # no forecast given: blank, not zero


# --- formula injection ---------------------------------------------------------------------------------
def hostile_case(case_id: str = "EVIL"):
    return make_case(
        {"case_id": case_id, "title": HOSTILE[0], "sponsor": HOSTILE[1], "portfolio": HOSTILE[2],
         "strategic_objective": HOSTILE[3], "org_unit": HOSTILE[4], "first_period": "2026Q1", "horizon": 4},
        costs=[{"line_id": "C1", "name": HOSTILE[5], "amounts": [100, 10, 10, 10]}],
        benefits=[{"line_id": "B1", "name": HOSTILE[6], "owner": HOSTILE[0], "kpi": HOSTILE[1],
                   "amounts": [0, 60, 60, 60]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100, "comment": HOSTILE[2]},
                 {"period": "2026Q2", "line_id": "B1", "amount": 50, "comment": HOSTILE[3]}])


def ooxml_text(value: object) -> object:
    """A cell's text as Excel shows it: OOXML escapes a carriage return as ``_x000D_`` (ST_Xstring),
    which Excel and calamine decode and openpyxl leaves as written."""
    if not isinstance(value, str):
        return value
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def assert_no_formula_and_text_intact(path: Path, expected: list[str]) -> None:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in zf.read(name) and b"<f " not in zf.read(name), name
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    for text in expected:
        hits = [c for c in cells if ooxml_text(c.value) == text]
        assert hits, f"{text!r} not found as written"
        assert all(c.data_type == "s" for c in hits), text


def test_case_pack_writes_hostile_text_as_text(tmp_path):
    out = case_pack(hostile_case(), "2026Q2", tmp_path / "pack.xlsx")
    assert_no_formula_and_text_intact(out, HOSTILE)
    summary = label_values(openpyxl.load_workbook(out)["Summary"])
    assert summary["Title"] == '=HYPERLINK("http://x","y")'  # exactly what the author typed, visible
    assert summary["Sponsor"] == "=cmd|' /C calc'!A0"


def test_portfolio_pack_writes_hostile_text_as_text(case_factory, tmp_path):
    out = portfolio_pack([hostile_case("EVIL"), case_factory()], "2026Q2", tmp_path / "portfolio.xlsx")
    assert_no_formula_and_text_intact(out, HOSTILE[:5] + [HOSTILE[6]])  # costs are not in it


# --- the file ------------------------------------------------------------------------------------------
def test_case_pack_is_a_sound_workbook_with_the_documented_sheets(case_factory, tmp_path):
    out = case_pack(case_factory(), "2026Q3", tmp_path / "pack.xlsx")
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(CASE_SHEETS)
    flows = wb["Flows"]
    assert flows.freeze_panes is not None and flows.auto_filter.ref
    assert len(table_rows(flows, "Line")) == 4 * 8  # every line x period of the conftest case


def test_formats_and_rag_colours(case_factory, tmp_path):
    out = case_pack(case_factory(), "2026Q3", tmp_path / "pack.xlsx")
    ws = openpyxl.load_workbook(out)["Summary"]
    cell = {c.value: ws.cell(c.row, 2) for c in ws["A"] if isinstance(c.value, str)}
    assert cell["Expected NPV"].number_format == "#,##0;[Red]-#,##0"
    assert cell["Cost spend, % of plan to date"].number_format == "0.0%"
    rag = cell["RAG"]
    fills = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE", "grey": "E7E6E6"}
    assert rag.fill.fgColor.rgb.endswith(fills[rag.value])


def test_export_leaves_no_temporary_file_and_replaces_the_old_one(case_factory, tmp_path):
    target = tmp_path / "pack.xlsx"
    case_pack(case_factory(), "2026Q3", target)
    case_pack(case_factory(title="Second run"), "2026Q3", target)
    assert os.listdir(tmp_path) == ["pack.xlsx"]
    assert label_values(openpyxl.load_workbook(target)["Summary"])["Title"] == "Second run"


def test_failed_export_keeps_the_previous_file_and_leaves_no_partial_one(case_factory, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("broke while writing the Risk sheet")

    monkeypatch.setattr(export, "_risk_sheet", broken)
    target = tmp_path / "pack.xlsx"
    target.write_bytes(b"last quarter's pack")
    with pytest.raises(RuntimeError, match="Risk sheet"):
        case_pack(case_factory(), "2026Q3", target)
    assert target.read_bytes() == b"last quarter's pack"
    fresh = tmp_path / "new" / "pack.xlsx"
    with pytest.raises(RuntimeError):
        case_pack(case_factory(), "2026Q3", fresh)
    assert not fresh.exists()
    assert os.listdir(tmp_path) == ["pack.xlsx"]  # no temp file, no half-written pack


def test_same_inputs_give_identical_bytes(case_factory, tmp_path):
    a = case_pack(case_factory(), "2026Q3", tmp_path / "a.xlsx", seed=3)
    b = case_pack(case_factory(), "2026Q3", tmp_path / "b.xlsx", seed=3)
    assert a.read_bytes() == b.read_bytes()


# --- the portfolio pack --------------------------------------------------------------------------------
def test_portfolio_register_equals_each_case_status(case_factory, tmp_path):
    cases = [case_factory(case_id="A-1"), case_factory(case_id="B-2", discount_rate=0.03),
             case_factory(case_id="C-3", status="cancelled")]
    reviews = [review_case(c, "2026Q3", iterations=200) for c in cases]
    out = export_portfolio_pack(review_portfolio(reviews, "2026Q3", annual_budget=1000), tmp_path / "p.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(PORTFOLIO_SHEETS)
    reg = {r["Case"]: r for r in table_rows(wb["Register"], "Rank (value for money)")}
    assert set(reg) == {"A-1", "B-2", "C-3"}
    for c, review in zip(cases, reviews, strict=True):
        s = case_status(c, "2026Q3")  # the realisation module on its own; RB1 (2026-06-30) is in force
        row = reg[c.case_id]
        assert cents(row["Approved NPV (original)"]) == cents(s.baseline_npv)
        assert cents(row["NPV in force"]) == cents(s.current_baseline_npv)
        assert cents(row["Expected NPV"]) == cents(s.expected_npv)
        assert cents(row["Forward NPV"]) == cents(s.forward_npv)
        assert row["Verdict"] == s.verdict.label
        assert (row["Decision"], row["Reason"]) == (s.decision, s.decision_reason) == (review.decision,
                                                                                      review.decision_reason)
    # RB1 (conftest) lists only C1, re-planned from 250 to 300: the plan in force has no run cost and no
    # benefit, so the NPV in force is below the original approval
    assert reg["A-1"]["NPV in force"] < reg["A-1"]["Approved NPV (original)"]
    # A-1 and B-2: expected NPV above the NPV in force, forward NPV 30 >= 0 -> continue; C-3 was
    # cancelled, so it is closed whatever its figures
    assert [reg[k]["Decision"] for k in ("A-1", "B-2", "C-3")] == ["continue", "continue", "closed"]
    assert reg["C-3"]["Reason"].startswith("cancelled: nothing remains to decide")
    # Before any total, each case is restated on the portfolio basis (none set: the default, the start
    # of the review quarter 2026Q3 at 8 % a year, nominal, real cases inflated at 2 % a year). By hand,
    # the approved plan's net flows (conftest) per quarter from 2026Q1 are −100, −100, −65, 25, then 30
    # a quarter in 2027; a quarter q after 2026Q3 is worth 1.08 ** (−q / 4), and 2027's real 2026 prices
    # become nominal at × 1.02. B-2 differs from A-1 only in its own rate, so both restate alike.
    net = [-100, -100, -65, 25, 30, 30, 30, 30]
    approved_pb = sum(x * 1.02 ** (t // 4) * 1.08 ** (-(t - 2) / 4) for t, x in enumerate(net))
    for cid in ("A-1", "B-2"):
        assert cents(reg[cid]["Approved NPV, portfolio basis"]) == cents(approved_pb), cid
    # ... while on its own basis (8 %, to 2026Q1) A-1's approved NPV is the one its pack shows
    assert cents(reg["A-1"]["Approved NPV (original)"]) == cents(sum(x * 1.08 ** (-t / 4) for t, x in enumerate(net)))
    # the Summary's totals are the sums of the register's portfolio-basis columns (one currency, three cases)
    summary = wb["Summary"]
    assert "valued at the start of 2026Q3 at 8% a year, nominal prices (inflation 2% a year)" in " ".join(
        str(v) for row in summary.iter_rows(values_only=True) for v in row if v)
    totals = table_rows(summary, "Currency")
    assert len(totals) == 1 and totals[0]["Currency"] == "GBP" and totals[0]["Cases"] == 3
    assert totals[0]["On the portfolio basis"] == "yes"
    for total, column in (("Approved NPV (original)", "Approved NPV, portfolio basis"),
                          ("NPV in force", "NPV in force, portfolio basis"),
                          ("Expected NPV", "Expected NPV, portfolio basis"),
                          ("Forward NPV", "Forward NPV, portfolio basis")):
        assert cents(totals[0][total]) == cents(sum(r[column] for r in reg.values())), total
    assert cents(totals[0]["Approved NPV (original)"]) == cents(3 * approved_pb)
    counts = label_values(summary)
    assert (counts["continue"], counts["closed"], counts["stop"], counts["re-plan"], counts["recover"],
            counts["not started"]) == (2, 1, 0, 0, 0, 0)
    assert len(table_rows(wb["Benefit register"], "Case")) == 6  # two benefits per case
    # the same KPI in the same unit in both cases is double counting: both cases named
    doubles = table_rows(wb["Double counting"], "KPI")
    assert any({"A-1", "B-2"} <= set(d["Cases involved"].split(", ")) for d in doubles)
